"""musl's dynamic loader, emulated: which file each DT_NEEDED loads and where references bind.

This follows musl's ``ldso/dynlink.c`` (``load_library``, ``load_deps``,
``fixup_rpath``, ``path_open``, ``find_sym2``, ``do_relocs``), whose rules
differ from glibc's in almost every step:

* the loader *is* libc: ``libc.so``, ``libc.musl-<arch>.so.1``, and any name
  ``lib`` + one of ``c. pthread. rt. m. dl. util. xnet.`` (``libm.so.6``,
  ``libpthread.so.0``...) name it, as does the exact ``PT_INTERP`` string; a
  file found by a search that defines both ``__libc_start_main`` and ``stdin``
  (another libc, glibc's included) is replaced by it too;
* a name with a ``/`` is opened as it is (no token expansion); another name
  matches an object already loaded by its *file name* (the last component of
  the path it was found at: DT_SONAME is never read), else it is searched in
  ``LD_LIBRARY_PATH``, then the DT_RUNPATH (or, without one, DT_RPATH) of the
  requesting object **and of every object up its chain of first requesters**
  (musl does not tell RPATH from RUNPATH, and inherits both), then the system
  path: ``<prefix>/etc/ld-musl-<arch>.path`` (``<prefix>`` is the loader's
  path without its last two components: ``/etc/...`` for
  ``/lib/ld-musl-x86_64.so.1``), colon- or newline-separated, or
  ``/lib:/usr/local/lib:/usr/lib`` when that file does not exist;
* an rpath may use ``$ORIGIN`` / ``${ORIGIN}`` only: any other ``$`` drops the
  object's whole rpath; there is no ld.so.cache, no hwcaps, no ``$LIB`` or
  ``$PLATFORM``;
* the first file that opens is taken: musl does not skip files of another
  class or machine, and a file it cannot map stops the load; a file already
  loaded (same device and inode) is reused;
* every object loads breadth-first into one chain, which is also the global
  scope: a lookup walks the main object, then each library in load order
  (copy relocations start after the main object);
* a lookup ignores symbol versions: in each object it takes the first
  hash-chain entry with the name whose ``.gnu.version`` entry is not marked
  hidden (so ``foo@V1`` beside ``foo@@V2`` is never chosen) and accepts it
  unless it is undefined (for a PLT relocation, or TLS), has value 0 (not TLS),
  is of another type than NOTYPE/OBJECT/FUNC/COMMON/TLS (no IFUNC) or is
  local; otherwise it moves on to the next object;
* every relocation is bound at load time (no lazy binding for the initial
  objects); an unresolved non-weak reference stops the program, an unresolved
  weak one is left null.  Since musl 1.2.4 a missing ``xxx64`` LFS name falls
  back to libc's ``xxx``.
"""

from __future__ import annotations

import errno
import os
import re
import weakref
from collections import deque
from dataclasses import dataclass, field

from linkaudit.binding import CLASS_COPY, CLASS_PLT, Bound, Reference, Resolution, SymbolName, hash_lookup
from linkaudit.elf import (
    SHN_UNDEF,
    STB_GLOBAL,
    STB_GNU_UNIQUE,
    STB_LOCAL,
    STB_WEAK,
    STT_COMMON,
    STT_FUNC,
    STT_NOTYPE,
    STT_OBJECT,
    STT_TLS,
    ElfObject,
    Sym,
)
from linkaudit.errors import ElfReadError
from linkaudit.libc import GLIBC, libc_of, musl_arch
from linkaudit.loader import LoadedObject, Loader, LoadResult
from linkaudit.report import FoundVia, SearchStep

DEFAULT_SYS_PATH = "/lib:/usr/local/lib:/usr/lib"
NOT_ON_HOST_HINT = ("a musl system library, and this host is not a musl system: "
                    "pass --root DIR with an Alpine (musl) root filesystem to check it")

_RESERVED = ("c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet.")  # load_library's reserved list
_OK_TYPES = (1 << STT_NOTYPE) | (1 << STT_OBJECT) | (1 << STT_FUNC) | (1 << STT_COMMON) | (1 << STT_TLS)
_OK_BINDS = (1 << STB_GLOBAL) | (1 << STB_WEAK) | (1 << STB_GNU_UNIQUE)

# musl's REL_PLT (need_def) and REL_COPY relocation types, per e_machine (arch/*/reloc.h).
_PLT_COPY = {62: (7, 5), 3: (7, 5), 183: (1026, 1024), 40: (22, 20), 243: (5, 4), 22: (11, 9),
             21: (21, 19), 20: (21, 19), 258: (5, 4), 8: (127, 126)}
# get_lfs64 (musl >= 1.2.4): ``xxx64`` names that fall back to libc's ``xxx``.
_LFS64 = frozenset(
    b"aio_cancel aio_error aio_fsync aio_read aio_return aio_suspend aio_write alphasort creat fallocate "
    b"fgetpos fopen freopen fseeko fsetpos fstat fstatat fstatfs fstatvfs ftello ftruncate ftw getdents "
    b"getrlimit glob globfree lio_listio lockf lseek lstat mkostemp mkostemps mkstemp mkstemps mmap nftw "
    b"open openat posix_fadvise posix_fallocate pread preadv prlimit pwrite pwritev readdir scandir "
    b"sendfile setrlimit stat statfs statvfs tmpfile truncate versionsort __fxstat __fxstatat __lxstat "
    b"__xstat".split())


PATH_FILE_LIMIT = 1 << 20  # /etc/ld-musl-ARCH.path: a few lines; /dev/zero must not fill memory


def _read_path_file(host: str) -> bytes:
    """The path file, opened without blocking and read bounded (a FIFO or device reads as unreadable)."""
    import stat

    fd = os.open(host, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        data = os.read(fd, PATH_FILE_LIMIT + 1)
        if len(data) > PATH_FILE_LIMIT:
            raise OSError(errno.EFBIG, "too large")
        return data
    finally:
        os.close(fd)


def host_is_musl() -> bool:
    """Whether this machine itself runs on musl (glibc answers CS_GNU_LIBC_VERSION, musl does not)."""
    try:
        return not os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        return True


# -- the loader ---------------------------------------------------------------------


@dataclass
class MuslLoadResult(LoadResult):
    """A musl load: the chain doubles as the global scope; ``not_on_host`` maps a node id to a hint."""

    not_on_host: dict[int, str] = field(default_factory=dict)
    ldso: LoadedObject | None = None


_LOADERS: weakref.WeakKeyDictionary[Loader, MuslLoader] = weakref.WeakKeyDictionary()


def musl_loader(loader: Loader) -> MuslLoader:
    """The musl loader sharing ``loader``'s environment, sysroot and parse cache (one per Loader)."""
    found = _LOADERS.get(loader)
    if found is None:
        found = _LOADERS[loader] = MuslLoader(loader)
    return found


def system_path_of(loader: Loader, elf: ElfObject) -> str:
    """musl's system path list for ``elf`` (its loader's path file, or musl's default), for RPATH hygiene."""
    arch = musl_arch(elf)
    ldso_path = elf.interp if os.path.basename(elf.interp or "").startswith("ld-musl-") else f"/lib/ld-musl-{arch}.so.1"
    return musl_loader(loader).sys_path(ldso_path, arch)[0]


class MuslLoader:
    """Emulates ``load_library`` / ``load_deps`` for one main object at a time."""

    def __init__(self, base: Loader, host_musl: bool | None = None) -> None:
        self.base = base
        self.env = base.env
        self.objects = base.objects
        # Without --root the system directories are this host's: they are the target's only on a musl host.
        self.system_is_target = bool(self.env.root) or (host_is_musl() if host_musl is None else host_musl)
        self._sys_path: dict[str, tuple[str, str]] = {}
        self._ldso: dict[str, ElfObject | None] = {}
        self._is_libc: dict[tuple[int, int], bool] = {}
        self.opened: dict[str, str] = {}  # candidate -> _Load._open's answer, for the run (files taken not to change)

    # -- the system side ---------------------------------------------------------

    def ldso_elf(self, ldso_path: str) -> ElfObject | None:
        """musl's loader/libc as the audited system has it, or None when it has none."""
        if ldso_path not in self._ldso:
            try:
                self._ldso[ldso_path] = self.objects.open(self.base._host(ldso_path))
            except (OSError, ElfReadError):
                self._ldso[ldso_path] = None
        return self._ldso[ldso_path]

    def sys_path(self, ldso_path: str, arch: str) -> tuple[str, str]:
        """(path list, where it came from): the path file next to the loader's prefix, or the default."""
        hit = self._sys_path.get(ldso_path)
        if hit is not None:
            return hit
        parts = ldso_path.split("/")
        prefix = "/".join(parts[:-2]) if ldso_path.startswith("/") and len(parts) > 2 else ""
        name = f"{prefix}/etc/ld-musl-{arch}.path"
        try:
            text = _read_path_file(self.base._host(name)).decode("utf-8", "surrogateescape")
            hit = (text, name)
        except FileNotFoundError:
            hit = (DEFAULT_SYS_PATH, "musl's default path")
        except OSError:
            hit = ("", f"{name} (unreadable: musl searches no system directory)")
        self._sys_path[ldso_path] = hit
        return hit

    # -- loading --------------------------------------------------------------------

    def load(self, path: str, main_elf: ElfObject | None = None) -> MuslLoadResult:
        """Load ``path`` as ``ld-musl-<arch>.so.1 --list`` would and return the chain."""
        elf = main_elf or self.objects.open(path)
        path = self.base.guest(path)
        arch = musl_arch(elf)
        ldso_path = elf.interp if os.path.basename(elf.interp or "").startswith("ld-musl-") else f"/lib/ld-musl-{arch}.so.1"
        main = LoadedObject(elf, path, {path}, None, None, path, 0)
        state = _Load(self, main, ldso_path, arch)
        queue = deque([main])
        while queue:
            obj = queue.popleft()
            if obj.elf is None or obj is state.ldso:
                continue  # musl's own dependencies are none (ldso.deps = no_deps)
            try:
                needed = obj.elf.needed
            except ElfReadError as exc:
                state.warnings.append(str(exc))
                needed = ()
            for raw in needed:
                dep = state.load_library(raw, obj)
                if obj is main:
                    state.direct.append(dep)
                obj.deps.append(dep)
                if obj.path not in dep.needed_by:
                    dep.needed_by.append(obj.path)
                if dep not in state.chain:
                    state.chain.append(dep)
                    queue.append(dep)
        return MuslLoadResult(main, state.chain, state.direct, state.chain[1:], state.warnings,
                              state.not_on_host, state.ldso)

    def is_libc(self, elf: ElfObject) -> bool:
        """The check that keeps a second libc out: defines ``__libc_start_main`` and ``stdin``."""
        hit = self._is_libc.get(elf.file_id)
        if hit is None:
            try:
                hit = all(_find_in(elf, name, True) is not None for name in (b"__libc_start_main", b"stdin"))
            except ElfReadError:
                hit = False
            self._is_libc[elf.file_id] = hit
        return hit


class _Load:
    """The state of one load: the chain (``head->next``), the loader's node, what is absent here."""

    def __init__(self, loader: MuslLoader, main: LoadedObject, ldso_path: str, arch: str) -> None:
        self.loader = loader  # the MuslLoader whose caches this load shares
        self.main = main
        self.ldso_path = ldso_path
        self.arch = arch
        self.chain: list[LoadedObject] = [main]
        self.direct: list[LoadedObject] = []
        self.warnings: list[str] = []
        self.not_on_host: dict[int, str] = {}
        ldso_elf = loader.ldso_elf(ldso_path)
        self.ldso = LoadedObject(ldso_elf, ldso_path, {"libc.so", ldso_path}, None, FoundVia.LOADED,
                                 "libc.so", 1)
        self.shortnames: dict[int, str] = {}  # id(node) -> the file name a search found it under
        if ldso_elf is None and loader.system_is_target:  # under --root its absence is simply missing
            self.ldso.fatal = f"musl's loader {ldso_path}, which is also its libc, is not there"
        elif ldso_elf is None:
            self.not_on_host[id(self.ldso)] = (
                f"musl's loader {ldso_path}, which is also its libc, is not on this host: "
                "pass --root DIR with an Alpine (musl) root filesystem")

    def _self(self, name: str, requester: LoadedObject) -> LoadedObject:
        ldso = self.ldso
        ldso.names.add(name)
        if ldso not in self.chain:
            ldso.first_name = name
            ldso.depth = requester.depth + 1
        return ldso

    def load_library(self, name: str, requester: LoadedObject) -> LoadedObject:
        depth = requester.depth + 1
        if not name:
            return LoadedObject(None, name, set(), requester, None, name, depth,
                                fatal="cannot load an empty name: Invalid argument")
        if name.startswith("lib") and any(name[3:].startswith(r) for r in _RESERVED) or name == self.ldso_path:
            return self._self(name, requester)
        steps: list[SearchStep] = []
        if "/" in name:
            path, via, fatal = name, FoundVia.PATHNAME, None
            outcome = self._open(name)
            if outcome == "absent":
                path = None
            elif outcome != "ok":
                path, fatal = None, outcome
        else:
            for obj in self.chain[1:]:
                if obj.elf is not None and name == self.shortnames.get(id(obj)):
                    obj.names.add(name)
                    return obj
            path, via, fatal = self._search(name, requester, steps)
        if path is None:
            fake = LoadedObject(None, name, set(), requester, None, name, depth, searched=tuple(steps), fatal=fatal)
            if fatal is None and via is FoundVia.DEFAULT and not self.loader.system_is_target:
                sibling = f"{os.path.dirname(requester.path)}/{name}"
                started = requester is self.main and requester.elf is not None and requester.elf.interp
                alone = started or not os.path.isfile(self.loader.base._host(sibling))  # a program loads alone
                self.not_on_host[id(fake)] = NOT_ON_HOST_HINT if alone else (
                    f"not found when this object is loaded alone, but {sibling} sits next to it: "
                    "musl finds it when an object whose rpath covers that directory loads this one "
                    "(musl searches the rpath of every object up the chain)")
            return fake
        try:
            elf = self.loader.objects.open(self.loader.base._host(path))
        except (OSError, ElfReadError) as exc:
            return LoadedObject(None, name, set(), requester, None, name, depth, searched=tuple(steps),
                                fatal=f"{path}: {exc}: musl's loader stops here (it does not skip a file it cannot map)")
        for obj in self.chain[1:]:
            if obj.elf is not None and obj is not self.ldso and obj.elf.file_id == elf.file_id:
                obj.names.add(name)
                if path != name:
                    self.shortnames.setdefault(id(obj), os.path.basename(path))
                return obj
        want = self.main.elf
        assert want is not None
        if (elf.machine, elf.bits, elf.endian) != (want.machine, want.bits, want.endian):
            return LoadedObject(None, name, set(), requester, None, name, depth, searched=tuple(steps),
                                fatal=f"{path}: built for {elf.machine} {elf.bits}-bit: musl's loader "
                                      "does not skip files of another machine, the load fails")
        if self.loader.is_libc(elf):  # another libc (or musl's own under another name): musl uses itself
            return self._self(name, requester)
        obj = LoadedObject(elf, path, {name, path}, requester, via, name, depth, searched=tuple(steps))
        if libc_of(elf) == GLIBC:
            self.warnings.append(f"{path} is built for glibc: musl's loader loads it, but its references to "
                                 "glibc-only symbols (__*_chk, versioned GLIBC_* ABI) fail to relocate")
        if path != name:
            self.shortnames[id(obj)] = os.path.basename(path)
        return obj

    def _open(self, path: str) -> str:
        """``open()`` of one candidate: 'ok', 'absent' (search goes on) or an error that ends the search."""
        hit = self.loader.opened.get(path)
        if hit is None:
            hit = self.loader.opened[path] = self._open_uncached(path)
        return hit

    def _open_uncached(self, path: str) -> str:
        host = self.loader.base._host(path)
        try:
            fd = os.open(host, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO must not hang the audit
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.ENAMETOOLONG):
                return "absent"
            return f"{path}: {exc.strerror}: musl's loader stops its search here"
        os.close(fd)
        if os.path.isdir(host):
            return f"{path}: Is a directory: musl's loader opens it and stops here"
        return "ok"

    def _origin_path(self, node: LoadedObject) -> str:
        """The name ``$ORIGIN`` is taken from: a program started by the kernel has its real path
        (``/proc/self/exe``); any other object the path it was opened under."""
        if node is not self.main or node.elf is None or not node.elf.interp:
            return node.path
        base = self.loader.base
        if base.env.root:
            return base.guest(base._host(node.path))
        return os.path.realpath(node.path)

    def _scan(self, name: str, text: str, source: str, via: FoundVia, steps: list[SearchStep]) -> tuple[str | None, str | None]:
        """``path_open``: directories split on ':' and newlines, empty ones skipped."""
        for d in re.split(r"[:\n]", text):
            if not d:
                continue
            steps.append(SearchStep(d, source, via))
            candidate = f"{d}/{name}"
            outcome = self._open(candidate)
            if outcome == "ok":
                return candidate, None
            if outcome != "absent":
                return None, outcome
        return None, None

    def _search(self, name: str, requester: LoadedObject, steps: list[SearchStep]) -> tuple[str | None, FoundVia | None, str | None]:
        env_path = self.loader.env.ld_library_path
        if env_path:
            found, fatal = self._scan(name, env_path, "LD_LIBRARY_PATH", FoundVia.LD_LIBRARY_PATH, steps)
            if found or fatal:
                return found, FoundVia.LD_LIBRARY_PATH, fatal
        node: LoadedObject | None = requester
        while node is not None:
            elf = node.elf
            if elf is not None:
                tag, via = (elf.runpath, FoundVia.RUNPATH) if elf.runpath is not None else (elf.rpath, FoundVia.RPATH)
                rpath = _fixup_rpath(tag, self._origin_path(node)) if tag is not None else None
                if rpath is not None:
                    found, fatal = self._scan(name, rpath, f"{via.name} of {node.path}", via, steps)
                    if found or fatal:
                        return found, via, fatal
            node = node.loader
        if self.loader.ldso_elf(self.ldso_path) is None and not self.loader.system_is_target:
            # No musl loader here: the host's system directories hold glibc's libraries, never searched.
            return self._search_paths(name, steps)
        text, source = self.loader.sys_path(self.ldso_path, self.arch)
        found, fatal = self._scan(name, text, source, FoundVia.DEFAULT, steps)
        if found or fatal:
            return found, FoundVia.DEFAULT, fatal
        return self._search_paths(name, steps)

    def _search_paths(self, name: str, steps: list[SearchStep]) -> tuple[str | None, FoundVia | None, str | None]:
        """linkaudit's own ``--search-path``, last, so it never changes what musl would find."""
        dirs = self.loader.env.search_paths
        if dirs:
            found, _fatal = self._scan(name, "\n".join(dirs), "--search-path", FoundVia.SEARCH_PATH, steps)
            if found:
                return found, FoundVia.SEARCH_PATH, None
        return None, FoundVia.DEFAULT, None


def _fixup_rpath(text: str, path: str) -> str | None:
    """``fixup_rpath``: expand ``$ORIGIN``/``${ORIGIN}``; any other ``$`` drops the whole rpath."""
    if "$" not in text:
        return text
    pieces = text.split("$")
    for piece in pieces[1:]:
        if not (piece.startswith("ORIGIN") or piece.startswith("{ORIGIN}")):
            return None
    if not path.startswith("/"):
        path = os.path.join(os.getcwd(), path)
    origin = path.rsplit("/", 1)[0] or "/"
    out = [pieces[0]]
    for piece in pieces[1:]:
        out.append(origin + (piece[8:] if piece.startswith("{") else piece[6:]))
    return "".join(out)


# -- the binder ---------------------------------------------------------------------


def references(main: ElfObject) -> list[Reference]:
    """The lookups ``do_relocs`` makes for ``main``: every non-local symbolic relocation.

    The version a reference carries is kept for the report only: the lookup
    never reads it.  The class is PLT for musl's REL_PLT (JUMP_SLOT, which
    needs a definition) and COPY for REL_COPY (which skips the main object).
    """
    plt, copy = _PLT_COPY.get(main.e_machine, (-1, -1))
    versyms = main.versyms
    versions = main.versions if versyms is not None else {}
    out: dict[tuple[bytes, int], Reference] = {}
    for symidx, rtype in main.relocations():
        sym = main.relocated_symbol(symidx)
        if sym.info >> 4 == STB_LOCAL:
            continue  # binds to itself, no lookup
        klass = (CLASS_PLT if rtype == plt else 0) | (CLASS_COPY if rtype == copy else 0)
        key = (sym.name, klass)
        if key in out:
            continue
        version = None
        if versyms is not None:
            v = versions.get(versyms[symidx] & 0x7FFF)
            if v is not None and v.hash != 0:
                version = v
        out[key] = Reference(sym.name, version, sym.info >> 4 == STB_WEAK and sym.shndx == SHN_UNDEF, False, klass)
    return list(out.values())


def _find_in(obj: ElfObject, name: bytes | SymbolName, need_def: bool) -> Sym | None:
    """``find_sym2`` for one object: its first non-hidden entry named ``name``, if acceptable."""
    candidates = hash_lookup(obj, name if isinstance(name, SymbolName) else SymbolName(name))
    if not candidates:
        return None
    versyms = obj.versyms
    for idx in candidates:
        if versyms is None or not versyms[idx] & 0x8000:
            break
    else:
        return None
    sym = obj.symbol(idx)
    stt = sym.info & 0xF
    if sym.shndx == SHN_UNDEF and (need_def or stt == STT_TLS or (obj.e_machine == 8 and not sym.other & 0x8)):
        return None  # (MIPS: ARCH_SYM_REJECT_UND, an undefined entry without STO_MIPS_PLT)
    if sym.value == 0 and stt != STT_TLS:
        return None
    if not (1 << stt) & _OK_TYPES or not (1 << (sym.info >> 4)) & _OK_BINDS:
        return None
    return sym


_MEMO: weakref.WeakKeyDictionary[ElfObject, dict[tuple[bytes, bool], Sym | None]] = weakref.WeakKeyDictionary()


def lookup(scope: list[ElfObject | None], ref: Reference, klass: int | None = None,
           libc: int | None = None) -> tuple[int | None, Sym | None]:
    """``find_sym`` over the global scope (index 0 is the main object), then the LFS64 fallback.

    ``libc`` is the scope index of musl's loader, for the fallback.  A damaged table raises.
    """
    return _Search(scope, libc, tolerant=False).find(ref, ref.klass if klass is None else klass)


@dataclass
class _Search:
    """One binding's walk of the global scope; a tolerant one passes over objects whose tables break
    and keeps their errors (scope index -> message) for the result, a strict one raises."""

    scope: list[ElfObject | None]
    libc: int | None
    tolerant: bool
    damaged: dict[int, str] = field(default_factory=dict)

    def find(self, ref: Reference, klass: int) -> tuple[int | None, Sym | None]:
        scope, libc, damaged = self.scope, self.libc, self.damaged
        need_def = bool(klass & CLASS_PLT)
        name = ref.name
        wanted = SymbolName(name)
        for i, obj in enumerate(scope):
            if obj is None or (i == 0 and klass & CLASS_COPY) or i in damaged:
                continue
            memo = _MEMO.get(obj)
            if memo is None:
                memo = _MEMO[obj] = {}
            key = (name, need_def)
            if key in memo:
                sym = memo[key]
            else:
                try:
                    sym = _find_in(obj, wanted, need_def)
                except ElfReadError as exc:
                    if not self.tolerant:
                        raise
                    damaged[i] = str(exc)
                    continue
                if i:
                    memo[key] = sym
            if sym is not None:
                return i, sym
        if libc is not None and scope[libc] is not None and name.endswith(b"64") and name[:-2] in _LFS64:
            sym = _find_in(scope[libc], name[:-2], True)  # type: ignore[arg-type]
            if sym is not None:
                return libc, sym
        if libc is not None and scope[libc] is not None and name == b"readdir64_r":
            sym = _find_in(scope[libc], b"readdir_r", True)  # type: ignore[arg-type]
            if sym is not None:
                return libc, sym
        return None, None


def bind(scope: list[ElfObject | None], libc: int | None = None) -> list[Resolution]:
    """Resolve every reference of ``scope[0]`` as musl's ``do_relocs`` does; a damaged table raises."""
    main = scope[0]
    assert main is not None
    search = _Search(scope, libc, tolerant=False)
    return [Resolution(ref, *search.find(ref, ref.klass)) for ref in references(main)]


def bind_tolerant(scope: list[ElfObject | None], libc: int | None = None) -> Bound:
    """:func:`bind`, passing over every object whose symbol tables turn out damaged (named in the result)."""
    main = scope[0]
    assert main is not None
    search = _Search(scope, libc, tolerant=True)
    resolutions = [Resolution(ref, *search.find(ref, ref.klass)) for ref in references(main)]
    return Bound(resolutions, search.damaged)
