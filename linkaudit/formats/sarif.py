"""``--format sarif``: SARIF 2.1.0 for code-scanning dashboards (GitHub, GitLab, Azure DevOps).

One result per finding, one rule per finding kind (``LA001-unused`` ...), each
rule with a short and full description, help (text and Markdown) and a
``helpUri`` to the README's section on finding kinds.  Levels follow the gate
(:func:`linkaudit.gate.gate_of`): findings that fail it are ``error``; kinds the
gate does not fail on are ``warning``; findings the allow-list or the baseline
accepts are ``note`` with a ``suppressions`` entry saying why, so dashboards
show them as dismissed.  Inputs that could not be audited, and a run that found
no ELF object, become tool-execution notifications.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from linkaudit import __version__
from linkaudit.formats.findings import DOCS_URI, REPOSITORY_URI, RULES, Shown, iter_findings
from linkaudit.formats.interface import Format
from linkaudit.gate import NO_OBJECTS, gate_of
from linkaudit.report import FindingKind, Report

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = REPOSITORY_URI
RULE_ORDER = tuple(FindingKind)
#: runAutomationDetails.id: "category/" — GitHub keeps one analysis per category, the run id is its own
AUTOMATION_ID = "linkaudit/"


def artifact_uri(path: str) -> str:
    """A relative path stays a relative URI reference; an absolute one becomes ``file://``."""
    posix = path.replace("\\", "/")
    if posix.startswith("/"):
        return "file://" + quote(posix, errors="surrogateescape")
    return quote(str(PurePosixPath(posix)), errors="surrogateescape")


def _rules() -> list[dict[str, Any]]:
    out = []
    for kind in RULE_ORDER:
        rule = RULES[kind]
        out.append({
            "id": rule.id,
            "name": kind.value,
            "shortDescription": {"text": rule.short},
            "fullDescription": {"text": rule.full},
            "help": {"text": rule.help, "markdown": rule.help_markdown},
            "helpUri": DOCS_URI,
            "defaultConfiguration": {"level": "error" if kind is FindingKind.UNUSED else "warning"},
            "properties": {"tags": ["linking", "dependencies"]},
        })
    return out


def _level(s: Shown) -> str:
    if s.finding.fails:
        return "error"
    return "note" if s.finding.suppressed else "warning"


def _result(s: Shown) -> dict[str, Any]:
    f = s.finding
    result: dict[str, Any] = {
        "ruleId": s.rule.id,
        "ruleIndex": RULE_ORDER.index(f.kind),
        "level": _level(s),
        "message": {"text": s.message},
        "locations": [
            {
                "physicalLocation": {"artifactLocation": {"uri": artifact_uri(f.object)}},
                "logicalLocations": [{"name": f.name, "kind": "function" if f.kind is FindingKind.UNRESOLVED
                                      else "module"}],
            }
        ],
        "partialFingerprints": {"linkaudit/v1": f"{f.object}|{f.kind.value}|{f.name}"},
        "properties": {"kind": f.kind.value, _property_name(s): f.name, "fails": f.fails},
    }
    if s.rpath is not None:
        result["properties"].update({"rpath_kind": s.rpath.kind.value, "entry": s.rpath.entry, "tag": s.rpath.tag})
    if s.vendored is not None:
        result["properties"].update({"size": s.vendored.size, "status": s.vendored.status.value})
    if s.entry is not None:
        result["properties"]["category"] = s.entry.category.value
    if f.allowed is not None:
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": f"allowed by [tool.linkaudit] allow: {f.allowed}"}]
    elif f.baselined:
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": "recorded in the baseline (--baseline)"}]
    return result


def _property_name(s: Shown) -> str:
    if s.finding.kind is FindingKind.UNRESOLVED:
        return "symbol"
    if s.rpath is not None:
        return "rpath"
    if s.vendored is not None:
        return "member"
    return "library"


class SarifFormat(Format):
    def to_dict(self, report: Report) -> dict[str, Any]:
        gate = gate_of(report)
        notifications = [
            {
                "level": "error",
                "message": {"text": f"{e.path}: {e.message}"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": artifact_uri(e.path)}}}],
            }
            for e in report.errors
        ]
        if gate.no_objects:
            notifications.append({"level": "error", "message": {"text": NO_OBJECTS}})
        run: dict[str, Any] = {
            "tool": {
                "driver": {
                    "name": "linkaudit",
                    "version": __version__,
                    "informationUri": INFORMATION_URI,
                    "rules": _rules(),
                }
            },
            "automationDetails": {"id": AUTOMATION_ID},
            "invocations": [{"executionSuccessful": not report.errors and not gate.no_objects,
                             "exitCode": gate.exit_code,
                             "toolExecutionNotifications": notifications}],
            "results": [_result(s) for s in iter_findings(report)],
        }
        return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}

    def format(self, report: Report) -> str:
        from linkaudit.printable import json_bytes

        return json_bytes(json.dumps(self.to_dict(report), indent=2) + "\n")  # undecodable bytes as \\xNN
