"""gate: --fail-on, the allow-list and the baseline turned into per-finding decisions and one exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from linkaudit.config import AllowRule
from linkaudit.gate import ExitCode, GatePolicy, all_findings, evaluate, gate_of, parse_fail_on
from linkaudit.report import (Category, ErrorEntry, FindingKind, FoundVia, NeededEntry, ObjectReport, Report,
                              Status)


def entry(name: str, status: Status) -> NeededEntry:
    found = status is not Status.MISSING
    return NeededEntry(name, Path("/lib") / name if found else None, FoundVia.CACHE if found else None, status,
                       Category.OTHER)


def obj(path: str, *needed: NeededEntry, unresolved: tuple[str, ...] = ()) -> ObjectReport:
    return ObjectReport(path, "x86_64", 64, None, needed, (), unresolved)


REPORT = Report(objects=(
    obj("bin/a", entry("liba.so", Status.USED), entry("libu.so", Status.UNUSED), entry("libi.so", Status.INCIDENTAL)),
    obj("bin/b", entry("libu.so", Status.UNUSED), entry("libm.so", Status.MISSING), unresolved=("sym",)),
))


def test_parse_fail_on_accepts_lists_and_none_and_names_the_valid_kinds() -> None:
    assert parse_fail_on(["unused,incidental", " missing "]) == {FindingKind.UNUSED, FindingKind.INCIDENTAL,
                                                                 FindingKind.MISSING}
    assert parse_fail_on(["none"]) == frozenset()
    with pytest.raises(ValueError, match="unknown finding kind 'unusd'.*valid kinds: unused"):
        parse_fail_on(["unusd"])


@pytest.mark.parametrize("values", [[""], ["unused,,missing"], [" "], ["unused,"]])
def test_parse_fail_on_refuses_empty_kinds(values) -> None:
    """An empty --fail-on must not silently turn the gate off."""
    with pytest.raises(ValueError, match="empty finding kind.*valid kinds: unused"):
        parse_fail_on(values)


def test_parse_fail_on_refuses_none_with_kinds() -> None:
    with pytest.raises(ValueError, match="'none' cannot be combined with finding kinds \\(unused\\)"):
        parse_fail_on(["unused", "none"])
    assert parse_fail_on([]) == frozenset()  # fail-on = [] in a config: nothing fails


def test_every_finding_is_listed_once_and_used_entries_are_none() -> None:
    found = sorted((path, kind.value, name) for path, kind, name in all_findings(REPORT))
    assert found == [("bin/a", "incidental", "libi.so"), ("bin/a", "unused", "libu.so"),
                     ("bin/b", "missing", "libm.so"), ("bin/b", "unresolved", "sym"), ("bin/b", "unused", "libu.so")]


def test_default_policy_fails_on_unused_only() -> None:
    gate = evaluate(REPORT).gate
    assert gate is not None and gate.exit_code == ExitCode.FINDINGS
    assert {(f.object, f.name) for f in gate.findings if f.fails} == {("bin/a", "libu.so"), ("bin/b", "libu.so")}
    assert not any(f.gated for f in gate.findings if f.kind is not FindingKind.UNUSED)


def test_allow_rules_accept_findings_with_their_reason() -> None:
    policy = GatePolicy(allow=(AllowRule("libu.so", "loaded for its constructors", object="bin/a"),))
    gate = evaluate(REPORT, policy).gate
    assert gate is not None and gate.exit_code == ExitCode.FINDINGS  # bin/b's libu.so still fails
    by_object = {f.object: f for f in gate.findings if f.name == "libu.so"}
    assert by_object["bin/a"].allowed == "loaded for its constructors" and not by_object["bin/a"].fails
    assert by_object["bin/b"].fails
    everywhere = GatePolicy(allow=(AllowRule("libu*", "known"),))
    assert evaluate(REPORT, everywhere).gate.exit_code == ExitCode.OK  # type: ignore[union-attr]


def test_fail_on_nothing_passes_and_errors_or_no_objects_are_exit_2() -> None:
    assert evaluate(REPORT, GatePolicy(fail_on=frozenset())).gate.exit_code == ExitCode.OK  # type: ignore[union-attr]
    with_error = Report(objects=REPORT.objects, errors=(ErrorEntry("x.txt", "not an ELF file"),))
    assert evaluate(with_error).gate.exit_code == ExitCode.ERROR  # type: ignore[union-attr]
    empty = evaluate(Report()).gate
    assert empty is not None and empty.exit_code == ExitCode.ERROR and empty.no_objects
    assert evaluate(Report(), GatePolicy(allow_empty=True)).gate.exit_code == ExitCode.OK  # type: ignore[union-attr]


def test_gate_of_an_unevaluated_report_uses_the_default_policy_without_the_empty_rule() -> None:
    assert gate_of(REPORT).exit_code == ExitCode.FINDINGS
    assert gate_of(Report()).exit_code == ExitCode.OK
    evaluated = evaluate(REPORT, GatePolicy(fail_on=frozenset()))
    assert gate_of(evaluated).exit_code == ExitCode.OK  # the stored gate is read, not recomputed
