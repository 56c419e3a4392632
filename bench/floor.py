"""The floor of a poll cycle as a whole process: fetch every feed with httpx and parse it with
feedparser, nothing else (no matching, storing or delivering).

Run by ``bench/run.py --only process`` beside ``bot.py once`` on the same feeds, so that both
pay what a process pays: the interpreter's start, the imports, the fetches and the parsing.
``python bench/floor.py URLS_FILE`` reads one URL per line and prints the entries it parsed.
"""

from __future__ import annotations

import asyncio
import sys


async def main(urls: list[str]) -> int:
    import feedparser
    import httpx

    limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        slots = asyncio.Semaphore(10)  # as the bot: at most 10 fetches at a time

        async def one(url: str) -> int:
            async with slots:
                response = await http.get(url)
                response.raise_for_status()
                body = response.content
            parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
            return len(parsed.entries)

        return sum(await asyncio.gather(*(one(u) for u in urls)))


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        urls = [line.strip() for line in f if line.strip()]
    print(asyncio.run(main(urls)))
