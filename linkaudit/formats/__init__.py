"""Output formats, all rendered from the same :class:`~linkaudit.report.Report`."""

from __future__ import annotations

from enum import Enum
from typing import assert_never

from linkaudit.formats.interface import Format

__all__ = ["Format", "OutputFormat", "make_format"]


class OutputFormat(str, Enum):
    TEXT = "text"
    JSON = "json"
    LDD = "ldd"
    SARIF = "sarif"
    GITHUB = "github"
    DOT = "dot"
    MERMAID = "mermaid"
    TREE = "tree"

    def __str__(self) -> str:
        return self.value


def make_format(choice: OutputFormat, *, color: bool = False, width: int = 100) -> Format:
    """The formatter for ``--format``; heavy modules are imported only when chosen.

    Every format reads the gate's decisions from the report itself
    (:func:`linkaudit.gate.evaluate` stores them there), never recomputes them.
    """
    if choice is OutputFormat.TEXT:
        from linkaudit.formats.text import TextFormat

        return TextFormat(color=color, width=width)
    if choice is OutputFormat.JSON:
        from linkaudit.formats.json import JsonFormat

        return JsonFormat()
    if choice is OutputFormat.LDD:
        from linkaudit.formats.ldd import LddFormat

        return LddFormat()
    if choice is OutputFormat.SARIF:
        from linkaudit.formats.sarif import SarifFormat

        return SarifFormat()
    if choice is OutputFormat.GITHUB:
        from linkaudit.formats.github import GithubFormat

        return GithubFormat()
    if choice is OutputFormat.DOT:
        from linkaudit.formats.graph import DotFormat

        return DotFormat()
    if choice is OutputFormat.MERMAID:
        from linkaudit.formats.graph import MermaidFormat

        return MermaidFormat()
    if choice is OutputFormat.TREE:
        from linkaudit.formats.tree import TreeFormat

        return TreeFormat(color=color, width=width)
    assert_never(choice)
