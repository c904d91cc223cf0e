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
"""

from __future__ import annotations

import functools
import os
import stat
import struct
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from linkaudit.elf import DF_1_NODEFLIB, ET_DYN, ET_EXEC, ElfObject
from linkaudit.errors import ElfReadError
from linkaudit.report import FoundVia, SearchStep
from linkaudit.sysroot import Sysroot

# Multiarch triplets (Debian) and ld.so.cache flags per ELF machine.
_TRIPLETS = {
    ("x86_64", 64): "x86_64-linux-gnu",
    ("i386", 32): "i386-linux-gnu",
    ("aarch64", 64): "aarch64-linux-gnu",
    ("arm", 32): "arm-linux-gnueabihf",
    ("riscv", 64): "riscv64-linux-gnu",
    ("ppc64", 64): "powerpc64le-linux-gnu",
    ("s390x", 64): "s390x-linux-gnu",
}
_CACHE_FLAGS = {  # values _dl_cache_check_flags accepts (sysdeps/*/dl-cache.h)
    ("x86_64", 64): {0x0303},
    ("i386", 32): {0x0001, 0x0003},
    ("aarch64", 64): {0x0A03},
    ("arm", 32): {0x0903, 0x0003, 0x0001},
    ("riscv", 64): {0x1003, 0x1103, 0x1203},
    ("ppc64", 64): {0x0503},
    ("s390x", 64): {0x0403},
}
_DEFAULT_INTERP = {
    ("x86_64", 64): "/lib64/ld-linux-x86-64.so.2",
    ("i386", 32): "/lib/ld-linux.so.2",
    ("aarch64", 64): "/lib/ld-linux-aarch64.so.1",
    ("arm", 32): "/lib/ld-linux-armhf.so.3",
    ("riscv", 64): "/lib/ld-linux-riscv64-lp64d.so.1",
}
_PLATFORM = {"x86_64": "x86_64", "i386": "i686", "aarch64": "aarch64", "arm": "v7l", "riscv": "riscv64"}
_LEGACY_HWCAPS = ("tls/x86_64/x86_64", "tls/x86_64", "tls", "x86_64/x86_64", "x86_64")


@dataclass(frozen=True)
class LoaderEnv:
    """Everything outside the audited files that the loader's answer depends on."""

    ld_library_path: str | None = None
    search_paths: tuple[str, ...] = ()
    root: str | None = None  # a sysroot: every absolute path is looked up under it
    cache_file: str | None = "/etc/ld.so.cache"
    python_lib_dirs: tuple[str, ...] | None = None  # site-packages to search; None = this interpreter's
    python_package_rule: bool = True
    hwcaps_x86_64: tuple[str, ...] | None = None  # None = computed from this CPU
    glibc_version: tuple[int, int] | None = None  # None = this system's

    @classmethod
    def from_environ(cls, **overrides: object) -> LoaderEnv:
        return cls(ld_library_path=os.environ.get("LD_LIBRARY_PATH"), **overrides)  # type: ignore[arg-type]


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


class Loader:
    """Emulates ``_dl_map_object_deps`` for one main object at a time."""

    def __init__(self, env: LoaderEnv, cache: ObjectCache | None = None) -> None:
        self.env = env
        self.objects = cache or ObjectCache()
        self._ldcache: dict[tuple[str, int], _LdCache | None] = {}
        self._pyindex: dict[str, list[Path]] | None = None
        self.sysroot = Sysroot(env.root)  # paths of the audited image -> this machine's
        self._host = self.sysroot.host
        self.guest = self.sysroot.guest
        self._verify_memo: dict[tuple[str, int, str, int], str] = {}
        self._dir_memo: dict[tuple[str, str, int, str, int], tuple[str | None, str | None]] = {}
        self._cache_memo: dict[tuple[str, tuple[str, int]], str | None] = {}
        self._dirs_memo: dict[tuple[str, int], tuple[tuple[str, ...], tuple[str, ...]]] = {}

    # -- the machine-dependent defaults -----------------------------------

    def _key(self, obj: ElfObject) -> tuple[str, int]:
        return (obj.machine, obj.bits)

    def _multiarch(self, obj: ElfObject) -> str | None:
        triplet = _TRIPLETS.get(self._key(obj))
        if triplet and os.path.isdir(self._host(f"/usr/lib/{triplet}")):
            return triplet
        return None

    def default_dirs(self, obj: ElfObject) -> tuple[str, ...]:
        triplet = self._multiarch(obj)
        if triplet:
            return (f"/lib/{triplet}", f"/usr/lib/{triplet}", "/lib", "/usr/lib")
        if obj.bits == 64 and obj.machine in ("x86_64", "aarch64", "ppc64", "s390x", "riscv"):
            if obj.machine == "aarch64" and not os.path.isdir(self._host("/lib64")):
                return ("/lib", "/usr/lib")
            return ("/lib64", "/usr/lib64")
        return ("/lib", "/usr/lib")

    def dst_lib(self, obj: ElfObject) -> str:
        triplet = self._multiarch(obj)
        if triplet:
            return f"lib/{triplet}"
        return "lib64" if self.default_dirs(obj)[0] == "/lib64" else "lib"

    def _glibc(self) -> tuple[int, int]:
        if self.env.glibc_version:
            return self.env.glibc_version
        try:
            text = os.confstr("CS_GNU_LIBC_VERSION") or ""
            major, minor = text.split()[-1].split(".")[:2]
            return int(major), int(minor)
        except (ValueError, OSError, IndexError):
            return (2, 37)

    def hwcap_subdirs(self, obj: ElfObject) -> tuple[str, ...]:
        if obj.machine != "x86_64" or self.env.root:
            return ()
        levels = self.env.hwcaps_x86_64
        if levels is None:
            levels = _x86_64_levels()
        subdirs = tuple(f"glibc-hwcaps/{lvl}" for lvl in levels)
        if self._glibc() < (2, 37):
            subdirs += _LEGACY_HWCAPS
        return subdirs

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
                repl = _PLATFORM.get(elf.machine) if elf else None
            else:
                repl = self.dst_lib(elf) if elf else None
            if not repl:
                return None
            out.append(repl)
            i += 1 + length
        return "".join(out)

    def _split(self, text: str, obj: LoadedObject, seps: str = ":") -> list[str]:
        """``fillin_rpath``: split, expand, normalise trailing slashes, drop duplicates."""
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

    def _try_dir(self, directory: str, name: str, want: ElfObject, subdirs: tuple[str, ...]) -> tuple[str | None, str | None]:
        """``open_path`` for one directory: (path found, fatal error); remembered like ``_verify``."""
        key = (directory, name, want.bits, want.endian, want.e_machine)  # subdirs follow from the machine
        hit = self._dir_memo.get(key)
        if hit is None:
            hit = self._dir_memo[key] = self._try_dir_uncached(directory, name, want, subdirs)
        return hit

    def _try_dir_uncached(self, directory: str, name: str, want: ElfObject, subdirs: tuple[str, ...]) -> tuple[str | None, str | None]:
        seen: set[str] = set()
        for sub in subdirs + ("",):
            base = os.path.join(directory, sub) if sub else directory
            candidate = os.path.join(base, name) if base else name
            if candidate in seen:
                continue
            seen.add(candidate)
            verdict = self._verify(candidate, want)
            if verdict == "ok":
                return candidate, None
            if verdict not in ("skip", "absent"):
                return None, verdict
        return None, None

    def _verify(self, candidate: str, want: ElfObject) -> str:
        """``open_verify``: 'ok', 'absent', 'skip' (other class/machine) or a fatal message.

        Remembered for the run: the objects of a directory search the same
        directories for the same names (the files are taken not to change
        during a run, as the parse cache takes them).
        """
        key = (candidate, want.bits, want.endian, want.e_machine)
        verdict = self._verify_memo.get(key)
        if verdict is None:
            verdict = self._verify_memo[key] = self._verify_file(candidate, want)
        return verdict

    def _verify_file(self, candidate: str, want: ElfObject) -> str:
        host = self._host(candidate)
        try:  # non-blocking: a FIFO planted in a search directory must not hang the audit
            fd = os.open(host, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return "absent"
        except IsADirectoryError:
            return f"{candidate}: cannot read file data: Is a directory"
        except OSError:
            return "absent"
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                return f"{candidate}: cannot read file data: Is a directory"
            if not stat.S_ISREG(mode):
                return f"{candidate}: not a regular file (the real loader would block or fail reading it)"
            head = os.pread(fd, 64, 0)
        except OSError:
            return "absent"
        finally:
            os.close(fd)
        if len(head) < 52 or head[:4] != b"\x7fELF":
            if len(head) >= 4 and head[:4] != b"\x7fELF":
                return f"{candidate}: invalid ELF header"
            return f"{candidate}: file too short"
        bits = 64 if head[4] == 2 else 32
        endian = "<" if head[5] == 1 else ">"
        if bits != want.bits or endian != want.endian:
            return "skip"
        e_type, e_machine = struct.unpack_from(endian + "HH", head, 16)
        if e_machine != want.e_machine:
            return "skip"
        if head[7] not in (0, 3):
            return "skip"
        if e_type not in (ET_DYN, ET_EXEC):
            return f"{candidate}: only ET_DYN and ET_EXEC can be loaded"
        return "ok"

    def find(self, name: str, requester: LoadedObject, main: LoadedObject) -> tuple[str | None, FoundVia | None, tuple[SearchStep, ...], str | None, str | None]:
        """Search for ``name`` on behalf of ``requester``.

        Returns (path, rule, directories tried, python package, fatal error).
        """
        want = requester.elf or main.elf
        assert want is not None
        steps: list[SearchStep] = []
        key = self._key(want)
        dirs = self._dirs_memo.get(key)
        if dirs is None:  # they depend on the machine only; each costs a stat or two
            dirs = self._dirs_memo[key] = (self.hwcap_subdirs(want), self.default_dirs(want))
        subdirs, defaults = dirs

        def scan(dirs: list[str], via: FoundVia, source: str) -> str | None:
            nonlocal fatal
            for d in dirs:
                steps.append(SearchStep(d, source, via))
                found, err = self._try_dir(d, name, want, subdirs)
                if err:
                    fatal = err
                    return None
                if found:
                    return found
            return None

        fatal: str | None = None
        req_elf = requester.elf
        if req_elf is None or req_elf.runpath is None:
            did_main = False
            node: LoadedObject | None = requester
            while node is not None:
                if node.elf is not None and node.elf.rpath is not None:
                    found = scan(self._split(node.elf.rpath, node), FoundVia.RPATH, f"RPATH of {node.path}")
                    if found or fatal:
                        return found, FoundVia.RPATH, tuple(steps), None, fatal
                    did_main |= node is main
                node = node.loader
            if not did_main and main.elf is not None and main.elf.rpath is not None:
                found = scan(self._split(main.elf.rpath, main), FoundVia.RPATH, f"RPATH of {main.path}")
                if found or fatal:
                    return found, FoundVia.RPATH, tuple(steps), None, fatal
        if self.env.ld_library_path is not None:
            found = scan(self._split(self.env.ld_library_path, main, ":;"), FoundVia.LD_LIBRARY_PATH, "LD_LIBRARY_PATH")
            if found or fatal:
                return found, FoundVia.LD_LIBRARY_PATH, tuple(steps), None, fatal
        if req_elf is not None and req_elf.runpath is not None:
            found = scan(self._split(req_elf.runpath, requester), FoundVia.RUNPATH, f"RUNPATH of {requester.path}")
            if found or fatal:
                return found, FoundVia.RUNPATH, tuple(steps), None, fatal
        nodeflib = bool(req_elf is not None and req_elf.flags_1 & DF_1_NODEFLIB)
        cached = self._cache_memo.get((name, key), "")
        if cached == "":  # a binary search with a pure-Python compare: worth remembering
            cached = self._cache_memo[(name, key)] = self._cache_lookup(name, want)
        if cached is None and self.env.cache_file:
            steps.append(SearchStep(self.env.cache_file, "ld.so.cache: no entry", FoundVia.CACHE))
        if cached is not None:
            steps.append(SearchStep(os.path.dirname(cached), "ld.so.cache", FoundVia.CACHE))
            if not (nodeflib and any(cached.startswith(d + "/") for d in defaults)):
                verdict = self._verify(cached, want)
                if verdict == "ok":
                    return cached, FoundVia.CACHE, tuple(steps), None, None
                if verdict not in ("skip", "absent"):
                    return None, FoundVia.CACHE, tuple(steps), None, verdict
        if not nodeflib:
            found = scan(list(defaults), FoundVia.DEFAULT, "default directories")
            if found or fatal:
                return found, FoundVia.DEFAULT, tuple(steps), None, fatal
        if self.env.search_paths:
            found = scan(list(self.env.search_paths), FoundVia.SEARCH_PATH, "--search-path")
            if found:
                return found, FoundVia.SEARCH_PATH, tuple(steps), None, None
            fatal = None
        if self.env.python_package_rule:
            hits = self.python_candidates(name)
            for hit in hits:
                if self._verify(str(hit), want) == "ok":
                    return str(hit), FoundVia.PYTHON_PACKAGE, tuple(steps), python_package_of(hit.parent) or hit.parent.name, None
        return None, None, tuple(steps), None, None

    # -- ld.so.cache --------------------------------------------------------

    def _cache_lookup(self, name: str, want: ElfObject) -> str | None:
        if not self.env.cache_file:
            return None
        key = self._key(want)
        if key not in self._ldcache:
            self._ldcache[key] = _LdCache.load(self._host(self.env.cache_file), _CACHE_FLAGS.get(key, set()))
        cache = self._ldcache[key]
        return cache.lookup(name, self.hwcap_subdirs(want)) if cache else None

    # -- installed Python packages ------------------------------------------

    def python_lib_dirs(self) -> tuple[str, ...]:
        if self.env.python_lib_dirs is not None:
            return self.env.python_lib_dirs
        return tuple(p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and os.path.isdir(p))

    def python_candidates(self, name: str) -> list[Path]:
        """Files named ``name`` inside installed packages (three levels deep at most).

        None under a sysroot: this interpreter's packages are not the image's.
        """
        if self.env.root:
            return []
        if self._pyindex is None:
            index: dict[str, list[Path]] = {}
            for root in self.python_lib_dirs():
                _index_tree(Path(root), index, depth=3)
            self._pyindex = index
        return self._pyindex.get(name, [])

    # -- loading --------------------------------------------------------------

    def load(self, path: str, main_elf: ElfObject | None = None) -> LoadResult:
        """Load ``path`` as ld.so --list would, breadth-first, and return the search list."""
        elf = main_elf or self.objects.open(path)
        path = self.guest(path)
        main = LoadedObject(elf, path, {path}, None, None, path, 0)
        loaded: list[LoadedObject] = [main]
        by_id: dict[tuple[int, int], LoadedObject] = {elf.file_id: main}
        warnings: list[str] = []
        interp = self._interp(elf)
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
                dep = self._map_object(raw, obj, main, loaded, by_id, interp, warnings)
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
                dep = self._map_object(raw, obj, main, loaded, by_id, interp, warnings)
                if dep.elf is None:
                    continue
                obj.deps.append(dep)
                if obj.path not in dep.needed_by:
                    dep.needed_by.append(obj.path)
                if dep not in searchlist:
                    searchlist.insert(max(1, searchlist.index(obj)), dep)
                    queue.append(dep)
        return LoadResult(main, searchlist, direct, searchlist[1:], warnings)

    def _interp(self, elf: ElfObject) -> LoadedObject | None:
        path = elf.interp or _DEFAULT_INTERP.get(self._key(elf))
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

    def _map_object(self, raw: str, requester: LoadedObject, main: LoadedObject, loaded: list[LoadedObject],
                    by_id: dict[tuple[int, int], LoadedObject], interp: LoadedObject | None, warnings: list[str]) -> LoadedObject:
        name = self.expand(raw, requester) if "$" in raw else raw
        depth = requester.depth + 1
        if not name:
            return LoadedObject(None, raw, set(), requester, None, raw, depth,
                                fatal=f"cannot load {raw}: empty dynamic string token substitution")
        # 1. already loaded, by name or by soname (faked entries never match)
        for cand in loaded + ([interp] if interp and interp not in loaded else []):
            if cand.elf is None:
                continue
            if name in cand.names or name == _soname(cand):
                cand.names.add(name)
                if cand is interp and cand not in loaded:
                    loaded.append(cand)
                    by_id.setdefault(cand.elf.file_id, cand)
                return cand
        # 2. search
        if "/" in name:
            path: str | None = name
            via: FoundVia | None = FoundVia.DIRECT
            steps: tuple[SearchStep, ...] = ()
            package = None
            verdict = self._verify(name, requester.elf or main.elf)  # type: ignore[arg-type]
            fatal = None if verdict in ("ok",) else (None if verdict in ("absent", "skip") else verdict)
            if verdict != "ok":
                path = None
        else:
            path, via, steps, package, fatal = self.find(name, requester, main)
        if path is None:
            fake = LoadedObject(None, name, set(), requester, None, raw, depth, searched=steps, fatal=fatal)
            loaded.append(fake)
            return fake
        try:
            elf = self.objects.open(self._host(path))
        except (OSError, ElfReadError) as exc:
            warnings.append(str(exc))
            fake = LoadedObject(None, name, set(), requester, None, raw, depth, searched=steps,
                                fatal=str(exc))
            loaded.append(fake)
            return fake
        same = by_id.get(elf.file_id)
        if same is None and interp is not None and interp.elf is not None and interp.elf.file_id == elf.file_id:
            same = interp
            loaded.append(interp)
        if same is not None:
            same.names.add(name)
            return same
        obj = LoadedObject(elf, path, {name, path}, requester, via, raw, depth, searched=steps, python_package=package)
        loaded.append(obj)
        by_id[elf.file_id] = obj
        return obj


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


def _origin_of(path: str) -> str:
    if not path.startswith("/"):
        path = os.path.join(os.getcwd(), path)
    head = path.rsplit("/", 1)[0]
    return head or "/"


def python_package_of(directory: Path) -> str | None:
    """The top-level importable name a directory inside site-packages belongs to (``torch.libs`` -> torch)."""
    parts = directory.parts
    for i, part in enumerate(parts):
        if part in ("site-packages", "dist-packages") and i + 1 < len(parts):
            top = parts[i + 1]
            return top[: -len(".libs")] if top.endswith(".libs") else top
    return None


def _index_tree(root: Path, index: dict[str, list[Path]], depth: int) -> None:
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                if depth > 0 and not entry.name.startswith(("__pycache__", ".")) and not entry.name.endswith(".dist-info"):
                    _index_tree(Path(entry.path), index, depth - 1)
            elif ".so" in entry.name:
                index.setdefault(entry.name, []).append(Path(entry.path))
        except OSError:
            continue


@functools.lru_cache(maxsize=1)  # read /proc/cpuinfo once, not once per library searched
def _x86_64_levels() -> tuple[str, ...]:
    """x86-64 micro-architecture levels this CPU supports, best first (glibc-hwcaps names)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
            else:
                return ()
    except OSError:
        return ()
    v2 = {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}
    v3 = {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
    v4 = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
    levels: list[str] = []
    if v2 <= flags:
        levels.append("x86-64-v2")
        if v3 <= flags:
            levels.insert(0, "x86-64-v3")
            if v4 <= flags:
                levels.insert(0, "x86-64-v4")
    return tuple(levels)


def _libcmp(a: bytes, b: bytes) -> int:
    """``_dl_cache_libcmp``: compare names, runs of digits numerically."""
    i = j = 0
    while i < len(a):
        ca = a[i]
        if 48 <= ca <= 57:
            if j < len(b) and 48 <= b[j] <= 57:
                v1 = v2 = 0
                while i < len(a) and 48 <= a[i] <= 57:
                    v1 = v1 * 10 + a[i] - 48
                    i += 1
                while j < len(b) and 48 <= b[j] <= 57:
                    v2 = v2 * 10 + b[j] - 48
                    j += 1
                if v1 != v2:
                    return v1 - v2
                continue
            return 1
        cb = b[j] if j < len(b) else 0
        if 48 <= cb <= 57:
            return -1
        if ca != cb:
            return ca - cb
        i += 1
        j += 1
    return 0 - (b[j] if j < len(b) else 0)


class _LdCache:
    """``/etc/ld.so.cache`` read directly (new format ``glibc-ld.so.cache1.1``, or the old one)."""

    NEW = b"glibc-ld.so.cache1.1"
    OLD = b"ld.so-1.7.0"

    def __init__(self, data: bytes, base: int, entries: list[tuple[int, int, int, int]], flags: set[int], hwcap_names: dict[int, str]) -> None:
        self._data = data
        self._base = base
        self._entries = entries  # (flags, key, value, hwcap)
        self._flags = flags
        self._hwcap_names = hwcap_names

    @classmethod
    def load(cls, path: str, flags: set[int]) -> _LdCache | None:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        try:
            if data.startswith(cls.OLD):
                (nlibs,) = struct.unpack_from("<I", data, 12)
                new_at = 16 + nlibs * 12
                new_at = (new_at + 7) & ~7 if data[new_at : new_at + len(cls.NEW)] != cls.NEW else new_at
                if data[new_at : new_at + len(cls.NEW)] != cls.NEW:
                    entries = [struct.unpack_from("<iII", data, 16 + i * 12) + (0,) for i in range(nlibs)]
                    return cls(data, 16 + nlibs * 12, [(f, k, v, 0) for f, k, v, _ in entries], flags, {})
                data = data[new_at:]
            if not data.startswith(cls.NEW):
                return None
            nlibs, _strlen, _flags, ext_off = struct.unpack_from("<IIB3xI", data, 20)
            if 48 + nlibs * 24 > len(data):
                return None
            entries = [struct.unpack_from("<iIIIQ", data, 48 + i * 24) for i in range(nlibs)]
            out = [(f, k, v, hw) for f, k, v, _os, hw in entries]
            return cls(data, 0, out, flags, _hwcap_extension(data, ext_off))
        except struct.error:
            return None

    def _str(self, off: int) -> bytes | None:
        pos = self._base + off
        if off < 0 or pos >= len(self._data):
            return None
        end = self._data.find(b"\0", pos)
        return self._data[pos : end if end >= 0 else len(self._data)]

    def lookup(self, name: str, subdirs: tuple[str, ...]) -> str | None:
        """``search_cache``: binary search, then the first acceptable entry of that name."""
        want = name.encode("utf-8", "surrogateescape")
        active = [s.split("/", 1)[1] for s in subdirs if s.startswith("glibc-hwcaps/")]
        left, right = 0, len(self._entries) - 1
        while left <= right:
            middle = (left + right) // 2
            key = self._str(self._entries[middle][1])
            if key is None:
                return None
            cmp = _libcmp(want, key)
            if cmp == 0:
                left = middle
                while middle > 0:
                    k = self._str(self._entries[middle - 1][1])
                    if k is None or _libcmp(want, k) != 0:
                        break
                    middle -= 1
                best: bytes | None = None
                best_prio = 1 << 32
                while middle <= right:
                    flags, key_off, value, hwcap = self._entries[middle]
                    if middle > left:
                        k = self._str(key_off)
                        if k is None or _libcmp(want, k) != 0:
                            break
                    middle += 1
                    if flags not in self._flags or self._str(value) is None:
                        continue
                    named = bool(hwcap >> 62 & 1)
                    if named:
                        sub = self._hwcap_names.get(hwcap & 0xFFFFFFFF)
                        if sub not in active:
                            continue
                        prio = active.index(sub) + 1
                        if best is None or prio < best_prio:
                            best, best_prio = self._str(value), prio
                        continue
                    if best is not None:
                        break
                    if hwcap:
                        continue  # legacy hwcap-specific entry: not emulated, never preferred
                    best = self._str(value)
                    break
                return best.decode("utf-8", "surrogateescape") if best else None
            if cmp < 0:
                left = middle + 1
            else:
                right = middle - 1
        return None


def _hwcap_extension(data: bytes, ext_off: int) -> dict[int, str]:
    """Index -> glibc-hwcaps subdirectory name, from the cache's extension section."""
    names: dict[int, str] = {}
    try:
        if not ext_off or ext_off + 8 > len(data):
            return names
        magic, count = struct.unpack_from("<II", data, ext_off)
        if magic != 0xEAA42174:
            return names
        for i in range(min(count, 64)):
            tag, _flags, offset, size = struct.unpack_from("<IIII", data, ext_off + 8 + i * 16)
            if tag == 0:  # cache_extension_tag_glibc_hwcaps: an array of string offsets
                for j in range(size // 4):
                    (soff,) = struct.unpack_from("<I", data, offset + j * 4)
                    end = data.find(b"\0", soff)
                    names[j] = data[soff:end].decode("ascii", "replace")
    except struct.error:
        pass
    return names
