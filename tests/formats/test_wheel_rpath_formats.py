"""The wheel report and RPATH findings in every format, and in the gate, from a report built by hand.

``features_report`` has one wheel with one vendored library of each status
and one extension with an RPATH finding of two kinds.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from linkaudit.config import AllowRule
from linkaudit.formats.github import GithubFormat
from linkaudit.formats.json import JsonFormat
from linkaudit.formats.sarif import SarifFormat
from linkaudit.formats.text import TextFormat
from linkaudit.gate import ExitCode, GatePolicy, evaluate, parse_fail_on
from linkaudit.report import (
    FindingKind,
    ObjectReport,
    Report,
    RpathFinding,
    RpathKind,
    VendoredLibrary,
    VendoredStatus,
    WheelReport,
)

WHEEL = "dist/demo-1.0-cp311-cp311-linux_x86_64.whl"
EXT = f"{WHEEL}!demo/_ext.cpython-311-x86_64-linux-gnu.so"


@pytest.fixture
def features_report() -> Report:
    ext = ObjectReport(
        path=EXT, machine="x86_64", elf_class=64, soname=None, needed=(), loaded=(), unresolved=(),
        is_python_extension=True, runpath="$ORIGIN/../demo.libs:/tmp/build/lib",
        rpath_findings=(
            RpathFinding("/tmp/build/lib", RpathKind.ABSOLUTE, "absolute outside the package"),
            RpathFinding("/tmp/build/lib", RpathKind.NONEXISTENT, "'/tmp/build/lib' does not exist"),
        ),
    )
    wheel = WheelReport(WHEEL, (
        VendoredLibrary("demo.libs/libunneeded-1a.so", 4000, 1500, VendoredStatus.UNNEEDED,
                        ("demo/_ext.cpython-311-x86_64-linux-gnu.so",), (),
                        ("demo/_ext.cpython-311-x86_64-linux-gnu.so",)),
        VendoredLibrary("demo.libs/libunloaded-2b.so", 3000, 1000, VendoredStatus.UNLOADED, ()),
        VendoredLibrary("demo.libs/libneeded-3c.so", 2000, 800, VendoredStatus.NEEDED,
                        ("demo/_ext.cpython-311-x86_64-linux-gnu.so",),
                        ("demo/_ext.cpython-311-x86_64-linux-gnu.so",)),
    ))
    return Report(objects=(ext,), wheels=(wheel,))


def test_json_wheels_and_rpath_findings(features_report: Report, report_schema: dict) -> None:
    data = json.loads(JsonFormat().format(features_report))
    jsonschema.Draft202012Validator(report_schema).validate(data)
    assert data["wheels"] == [{
        "path": WHEEL,
        "vendored": [
            {"name": "demo.libs/libunneeded-1a.so", "size": 4000, "compressed_size": 1500, "status": "unneeded",
             "loaded_by": ["demo/_ext.cpython-311-x86_64-linux-gnu.so"], "used_by": [],
             "unused_by": ["demo/_ext.cpython-311-x86_64-linux-gnu.so"]},
            {"name": "demo.libs/libunloaded-2b.so", "size": 3000, "compressed_size": 1000, "status": "unloaded",
             "loaded_by": [], "used_by": [], "unused_by": []},
            {"name": "demo.libs/libneeded-3c.so", "size": 2000, "compressed_size": 800, "status": "needed",
             "loaded_by": ["demo/_ext.cpython-311-x86_64-linux-gnu.so"],
             "used_by": ["demo/_ext.cpython-311-x86_64-linux-gnu.so"], "unused_by": []},
        ],
        "unneeded_bytes": 4000,
        "unloaded_bytes": 3000,
        "unneeded_compressed_bytes": 1500,
        "findings": [  # not evaluated: the default gate (unused) does not fail on these kinds
            {"kind": "unneeded-vendored", "name": "demo.libs/libunneeded-1a.so", "gated": False, "fails": False,
             "allowed": None, "baselined": False},
            {"kind": "unloaded-vendored", "name": "demo.libs/libunloaded-2b.so", "gated": False, "fails": False,
             "allowed": None, "baselined": False}],
    }]
    obj = data["objects"][0]
    assert obj["runpath"] == "$ORIGIN/../demo.libs:/tmp/build/lib" and obj["rpath"] is None
    assert obj["rpath_findings"] == [
        {"entry": "/tmp/build/lib", "kind": "absolute", "message": "absolute outside the package", "tag": "RUNPATH"},
        {"entry": "/tmp/build/lib", "kind": "nonexistent", "message": "'/tmp/build/lib' does not exist",
         "tag": "RUNPATH"},
    ]


def test_schema_is_closed_for_new_definitions(report_schema: dict) -> None:
    defs = report_schema["$defs"]
    for name in ("wheel", "vendored", "rpath_finding"):
        assert defs[name]["additionalProperties"] is False
    assert set(defs["rpath_kind"]["enum"]) == {k.value for k in RpathKind}
    assert set(defs["vendored_status"]["enum"]) == {s.value for s in VendoredStatus}


def _failing(report: Report, policy: GatePolicy) -> list[tuple[str, FindingKind, str]]:
    gate = evaluate(report, policy).gate
    assert gate is not None
    return [(f.object, f.kind, f.name) for f in gate.failing]


def test_gate_kinds(features_report: Report) -> None:
    gate = evaluate(features_report, GatePolicy(parse_fail_on(["unused"]))).gate
    assert gate is not None and gate.exit_code == ExitCode.OK
    assert len(gate.findings) == 4  # two rpath findings, two wheel findings: shown, not failing
    assert _failing(features_report, GatePolicy(parse_fail_on(["rpath"]))) == [
        (EXT, FindingKind.RPATH, "absolute:/tmp/build/lib"), (EXT, FindingKind.RPATH, "nonexistent:/tmp/build/lib")]
    assert _failing(features_report, GatePolicy(parse_fail_on(["unneeded-vendored"]))) == [
        (WHEEL, FindingKind.UNNEEDED_VENDORED, "demo.libs/libunneeded-1a.so")]
    assert _failing(features_report, GatePolicy(parse_fail_on(["unloaded-vendored"]))) == [
        (WHEEL, FindingKind.UNLOADED_VENDORED, "demo.libs/libunloaded-2b.so")]
    assert evaluate(features_report, GatePolicy(parse_fail_on(["rpath"]))).gate.exit_code == ExitCode.FINDINGS


def test_allow_list_names_rpath_findings_by_kind_and_entry(features_report: Report) -> None:
    policy = GatePolicy(parse_fail_on(["rpath,unneeded-vendored"]),
                        allow=(AllowRule("absolute:/tmp/*", "CI builds in /tmp"),
                               AllowRule("demo.libs/libunneeded-*", "kept for plugins")))
    assert _failing(features_report, policy) == [(EXT, FindingKind.RPATH, "nonexistent:/tmp/build/lib")]


def test_json_findings_of_wheels(features_report: Report, report_schema: dict) -> None:
    data = json.loads(JsonFormat().format(evaluate(features_report, GatePolicy(parse_fail_on(["unneeded-vendored"])))))
    jsonschema.Draft202012Validator(report_schema).validate(data)
    assert data["wheels"][0]["findings"] == [
        {"kind": "unneeded-vendored", "name": "demo.libs/libunneeded-1a.so", "gated": True, "fails": True,
         "allowed": None, "baselined": False},
        {"kind": "unloaded-vendored", "name": "demo.libs/libunloaded-2b.so", "gated": False, "fails": False,
         "allowed": None, "baselined": False}]
    assert data["gate"]["failing"] == [{"object": WHEEL, "kind": "unneeded-vendored",
                                        "name": "demo.libs/libunneeded-1a.so"}]


def test_sarif_rules_and_results(features_report: Report, sarif_schema: dict) -> None:
    policy = GatePolicy(parse_fail_on(["rpath"]))
    data = json.loads(SarifFormat().format(evaluate(features_report, policy)))
    jsonschema.Draft4Validator(sarif_schema).validate(data)
    run = data["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    for rule_id in ("LA005-rpath", "LA006-unneeded-vendored", "LA007-unloaded-vendored"):
        rule = rules[rule_id]
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["helpUri"]
        assert rule["help"]["text"] and rule["help"]["markdown"]
    results = run["results"]
    by_rule = {}
    for r in results:
        by_rule.setdefault(r["ruleId"], []).append(r)
    assert [r["level"] for r in by_rule["LA005-rpath"]] == ["error", "error"]
    assert by_rule["LA005-rpath"][0]["properties"] == {
        "kind": "rpath", "rpath": "absolute:/tmp/build/lib", "fails": True, "rpath_kind": "absolute",
        "entry": "/tmp/build/lib", "tag": "RUNPATH"}
    assert "RUNPATH element '/tmp/build/lib'" in by_rule["LA005-rpath"][0]["message"]["text"]
    (unneeded,) = by_rule["LA006-unneeded-vendored"]
    assert unneeded["level"] == "warning"  # not gated by this policy
    assert unneeded["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == WHEEL
    assert unneeded["properties"]["member"] == "demo.libs/libunneeded-1a.so"
    assert [r["ruleIndex"] for r in results] == [
        [r["id"] for r in run["tool"]["driver"]["rules"]].index(r["ruleId"]) for r in results]


def test_github_annotations(features_report: Report) -> None:
    out = GithubFormat().format(evaluate(features_report, GatePolicy(parse_fail_on(["unneeded-vendored"])))).splitlines()
    assert out[-2].startswith(f"::error file={WHEEL},title=linkaudit unneeded-vendored::demo.libs/libunneeded-1a.so")
    assert out[-1].startswith(f"::warning file={WHEEL},title=linkaudit unloaded-vendored::")
    assert sum(line.startswith("::warning") and "title=linkaudit rpath" in line for line in out) == 2


def test_text_wheel_section_and_rpath_lines(features_report: Report) -> None:
    text = TextFormat(width=120).format(features_report)
    assert f"{WHEEL}  (wheel: 3 vendored libraries, 9.0 KB)" in text
    assert "  unneeded     4.0 KB  demo.libs/libunneeded-1a.so\n      loaded only for unused or incidental " \
           "dependencies of demo/_ext.cpython-311-x86_64-linux-gnu.so\n      linked but not used by demo/_ext" in text
    assert "  unloaded     3.0 KB  demo.libs/libunloaded-2b.so\n      no member loads it" in text
    assert "libneeded-3c" not in text  # needed libraries are counted, not listed
    assert "1 needed, 1 unneeded (4.0 KB could be shed), 1 unloaded (3.0 KB)." in text
    assert "RUNPATH '/tmp/build/lib': absolute: absolute outside the package" in text
