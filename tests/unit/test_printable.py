"""printable: names that are not printable UTF-8 shown as escapes, the same in every output."""

from __future__ import annotations

import json
import os

from linkaudit.printable import escape_bytes, json_bytes, one_line

BAD = os.fsdecode(b"lib\xff.so")  # a byte that is not UTF-8 arrives as a lone surrogate


def test_escape_bytes_shows_undecodable_bytes_only() -> None:
    assert escape_bytes(BAD) == "lib\\xff.so"
    assert escape_bytes("libé\n.so") == "libé\n.so"  # valid UTF-8 and controls are left alone here
    assert escape_bytes(BAD).encode("utf-8")  # writable to a UTF-8 stream


def test_one_line_escapes_what_could_split_or_drive_the_terminal() -> None:
    assert one_line("a\nb\tc\x1b[31m") == "a\\nb\\tc\\x1b[31m"
    assert one_line(BAD) == "lib\\xff.so"
    assert one_line("x\u202ey") == "x\\u202ey"  # a bidirectional override cannot reorder the line
    assert one_line("libé.so") == "libé.so"
    assert "\n" not in one_line("\u2028")


def test_json_bytes_keeps_the_document_valid_and_readable() -> None:
    doc = json_bytes(json.dumps({"path": BAD, "other": "a\\udcff"}))
    doc.encode("utf-8")
    back = json.loads(doc)
    assert back["path"] == "lib\\xff.so"
    assert back["other"] == "a\\udcff"  # an escaped backslash followed by text is not a byte
