"""Errors that reach the user once, from the CLI, as one line naming the file.

Library code raises these; only ``cli.py`` prints them. Every error carries a
message and optionally a hint (what to do about it).
"""

from __future__ import annotations


class LinkauditError(Exception):
    """Base class of every error linkaudit reports to the user."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ElfReadError(LinkauditError):
    """A file is not ELF, or its ELF structures are truncated or inconsistent."""


class ConfigError(LinkauditError):
    """The [tool.linkaudit] configuration or a command-line value is invalid."""


class RewriteError(LinkauditError):
    """`linkaudit fix` refuses to rewrite a file (the file is left untouched)."""
