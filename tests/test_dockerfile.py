"""The Dockerfile's layers, read as Docker reads them (Docker itself does not run here).

The dependencies must be installed in a layer that only pyproject.toml can change, before any
code is copied: otherwise every code change reinstalls every dependency.
"""

from __future__ import annotations

import re
import shlex
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
