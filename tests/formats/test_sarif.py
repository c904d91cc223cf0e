"""``--format sarif``: SARIF 2.1.0, validated against the vendored OASIS schema."""

from __future__ import annotations

import json

import jsonschema
import pytest

from linkaudit import __version__
from linkaudit.config import AllowRule, GatePolicy
from linkaudit.formats.sarif import SarifFormat, artifact_uri
from linkaudit.report import FindingKind, Report

from .conftest import EXT


def _sarif(report: Report, policy: GatePolicy | None = None) -> dict:
    return json.loads(SarifFormat(policy).format(report))


@pytest.mark.parametrize("fixture", ["sample_report", "clean_report", "empty_report"])
def test_validates_against_sarif_schema(fixture: str, request: pytest.FixtureRequest, sarif_schema: dict) -> None:
    data = _sarif(request.getfixturevalue(fixture))
    jsonschema.Draft4Validator.check_schema(sarif_schema)
    jsonschema.Draft4Validator(sarif_schema).validate(data)


def test_suppressed_results_validate(sample_report: Report, sarif_schema: dict) -> None:
    policy = GatePolicy(frozenset(FindingKind), allow=(AllowRule("libgomp*", "OpenMP comes with torch"),))
    jsonschema.Draft4Validator(sarif_schema).validate(_sarif(sample_report, policy))


def test_driver(sample_report: Report) -> None:
    data = _sarif(sample_report)
    assert data["version"] == "2.1.0"
    driver = data["runs"][0]["tool"]["driver"]
    assert driver["name"] == "linkaudit"
    assert driver["version"] == __version__
    assert [r["id"] for r in driver["rules"]] == ["LA001-unused", "LA002-incidental", "LA003-missing",
                                                  "LA004-unresolved"]


def test_one_result_per_finding(sample_report: Report) -> None:
    results = _sarif(sample_report)["runs"][0]["results"]
    # the sample has exactly one finding of each kind, all in the extension module
    assert [(r["ruleId"], r["locations"][0]["logicalLocations"][0]["name"]) for r in results] == [
        ("LA001-unused", "libtorch.so"),
        ("LA002-incidental", "libgomp.so.1"),
        ("LA003-missing", "libmissing.so.2"),
        ("LA004-unresolved", "_Z3foov"),
    ]
    rules = _sarif(sample_report)["runs"][0]["tool"]["driver"]["rules"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == EXT


def test_levels_follow_the_gate(sample_report: Report) -> None:
    default = {r["ruleId"]: r["level"] for r in _sarif(sample_report)["runs"][0]["results"]}
    assert default == {"LA001-unused": "error", "LA002-incidental": "warning", "LA003-missing": "warning",
                       "LA004-unresolved": "warning"}
    policy = GatePolicy(frozenset({FindingKind.MISSING}))
    levels = {r["ruleId"]: r["level"] for r in _sarif(sample_report, policy)["runs"][0]["results"]}
    assert levels["LA003-missing"] == "error"
    assert levels["LA001-unused"] == "warning"


def test_allow_list_becomes_a_suppression(sample_report: Report) -> None:
    policy = GatePolicy(frozenset({FindingKind.UNUSED}), allow=(AllowRule("libtorch*.so", "torch ops register at load"),))
    (unused,) = [r for r in _sarif(sample_report, policy)["runs"][0]["results"] if r["ruleId"] == "LA001-unused"]
    assert unused["suppressions"] == [{"kind": "external", "justification": "allowed: torch ops register at load"}]
    assert "torch ops register at load" in unused["message"]["text"]


def test_input_errors_are_notifications(sample_report: Report) -> None:
    inv = _sarif(sample_report)["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    (note,) = inv["toolExecutionNotifications"]
    assert note["level"] == "error"
    assert "notes.txt" in note["message"]["text"] and "not an ELF file" in note["message"]["text"]


def test_clean_report_has_no_results(clean_report: Report) -> None:
    run = _sarif(clean_report)["runs"][0]
    assert run["results"] == []
    assert run["invocations"][0]["executionSuccessful"] is True


@pytest.mark.parametrize(("path", "uri"), [
    ("build/x.so", "build/x.so"),
    ("/abs/dir/x.so", "file:///abs/dir/x.so"),
    ("dir with space/x.so", "dir%20with%20space/x.so"),
])
def test_artifact_uri(path: str, uri: str) -> None:
    assert artifact_uri(path) == uri
