"""The Dockerfile's layers, read as Docker reads them (Docker itself does not run here).

The dependencies must be installed in a layer that only pyproject.toml can change, before any
code is copied: otherwise every code change reinstalls every dependency.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib

from .conftest import ROOT


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n", "", text)  # Docker's line continuation
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (op.upper(), arg.strip())
        for op, _, arg in (line.partition(" ") for line in lines if line and line[0] != "#")
    ]


def test_dependencies_are_a_layer_before_the_code() -> None:
    steps = instructions()
    install = next(i for i, (op, arg) in enumerate(steps) if op == "RUN" and "pip" in arg)
    copied_before = [shlex.split(arg)[:-1] for op, arg in steps[:install] if op == "COPY"]
    assert copied_before == [["pyproject.toml"]], copied_before
    copied_after = [src for op, arg in steps[install:] if op == "COPY" for src in arg.split()[:-1]]
    assert {"alerts", "bot.py"} <= set(copied_after)
    # What that layer installs is pyproject.toml's list, every entry an exact pin.
    assert (
        "tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']"
        in (steps[install][1])
    )
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert deps and all("==" in d for d in deps), deps


def test_the_word_form_caches_are_built_into_the_image() -> None:
    """Built as root before ``USER bot``: the bot cannot write alerts/ when it runs."""
    steps = instructions()
    build = next(i for i, (op, arg) in enumerate(steps) if op == "RUN" and "builtin_lexicon" in arg)
    user = next(i for i, (op, _) in enumerate(steps) if op == "USER")
    code = max(i for i, (op, arg) in enumerate(steps) if op == "COPY" and "alerts" in arg)
    assert code < build < user


def test_the_image_carries_compiled_bytecode(tmp_path) -> None:
    """The image sets PYTHONDONTWRITEBYTECODE, so nothing is compiled for good at run time:
    the libraries' bytecode comes from pip (no ``--no-compile``), the standard library's and the
    bot's from compileall, run as root before ``USER bot``. Without them every start (each
    ``once``, each health check) compiles every module it imports again: with no bytecode at
    all, ``bot.py check`` took 1.3-1.9 s instead of 0.4-0.6 s, an unchanged poll of 200 feeds
    3.5-3.8 s instead of 2.1-2.3 s."""
    steps = instructions()
    assert ("ENV", "PYTHONDONTWRITEBYTECODE=1") in [(op, arg.split()[0]) for op, arg in steps]
    install = next(arg for op, arg in steps if op == "RUN" and "pip" in arg)
    assert "--no-compile" not in install
    assert "-m compileall" in install and 'get_path("stdlib")' in install  # the base image's
    build = next(
        i for i, (op, arg) in enumerate(steps) if op == "RUN" and "compileall -q alerts" in arg
    )
    user = next(i for i, (op, _) in enumerate(steps) if op == "USER")
    code = max(i for i, (op, arg) in enumerate(steps) if op == "COPY" and "alerts" in arg)
    assert code < build < user
    command = steps[build][1].split("&&")[0].split()
    assert command[:3] == ["python", "-m", "compileall"] and command[-1] == "alerts"
    # That command, run as the image runs it (PYTHONDONTWRITEBYTECODE=1), writes the bytecode
    # of every module of the package, the store's included.
    shutil.copytree(
        ROOT / "alerts", tmp_path / "alerts", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([sys.executable, *command[1:]], cwd=tmp_path, env=env, check=True)
    sources = sorted((tmp_path / "alerts").rglob("*.py"))
    tag = sys.implementation.cache_tag
    missing = [
        src
        for src in sources
        if not (src.parent / "__pycache__" / f"{src.stem}.{tag}.pyc").exists()
    ]
    assert sources and not missing, missing
