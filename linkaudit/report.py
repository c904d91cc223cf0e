"""The report model: plain frozen dataclasses that every format renders.

Nothing here computes a verdict; ``audit.py`` fills these in and the formats,
fix suggestions and the gate only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from linkaudit.hostparams import LoaderParams

SCHEMA_VERSION = 1


class Status(str, Enum):
    """Verdict for one DT_NEEDED entry."""

    USED = "used"
    UNUSED = "unused"
    INCIDENTAL = "incidental"
    MISSING = "missing"
    # musl's system libraries audited on a host that is not a musl system (no --root): not judged
    NOT_ON_HOST = "not_on_host"


class FoundVia(str, Enum):
    """Which rule of the emulated loader found a library."""

    RPATH = "rpath"
    LD_LIBRARY_PATH = "ld_library_path"
    RUNPATH = "runpath"
    CACHE = "ld.so.cache"
    DEFAULT = "default"
    SEARCH_PATH = "search_path"
    PYTHON_PACKAGE = "python_package"
    LOADED = "already_loaded"  # matched an object already loaded (the interpreter, the object itself)
    DIRECT = "direct"  # the DT_NEEDED name contains a slash and is opened as a path


class Category(str, Enum):
    """Library family, for grouping and cost explanations."""

    TORCH = "torch"
    CUDA = "cuda"
    OPENMP = "openmp"
    GLIBC_STUB = "glibc_stub"
    PYTHON = "python"
    CXX_RUNTIME = "cxx_runtime"
    C_RUNTIME = "c_runtime"
    OTHER = "other"


class FindingKind(str, Enum):
    """What the gate can fail on."""

    UNUSED = "unused"
    INCIDENTAL = "incidental"
    MISSING = "missing"
    UNRESOLVED = "unresolved"


@dataclass(frozen=True)
class Binding:
    """One undefined reference of the audited object and where the loader binds it."""

    symbol: str
    version: str | None
    weak: bool
    provider: str | None  # path of the providing object; None when unresolved
    owner: str | None = None  # for incidental bindings: the library the symbol really belongs to


@dataclass(frozen=True)
class SearchStep:
    """One directory the emulated loader tried, and which rule put it there."""

    directory: str
    source: str  # e.g. "RPATH of /x/libfoo.so", "LD_LIBRARY_PATH", "ld.so.cache"
    via: FoundVia


@dataclass(frozen=True)
class LoadedLibrary:
    """A library in the load closure of an audited object (breadth-first order)."""

    name: str  # the DT_NEEDED string that first loaded it
    path: Path
    soname: str | None
    found_via: FoundVia
    category: Category
    size: int
    depth: int  # 1 for direct dependencies
    needed_by: tuple[str, ...]  # paths of the objects whose DT_NEEDED brought it in
    only_for_unneeded: bool = False  # loaded only on behalf of unused/incidental dependencies


@dataclass(frozen=True)
class NeededEntry:
    """One DT_NEEDED entry of an audited object, with its verdict and evidence."""

    name: str
    path: Path | None
    found_via: FoundVia | None
    status: Status
    category: Category
    bindings: tuple[Binding, ...] = ()
    searched: tuple[SearchStep, ...] = ()  # for missing libraries: where the loader looked
    candidates: tuple[Path, ...] = ()  # for missing libraries: same-named files found elsewhere
    python_package: str | None = None  # set when found_via is python_package
    drags: tuple[Path, ...] = ()  # libraries loaded only because of this dependency
    drags_bytes: int = 0
    has_initializers: bool = False
    uncertain: str | None = None  # why the verdict may be wrong (damaged tables)
    # transitive libraries that satisfy the object's references and are loaded only through this entry:
    # an `unused` entry of this kind cannot simply be dropped (link the provider directly instead)
    loads_providers: tuple[str, ...] = ()

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(b.symbol for b in self.bindings)


@dataclass(frozen=True)
class Suggestion:
    """A concrete remedy for a finding, ready to paste."""

    kind: str  # e.g. "lean-extension", "libraries", "as-needed", "linkaudit-fix", "runpath"
    title: str
    text: str
    removes: tuple[str, ...] = ()
    saves_libraries: int = 0
    saves_bytes: int = 0
    caution: str | None = None


@dataclass(frozen=True)
class ObjectReport:
    """Everything linkaudit found out about one audited ELF object."""

    path: str
    machine: str
    elf_class: int
    soname: str | None
    needed: tuple[NeededEntry, ...]
    loaded: tuple[LoadedLibrary, ...]
    unresolved: tuple[str, ...]
    host_provided: tuple[str, ...] = ()  # Python C API symbols an extension gets from the interpreter
    ldd_unused: tuple[str, ...] = ()  # exactly what `ldd -u -r` would list (paths)
    is_python_extension: bool = False
    warnings: tuple[str, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()
    libc: str = "glibc"  # whose loader rules the object was audited under: "glibc" or "musl"
    abi: str | None = None  # its machine-table record (x86_64, armel, mips64el, ...): see Report.loader

    def entries(self, status: Status) -> tuple[NeededEntry, ...]:
        return tuple(n for n in self.needed if n.status is status)


@dataclass(frozen=True)
class ErrorEntry:
    """An input that could not be audited."""

    path: str
    message: str


@dataclass(frozen=True)
class Finding:
    """One finding and the gate's verdict on it (see :func:`linkaudit.gate.evaluate`)."""

    object: str  # the audited object's path, as in ObjectReport.path
    kind: FindingKind
    name: str  # the DT_NEEDED name, or the symbol for unresolved findings
    gated: bool  # its kind is one that --fail-on names
    allowed: str | None = None  # the reason of the [[tool.linkaudit.allow]] rule that accepts it
    baselined: bool = False  # recorded in the --baseline file

    @property
    def suppressed(self) -> bool:
        """Accepted by the allow-list or the baseline."""
        return self.allowed is not None or self.baselined

    @property
    def fails(self) -> bool:
        return self.gated and not self.suppressed


@dataclass(frozen=True)
class Gate:
    """The gate's verdict on a whole run: every finding, and the exit code they add up to."""

    fail_on: tuple[FindingKind, ...]
    findings: tuple[Finding, ...]
    exit_code: int  # a linkaudit.gate.ExitCode
    no_objects: bool = False  # no ELF object was found under the inputs (and that was not allowed)

    @property
    def failing(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.fails)


@dataclass(frozen=True)
class Report:
    """The whole run: audited objects, the inputs that failed, and (once evaluated) the gate."""

    objects: tuple[ObjectReport, ...] = ()
    errors: tuple[ErrorEntry, ...] = field(default=())
    gate: Gate | None = None  # set by linkaudit.gate.evaluate
    loader: tuple[LoaderParams, ...] = ()  # what the emulated ld.so assumed, one per ABI audited
