"""``--format sarif``: SARIF 2.1.0, validated against the vendored OASIS schema."""

from __future__ import annotations

import json

import jsonschema
import pytest

from linkaudit import __version__
from linkaudit.baseline import Baseline, BaselineEntry
from linkaudit.config import AllowRule
from linkaudit.formats.findings import RULES
from linkaudit.formats.sarif import SarifFormat, artifact_uri
from linkaudit.gate import GatePolicy, evaluate
from linkaudit.report import FindingKind, Report

from .conftest import EXT


def _sarif(report: Report, policy: GatePolicy | None = None) -> dict:
    return json.loads(SarifFormat().format(evaluate(report, policy) if policy is not None else report))


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
                                                  "LA004-unresolved", "LA005-rpath", "LA006-unneeded-vendored",
                                                  "LA007-unloaded-vendored"]


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


def test_allow_list_becomes_a_suppression_not_an_error(sample_report: Report) -> None:
    policy = GatePolicy(frozenset({FindingKind.UNUSED}), allow=(AllowRule("libtorch*.so", "torch ops register at load"),))
    (unused,) = [r for r in _sarif(sample_report, policy)["runs"][0]["results"] if r["ruleId"] == "LA001-unused"]
    assert unused["suppressions"] == [{"kind": "external", "status": "accepted",
                                       "justification": "allowed by [tool.linkaudit] allow: torch ops register at load"}]
    assert unused["level"] == "note"
    assert unused["properties"]["fails"] is False
    assert "torch ops register at load" in unused["message"]["text"]


def test_baselined_finding_becomes_a_suppression(sample_report: Report, sarif_schema: dict) -> None:
    baseline = Baseline(frozenset({BaselineEntry("_C.so", FindingKind.UNUSED, "libtorch.so")}))
    data = _sarif(sample_report, GatePolicy(frozenset({FindingKind.UNUSED}), baseline=baseline))
    jsonschema.Draft4Validator(sarif_schema).validate(data)
    (unused,) = [r for r in data["runs"][0]["results"] if r["ruleId"] == "LA001-unused"]
    assert unused["level"] == "note"
    assert unused["suppressions"][0]["kind"] == "external"
    assert "baseline" in unused["suppressions"][0]["justification"]
    assert not any("suppressions" in r for r in data["runs"][0]["results"] if r is not unused)
    assert data["runs"][0]["invocations"][0]["exitCode"] == 2  # the sample has an input error


def test_rules_carry_help_for_code_scanning(sample_report: Report) -> None:
    """GitHub's SARIF rules want shortDescription, fullDescription, help (text + markdown) and a helpUri."""
    rules = _sarif(sample_report)["runs"][0]["tool"]["driver"]["rules"]
    assert len(rules) == len(FindingKind) == len(RULES)
    for rule, kind in zip(rules, FindingKind):
        assert rule["name"] == kind.value
        for key in ("shortDescription", "fullDescription"):
            assert rule[key]["text"].strip()
        assert rule["help"]["text"].strip() and rule["help"]["markdown"].strip()
        assert rule["help"]["text"] != rule["fullDescription"]["text"]
        # this project's README, not someone else's repository
        assert rule["helpUri"].endswith("README.md#finding-kinds")
        assert "github.com/linkaudit/linkaudit" not in rule["helpUri"]


def test_help_uri_anchor_exists_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    assert "\n### Finding kinds\n" in readme or "\n#### Finding kinds\n" in readme
    for rule in RULES.values():
        assert rule.id in readme


def test_automation_details(sample_report: Report) -> None:
    run = _sarif(sample_report)["runs"][0]
    assert run["automationDetails"] == {"id": "linkaudit/"}


def test_no_objects_is_a_failed_execution(empty_report: Report, sarif_schema: dict) -> None:
    data = _sarif(empty_report, GatePolicy())
    jsonschema.Draft4Validator(sarif_schema).validate(data)
    inv = data["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False and inv["exitCode"] == 2
    assert "no ELF object found" in inv["toolExecutionNotifications"][0]["message"]["text"]


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
