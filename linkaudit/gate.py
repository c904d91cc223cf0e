"""The gate: which findings fail the run, and the exit-code contract."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import IntEnum

from linkaudit.report import FindingKind, ObjectReport, Report, Status


class ExitCode(IntEnum):
    """0 clean, 1 the gate failed, 2 the tool could not do its job for some input."""

    OK = 0
    FINDINGS = 1
    ERROR = 2


DEFAULT_FAIL_ON = frozenset({FindingKind.UNUSED})


def parse_fail_on(values: Iterable[str]) -> frozenset[FindingKind]:
    """``--fail-on unused,incidental`` (repeatable, comma-separated) -> kinds; raises ValueError."""
    kinds: set[FindingKind] = set()
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if part == "none":
                continue
            kinds.add(FindingKind(part))
    return frozenset(kinds)


def findings(obj: ObjectReport) -> list[tuple[FindingKind, str]]:
    """Every finding of one object as (kind, library or symbol name)."""
    out: list[tuple[FindingKind, str]] = []
    for n in obj.needed:
        if n.status is Status.UNUSED:
            out.append((FindingKind.UNUSED, n.name))
        elif n.status is Status.INCIDENTAL:
            out.append((FindingKind.INCIDENTAL, n.name))
        elif n.status is Status.MISSING:
            out.append((FindingKind.MISSING, n.name))
    out.extend((FindingKind.UNRESOLVED, s) for s in obj.unresolved)
    return out


#: ``suppressed(object_path, kind, name)``: the allow-list or the baseline accepts this finding
Suppressed = Callable[[str, FindingKind, str], bool]


def failing(report: Report, fail_on: frozenset[FindingKind],
            suppressed: Suppressed | None = None) -> list[tuple[str, FindingKind, str]]:
    return [(o.path, k, name) for o in report.objects for k, name in findings(o)
            if k in fail_on and not (suppressed is not None and suppressed(o.path, k, name))]


def exit_code(report: Report, fail_on: frozenset[FindingKind], suppressed: Suppressed | None = None) -> ExitCode:
    if report.errors:
        return ExitCode.ERROR
    return ExitCode.FINDINGS if failing(report, fail_on, suppressed) else ExitCode.OK
