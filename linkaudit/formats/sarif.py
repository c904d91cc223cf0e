"""``--format sarif``: SARIF 2.1.0 for code-scanning dashboards (GitHub, GitLab, Azure DevOps).

One result per finding, one rule per finding kind (``LA001-unused`` ...).
Findings that fail the gate are ``error``; gated findings accepted by the
allow-list or the baseline carry a ``suppressions`` entry; kinds the gate does
not fail on are ``warning``.  Inputs that could not be audited become
tool-execution notifications.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from linkaudit import __version__
from linkaudit.formats.findings import RULES, Finding, iter_findings
from linkaudit.formats.interface import Format
from linkaudit.report import FindingKind, Report

if TYPE_CHECKING:
    from linkaudit.config import GatePolicy

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/linkaudit/linkaudit"
RULE_ORDER = tuple(FindingKind)


def artifact_uri(path: str) -> str:
    """A relative path stays a relative URI reference; an absolute one becomes ``file://``."""
    posix = path.replace("\\", "/")
    if posix.startswith("/"):
        return "file://" + quote(posix)
    return quote(str(PurePosixPath(posix)))


def _rules() -> list[dict[str, Any]]:
    return [
        {
            "id": RULES[kind][0],
            "name": kind.value,
            "shortDescription": {"text": RULES[kind][1]},
            "fullDescription": {"text": RULES[kind][2]},
            "defaultConfiguration": {"level": "error" if kind is FindingKind.UNUSED else "warning"},
            "helpUri": f"{INFORMATION_URI}#{kind.value}",
        }
        for kind in RULE_ORDER
    ]


def _result(f: Finding) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": RULE_ORDER.index(f.kind),
        "level": "error" if f.fails or f.note else "warning",
        "message": {"text": f.message},
        "locations": [
            {
                "physicalLocation": {"artifactLocation": {"uri": artifact_uri(f.object.path)}},
                "logicalLocations": [{"name": f.name, "kind": "module" if f.entry is not None else "function"}],
            }
        ],
        "partialFingerprints": {"linkaudit/v1": f"{f.object.path}|{f.kind.value}|{f.name}"},
        "properties": {"kind": f.kind.value, "library" if f.entry is not None else "symbol": f.name},
    }
    if f.entry is not None:
        result["properties"]["category"] = f.entry.category.value
    if f.note:
        result["suppressions"] = [{"kind": "external", "justification": f.note}]
    return result


class SarifFormat(Format):
    def __init__(self, policy: GatePolicy | None = None) -> None:
        self.policy = policy

    def to_dict(self, report: Report) -> dict[str, Any]:
        notifications = [
            {
                "level": "error",
                "message": {"text": f"{e.path}: {e.message}"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": artifact_uri(e.path)}}}],
            }
            for e in report.errors
        ]
        run: dict[str, Any] = {
            "tool": {
                "driver": {
                    "name": "linkaudit",
                    "version": __version__,
                    "informationUri": INFORMATION_URI,
                    "rules": _rules(),
                }
            },
            "invocations": [{"executionSuccessful": not report.errors, "toolExecutionNotifications": notifications}],
            "results": [_result(f) for f in iter_findings(report, self.policy)],
        }
        return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}

    def format(self, report: Report) -> str:
        return json.dumps(self.to_dict(report), indent=2) + "\n"
