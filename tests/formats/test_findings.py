"""formats/findings: the findings every machine format shows, one per gate finding, each with its rule and message."""

from __future__ import annotations

from linkaudit.config import AllowRule
from linkaudit.demangle import demangle
from linkaudit.formats.findings import RULES, iter_findings
from linkaudit.gate import GatePolicy, evaluate
from linkaudit.report import FindingKind, Report


def test_every_kind_has_a_distinct_rule() -> None:
    assert set(RULES) == set(FindingKind)
    ids = [r.id for r in RULES.values()]
    assert len(set(ids)) == len(ids) and all(i.startswith("LA") for i in ids)


def test_one_shown_finding_per_gate_finding_with_its_entry(sample_report: Report) -> None:
    report = evaluate(sample_report, GatePolicy(fail_on=frozenset(FindingKind)))
    shown = list(iter_findings(report))
    assert [s.finding for s in shown] == list(report.gate.findings)  # type: ignore[union-attr]
    by_name = {s.finding.name: s for s in shown}
    assert by_name["libtorch.so"].entry is not None and by_name["libtorch.so"].entry.name == "libtorch.so"
    assert by_name["_Z3foov"].entry is None
    assert "drags in 1 more library" in by_name["libtorch.so"].message
    assert "libtorch_cpu.so" in by_name["libgomp.so.1"].message  # the owner of its one binding
    assert "/srv/other/libmissing.so.2" in by_name["libmissing.so.2"].message  # the candidate elsewhere
    assert f"undefined symbol {demangle('_Z3foov')} " in by_name["_Z3foov"].message  # demangled when possible
    assert all(s.note is None for s in shown)


def test_an_allowed_finding_says_why(sample_report: Report) -> None:
    report = evaluate(sample_report, GatePolicy(allow=(AllowRule("libtorch.so", "needed for its initializers"),)))
    (s,) = [s for s in iter_findings(report) if s.finding.name == "libtorch.so"]
    assert s.note == "allowed: needed for its initializers"
    assert s.message.endswith("[allowed: needed for its initializers]")

