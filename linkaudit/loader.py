"""ld.so search emulation: which file each DT_NEEDED entry loads, and the load order.

This follows glibc's ``elf/dl-load.c`` (``_dl_map_object``) and
``elf/dl-deps.c`` (``_dl_map_object_deps``) rule by rule:

1. a name already loaded (matched by the name it was opened under, or by its
   DT_SONAME), or a file already loaded (same device and inode), is reused;
2. a name containing ``/`` is opened as a path (dynamic string tokens expanded);
3. otherwise, in order: DT_RPATH of the requesting object and of every object up
   its loading chain, then of the main object (all skipped when the requester has
   DT_RUNPATH); LD_LIBRARY_PATH; the requester's own DT_RUNPATH (not
   inherited); ``/etc/ld.so.cache``; the default directories (cache entries in
   them and the defaults themselves skipped under DF_1_NODEFLIB);
4. inside each directory the ``glibc-hwcaps`` subdirectories (and, before glibc
   2.37, the legacy hwcap subdirectories) are tried before the directory itself;
5. a candidate of another ELF class, byte order or machine is skipped;
6. the filtees of a filter (DT_FILTER, DT_AUXILIARY) are loaded with it and
   placed just before it in the search list; one not found is skipped.

Paths under ``--root`` go through :class:`~linkaudit.sysroot.Sysroot`; a FIFO
or device where a library is looked for is never opened for reading.

Two rules are linkaudit's own and come last, so they never change what the
real loader would find: ``--search-path`` directories, and libraries that live
only inside an installed Python package (they load only because that package
was imported first).

What the loader takes from the machine lives elsewhere: per-architecture
defaults in :mod:`linkaudit.machines`, the CPU-dependent platform and hwcaps in
:mod:`linkaudit.hostparams`, the cache in :mod:`linkaudit.ldcache`, the
Python-package index in :mod:`linkaudit.pyindex`.
"""

from __future__ import annotations

import enum
import os
import stat
import struct
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, NoReturn

from linkaudit.elf import DF_1_NODEFLIB, ELF_MAGIC, ET_DYN, ET_EXEC, PHDR_SIZE, ElfObject, decode_header
from linkaudit.errors import ElfReadError
from linkaudit.hostparams import HostFacts, LoaderParams, Overrides, cache_hwcaps, libc_release, resolve
from linkaudit.ldcache import CacheUnusable, LdCache
from linkaudit.machines import Machine, by_name, machine_for
from linkaudit.pyindex import PackageIndex, python_package_of, site_dirs
from linkaudit.report import FoundVia, SearchStep
from linkaudit.sysroot import Sysroot

# An object of a machine glibc has no port for: plain defaults, no hwcaps.
_UNKNOWN = Machine("unknown", 0, 0, "<", (), "/lib", "", frozenset({0x0001, 0x0003}), None)


class LoaderEnv(NamedTuple):
    """Everything outside the audited files that the loader's answer depends on."""

    ld_library_path: str | None = None
    search_paths: tuple[str, ...] = ()
    root: str | None = None  # a sysroot: every absolute path is looked up under it
    cache_file: str | None = "/etc/ld.so.cache"
    python_lib_dirs: tuple[str, ...] | None = None  # site-packages to search; None = this interpreter's
    python_package_rule: bool = True
    host: HostFacts | None = None  # this machine's CPU and glibc, read once per run; None = read when needed
    overrides: Overrides = Overrides()  # platform / hwcaps / level / glibc named by the user
    glibc_tunables: str | None = None  # this shell's GLIBC_TUNABLES (its glibc.cpu.hwcaps masks CPU features)


def default_env(search_paths: Iterable[str] = (), python_packages: bool = True, root: str | None = None,
                overrides: Overrides = Overrides()) -> LoaderEnv:
    """The loader environment of this machine, as ``ldd`` would see it from this shell.

    Under ``root`` (a sysroot or unpacked image) this shell's LD_LIBRARY_PATH,
    GLIBC_TUNABLES and installed Python packages say nothing about the audited system.  The
    CPU and glibc facts are read here, once per run, and travel to the workers.
    """
    return LoaderEnv(
        ld_library_path=None if root else os.environ.get("LD_LIBRARY_PATH"),
        search_paths=tuple(search_paths),
        python_package_rule=python_packages and not root,
        root=root,
        host=HostFacts.read(),
        overrides=overrides,
        glibc_tunables=None if root else os.environ.get("GLIBC_TUNABLES"),
    )


class Found(NamedTuple):
    """``find``'s answer when a rule found the library."""

    path: str
    via: FoundVia
    searched: tuple[SearchStep, ...]
    python_package: str | None = None


class NotFound(NamedTuple):
    """``find``'s answer when no rule found it; ``fatal`` when the real loader stops with an error instead."""

    searched: tuple[SearchStep, ...]
    fatal: str | None = None


class Candidate(enum.Enum):
    """``open_verify``'s answer for a file the search goes on past or takes."""

    LOADABLE = "loadable"
    ABSENT = "absent"  # no such file (or unreadable): the search goes on
    MISMATCH = "mismatch"  # another class, byte order, machine or OS ABI: skipped, the search goes on


class Unloadable(NamedTuple):
    """A file the loader opens and then stops on (``_dl_signal_error``): the whole load fails."""

    message: str


CandidateCheck = Candidate | Unloadable


@dataclass(eq=False)
class LoadedObject:
    """A node of the emulated link map chain."""

    elf: ElfObject | None  # None for a library that was not found (glibc's "faked" entry)
    path: str  # the name it was opened under: realname in glibc terms
    names: set[str]
    loader: LoadedObject | None
    found_via: FoundVia | None
    first_name: str
    depth: int
    needed_by: list[str] = field(default_factory=list)
    python_package: str | None = None
    searched: tuple[SearchStep, ...] = ()
    fatal: str | None = None  # the real loader would stop with this error here
    deps: list[LoadedObject] = field(default_factory=list)  # resolved DT_NEEDED entries, in order

    @property
    def origin(self) -> str:
        """``l_origin``: the directory of the path it was opened under, made absolute, not resolved."""
        return _origin_of(self.path)


@dataclass
class LoadResult:
    """The outcome of loading one main object: the search list and each DT_NEEDED's object."""

    main: LoadedObject
    searchlist: list[LoadedObject]  # main first, then breadth-first dependencies
    direct: list[LoadedObject]  # one per DT_NEEDED entry of main, in order
    chain: list[LoadedObject]  # glibc's l_next chain after main (what ldd -u walks)
    warnings: list[str]


@dataclass
class _Namespace:
    """The state of one load (glibc's link-map namespace): what is mapped so far, and what went wrong."""

    main: LoadedObject
    interp: LoadedObject | None  # the dynamic linker: loaded already, joins the chain when named
    loaded: list[LoadedObject]  # the l_next chain, main first; faked entries included
    by_id: dict[tuple[int, int], LoadedObject]  # (st_dev, st_ino) -> mapped object: _dl_map_object's file identity
    warnings: list[str] = field(default_factory=list)
    # every name and soname of a mapped object -> the first such object in chain order: _dl_map_object's
    # first loop, without walking the chain for each DT_NEEDED entry (the interpreter is asked last)
    names: dict[str, LoadedObject] = field(default_factory=dict)
    interp_joined: bool = False

    def __post_init__(self) -> None:
        for obj in self.loaded:
            self._index(obj)

    def _index(self, obj: LoadedObject) -> None:
        if obj.elf is None:  # faked entries never match
            return
        for name in obj.names:
            self.names.setdefault(name, obj)
        soname = _soname(obj)
        if soname is not None:
            self.names.setdefault(soname, obj)

    def also_named(self, obj: LoadedObject, name: str) -> None:
        """``obj`` was found under ``name`` too (``add_name_to_object``)."""
        obj.names.add(name)
        if obj.elf is not None:
            self.names.setdefault(name, obj)

    def already_loaded(self, name: str) -> LoadedObject | None:
        """``_dl_map_object``'s first loop: an object loaded under this name or soname (faked ones never match)."""
        cand = self.names.get(name)
        if cand is not None:
            cand.names.add(name)
            return cand
        interp = self.interp
        if interp is None or interp.elf is None or self.interp_joined:
            return None
        if name in interp.names or name == _soname(interp):
            interp.names.add(name)
            self._join_interp()
            self.by_id.setdefault(interp.elf.file_id, interp)
            return interp
        return None

    def _join_interp(self) -> None:
        assert self.interp is not None
        self.loaded.append(self.interp)
        if not self.interp_joined:
            self.interp_joined = True
            self._index(self.interp)

    def same_file(self, elf: ElfObject) -> LoadedObject | None:
        """An object already mapped from the same file under another name (the interpreter included)."""
        same = self.by_id.get(elf.file_id)
        interp = self.interp
        if same is None and interp is not None and interp.elf is not None and interp.elf.file_id == elf.file_id:
            same = interp
            self._join_interp()
        return same

    def add(self, obj: LoadedObject) -> LoadedObject:
        """Append a newly mapped (or faked) object to the chain."""
        self.loaded.append(obj)
        if obj.elf is not None:
            self.by_id[obj.elf.file_id] = obj
            self._index(obj)
        return obj


class ObjectCache:
    """Parse each file at most once per run (keyed by device and inode)."""

    def __init__(self) -> None:
        self._by_id: dict[tuple[int, int], ElfObject] = {}
        self._errors: dict[tuple[int, int], ElfReadError] = {}

    def open(self, path: str) -> ElfObject:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):  # never open a FIFO or a device: it could block or never end
            raise ElfReadError(f"{path}: not a regular file")
        key = (st.st_dev, st.st_ino)
        obj = self._by_id.get(key)
        if obj is not None:
            return obj
        if key in self._errors:
            raise self._errors[key]
        try:
            obj = ElfObject(path)
        except ElfReadError as exc:
            self._errors[key] = exc
            raise
        self._by_id[key] = obj
        return obj


def machine_of(elf: ElfObject) -> Machine:
    """The machine-table record of an object (a neutral one for machines glibc has no port for)."""
    return machine_for(elf.e_machine, elf.bits, elf.endian, getattr(elf, "e_flags", 0)) or _UNKNOWN


class Loader:
    """Emulates ``_dl_map_object_deps`` for one main object at a time."""

    def __init__(self, env: LoaderEnv, cache: ObjectCache | None = None) -> None:
        self.env = env
        self.objects = cache or ObjectCache()
        self._ldcache: dict[str, LdCache | CacheUnusable | None] = {}
        self._pyindex: PackageIndex | None = None
        self.sysroot = Sysroot(env.root)  # paths of the audited image -> this machine's
        self._host = self.sysroot.host
        self.guest = self.sysroot.guest
        self._params: dict[str, LoaderParams] = {}
        self._verify_memo: dict[tuple[str, str], CandidateCheck] = {}
        self._dir_memo: dict[tuple[str, str, str], str | Unloadable | None] = {}
        self._cache_memo: dict[tuple[str, str], str | None] = {}
        self._dirs_memo: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._listing_memo: dict[str, frozenset[str] | None] = {}
        self._split_memo: dict[tuple, tuple[str, ...]] = {}
        self._steps_memo: dict[tuple[str, str, FoundVia], SearchStep] = {}

    # -- what the machine and its CPU decide ----------------------------------

    def params(self, elf: ElfObject) -> LoaderParams:
        """Platform, hwcaps, glibc-hwcaps levels and glibc release for objects like ``elf`` (once per machine)."""
        return self.params_for(machine_of(elf))

    def params_for(self, machine: Machine) -> LoaderParams:
        hit = self._params.get(machine.name)
        if hit is None:
            host = self.env.host or HostFacts.read()
            root_glibc = (lambda: self._root_glibc(machine)) if self.env.root else None
            hit = self._params[machine.name] = resolve(machine, host, self.env.overrides, root_glibc,
                                                       self.env.glibc_tunables)
        return hit

    def _root_glibc(self, machine: Machine) -> tuple[int, int] | None:
        """The release of the root's libc for ``machine``, read from its version banner."""
        dirs = [f"/lib/{t}" for t in machine.triplets] + [f"/usr/lib/{t}" for t in machine.triplets]
        dirs += list(machine.default_dirs_plain) + ["/lib", "/usr/lib"]
        for d in dict.fromkeys(dirs):
            release = libc_release(self._host(f"{d}/libc.so.6"))
            if release is not None:
                return release
        return None

    def _multiarch(self, obj: ElfObject) -> str | None:
        for triplet in machine_of(obj).triplets:
            if os.path.isdir(self._host(f"/usr/lib/{triplet}")):
                return triplet
        return None

    def default_dirs(self, obj: ElfObject) -> tuple[str, ...]:
        """``SYSTEM_DIRS``: the multiarch directories where the system has them, else glibc's ``slibdir``."""
        triplet = self._multiarch(obj)
        if triplet:
            return (f"/lib/{triplet}", f"/usr/lib/{triplet}", "/lib", "/usr/lib")
        machine = machine_of(obj)
        dirs = machine.default_dirs_plain
        if dirs[0] != "/lib" and not os.path.isdir(self._host(dirs[0])) and os.path.isdir(self._host("/lib")):
            return ("/lib", "/usr/lib")  # a distribution that keeps this 64-bit ABI in /lib (e.g. Arch's aarch64)
        return dirs

    def dst_lib(self, obj: ElfObject) -> str:
        """``$LIB``: Debian's ``lib/<triplet>``, else the last component of the default directory."""
        triplet = self._multiarch(obj)
        if triplet:
            return f"lib/{triplet}"
        first = self.default_dirs(obj)[0]
        return first.rsplit("/", 1)[-1]

    def hwcap_subdirs(self, obj: ElfObject) -> tuple[str, ...]:
        """The subdirectories tried inside every search directory, best first."""
        return self.params(obj).subdirs

    # -- dynamic string tokens -------------------------------------------

    def expand(self, text: str, obj: LoadedObject) -> str | None:
        """``_dl_dst_substitute``: $ORIGIN, $LIB, $PLATFORM; None drops the element."""
        if "$" not in text:
            return text
        out = []
        i = 0
        elf = obj.elf
        while i < len(text):
            c = text[i]
            if c != "$":
                out.append(c)
                i += 1
                continue
            rest = text[i + 1 :]
            for name in ("ORIGIN", "PLATFORM", "LIB"):
                length = _is_dst(rest, name)
                if length:
                    break
            else:
                out.append("$")
                i += 1
                continue
            if name == "ORIGIN":
                repl = obj.origin
            elif name == "PLATFORM":
                repl = self.params(elf).platform if elf else None
            else:
                repl = self.dst_lib(elf) if elf else None
            if not repl:
                return None
            out.append(repl)
            i += 1 + length
        return "".join(out)

    def _split(self, text: str, obj: LoadedObject, seps: str = ":") -> tuple[str, ...]:
        """``fillin_rpath``: split, expand, normalise trailing slashes, drop duplicates.

        Remembered for the run: the objects of a tree carry the same few RPATHs. What an
        element expands to depends on the object's path ($ORIGIN) and machine ($PLATFORM, $LIB).
        """
        key = (text, seps) if "$" not in text else \
            (text, seps, obj.path, machine_of(obj.elf).name if obj.elf is not None else None)
        dirs = self._split_memo.get(key)
        if dirs is None:
            dirs = self._split_memo[key] = tuple(self._split_uncached(text, obj, seps))
        return dirs

    def _split_uncached(self, text: str, obj: LoadedObject, seps: str) -> list[str]:
        items = [text]
        for sep in seps:
            items = [p for part in items for p in part.split(sep)]
        dirs: list[str] = []
        for item in items:
            if item:
                expanded = self.expand(item, obj)
                if not expanded:
                    continue
                item = expanded.rstrip("/") or "/"
            if item not in dirs:
                dirs.append(item)
        return dirs

    # -- the search --------------------------------------------------------

    def _try_dir(self, directory: str, name: str, want: ElfObject, subdirs: tuple[str, ...]) -> str | Unloadable | None:
        """``open_path`` for one directory: the path found, the error the loader stops on, or None.

        Remembered like ``_verify``.
        """
        key = (directory, name, machine_of(want).name)  # subdirs follow from the machine record
        if key not in self._dir_memo:
            self._dir_memo[key] = self._try_dir_uncached(directory, name, want, subdirs)
        return self._dir_memo[key]

    def _try_dir_uncached(self, directory: str, name: str, want: ElfObject, subdirs: tuple[str, ...]) -> str | Unloadable | None:
        seen: set[str] = set()
        for sub in subdirs + ("",):
            base = _join(directory, sub) if sub else directory
            if self._listed_without(base, name):
                continue
            candidate = _join(base, name)
            if candidate in seen:
                continue
            seen.add(candidate)
            match self._verify(candidate, want):
                case Candidate.LOADABLE:
                    return candidate
                case Unloadable() as stop:
                    return stop
        return None

    def _listed_without(self, directory: str, name: str) -> bool:
        """Whether ``directory``, listed once per run, has no entry ``name``: opening it would fail (ENOENT).

        Most candidates of a search are in hwcaps subdirectories that do not
        exist: one listing (or one failed listing) per directory answers for
        all of them instead of an ``open`` each.  Anything listed, and any
        directory that cannot be listed (no read permission), is opened as
        the loader would.
        """
        if not directory or name in (".", ".."):
            return False
        names = self._listing_memo.get(directory, _UNLISTED)
        if names is _UNLISTED:
            try:
                names = frozenset(os.listdir(self._host(directory)))
            except (FileNotFoundError, NotADirectoryError):  # then no file under it opens either
                names = frozenset()
            except (OSError, ValueError):
                names = None
            self._listing_memo[directory] = names
        return names is not None and name not in names

    def _verify(self, candidate: str, want: ElfObject) -> CandidateCheck:
        """``open_verify`` for one candidate file.

        Remembered for the run: the objects of a directory search the same
        directories for the same names (the files are taken not to change
        during a run, as the parse cache takes them).
        """
        key = (candidate, machine_of(want).name)  # the record fixes class, byte order, machine and ABI flags
        check = self._verify_memo.get(key)
        if check is None:
            check = self._verify_memo[key] = self._verify_file(candidate, want)
        return check

    def _verify_file(self, candidate: str, want: ElfObject) -> CandidateCheck:
        """``open_verify``'s checks, in its order: which mismatches skip a file and which stop the load."""
        host = self._host(candidate)
        try:  # non-blocking: a FIFO planted in a search directory must not hang the audit
            fd = os.open(host, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return Candidate.ABSENT
        except IsADirectoryError:
            return Unloadable(f"{candidate}: cannot read file data: Is a directory")
        except OSError:
            return Candidate.ABSENT
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                return Unloadable(f"{candidate}: cannot read file data: Is a directory")
            if not stat.S_ISREG(mode):
                return Unloadable(f"{candidate}: not a regular file (the real loader would block or fail reading it)")
            head = os.pread(fd, 64, 0)
        except OSError:
            return Candidate.ABSENT
        finally:
            os.close(fd)
        ehdr_size = 64 if want.bits == 64 else 52  # sizeof (ElfW(Ehdr)) of the loader asking
        if len(head) < ehdr_size:
            return Unloadable(f"{candidate}: file too short")
        machine = machine_of(want)
        why = _ident_error(head, want, machine)
        if why is not None:
            return why if isinstance(why, Candidate) else Unloadable(f"{candidate}: {why}")
        try:  # e_ident, checked above, is the requester's class and byte order: this cannot fail
            hdr = decode_header(head, _refuse)
        except ElfReadError as exc:
            return Unloadable(f"{candidate}: {exc}")
        if hdr.version != 1:
            return Unloadable(f"{candidate}: ELF file version does not match current one")
        if hdr.machine != want.e_machine or not _abi_matches(machine, hdr.flags):
            return Candidate.MISMATCH  # elf_machine_matches_host: the search goes on
        if hdr.type not in (ET_DYN, ET_EXEC):
            return Unloadable(f"{candidate}: only ET_DYN and ET_EXEC can be loaded")
        if hdr.phentsize != PHDR_SIZE[want.bits]:
            return Unloadable(f"{candidate}: ELF file's phentsize not the expected size")
        return Candidate.LOADABLE

    def find(self, name: str, requester: LoadedObject, main: LoadedObject) -> Found | NotFound:
        """Search for ``name`` on behalf of ``requester``, by the rules of the audited system's libc.

        The seam for other C libraries: a loader whose search differs (musl's)
        is chosen here per object; glibc's rules are the default.
        """
        return self.find_glibc(name, requester, main)

    def find_glibc(self, name: str, requester: LoadedObject, main: LoadedObject) -> Found | NotFound:
        """glibc's ``_dl_map_object`` search order for a name without a slash."""
        want = requester.elf or main.elf
        assert want is not None
        steps: list[SearchStep] = []
        machine = machine_of(want)
        dirs = self._dirs_memo.get(machine.name)
        if dirs is None:  # they depend on the machine only; each costs a stat or two
            dirs = self._dirs_memo[machine.name] = (self.hwcap_subdirs(want), self.default_dirs(want))
        subdirs, defaults = dirs

        def scan(dirs: Iterable[str], via: FoundVia, source: str) -> Found | NotFound | None:
            for d in dirs:
                steps.append(self._step(d, source, via))
                match self._try_dir(d, name, want, subdirs):
                    case str(path):
                        return Found(path, via, tuple(steps))
                    case Unloadable(message):
                        return NotFound(tuple(steps), message)
            return None

        req_elf = requester.elf
        if req_elf is None or req_elf.runpath is None:
            did_main = False
            node: LoadedObject | None = requester
            while node is not None:
                if node.elf is not None and node.elf.rpath is not None:
                    hit = scan(self._split(node.elf.rpath, node), FoundVia.RPATH, f"RPATH of {node.path}")
                    if hit:
                        return hit
                    did_main |= node is main
                node = node.loader
            if not did_main and main.elf is not None and main.elf.rpath is not None:
                hit = scan(self._split(main.elf.rpath, main), FoundVia.RPATH, f"RPATH of {main.path}")
                if hit:
                    return hit
        if self.env.ld_library_path is not None:
            hit = scan(self._split(self.env.ld_library_path, main, ":;"), FoundVia.LD_LIBRARY_PATH, "LD_LIBRARY_PATH")
            if hit:
                return hit
        if req_elf is not None and req_elf.runpath is not None:
            hit = scan(self._split(req_elf.runpath, requester), FoundVia.RUNPATH, f"RUNPATH of {requester.path}")
            if hit:
                return hit
        nodeflib = bool(req_elf is not None and req_elf.flags_1 & DF_1_NODEFLIB)
        cached = self._cache_memo.get((name, machine.name), "")
        if cached == "":  # a binary search with a pure-Python compare: worth remembering
            cached = self._cache_memo[(name, machine.name)] = self._cache_lookup(name, want)
        if cached is None and self.env.cache_file:
            steps.append(self._step(self.env.cache_file, "ld.so.cache: no entry", FoundVia.CACHE))
        if cached is not None:
            steps.append(self._step(os.path.dirname(cached), "ld.so.cache", FoundVia.CACHE))
            if not (nodeflib and any(cached.startswith(d + "/") for d in defaults)):
                match self._verify(cached, want):
                    case Candidate.LOADABLE:
                        return Found(cached, FoundVia.CACHE, tuple(steps))
                    case Unloadable(message):
                        return NotFound(tuple(steps), message)
        if not nodeflib:
            hit = scan(list(defaults), FoundVia.DEFAULT, "default directories")
            if hit:
                return hit
        if self.env.search_paths:
            hit = scan(list(self.env.search_paths), FoundVia.SEARCH_PATH, "--search-path")
            if isinstance(hit, Found):
                return hit
        if self.env.python_package_rule:
            for candidate in self.python_candidates(name):
                if self._verify(str(candidate), want) is Candidate.LOADABLE:
                    package = python_package_of(candidate.parent) or candidate.parent.name
                    return Found(str(candidate), FoundVia.PYTHON_PACKAGE, tuple(steps), package)
        return NotFound(tuple(steps))

    def _step(self, directory: str, source: str, via: FoundVia) -> SearchStep:
        """One record per distinct step in a run: every object of a tree searches the same directories."""
        key = (directory, source, via)
        step = self._steps_memo.get(key)
        if step is None:
            step = self._steps_memo[key] = SearchStep(directory, source, via)
        return step

    # -- ld.so.cache --------------------------------------------------------

    def cache_for(self, want: ElfObject) -> LdCache | CacheUnusable | None:
        """The cache as ``want``'s machine reads it (its byte order and flags), parsed once per machine."""
        machine = machine_of(want)
        if machine.name not in self._ldcache:
            self._ldcache[machine.name] = None
            if self.env.cache_file:
                self._ldcache[machine.name] = LdCache.load(self._host(self.env.cache_file), machine.cache_flags,
                                                           machine.endian, self.env.cache_file)
        return self._ldcache[machine.name]

    def _cache_lookup(self, name: str, want: ElfObject) -> str | None:
        cache = self.cache_for(want)
        if isinstance(cache, LdCache):
            params = self.params(want)
            return cache.lookup(name, params.levels, cache_hwcaps(want.e_machine, want.bits, params))
        return None

    def cache_directories(self, want: ElfObject) -> frozenset[str]:
        """The directories ld.so.cache lists libraries of ``want``'s machine in (ld.so.conf's, in effect)."""
        cache = self.cache_for(want)
        return cache.directories() if isinstance(cache, LdCache) else frozenset()

    def host_path(self, path: str) -> str:
        """Where an absolute path of the audited system (``--root``) lives on this machine."""
        return self._host(path)

    # -- installed Python packages ------------------------------------------

    def python_lib_dirs(self) -> tuple[str, ...]:
        if self.env.python_lib_dirs is not None:
            return self.env.python_lib_dirs
        return site_dirs()

    def python_candidates(self, name: str) -> list[Path]:
        """Files named ``name`` inside installed packages (three levels deep at most).

        None under a sysroot: this interpreter's packages are not the image's.
        """
        if self.env.root:
            return []
        if self._pyindex is None:
            self._pyindex = PackageIndex(self.python_lib_dirs())
        return self._pyindex.candidates(name)

    # -- loading --------------------------------------------------------------

    def load(self, path: str, main_elf: ElfObject | None = None) -> LoadResult:
        """Load ``path`` as ld.so --list would, breadth-first, and return the search list."""
        elf = main_elf or self.objects.open(path)
        path = self.guest(path)
        main = LoadedObject(elf, path, {path}, None, None, path, 0)
        ns = _Namespace(main, self._interp(elf), [main], {elf.file_id: main})
        warnings = ns.warnings
        searchlist = [main]
        direct: list[LoadedObject] = []
        queue = deque([main])
        while queue:
            obj = queue.popleft()
            if obj.elf is None:
                continue
            try:
                needed = obj.elf.needed
            except ElfReadError as exc:
                warnings.append(str(exc))
                needed = ()
            for raw in needed:
                dep = self._map_object(raw, obj, ns)
                if obj is main:
                    direct.append(dep)
                obj.deps.append(dep)
                if obj.path not in dep.needed_by:
                    dep.needed_by.append(obj.path)
                if dep not in searchlist:
                    searchlist.append(dep)
                    queue.append(dep)
            for raw in _filtees(obj.elf, warnings):
                # DT_FILTER/DT_AUXILIARY: the filtee is loaded along with the filter and, as in
                # _dl_map_object_deps, inserted in the search list just before it; one that is
                # not found is skipped (an auxiliary filter falls back to its own definitions).
                dep = self._map_object(raw, obj, ns)
                if dep.elf is None:
                    continue
                obj.deps.append(dep)
                if obj.path not in dep.needed_by:
                    dep.needed_by.append(obj.path)
                if dep not in searchlist:
                    searchlist.insert(max(1, searchlist.index(obj)), dep)
                    queue.append(dep)
        unusable = self.cache_for(elf)
        if isinstance(unusable, CacheUnusable) and any(o.found_via is not None or o.elf is None
                                                       for o in searchlist[1:]):
            warnings.append(str(unusable))
        return LoadResult(main, searchlist, direct, searchlist[1:], warnings)

    def _interp(self, elf: ElfObject) -> LoadedObject | None:
        path = elf.interp or machine_of(elf).interp
        if not path:
            return None
        try:
            ielf = self.objects.open(self._host(path))
        except (OSError, ElfReadError):
            return None
        names = {path}
        try:
            if ielf.soname:
                names.add(ielf.soname)
        except ElfReadError:
            pass
        return LoadedObject(ielf, path, names, None, FoundVia.LOADED, os.path.basename(path), 1)

    def _map_object(self, raw: str, requester: LoadedObject, ns: _Namespace) -> LoadedObject:
        """``_dl_map_object`` for one DT_NEEDED (or filtee) string: the object it names, mapped into ``ns``."""
        main = ns.main
        depth = requester.depth + 1
        name = raw
        if "$" in raw:
            name = self.expand(raw, requester) or ""
            if not name:  # only a token that expands to nothing earns this error (expand_dst)
                return LoadedObject(None, raw, set(), requester, None, raw, depth,
                                    fatal=f"cannot load {raw}: empty dynamic string token substitution")
        if not name:  # rtld.c names the main map "": an empty DT_NEEDED string loads nothing new
            return main
        # 1. already loaded, by name or by soname (faked entries never match)
        if (cand := ns.already_loaded(name)) is not None:
            return cand
        # 2. search
        if "/" in name:
            match self._verify(name, requester.elf or main.elf):  # type: ignore[arg-type]
                case Candidate.LOADABLE:
                    outcome: Found | NotFound = Found(name, FoundVia.PATHNAME, ())
                case Unloadable(message):
                    outcome = NotFound((), message)
                case _:
                    outcome = NotFound(())
        else:
            outcome = self.find(name, requester, main)
        match outcome:
            case NotFound(searched, fatal):
                return ns.add(LoadedObject(None, name, set(), requester, None, raw, depth, searched=searched, fatal=fatal))
            case Found(path, via, searched, package):
                pass
        try:
            elf = self.objects.open(self._host(path))
        except (OSError, ElfReadError) as exc:
            ns.warnings.append(str(exc))
            return ns.add(LoadedObject(None, name, set(), requester, None, raw, depth, searched=searched,
                                       fatal=str(exc)))
        if (same := ns.same_file(elf)) is not None:
            ns.also_named(same, name)
            return same
        return ns.add(LoadedObject(elf, path, {name, path}, requester, via, raw, depth, searched=searched,
                                   python_package=package))


def loader_assumptions(abis: Iterable[str | None], env: LoaderEnv) -> tuple[LoaderParams, ...]:
    """What the emulated ld.so assumed (platform, hwcaps, glibc release) for each ABI audited, in first-seen order."""
    loader = Loader(env)
    machines = [by_name(abi) for abi in dict.fromkeys(abi for abi in abis if abi)]
    return tuple(loader.params_for(m) for m in machines if m is not None)


def _filtees(elf: ElfObject, warnings: list[str]) -> list[str]:
    """The DT_FILTER and DT_AUXILIARY names of a filter object (none for most libraries)."""
    offsets = getattr(elf, "filters", ())
    if not offsets:
        return []
    try:
        return [elf.dynstr(off).decode("utf-8", "surrogateescape") for off in offsets]
    except ElfReadError as exc:
        warnings.append(str(exc))
        return []


ELFOSABI_SYSV, ELFOSABI_GNU, ELFOSABI_ARM_AEABI = 0, 3, 64
EF_ARM_EABI_MASK, EF_ARM_EABI_VER5 = 0xFF000000, 0x05000000
EF_ARM_ABI_FLOAT_SOFT, EF_ARM_ABI_FLOAT_HARD = 0x200, 0x400
EF_MIPS_ABI2, EF_MIPS_NAN2008, EF_MIPS_FP64 = 0x20, 0x400, 0x200
LIBC_ABI_MAX = 4  # libc-abis: DEFAULT, UNIQUE, IFUNC, ABSOLUTE


def _refuse(message: str) -> NoReturn:
    raise ElfReadError(message)


def _ident_error(head: bytes, want: ElfObject, machine: Machine) -> Candidate | str | None:
    """``VALID_ELF_HEADER`` and friends on ``e_ident``: None when valid, MISMATCH for another class, else glibc's reason."""
    osabi, abiversion = head[7], head[8]
    arm = machine.e_machine == 40
    mips = machine.e_machine == 8
    valid_osabi = osabi in (ELFOSABI_SYSV, ELFOSABI_GNU) or (arm and osabi == ELFOSABI_ARM_AEABI)
    valid_abiversion = (abiversion == 0 or (osabi == ELFOSABI_GNU and abiversion < LIBC_ABI_MAX)
                        or (mips and osabi == ELFOSABI_SYSV and abiversion < 6))
    e_flags = struct.unpack_from(want.endian + "I", head, 48 if want.bits == 64 else 36)[0] if head[5] in (1, 2) else 0
    float_ok = True
    if arm and e_flags & EF_ARM_EABI_MASK == EF_ARM_EABI_VER5:  # VALID_FLOAT_ABI of this loader's float ABI
        float_ok = not e_flags & (EF_ARM_ABI_FLOAT_SOFT if machine.name == "armhf" else EF_ARM_ABI_FLOAT_HARD)
    if (head[:4] == ELF_MAGIC and head[4] == (2 if want.bits == 64 else 1) and head[5] == (1 if want.endian == "<" else 2)
            and head[6] == 1 and valid_osabi and valid_abiversion and not any(head[9:16]) and float_ok):
        return None
    if head[:4] != ELF_MAGIC:
        return "invalid ELF header"
    if head[4] != (2 if want.bits == 64 else 1):
        return Candidate.MISMATCH  # "not a fatal error": another class is skipped
    if head[5] != (1 if want.endian == "<" else 2):
        return f"ELF file data encoding not {'little' if want.endian == '<' else 'big'}-endian"
    if head[6] != 1:
        return "ELF file version ident does not match current one"
    if not valid_osabi:
        return "ELF file OS ABI invalid"
    if not valid_abiversion:
        return "ELF file ABI version invalid"
    if any(head[9:16]):
        return "nonzero padding in e_ident"
    return "internal error"  # what glibc says for an ARM object of the other float ABI


def _abi_matches(machine: Machine, e_flags: int) -> bool:
    """``elf_machine_matches_host`` beyond e_machine: MIPS keeps o32/n32 and the NaN encodings apart."""
    if machine.e_machine != 8:
        return True
    if machine.bits == 32 and bool(e_flags & EF_MIPS_ABI2) != (machine.name.startswith("mipsn32")):
        return False
    if e_flags & EF_MIPS_NAN2008 != (EF_MIPS_NAN2008 if "r6" in machine.name else 0):
        return False
    return not e_flags & EF_MIPS_FP64


def _soname(obj: LoadedObject) -> str | None:
    try:
        return obj.elf.soname if obj.elf else None
    except ElfReadError:
        return None


def _is_dst(rest: str, name: str) -> int:
    """``is_dst``: length of ``$NAME`` / ``${NAME}`` at the start of ``rest`` (after the $), else 0."""
    if rest.startswith("{"):
        return len(name) + 2 if rest[1:].startswith(name) and rest[1 + len(name) : 2 + len(name)] == "}" else 0
    if not rest.startswith(name):
        return 0
    nxt = rest[len(name) : len(name) + 1]
    if nxt and (nxt.isalnum() or nxt == "_"):
        return 0
    return len(name)


_UNLISTED = object()


def _join(directory: str, name: str) -> str:
    """``os.path.join`` for a relative ``name`` (a hwcaps subdirectory, a name without a slash), without its checks."""
    return directory + name if not directory or directory.endswith("/") else f"{directory}/{name}"


def _origin_of(path: str) -> str:
    if not path.startswith("/"):
        path = os.path.join(os.getcwd(), path)
    head = path.rsplit("/", 1)[0]
    return head or "/"
