"""Every ``--format`` choice has a formatter (pip-audit's TestOutputFormatChoice pattern)."""

from __future__ import annotations

import pytest

from linkaudit.config import GatePolicy
from linkaudit.formats import Format, OutputFormat, make_format
from linkaudit.gate import DEFAULT_FAIL_ON
from linkaudit.report import Report


@pytest.mark.parametrize("choice", list(OutputFormat))
def test_every_member_formats_the_sample(choice: OutputFormat, sample_report: Report, empty_report: Report) -> None:
    fmt = make_format(choice, policy=GatePolicy(DEFAULT_FAIL_ON))
    assert isinstance(fmt, Format)
    text = fmt.format(sample_report)
    assert isinstance(text, str) and text
    assert isinstance(fmt.format(empty_report), str)
    assert "\x1b[" not in text


@pytest.mark.parametrize("choice", list(OutputFormat))
def test_member_value_round_trips(choice: OutputFormat) -> None:
    assert OutputFormat(str(choice)) is choice


def test_cli_offers_every_member() -> None:
    from linkaudit.cli import audit_cmd

    (fmt_param,) = [p for p in audit_cmd.params if p.name == "fmt"]
    assert set(fmt_param.type.choices) == {m.value for m in OutputFormat}
