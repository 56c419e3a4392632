"""Run ``bot.py`` and measure its own peak memory; shared by the tests and ``bench/run.py``.

Linux keeps the peak RSS of the process image an exec replaced: a child forked from pytest or
from the benchmark (hundreds of MB after a long run) would report its parent's peak, not its
own. So the bot is started from a bare interpreter that forks it, waits for it and reports the
bot's peak (and its CPU time) on the last line of stderr.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_SPAWNER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"\\nPEAK_RSS_KB={usage.ru_maxrss} CPU_S={usage.ru_utime + usage.ru_stime}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


@dataclass(frozen=True)
class Measured:
    code: int
    stdout: str | None  # None when not captured
    stderr: str
    seconds: float
    peak: int  # bytes
    cpu: float = 0.0  # the bot's own CPU seconds (user and system), whatever else ran meanwhile


def run_bot(
    args: list[str],
    env: dict[str, str],
    timeout: float,
    *,
    capture_stdout: bool = True,
    root: Path = ROOT,
) -> Measured:
    """Run ``python bot.py ARGS`` in the project's root (or another checkout's) with ``env``;
    its exit code, output, wall time, peak RSS and CPU time."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _SPAWNER, str(root / "bot.py"), *args],
        stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=root,
        timeout=timeout,
    )
    seconds = time.monotonic() - started
    stderr, _, tail = proc.stderr.rpartition("\nPEAK_RSS_KB=")
    peak, _, cpu = tail.strip().partition(" CPU_S=")
    return Measured(proc.returncode, proc.stdout, stderr, seconds, int(peak) * 1024, float(cpu))
