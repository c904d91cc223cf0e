"""The gate, in one place: which findings fail the run, and the exit code.

:func:`evaluate` turns a report and a :class:`GatePolicy` (``--fail-on`` kinds,
the allow-list, the baseline, ``--allow-empty``) into a :class:`~linkaudit.report.Gate`
stored on the report: every finding with its decision (fails, allowed and why,
baselined, or of a kind not gated) and the exit code.  Every format and the CLI
read that one result, so the exit code, the JSON, SARIF and the annotations
never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from enum import IntEnum
from typing import TYPE_CHECKING, NamedTuple

from linkaudit.report import Finding, FindingKind, Gate, ObjectReport, Report, Status, VendoredStatus, WheelReport

if TYPE_CHECKING:
    from linkaudit.baseline import Baseline
    from linkaudit.config import AllowRule


class ExitCode(IntEnum):
    """0 clean, 1 the gate failed, 2 the tool could not do its job for some input."""

    OK = 0
    FINDINGS = 1
    ERROR = 2


DEFAULT_FAIL_ON = frozenset({FindingKind.UNUSED})
NONE = "none"  # --fail-on none: nothing fails the gate
NO_OBJECTS = ("no ELF object found under the inputs (non-ELF files, .o files and excluded directories are "
              "skipped); check the path, or pass --allow-empty if that is expected")


def fail_on_choices() -> tuple[str, ...]:
    """Every value ``--fail-on`` and ``fail-on`` accept, in the order they are documented."""
    return (*(k.value for k in FindingKind), NONE)


def parse_fail_on(values: Iterable[str]) -> frozenset[FindingKind]:
    """``unused,incidental`` (comma-separated, repeatable) -> kinds; ValueError names the valid ones.

    The one parser of finding kinds: the command line and ``[tool.linkaudit] fail-on`` both use it.
    """
    kinds: set[FindingKind] = set()
    said_none = False
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:  # `--fail-on ""` or `unused,,x`: a gate must not be switched off by a typo
                raise ValueError(f"empty finding kind in {value!r}; valid kinds: {', '.join(fail_on_choices())}")
            if part == NONE:
                said_none = True
                continue
            try:
                kinds.add(FindingKind(part))
            except ValueError:
                raise ValueError(f"unknown finding kind {part!r}; valid kinds: {', '.join(fail_on_choices())}") \
                    from None
    if said_none and kinds:
        raise ValueError(f"'{NONE}' cannot be combined with finding kinds ({', '.join(sorted(k.value for k in kinds))})")
    return frozenset(kinds)


# The statuses that are findings, and their kinds (used and not_on_host are none).
_KIND_OF_STATUS = {Status.UNUSED: FindingKind.UNUSED, Status.INCIDENTAL: FindingKind.INCIDENTAL,
                   Status.MISSING: FindingKind.MISSING}
_KIND_OF_VENDORED = {VendoredStatus.UNNEEDED: FindingKind.UNNEEDED_VENDORED,
                     VendoredStatus.UNLOADED: FindingKind.UNLOADED_VENDORED}


def findings(obj: ObjectReport) -> list[tuple[FindingKind, str]]:
    """Every finding of one object as (kind, library or symbol name)."""
    out = [(_KIND_OF_STATUS[n.status], n.name) for n in obj.needed if n.status in _KIND_OF_STATUS]
    out.extend((FindingKind.MISSING, m.name) for m in obj.missing_transitive)  # ld.so refuses the object alike
    out.extend((FindingKind.UNRESOLVED, s) for s in obj.unresolved)
    out.extend((FindingKind.RPATH, rpath_name(f.kind.value, f.entry)) for f in obj.rpath_findings)
    return out


def rpath_name(kind: str, entry: str) -> str:
    """How an RPATH finding is named to the allow-list and the baseline: ``absolute:/tmp/build/lib``."""
    return f"{kind}:{entry}"


def wheel_findings(wheel: WheelReport) -> list[tuple[FindingKind, str]]:
    """A wheel's findings as (kind, member path of the vendored library)."""
    return [(_KIND_OF_VENDORED[v.status], v.name) for v in wheel.vendored if v.status in _KIND_OF_VENDORED]


def all_findings(report: Report) -> Iterator[tuple[str, FindingKind, str]]:
    """Every finding of the run as (object or wheel path, kind, name): objects first, then wheels."""
    for o in report.objects:
        for kind, name in findings(o):
            yield o.path, kind, name
    for w in report.wheels:
        for kind, name in wheel_findings(w):
            yield w.path, kind, name


class GatePolicy(NamedTuple):
    """Which findings fail the gate: ``fail_on`` kinds, minus the allow-list and the baseline."""

    fail_on: frozenset[FindingKind] = DEFAULT_FAIL_ON
    allow: tuple[AllowRule, ...] = ()
    baseline: Baseline | None = None
    roots: tuple[str, ...] = ()  # the command-line inputs, for baseline object keys
    allow_empty: bool = False  # no ELF object under the inputs is not an error

    def allowed(self, object_path: str, name: str) -> AllowRule | None:
        return next((r for r in self.allow if r.matches(object_path, name)), None)

    def baselined(self, object_path: str, kind: FindingKind, name: str) -> bool:
        return self.baseline is not None and self.baseline.contains(object_path, kind, name, self.roots)

    def decide(self, object_path: str, kind: FindingKind, name: str) -> Finding:
        """The gate's decision on one finding: gated by its kind, then allowed or baselined."""
        rule = self.allowed(object_path, name)
        return Finding(object_path, kind, name, gated=kind in self.fail_on,
                       allowed=rule.reason if rule is not None else None,
                       baselined=rule is None and self.baselined(object_path, kind, name))


def evaluate(report: Report, policy: GatePolicy | None = None) -> Report:
    """The report with its :class:`~linkaudit.report.Gate` computed under ``policy``."""
    policy = policy or GatePolicy()
    decided = tuple(policy.decide(path, kind, name) for path, kind, name in all_findings(report))
    no_objects = not report.objects and not policy.allow_empty
    if report.errors or no_objects:
        code = ExitCode.ERROR
    elif any(f.fails for f in decided):
        code = ExitCode.FINDINGS
    else:
        code = ExitCode.OK
    fail_on = tuple(k for k in FindingKind if k in policy.fail_on)
    return replace(report, gate=Gate(fail_on, decided, int(code), no_objects=no_objects and not report.errors))


def gate_of(report: Report) -> Gate:
    """The report's gate; a report nobody evaluated is decided under the default policy.

    (An unevaluated report did not come from command-line inputs, so having no
    object is not held against it.)
    """
    if report.gate is not None:
        return report.gate
    gate = evaluate(report, GatePolicy(allow_empty=True)).gate
    assert gate is not None
    return gate
