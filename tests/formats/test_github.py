"""``--format github``: workflow commands: error for findings failing the gate, notice for accepted ones,
warning for kinds not gated."""

from __future__ import annotations

from linkaudit.baseline import Baseline, BaselineEntry
from linkaudit.config import AllowRule
from linkaudit.formats.github import GithubFormat, command, escape_data, escape_property
from linkaudit.gate import GatePolicy, evaluate
from linkaudit.report import FindingKind, Report

from .conftest import EXT


def test_sample_report_default_gate(sample_report: Report) -> None:
    lines = GithubFormat().format(sample_report).splitlines()
    assert len(lines) == 5  # four findings and one input error
    assert lines[0].startswith(f"::error file={EXT},title=linkaudit unused::libtorch.so is linked but unused")
    # only "unused" fails by default: the other kinds are warnings
    assert lines[1].startswith(f"::warning file={EXT},title=linkaudit incidental::libgomp.so.1 ")
    assert lines[2].startswith(f"::warning file={EXT},title=linkaudit missing::libmissing.so.2 ")
    assert lines[3].startswith(f"::warning file={EXT},title=linkaudit unresolved::")
    assert "foo()" in lines[3]  # demangled
    assert lines[4] == "::error file=notes.txt,title=linkaudit error::not an ELF file"


def test_allowed_finding_is_a_notice_with_its_reason(sample_report: Report) -> None:
    policy = GatePolicy(frozenset(FindingKind), allow=(AllowRule("libtorch.so", "load-time registration"),))
    lines = GithubFormat().format(evaluate(sample_report, policy)).splitlines()
    assert lines[0].startswith("::notice ")
    assert "load-time registration" in lines[0]
    assert all(line.startswith("::error ") for line in lines[1:])


def test_baselined_finding_is_a_notice(sample_report: Report) -> None:
    baseline = Baseline(frozenset({BaselineEntry("_C.so", FindingKind.UNUSED, "libtorch.so")}))
    policy = GatePolicy(frozenset({FindingKind.UNUSED}), baseline=baseline)  # keyed by file name
    (first, *_) = GithubFormat().format(evaluate(sample_report, policy)).splitlines()
    assert first.startswith(f"::notice file={EXT},title=linkaudit unused::libtorch.so ")
    assert first.endswith("[in the baseline]")


def test_no_objects_is_an_error_annotation(empty_report: Report) -> None:
    assert GithubFormat().format(evaluate(empty_report)).startswith("::error title=linkaudit error::no ELF object found")
    assert GithubFormat().format(evaluate(empty_report, GatePolicy(allow_empty=True))) == ""


def test_clean_report_prints_nothing(clean_report: Report) -> None:
    assert GithubFormat().format(clean_report) == ""


def test_escaping() -> None:
    # actions/toolkit: data escapes % CR LF; properties also : and ,
    assert escape_data("50%\r\nx: y, z") == "50%25%0D%0Ax: y, z"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    assert command("error", "d,ir/x:1.so", "t", "m\nn") == "::error file=d%2Cir/x%3A1.so,title=t::m%0An"
