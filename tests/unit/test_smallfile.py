"""smallfile: config and baseline files are read bounded, and anything but a small regular file is one error."""

from __future__ import annotations

import os

import pytest

from linkaudit.errors import ConfigError
from linkaudit.smallfile import decode_utf8, first_clause, read_bounded


def test_reads_a_small_regular_file(tmp_path) -> None:
    f = tmp_path / "c.toml"
    f.write_bytes(b"x = 1\n")
    assert read_bounded(f, 100, "config") == b"x = 1\n"


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d, "a directory"),
    (lambda d: d / "absent.toml", "config file not found"),
    (lambda d: (d / "big.toml", (d / "big.toml").write_bytes(b"x" * 101))[0], "too large"),
])
def test_refuses_what_is_not_a_small_regular_file(tmp_path, make, message) -> None:
    with pytest.raises(ConfigError, match=message):
        read_bounded(make(tmp_path), 100, "config")


def test_a_fifo_does_not_hang(tmp_path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        read_bounded(fifo, 100, "baseline")


def test_decode_utf8_names_the_file_and_the_byte(tmp_path) -> None:
    assert decode_utf8("é".encode(), tmp_path / "b.json", "baseline") == "é"
    with pytest.raises(ConfigError, match=r"b\.json: baseline is not valid UTF-8 \(byte 1\)"):
        decode_utf8(b"a\xffb", tmp_path / "b.json", "baseline")


def test_first_clause() -> None:
    assert first_clause(ValueError("too many digits; use sys.set_int_max_str_digits()")) == "too many digits"
    assert first_clause(ValueError("line one\nline two")) == "line one"
    assert first_clause(ValueError()) == "ValueError"
