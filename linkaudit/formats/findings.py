"""Findings as the CI formats (sarif, github) show them: the rule of each kind, and one message per finding.

The findings and the gate's decisions on them come from :func:`linkaudit.gate.gate_of`
(computed once, by :func:`linkaudit.gate.evaluate`), so the formats and the exit
code never disagree.  Nothing here imports another format.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from linkaudit.display import demangle, human_size, plural
from linkaudit.gate import gate_of, rpath_name
from linkaudit.report import (
    Finding,
    FindingKind,
    NeededEntry,
    ObjectReport,
    Report,
    RpathFinding,
    VendoredLibrary,
    WheelReport,
)

#: This project's repository.  Its public address is not fixed yet: OWNER is the placeholder
#: the README documents (replace it in one place here when the repository is published).
REPOSITORY_URI = "https://github.com/OWNER/linkaudit"
#: Where the finding kinds are explained: the README section "Finding kinds".
DOCS_URI = f"{REPOSITORY_URI}/blob/main/README.md#finding-kinds"


@dataclass(frozen=True)
class Rule:
    """How one finding kind is explained to code-scanning dashboards (a SARIF reportingDescriptor)."""

    id: str
    short: str
    full: str
    help: str  # plain text: what to do about it
    help_markdown: str


RULES: dict[FindingKind, Rule] = {
    FindingKind.UNUSED: Rule(
        "LA001-unused", "Linked library is unused",
        "A DT_NEEDED library to which no undefined reference of the object binds: the loader loads it (and "
        "everything it needs) for nothing. `ldd -u -r` lists it as unused.",
        "Drop the library from the link (setuptools `libraries=`, CMake `target_link_libraries`), link with "
        "-Wl,--as-needed, or remove the entry from the built file with `linkaudit fix FILE -o OUT`. "
        "`linkaudit --fix-suggestions FILE` prints the exact change.",
        "Nothing in the object binds to this library, yet the loader loads it and everything it depends on.\n\n"
        "* drop it from the link (setuptools `libraries=[...]`, CMake `target_link_libraries`), or link with "
        "`-Wl,--as-needed`;\n"
        "* or remove the entry from the built file: `linkaudit fix FILE -o OUT`;\n"
        "* `linkaudit --fix-suggestions FILE` prints the exact change;\n"
        "* if it is linked for what it does when it loads, accept it with a `[[tool.linkaudit.allow]]` rule "
        "and a reason.",
    ),
    FindingKind.INCIDENTAL: Rule(
        "LA002-incidental", "Linked library is used only incidentally",
        "Every symbol this DT_NEEDED library satisfies really belongs to another library the object loads "
        "anyway (an unversioned re-export); -Wl,--as-needed cannot drop it.",
        "Drop the library from the link, or link the library that owns the symbols before it; "
        "`linkaudit fix --incidental FILE -o OUT` removes the entry from a built file.",
        "The library satisfies references only with copies of symbols that another library of the load "
        "closure owns (for example libc10 re-exporting a libstdc++ symbol), so `-Wl,--as-needed` keeps it.\n\n"
        "* drop it from the link, or link the owner of those symbols before it;\n"
        "* or `linkaudit fix --incidental FILE -o OUT` on the built file.",
    ),
    FindingKind.MISSING: Rule(
        "LA003-missing", "Linked library is not found",
        "The emulated loader does not find this library — a DT_NEEDED entry of the object, or of a library it "
        "loads — by any of its rules: loading the object fails unless something else loads the library first.",
        "Install the library, give the object a RUNPATH relative to where it is installed ($ORIGIN/...), or import "
        "the Python package that provides it first; the text report lists where the loader looked.",
        "The loader searched RPATH, `LD_LIBRARY_PATH`, RUNPATH, `ld.so.cache` and the default directories and "
        "found no file of that name.\n\n"
        "* install the library, or\n"
        "* give the object a RUNPATH relative to where it is installed (`-Wl,-rpath,$ORIGIN/...`), or\n"
        "* import the Python package that provides it before importing the object.\n\n"
        "The text report lists every directory searched and same-named files found elsewhere.",
    ),
    FindingKind.UNRESOLVED: Rule(
        "LA004-unresolved", "Undefined symbol is not defined in scope",
        "No object in the load scope defines this undefined symbol: a lazy call to it fails at run time, "
        "an eager binding fails at load time.",
        "Link the library that defines the symbol, or check for a missing library or a version mismatch.",
        "No library the object loads defines this symbol.\n\n"
        "* link the library that defines it;\n"
        "* a missing library or a library of another version is the usual cause.",
    ),
    FindingKind.RPATH: Rule(
        "LA005-rpath", "RPATH/RUNPATH element is unsafe or not relocatable",
        "A DT_RPATH/DT_RUNPATH element that is empty or relative (searched in the current directory: library "
        "hijacking), absolute outside the system directories and the package (the build machine's layout), "
        "world-writable, an $ORIGIN path leaving the package, a directory that does not exist, or DT_RPATH where "
        "DT_RUNPATH would do.",
        "Keep only $ORIGIN-relative DT_RUNPATH elements inside the package: link with -Wl,-rpath,'$ORIGIN/...' "
        "and -Wl,--enable-new-dtags, or clean the built file with `linkaudit fix --clean-rpath FILE -o OUT` "
        "(or patchelf --set-rpath).",
        "The loader searches these directories before the system's own, so an element a stranger controls is a "
        "library-hijacking hole and one that points into the build tree breaks when the files move.\n\n"
        "* `empty`/`relative`: resolved against the current directory: write `$ORIGIN/<dir>` instead;\n"
        "* `absolute`/`nonexistent`: ship the libraries inside the package and point `$ORIGIN` at them;\n"
        "* `world_writable`: never search a directory others can write;\n"
        "* `outside_package`: keep `$ORIGIN` paths inside the wheel;\n"
        "* `rpath_not_runpath`: link with `-Wl,--enable-new-dtags`;\n"
        "* `linkaudit fix --clean-rpath FILE -o OUT` drops the flagged elements and writes DT_RUNPATH, "
        "re-audited.",
    ),
    FindingKind.UNNEEDED_VENDORED: Rule(
        "LA006-unneeded-vendored", "Wheel vendors a library nothing uses",
        "A library the wheel carries (auditwheel's pkg.libs/) that its entry points load only through unused or "
        "incidental dependencies: every download carries it for nothing.",
        "Drop the unused dependency that loads it (the finding names which member links it for nothing), "
        "then repair the wheel again: auditwheel no longer copies it.",
        "Entry points of the wheel load this library, but only through a `DT_NEEDED` entry nothing binds to "
        "(or binds only incidentally).\n\n"
        "* remove that entry (relink, or `linkaudit fix` on the member that links it for nothing);\n"
        "* run `auditwheel repair` again: the library is no longer copied into `pkg.libs/`.",
    ),
    FindingKind.UNLOADED_VENDORED: Rule(
        "LA007-unloaded-vendored", "Wheel vendors a library no member loads",
        "A library in the wheel's *.libs/ directory that no member of the wheel loads through DT_NEEDED.",
        "Unless Python code loads it at run time (ctypes, dlopen), drop it from the wheel.",
        "No extension or program of the wheel loads this library through `DT_NEEDED`.\n\n"
        "* check for `ctypes.CDLL(...)` or `dlopen` of it in the package's code;\n"
        "* if there is none, drop it from the wheel.",
    ),
}


@dataclass(frozen=True)
class Shown:
    """A finding with what its message needs: the object (or wheel) report and the entry it is about."""

    finding: Finding
    object: ObjectReport | WheelReport  # a wheel for the *-vendored kinds
    entry: NeededEntry | None
    rpath: RpathFinding | None = None
    vendored: VendoredLibrary | None = None

    @property
    def rule(self) -> Rule:
        return RULES[self.finding.kind]

    @property
    def note(self) -> str | None:
        """Why it does not fail although its kind is gated: the allow rule's reason, or the baseline."""
        f = self.finding
        if f.allowed is not None:
            return f"allowed: {f.allowed}"
        if f.baselined:
            return "in the baseline"
        return None

    @property
    def message(self) -> str:
        return message(self)


def iter_findings(report: Report) -> Iterator[Shown]:
    objects = {o.path: o for o in report.objects}
    wheels = {w.path: w for w in report.wheels}
    for f in gate_of(report).findings:
        if f.kind in (FindingKind.UNNEEDED_VENDORED, FindingKind.UNLOADED_VENDORED):
            wheel = wheels[f.object]
            yield Shown(f, wheel, None, vendored=next(v for v in wheel.vendored if v.name == f.name))
            continue
        obj = objects[f.object]
        if f.kind is FindingKind.RPATH:
            rpath = next(r for r in obj.rpath_findings if rpath_name(r.kind.value, r.entry) == f.name)
            yield Shown(f, obj, None, rpath=rpath)
            continue
        entry = next((n for n in obj.needed if n.name == f.name), None) if f.kind is not FindingKind.UNRESOLVED else None
        yield Shown(f, obj, entry)


def message(s: Shown) -> str:
    f, n = s.finding, s.entry
    if f.kind is FindingKind.UNUSED:
        text = f"{f.name} is linked but unused: nothing in {f.object} binds to it"
        if n is not None and n.drags:
            text += (f"; it drags in {plural(len(n.drags), 'more library', 'more libraries')} "
                     f"({human_size(n.drags_bytes)})")
    elif f.kind is FindingKind.INCIDENTAL:
        owners = sorted({str(b.owner) for b in n.bindings if b.owner}) if n is not None else []
        text = f"{f.name} is used only incidentally: every symbol it satisfies belongs to another library"
        if owners:
            text += " (" + ", ".join(owners) + ")"
    elif f.kind is FindingKind.MISSING and n is None:  # not a DT_NEEDED entry of the object: further down
        missing = s.object.missing_transitive if isinstance(s.object, ObjectReport) else ()
        m = next((m for m in missing if m.name == f.name), None)
        by = f", needed by {m.needed_by}," if m is not None else ""
        text = f"{f.name}{by} is not found: the loader refuses to load {f.object}"
    elif f.kind is FindingKind.MISSING:
        text = f"{f.name} is linked but the loader does not find it"
        if n.candidates:
            text += f"; a file of that name exists at {n.candidates[0]}"
    elif f.kind is FindingKind.RPATH and s.rpath is not None:
        text = f"{s.rpath.tag} element {s.rpath.entry!r}: {s.rpath.message}"
    elif f.kind in (FindingKind.UNNEEDED_VENDORED, FindingKind.UNLOADED_VENDORED) and s.vendored is not None:
        v = s.vendored
        if f.kind is FindingKind.UNNEEDED_VENDORED:
            text = (f"{v.name} ({human_size(v.size)}) is loaded only for unused or incidental dependencies of "
                    + ", ".join(v.loaded_by) + ": the wheel could shed it"
                    + (f" (linked but not used by {', '.join(v.unused_by)})" if v.unused_by else ""))
        else:
            text = (f"{v.name} ({human_size(v.size)}) is loaded by no member of the wheel: drop it unless Python "
                    "code loads it at run time (ctypes, dlopen)")
    else:
        text = f"undefined symbol {demangle(f.name)} is not defined by any library in scope"
    if s.note:
        text += f" [{s.note}]"
    return text
