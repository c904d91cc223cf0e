"""How findings are worded, shared by every format: demangled names, sizes, counted nouns.

Plain functions with no rich import, so the machine formats (SARIF, GitHub
annotations) can word their messages without loading the terminal renderer.
"""

from __future__ import annotations

from linkaudit.demangle import demangle  # libstdc++'s __cxa_demangle, opened by path: no subprocess

__all__ = ["demangle", "human_size", "plural", "verb"]


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``plural(1, "finding")`` -> ``1 finding``; ``plural(2, "library", "libraries")`` -> ``2 libraries``."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}"


def verb(count: int, singular: str, plural_form: str) -> str:
    """The verb agreeing with ``count`` subjects: ``verb(1, "runs", "run")`` -> ``runs``."""
    return singular if count == 1 else plural_form
