"""The README's Layout section against the tree: every module of linkaudit/ is listed, with a line saying what it owns.

A module added without a Layout line, or a Layout line left behind by a
removed module, fails here instead of drifting.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "linkaudit"


def layout_block() -> list[str]:
    """The lines of the Layout code block that describe linkaudit/ (up to the next top-level entry)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Layout\n", 1)[1]
    block = section.split("```", 2)[1]
    lines = block.splitlines()
    start = lines.index("linkaudit/")
    out = []
    for line in lines[start + 1:]:
        if not line.startswith(" "):
            break
        out.append(line)
    return out


def listed(indent: int) -> dict[str, str]:
    """Entry name -> its description, for the lines of the block at exactly ``indent`` spaces."""
    out = {}
    for line in layout_block():
        m = re.match(rf"^ {{{indent}}}(\S+)\s+(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def test_every_top_level_module_is_listed_once_with_a_description() -> None:
    entries = listed(2)
    modules = {p.name for p in PACKAGE.glob("*.py")}
    listed_modules = {name for name in entries if name.endswith(".py")}
    assert modules - listed_modules == set(), "modules missing from the README Layout"
    assert listed_modules - modules == set(), "README Layout lists modules that do not exist"
    assert all(entries[name] for name in listed_modules), "every module line says what it owns"
    packages = {p.name + "/" for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert packages <= set(entries), f"sub-packages missing from the README Layout: {packages - set(entries)}"


def test_every_format_module_is_listed_under_formats() -> None:
    entries = listed(4)
    modules = {p.name for p in (PACKAGE / "formats").glob("*.py")} - {"__init__.py"}
    assert set(entries) == modules
    assert all(entries.values())


def test_the_layout_parser_sees_the_block() -> None:
    # a guard against a parser that matches nothing and so checks nothing
    assert len(layout_block()) > 30 and "audit.py" in listed(2) and "json.py" in listed(4)
