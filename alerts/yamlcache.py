"""A rules file's YAML tree, kept on disk between runs.

PyYAML's Python composer takes 0.2-0.3 s on a rules file of a few hundred rules, on every
start and every ``check``. libyaml's would take a tenth of that, but it accepts what the
Python one refuses (a tab inside a flow list) and words its errors its own way, and the
config's hints are written for the Python composer's words. So the Python composer stays the
judge, and a file it has accepted once is not composed again: its tree (tags, values, the line
of each node, which is all :mod:`alerts.config` reads) is stored as JSON, keyed by the file's
text and PyYAML's version (:mod:`alerts.diskcache`).

Only files the composer accepted are stored, so every error is still the composer's own. Small
files are composed each time (they take a few milliseconds, and a cache per file would only
churn), and an alias is stored once, as the composer shares it, so an alias bomb stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from . import diskcache

FORMAT = 1
"""Bumped when the JSON layout changes."""
MIN_SIZE = 8192
"""Files shorter than this (in characters) are composed every time."""
_PREFIX = "rules-tree-"


def compose(source: str, dirs: Sequence[Path] | None = None) -> yaml.Node | None:
    """The YAML tree of ``source`` as ``yaml.compose`` with the SafeLoader gives it; errors
    are the composer's (``yaml.YAMLError``)."""
    if len(source) < MIN_SIZE:
        return yaml.compose(source, Loader=yaml.SafeLoader)
    wanted = diskcache.key([f"format {FORMAT}", f"pyyaml {yaml.__version__}", source])
    built: list[yaml.Node | None] = []

    def build() -> yaml.Node | None:
        built.append(yaml.compose(source, Loader=yaml.SafeLoader))
        return built[0]

    tree = diskcache.load(_PREFIX, wanted, build, _dump, _restore, dirs)
    return built[0] if built else tree


def _dump(root: yaml.Node | None) -> Any:
    """The tree as a flat list of nodes, children by index: an alias (one node in two places)
    stays one entry, so sharing, and even a cycle, is kept and the list never outgrows the
    file."""
    index: dict[int, int] = {}
    nodes: list[Any] = []

    def number(node: yaml.Node) -> int:
        if id(node) not in index:
            index[id(node)] = len(nodes)
            nodes.append(node)
        return index[id(node)]

    if root is None:
        return None
    number(root)
    out = []
    at = 0
    while at < len(nodes):  # nodes grows as children are numbered
        node = nodes[at]
        at += 1
        line = node.start_mark.line
        if isinstance(node, yaml.ScalarNode):
            out.append(["s", node.tag, node.value, line, node.style])
        elif isinstance(node, yaml.SequenceNode):
            out.append(["q", node.tag, [number(v) for v in node.value], line, node.flow_style])
        else:
            pairs = [[number(k), number(v)] for k, v in node.value]
            out.append(["m", node.tag, pairs, line, node.flow_style])
    return out


def _restore(data: Any) -> yaml.Node | None:
    if data is None:
        return None
    made: list[yaml.Node] = []
    for kind, tag, value, line, style in data:
        if not isinstance(tag, str) or not isinstance(line, int):
            raise ValueError("not a node")
        mark = yaml.Mark("<cache>", 0, line, 0, None, None)
        if kind == "s":
            if not isinstance(value, str):
                raise ValueError("not a scalar")
            made.append(yaml.ScalarNode(tag, value, mark, mark, style))
        elif kind == "q":
            made.append(yaml.SequenceNode(tag, [], mark, mark, style))
        elif kind == "m":
            made.append(yaml.MappingNode(tag, [], mark, mark, style))
        else:
            raise ValueError(f"unknown node kind {kind!r}")
    if not made:
        raise ValueError("no nodes")

    def node(i: Any) -> yaml.Node:
        if not isinstance(i, int) or not 0 <= i < len(made):
            raise ValueError(f"no node {i!r}")
        return made[i]

    for parent, (kind, _tag, value, _line, _style) in zip(made, data, strict=True):
        if kind == "q":
            parent.value = [node(i) for i in value]
        elif kind == "m":
            parent.value = [(node(k), node(v)) for k, v in value]
    return made[0]
