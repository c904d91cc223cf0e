"""The report model: plain frozen dataclasses that every format renders.

Nothing here computes a status; :mod:`linkaudit.objectaudit` fills these in and the formats,
fix suggestions and the gate only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from linkaudit.hostparams import LoaderParams

SCHEMA_VERSION = 2


class Status(str, Enum):
    """Status of one DT_NEEDED entry (what :mod:`linkaudit.verdicts` concludes)."""

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
    PATHNAME = "pathname"  # the DT_NEEDED name contains a slash and is opened as a path name


class Category(str, Enum):
    """Library category (torch, cuda, openmp ...), for grouping and cost explanations."""

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
    RPATH = "rpath"  # an RPATH/RUNPATH element that is unsafe or unportable (see RpathKind)
    UNNEEDED_VENDORED = "unneeded-vendored"  # a wheel carries a library loaded only for unneeded dependencies
    UNLOADED_VENDORED = "unloaded-vendored"  # a wheel carries a library none of its members loads


@dataclass(frozen=True, order=True)
class Owner:
    """The library whose versioned definition an incidental binding copies, and that version."""

    library: str  # its soname (its path when it has none)
    version: str

    def __str__(self) -> str:
        return f"{self.library} ({self.version})"


@dataclass(frozen=True)
class Binding:
    """One undefined reference of the audited object and where the loader binds it."""

    symbol: str
    version: str | None
    weak: bool
    provider: str | None  # path of the providing object; None when unresolved
    owner: Owner | None = None  # for incidental bindings: the library the symbol really belongs to


@dataclass(frozen=True)
class SearchStep:
    """One directory the emulated loader tried, and which rule put it there."""

    directory: str
    source: str  # e.g. "RPATH of /x/libfoo.so", "LD_LIBRARY_PATH", "ld.so.cache"
    via: FoundVia


@dataclass(frozen=True)
class Dependency:
    """One DT_NEEDED entry of a loaded library as the loader resolved it (the tree format walks these)."""

    name: str  # the DT_NEEDED string
    path: str | None  # the object it loaded; None when the loader did not find it
    searched: tuple[SearchStep, ...] = ()  # for a library not found: where the loader looked


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
    needs: tuple[Dependency, ...] = ()  # its own DT_NEEDED entries, in order, as resolved in this load


@dataclass(frozen=True)
class MissingLibrary:
    """A library further down the load closure that the loader does not find or refuses.

    A direct dependency not found is a ``missing`` :class:`NeededEntry`; this is one a loaded
    library needs.  ld.so refuses the audited object for it just the same, so the gate counts it
    as a ``missing`` finding.
    """

    name: str  # the DT_NEEDED string
    needed_by: str  # path of the loaded library whose DT_NEEDED names it
    why: str  # ld.so's reason, e.g. "cannot open shared object file: No such file or directory"
    searched: tuple[SearchStep, ...] = ()  # where the loader looked


@dataclass(frozen=True)
class NeededEntry:
    """One DT_NEEDED entry of an audited object, with its status and evidence."""

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
    uncertain: str | None = None  # why the status may be wrong (damaged tables)
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


class RpathKind(str, Enum):
    """What is wrong with one DT_RPATH/DT_RUNPATH element (``linkaudit.rpath`` decides)."""

    EMPTY = "empty"  # an empty element: the current directory at load time
    RELATIVE = "relative"  # relative without $ORIGIN: resolved against the current directory
    ABSOLUTE = "absolute"  # absolute, outside the system directories and the object's own package
    WORLD_WRITABLE = "world_writable"  # anyone can plant a library there (or create the directory)
    OUTSIDE_PACKAGE = "outside_package"  # an $ORIGIN path that climbs out of the wheel / install tree
    NONEXISTENT = "nonexistent"  # the directory does not exist
    RPATH_NOT_RUNPATH = "rpath_not_runpath"  # DT_RPATH (inherited, beats LD_LIBRARY_PATH) where DT_RUNPATH would do


@dataclass(frozen=True)
class RpathFinding:
    """One questionable search-path element of an object, with the reason in words."""

    entry: str  # the element as written in the object (the whole DT_RPATH for rpath_not_runpath)
    kind: RpathKind
    message: str
    tag: str = "RUNPATH"  # "RPATH" or "RUNPATH": which dynamic tag holds it


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
    rpath_findings: tuple[RpathFinding, ...] = ()
    rpath: str | None = None  # DT_RPATH as written (None when absent or overridden by DT_RUNPATH)
    runpath: str | None = None  # DT_RUNPATH as written
    missing_transitive: tuple[MissingLibrary, ...] = ()  # not found further down the closure, load order

    def entries(self, status: Status) -> tuple[NeededEntry, ...]:
        return tuple(n for n in self.needed if n.status is status)


@dataclass(frozen=True)
class ErrorEntry:
    """An input that could not be audited."""

    path: str
    message: str


class VendoredStatus(str, Enum):
    """Whether a library a wheel carries is loaded for something its members use."""

    NEEDED = "needed"  # a chain of used dependencies leads to it from an entry point of the wheel
    UNNEEDED = "unneeded"  # loaded only through an unused or incidental dependency somewhere on the way
    UNLOADED = "unloaded"  # no member of the wheel loads it (it may still be dlopen()ed or ctypes-loaded)


@dataclass(frozen=True)
class VendoredLibrary:
    """One library inside a wheel that other members load (or that sits in a ``*.libs/`` directory)."""

    name: str  # member path inside the wheel, e.g. ``pkg.libs/libz-1a2b3c.so.1``
    size: int  # uncompressed bytes
    compressed_size: int  # bytes it adds to the download
    status: VendoredStatus
    loaded_by: tuple[str, ...]  # members whose load closure includes it (entry points: extensions, programs)
    used_by: tuple[str, ...] = ()  # of those, the ones a chain of used dependencies leads from
    unused_by: tuple[str, ...] = ()  # members that link it (DT_NEEDED) but use it not at all or only incidentally


@dataclass(frozen=True)
class WheelReport:
    """The vendored libraries of one wheel and what the wheel could shed."""

    path: str
    vendored: tuple[VendoredLibrary, ...]

    @property
    def unneeded_bytes(self) -> int:
        return sum(v.size for v in self.vendored if v.status is VendoredStatus.UNNEEDED)

    @property
    def unloaded_bytes(self) -> int:
        return sum(v.size for v in self.vendored if v.status is VendoredStatus.UNLOADED)


@dataclass(frozen=True)
class Finding:
    """One finding and the gate's decision on it (see :func:`linkaudit.gate.evaluate`)."""

    object: str  # the audited object's path, as in ObjectReport.path (the wheel's, for the *-vendored kinds)
    kind: FindingKind
    name: str  # the DT_NEEDED name, the symbol (unresolved), "kind:entry" (rpath), the member (*-vendored)
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
    """The gate's decision on a whole run: every finding, and the exit code they add up to."""

    fail_on: tuple[FindingKind, ...]
    findings: tuple[Finding, ...]
    exit_code: int  # a linkaudit.gate.ExitCode
    no_objects: bool = False  # no ELF object was found under the inputs (and that was not allowed)

    @property
    def failing(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.fails)


@dataclass(frozen=True)
class Report:
    """The whole run: audited objects, the wheels among the inputs, the inputs that failed, and the gate."""

    objects: tuple[ObjectReport, ...] = ()
    errors: tuple[ErrorEntry, ...] = field(default=())
    gate: Gate | None = None  # set by linkaudit.gate.evaluate
    loader: tuple[LoaderParams, ...] = ()  # what the emulated ld.so assumed, one per ABI audited
    wheels: tuple[WheelReport, ...] = ()
