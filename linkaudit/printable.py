"""File names are bytes, reports are text: how names that are not printable UTF-8 are shown.

Paths are carried as ``str`` decoded with ``surrogateescape`` (what ``os``
gives), so a byte that is not UTF-8 arrives as a lone surrogate, which no
UTF-8 stream can write.  Every output shows such a byte as ``\\xNN``, the same
in every format (JSON included, as the four characters ``\\xff`` inside the
string, so the document stays valid UTF-8); an error line also shows control
characters escaped (``\\n``, ``\\x1b``), so a file name can never split it or
drive the terminal.  A backslash in a name is shown as is.
"""

from __future__ import annotations

import re

# Patterns, compiled by ``re`` on first use (most runs print only ASCII and never need them).
_SURROGATE = "[\udc80-\udcff]"
_CONTROL = "[\x00-\x1f\x7f-\x9f\udc80-\udcff]"
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# a lone-surrogate escape as json.dumps writes it, not preceded by an escaped backslash
_JSON_SURROGATE = r"(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])"


def _byte(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code - 0xDC00 if code >= 0xDC00 else code:02x}"


def escape_bytes(text: str) -> str:
    """Undecodable bytes (surrogate escapes) as ``\\xNN``; everything else unchanged."""
    if text.isascii():
        return text
    return re.sub(_SURROGATE, lambda m: _byte(m.group()), text)


def one_line(text: str) -> str:
    """``text`` for a single line of a terminal: control characters and undecodable bytes escaped.

    Every character Python does not call printable is escaped: C0/C1 controls
    and bytes as ``\\xNN``, others (bidirectional overrides, line separators,
    format characters) as ``\\uNNNN``, so a name can neither split the line
    nor reorder what the terminal shows.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    if re.fullmatch(_CONTROL, ch):
        return _byte(ch)
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def json_bytes(document: str) -> str:
    """JSON text from ``json.dumps`` (ASCII) with ``\\udcNN`` escapes turned into the text ``\\xNN``."""
    if "\\udc" not in document:
        return document
    return re.sub(_JSON_SURROGATE, lambda m: m.group(1) + "\\\\x" + m.group(2), document)
