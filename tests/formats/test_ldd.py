"""``--format ldd``: the ldd listing with unused libraries marked."""

from __future__ import annotations

from linkaudit.formats.ldd import MARK, LddFormat
from linkaudit.report import Report

from .conftest import EXT, STATIC, TORCH


def test_sample_listing(sample_report: Report) -> None:
    assert LddFormat().format(sample_report).splitlines() == [
        f"{EXT}:",
        f"\tlibc10.so => {TORCH}/libc10.so",
        f"\tlibtorch.so => {TORCH}/libtorch.so {MARK}",
        f"\tlibgomp.so.1 => /usr/lib/libgomp.so.1 {MARK} (incidental)",
        f"\tlibtorch_cpu.so => {TORCH}/libtorch_cpu.so {MARK}",
        "\tlibmissing.so.2 => not found",
        f"{STATIC}:",
        "\tstatically linked",
    ]


def test_clean(clean_report: Report) -> None:
    assert MARK not in LddFormat().format(clean_report)


def test_empty(empty_report: Report) -> None:
    assert LddFormat().format(empty_report) == ""
