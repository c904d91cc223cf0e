"""Every ``--format`` choice has a formatter (pip-audit's TestOutputFormatChoice pattern)."""

from __future__ import annotations

import pytest

import sys

from linkaudit.formats import Format, OutputFormat, make_format
from linkaudit.gate import evaluate
from linkaudit.report import Report


@pytest.mark.parametrize("choice", list(OutputFormat))
def test_every_member_formats_the_sample(choice: OutputFormat, sample_report: Report, empty_report: Report) -> None:
    fmt = make_format(choice)
    assert isinstance(fmt, Format)
    text = fmt.format(evaluate(sample_report))
    assert isinstance(text, str) and text
    assert isinstance(fmt.format(empty_report), str)
    assert "\x1b[" not in text


@pytest.mark.parametrize("choice", list(OutputFormat))
def test_member_value_round_trips(choice: OutputFormat) -> None:
    assert OutputFormat(str(choice)) is choice


def test_cli_offers_every_member() -> None:
    from linkaudit.cli import main

    (fmt_param,) = [p for p in main.params if p.name == "fmt"]
    assert set(fmt_param.type.choices) == {m.value for m in OutputFormat}


@pytest.mark.parametrize("choice", [c for c in OutputFormat if c is not OutputFormat.TEXT])
def test_machine_formats_do_not_import_rich(choice: OutputFormat) -> None:
    """No format imports another: SARIF, GitHub, JSON ... word their findings without the text format (rich)."""
    import subprocess

    code = ("import sys\n"
            "from linkaudit.formats import OutputFormat, make_format\n"
            "from linkaudit.report import Category, NeededEntry, ObjectReport, Report, Status\n"
            "n = NeededEntry('libz.so.1', None, None, Status.UNUSED, Category.OTHER)\n"
            "report = Report((ObjectReport('x.so', 'x86_64', 64, None, (n,), (), ('_Z3foov',)),))\n"
            f"assert 'x.so' in make_format(OutputFormat({choice.value!r})).format(report)\n"
            "bad = sorted(m for m in sys.modules if m == 'rich' or m.startswith(('rich.', 'linkaudit.formats.text')))\n"
            "print(bad)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
