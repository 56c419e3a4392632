"""The command line: ``run``, ``once``, ``check`` and ``explain``.

Every failure an operator can cause (a bad rules file, an unwritable state directory, an
unreachable feed) ends in a one-line message and an exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path

from . import __version__, feeds
from . import config as configmod
from .explain import StoredWhy, StoryWhy, explain, render_text
from .health import ListenError
from .logs import kv, redact, setup
from .service import Service
from .sinks import ConsoleSink
from .store import Store
from .wording import plural

log = logging.getLogger("alerts")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bot.py",
        description="Polls news feeds, matches items against rules.yaml and delivers alerts and "
        "digests to Telegram, or to the console when TELEGRAM_BOT_TOKEN is not set.",
        epilog="Environment: RULES_FILE and STATE_DIR override the defaults (rules.yaml, state/); "
        "TELEGRAM_BOT_TOKEN turns on Telegram delivery, TELEGRAM_API_URL points it at a "
        "self-hosted Bot API server; LOG_LEVEL sets the log level; ALERTS_READER_WORKER=0 and "
        "ALERTS_SIGNER_WORKER=0 keep all work in one process (README.md).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def rules_arg(p: argparse.ArgumentParser, default: str = "rules.yaml") -> None:
        p.add_argument(
            "--rules",
            metavar="PATH",
            default=None,
            help=f"rules file (default: $RULES_FILE or {default})",
        )

    def state_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--state",
            metavar="DIR",
            default=None,
            help="directory for the SQLite state (default: $STATE_DIR or state/)",
        )

    p = sub.add_parser("run", help="run the service: poll on schedule, alert and send digests")
    rules_arg(p)
    state_arg(p)
    p = sub.add_parser("once", help="poll every feed once, deliver everything pending, exit")
    rules_arg(p)
    state_arg(p)
    p.add_argument(
        "--json",
        action="store_true",
        help="print each delivered story as one JSON object per line (console only)",
    )
    p = sub.add_parser("check", help="validate the rules file")
    rules_arg(p)
    p.add_argument(
        "--regions",
        action="store_true",
        help="also list every region the rules can name: built-in and defined in the file",
    )
    p = sub.add_parser("explain", help="show which rules each item of a feed matches, and why")
    rules_arg(p)
    p.add_argument(
        "--state",
        metavar="DIR",
        default=None,
        help="also say which stored story each item would join (default: $STATE_DIR or "
        "state/, when it holds a database)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per item per line")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="a feed URL or a local feed file")
    p = sub.add_parser(
        "status",
        help="the bot's health, every feed's, the outbox and subscribers (as /status shows)",
    )
    state_arg(p)
    rules_arg(p, "the rules file the bot last ran with on this state")
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 unless a running bot is healthy: a recent heartbeat, and at least one "
        "feed polled successfully within its expected interval (for health checks such as "
        "Docker's HEALTHCHECK)",
    )
    p = sub.add_parser("stats", help="matches per rule per day and messages sent")
    state_arg(p)
    rules_arg(p, "the rules file the bot last ran with on this state")
    p.add_argument(
        "--days", type=_positive_int, default=7, metavar="N", help="days to show (default: 7)"
    )
    p.add_argument("--json", action="store_true", help="the same figures as one JSON object")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 366:
        raise argparse.ArgumentTypeError(f"must be from 1 to 366, not {value}")
    return value


def _rules_path(args: argparse.Namespace) -> Path:
    return Path(args.rules or os.environ.get("RULES_FILE") or "rules.yaml")


def _state_dir(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "state", None) or os.environ.get("STATE_DIR") or "state")


def _load(args: argparse.Namespace) -> configmod.Config | None:
    try:
        return configmod.load(_rules_path(args))
    except configmod.ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {
            "run": cmd_run,
            "once": cmd_once,
            "check": cmd_check,
            "explain": cmd_explain,
            "status": cmd_status,
            "stats": cmd_stats,
        }[args.command](args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head and the like
        sys.stderr.close()
        return 0


def cmd_check(args: argparse.Namespace) -> int:
    setup("WARNING")  # says so when LOG_LEVEL is not a level, as every command does
    config = _load(args)
    if config is None:
        return 1
    for warning in config.warnings:
        print(warning, file=sys.stderr)
    config.matcher  # noqa: B018 (compiled here as a run would compile it)
    print(config.summary())
    if args.regions:
        print(_regions_listing(config))
    return 0


def _regions_listing(config: configmod.Config) -> str:
    """Every region rules can name: how many names and forms it is found by, what the rules
    file did to it, and the places (the region's own entry and its towns) it is made of."""
    from .gazetteer import builtin_places

    places: dict[str, list[str]] = {}
    for place in builtin_places():
        places.setdefault(place.region, []).append(place.id)
    lines = []
    for name in sorted(config.region_terms):
        spec = config.regions.get(name)
        where = {
            None: "built-in",
            "add": f"built-in, {plural(len(spec.aliases) if spec else 0, 'name')} added by "
            "this file",
            "replace": "replaced by this file",
            "new": "defined in this file",
        }[spec.mode if spec else None]
        line = f"  {name} ({where}): {len(config.region_terms[name])} names and forms"
        towns = places.get(name, [])[1:]
        if towns and (spec is None or spec.mode == "add"):
            line += f"; {len(towns)} towns: " + ", ".join(towns)
        lines.append(line)
    return "\n".join(lines)


def _open_store(args: argparse.Namespace, config: configmod.Config) -> Store | None:
    state = _state_dir(args)
    try:
        return Store.open(state, timedelta(seconds=config.settings.story_window))
    except (OSError, sqlite3.Error) as exc:
        print(f"{state}: cannot open the state database: {exc}", file=sys.stderr)
        return None


def _token() -> str | None:
    return os.environ.get("TELEGRAM_BOT_TOKEN", "").strip() or None


def _service(args: argparse.Namespace, polling: bool) -> Service | None:
    """The service with its destination: Telegram when a token is set, else the console."""
    config = _load(args)
    if config is None:
        return None
    # `once` prints nothing but what it delivers (cron mails whatever a job prints): the
    # warnings that `check` prints, `run` logs at its start, it logs at INFO.
    level = logging.WARNING if polling else logging.INFO
    for warning in config.warnings:
        log.log(level, kv(event="rules_warning", problem=warning))
    store = _open_store(args, config)
    if store is None:
        return None
    token = _token()
    if not token:
        return Service(config, store, ConsoleSink(format="json" if _wants_json(args) else "text"))
    from .telegram import TelegramFrontend, TelegramSink, build_application

    app = build_application(token, os.environ.get("TELEGRAM_API_URL") or None)
    service = Service(config, store, TelegramSink(app.bot))
    service.frontend = TelegramFrontend(app, service, polling=polling)
    return service


def _wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


async def _with_service(service: Service, work) -> object:
    from datetime import UTC, datetime

    telegram = service.frontend is not None
    try:
        await service.db(service.store.set_console, not telegram, datetime.now(UTC))
        # `status` and `stats` compare the state with the rules it was made with.
        await service.db(service.store.set_meta, rules_file=str(service.config.path.resolve()))
        return await work(service)
    finally:
        await service.close()
        service.store.close()


def _telegram_failed(exc: Exception) -> int:
    from telegram.error import InvalidToken, TelegramError

    if isinstance(exc, InvalidToken):
        print(
            "Telegram refused the token (TELEGRAM_BOT_TOKEN): check it with @BotFather.",
            file=sys.stderr,
        )
    elif isinstance(exc, TelegramError):
        # The client's error may carry the URL it built, token and all ("Invalid port:
        # '19350<token>'" from a TELEGRAM_API_URL without /bot).
        print(f"Telegram is unreachable: {redact(str(exc), [_token() or ''])}", file=sys.stderr)
    else:
        raise exc
    return 1


def cmd_once(args: argparse.Namespace) -> int:
    setup("WARNING", secrets=[_token() or ""])
    feeds.prepare_client()
    service = _service(args, polling=False)
    if service is None:
        return 1
    service.failure_level = logging.INFO  # named below, with the reason

    async def work(s: Service):
        if s.frontend is not None:
            await s.frontend.start()
        try:
            return await s.once()
        finally:
            if s.frontend is not None:
                await s.frontend.stop()

    try:
        outcomes = asyncio.run(_with_service(service, work))
    except Exception as exc:
        return _telegram_failed(exc)
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        print(f'feed "{o.feed}" failed: {o.reason}', file=sys.stderr)
    new = sum(o.result.new for o in outcomes)
    matched = sum(o.result.matched for o in outcomes)
    urgent = len(service.settled.urgent_feeds)
    summary = (
        f"polled {plural(len(outcomes), 'feed')} ({len(failed)} failed): "
        f"{plural(new, 'new item')}, {matched} matched"
        + (f", urgent in {plural(urgent, 'feed')}" if urgent else "")
    )
    # Silent when all went well: cron mails whatever a job prints, and a run that delivered
    # nothing new (or delivered it to Telegram) is nothing to read. A failed feed is.
    if failed:
        print(summary, file=sys.stderr)
    else:
        log.info(kv(event="once_done", summary=summary))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    setup("INFO", secrets=[_token() or ""])
    service = _service(args, polling=True)
    if service is None:
        return 1
    try:
        asyncio.run(_with_service(service, lambda s: s.run()))
    except ListenError as exc:
        print(exc, file=sys.stderr)
        return 1
    except Exception as exc:
        return _telegram_failed(exc)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    setup("WARNING")
    config = _load(args)
    if config is None:
        return 1
    store = None
    if (_state_dir(args) / "alerts.db").exists():
        store = _open_store(args, config)
    try:
        return asyncio.run(_explain(config, args.sources, args.json, store))
    finally:
        if store is not None:
            store.close()


async def _explain(
    config: configmod.Config, sources: list[str], as_json: bool, store: Store | None
) -> int:
    status = 0
    timeout = config.settings.fetch_timeout
    async with feeds.client(timeout) as http:
        for source in sources:
            location = source
            if not source.startswith(("http://", "https://")):
                location = str(Path(source.removeprefix("file://")).resolve())
            # A feed of the rules is read under its name, as ``once`` reads it: grouping
            # compares outlets by it (two articles of one outlet are two stories).
            feed = next((f.name for f in config.feeds if f.location == location), None)
            try:
                fetched = await feeds.fetch(http, location, timeout=timeout)
                parsed = await asyncio.to_thread(feeds.parse, feed or source, fetched)
            except feeds.FetchError as exc:
                print(f"{source}: {exc}", file=sys.stderr)
                status = 1
                continue
            for item in parsed.items:
                exp = explain(config, item)
                if store is not None:
                    exp.stored = _stored_why(store, feed, item)
                if store is not None and exp.stored is None and exp.match.rules:
                    compared = _story_why(store, exp, config)
                    exp.story, exp.other_stories = (compared or [None])[0], compared[1:]
                if as_json:
                    print(json.dumps(exp.as_json(), ensure_ascii=False))
                else:
                    print(render_text(exp))
                    print()
            if not as_json:
                matched = sum(1 for i in parsed.items if config.matcher.match(i.text).rules)
                items = plural(len(parsed.items), "item")
                print(f"{source}: {items}, {matched} matched", file=sys.stderr)
            log.debug(kv(event="explained", source=source, items=len(parsed.items)))
    return status


def _stored_why(store: Store, feed: str | None, item) -> StoredWhy | None:
    """Whether ``once`` would find the item stored already, as its ingest does: by the feed's
    guid (``feed`` is the rules file's name for the source, when it is one of its feeds), then
    by canonical link. An item stored under the same link and title is the item itself."""
    if feed is not None:
        row = store.db.execute(
            "SELECT id, feed, title, link FROM items WHERE feed = ? AND guid = ?",
            [feed, item.guid],
        ).fetchone()
        if row is not None:
            return StoredWhy("already seen", *row)
    if not item.canonical:
        return None
    row = store.db.execute(
        "SELECT id, feed, title, link FROM items WHERE canonical = ? ORDER BY id LIMIT 1",
        [item.canonical],
    ).fetchone()
    if row is None:
        return None
    same = row[3] == item.link and row[2] == item.title
    return StoredWhy("already seen" if same else "duplicate", *row)


def _story_why(store: Store, exp, config: configmod.Config) -> list[StoryWhy]:
    """The stored stories the item was compared with, the one it joins (or the closest) first;
    at most four, each with the evidence for and against, in words."""
    from datetime import UTC, datetime

    terms = config.topic_terms(exp.match)
    ranked = store.stories_for(exp.item, exp.match.regions, terms, datetime.now(UTC))
    return [
        StoryWhy(sid, store.story_title(sid) or "", decision.same, decision.reason)
        for sid, decision in ranked[:4]
    ]


# -- reading the state without the bot --


def _existing_store(args: argparse.Namespace) -> Store | None:
    """The state database, if there is one; ``status`` and ``stats`` never create it."""
    path = _state_dir(args) / "alerts.db"
    if not path.exists():
        print(
            f"{path}: no state database here; the bot has not run with --state "
            f"{_state_dir(args)} (or STATE_DIR) yet",
            file=sys.stderr,
        )
        return None
    try:
        return Store.open(_state_dir(args))
    except (OSError, sqlite3.Error) as exc:
        print(f"{path}: cannot open the state database: {exc}", file=sys.stderr)
        return None


def _shown(path: Path) -> str:
    """A path as the operator would type it here: relative to the current directory when in it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _state_rules(args: argparse.Namespace, meta: dict[str, str]) -> Path:
    """The rules file ``status`` and ``stats`` compare the state with.

    ``--rules``, then ``RULES_FILE``, as for every command; without either, the file the bot
    last ran with on this state (``run`` and ``once`` record it), rather than ``rules.yaml``:
    after ``once --rules examples/offline.yaml``, a bare ``status`` is about those feeds. A named
    file that is not the one the bot ran with is used, and a note on stderr says so.
    """
    remembered = Path(meta["rules_file"]) if meta.get("rules_file") else None
    named = args.rules or os.environ.get("RULES_FILE")
    if named:
        path = Path(named)
        if remembered is not None and path.resolve() != remembered:
            print(
                f"note: comparing with {path}; the bot last ran on this state with "
                f"{_shown(remembered)}",
                file=sys.stderr,
            )
        return path
    if remembered is not None and remembered.exists():
        return Path(_shown(remembered))
    if remembered is not None:
        print(
            f"note: the bot last ran on this state with {remembered}, which is not there any "
            "more; comparing with rules.yaml",
            file=sys.stderr,
        )
    return Path("rules.yaml")


def _quiet_load(path: Path) -> configmod.Config | None:
    """The rules, when they load: ``status`` and ``stats`` work without them, with less."""
    if not path.exists():
        return None
    try:
        return configmod.load(path)
    except configmod.ConfigError as exc:
        print(
            f"{path}: not loaded ({plural(len(exc.problems), 'problem')}; see `bot.py check`); "
            "showing what the state database knows",
            file=sys.stderr,
        )
        return None


def cmd_status(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from . import status

    setup("WARNING")
    store = _existing_store(args)
    if store is None:
        return 1
    try:
        states = store.feed_states()
        meta = store.meta()
        depth = store.outbox_depth()
        subscribers = store.subscriber_count()
    except sqlite3.Error as exc:
        print(f"{store.path}: cannot read the state database: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    config = None if args.check else _quiet_load(_state_rules(args, meta))
    now = datetime.now(UTC)
    verdict = status.recorded_health(meta, states, now)
    bot = status.describe_bot(meta, verdict, now)
    rows = []
    if config is not None:
        for feed in config.feeds:
            st = states.get(feed.name)
            rows.append(status.FeedRow(feed.name, st, _next_poll(config, feed, st)))
        rules, urgent = len(config.rules), sum(1 for r in config.rules if r.urgent)
        tz = config.settings.tz
    else:
        rows = [status.FeedRow(name, st) for name, st in sorted(states.items())]
        rules = urgent = None
        tz = UTC
    source = str(config.path) if config is not None else None
    picture = status.Picture(rows, depth, subscribers, rules, urgent, bot, source)
    if not args.check:
        print(status.render(picture, now, tz, as_html=False))
        return 0
    if verdict.ok:
        print("healthy: " + bot)
        return 0
    print("unhealthy: " + "; ".join(verdict.reasons))
    return 1


def _next_poll(config: configmod.Config, feed: configmod.Feed, st) -> object:
    """When the feed is next due, from what was recorded: its backoff, or its last success
    plus its interval. Only an estimate: the running scheduler adds a little jitter."""
    from datetime import timedelta

    from .store import parse_iso

    if st is None:
        return None
    retry = parse_iso(st.retry_at)
    if retry is not None:
        return retry
    last = parse_iso(st.last_success_at)
    return last + timedelta(seconds=config.poll_interval(feed)) if last else None


def cmd_stats(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from . import stats

    setup("WARNING")
    store = _existing_store(args)
    if store is None:
        return 1
    try:
        config = _quiet_load(_state_rules(args, store.meta()))
        tz = config.settings.tz if config else UTC
        rules = [r.id for r in config.rules] if config else []
        now = datetime.now(UTC)
        start = stats.since(args.days, now, tz)
        matched = store.matched_since(start)
        sent = store.sent_since(start)
    except sqlite3.Error as exc:
        print(f"{store.path}: cannot read the state database: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    table = stats.tabulate(matched, sent, rules, args.days, now, tz)
    if args.json:
        print(json.dumps(table.as_json(), ensure_ascii=False))
    else:
        print(table.render())
    return 0
