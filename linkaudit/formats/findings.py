"""Findings as the CI formats (sarif, github) show them: one per finding, with its gate verdict.

Shared by :mod:`~linkaudit.formats.sarif` and :mod:`~linkaudit.formats.github`;
the list of findings itself comes from :func:`linkaudit.gate.findings`, so the
formats and the exit code never disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linkaudit.gate import DEFAULT_FAIL_ON, findings
from linkaudit.report import FindingKind, NeededEntry, ObjectReport, Report

if TYPE_CHECKING:
    from linkaudit.config import GatePolicy

RULES: dict[FindingKind, tuple[str, str, str]] = {
    # kind: (rule id, short description, full description)
    FindingKind.UNUSED: ("LA001-unused", "Linked library is unused",
                         "A DT_NEEDED library to which no undefined reference of the object binds: the loader "
                         "loads it (and everything it needs) for nothing. `ldd -u -r` lists it as unused."),
    FindingKind.INCIDENTAL: ("LA002-incidental", "Linked library is used only incidentally",
                             "Every symbol this DT_NEEDED library satisfies really belongs to another library it "
                             "loads; --as-needed cannot drop it."),
    FindingKind.MISSING: ("LA003-missing", "Linked library is not found",
                          "The emulated loader does not find this DT_NEEDED library: loading the object fails."),
    FindingKind.UNRESOLVED: ("LA004-unresolved", "Undefined symbol is not defined in scope",
                             "No object in the load scope defines this undefined symbol."),
}


@dataclass(frozen=True)
class Finding:
    object: ObjectReport
    kind: FindingKind
    name: str  # the library (DT_NEEDED name), or the symbol for unresolved findings
    entry: NeededEntry | None
    fails: bool  # fails the gate
    note: str | None  # why it does not fail although its kind is gated: allow-list reason or baseline

    @property
    def rule_id(self) -> str:
        return RULES[self.kind][0]

    @property
    def message(self) -> str:
        return message(self)


def iter_findings(report: Report, policy: GatePolicy | None = None) -> Iterator[Finding]:
    fail_on = policy.fail_on if policy is not None else DEFAULT_FAIL_ON
    for obj in report.objects:
        by_name = {n.name: n for n in obj.needed}
        for kind, name in findings(obj):
            note = None
            if policy is not None:
                rule = policy.allowed(obj.path, kind, name)
                if rule is not None:
                    note = f"allowed: {rule.reason}"
                elif policy.suppressed(obj.path, kind, name):
                    note = "in the baseline"
            entry = by_name.get(name) if kind is not FindingKind.UNRESOLVED else None
            yield Finding(obj, kind, name, entry, kind in fail_on and note is None, note)


def message(f: Finding) -> str:
    from linkaudit.formats.text import demangle, human_size

    n = f.entry
    if f.kind is FindingKind.UNUSED:
        text = f"{f.name} is linked but unused: nothing in {f.object.path} binds to it"
        if n is not None and n.drags:
            text += f"; it drags in {len(n.drags)} more libraries ({human_size(n.drags_bytes)})"
    elif f.kind is FindingKind.INCIDENTAL:
        owners = sorted({b.owner for b in n.bindings if b.owner}) if n is not None else []
        text = f"{f.name} is used only incidentally: every symbol it satisfies belongs to another library"
        if owners:
            text += " (" + ", ".join(owners) + ")"
    elif f.kind is FindingKind.MISSING:
        text = f"{f.name} is linked but the loader does not find it"
        if n is not None and n.candidates:
            text += f"; a file of that name exists at {n.candidates[0]}"
    else:
        text = f"undefined symbol {demangle(f.name)} is not defined by any library in scope"
    if f.note:
        text += f" [{f.note}]"
    return text
