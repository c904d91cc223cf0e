"""RPATH hygiene: DT_RPATH/DT_RUNPATH elements that are unsafe or do not survive relocation.

The loader searches these directories before the system's own, so an element
that points somewhere an attacker or a stranger's file system controls is a
library-hijacking hole, and one that points into the builder's tree breaks as
soon as the files move.  Each element is judged after the loader's own
dynamic-string-token expansion (``$ORIGIN``, ``$LIB``, ``$PLATFORM``), with
the loader's default directories, under ``--root`` when one is given:

* ``empty``: an empty element is the process's current directory;
* ``relative``: a relative element without ``$ORIGIN`` is resolved against the
  current directory too, not against the object;
* ``absolute``: an absolute directory outside the system directories (the
  loader's defaults, ld.so.conf's and ld.so.cache's directories, and their
  subdirectories) and outside the object's own package;
* ``world_writable``: the directory is world-writable, or does not exist and
  anyone may create it, or a parent is world-writable without the sticky bit;
* ``outside_package``: an ``$ORIGIN`` element that climbs out of the wheel or
  the site-packages tree the object is installed in;
* ``nonexistent``: an absolute directory that does not exist;
* ``rpath_not_runpath``: DT_RPATH (searched before LD_LIBRARY_PATH, inherited
  by every library the object loads) where no library of the closure is found
  through the inheritance, so DT_RUNPATH would do.  Not flagged when every
  element is ``$ORIGIN`` inside the package: auditwheel writes DT_RPATH on
  purpose there, so that LD_LIBRARY_PATH cannot replace the vendored copies.

System directories and ``$ORIGIN`` elements inside the package are never findings.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from collections.abc import Iterable

from linkaudit.elf import ElfObject
from linkaudit.errors import ConfigError
from linkaudit.loader import LoadedObject, Loader, LoadResult
from linkaudit.report import FoundVia, RpathFinding, RpathKind
from linkaudit.smallfile import read_bounded

_ORIGIN_TOKENS = ("$ORIGIN", "${ORIGIN}")
_LD_SO_CONF = "/etc/ld.so.conf"


def package_root(path: str, wheel_root: str | None = None) -> str | None:
    """The tree an object ships in: the extracted wheel, or the site-packages it is installed in; else None."""
    if wheel_root is not None:
        return os.path.normpath(os.path.abspath(wheel_root))
    parts = os.path.abspath(path).split(os.sep)
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] in ("site-packages", "dist-packages"):
            return os.sep.join(parts[: i + 1])
    return None


def rpath_findings(elf: ElfObject, main: LoadedObject, loader: Loader, result: LoadResult | None = None,
                   root: str | None = None, display_root: str | None = None,
                   musl_system: str | None = None) -> tuple[RpathFinding, ...]:
    """Every finding for the DT_RPATH or DT_RUNPATH of ``elf`` (loaded as ``main``).

    ``root`` is the object's package root (:func:`package_root`); ``display_root``
    is how messages name it (``x.whl!`` for wheel members, whose extraction
    directory must not leak into the report).  ``musl_system`` (musl's system
    path list) judges the object by musl's loader instead: it skips empty
    elements, expands only ``$ORIGIN``, and treats DT_RPATH and DT_RUNPATH
    alike (both inherited), so ``empty`` and ``rpath_not_runpath`` do not apply.
    """
    runpath, rpath = elf.runpath, elf.rpath
    text, tag = (runpath, "RUNPATH") if runpath is not None else (rpath, "RPATH")
    if text is None:
        return ()
    if musl_system is not None:
        from linkaudit.musl import _fixup_rpath

        if _fixup_rpath(text, main.path) is None:
            return ()  # musl drops the whole path when it holds a token other than $ORIGIN: nothing searched
        system = tuple(sorted(d.rstrip("/") or "/" for d in re.split(r"[:\n]", musl_system) if d))
    else:
        system = _system_dirs(loader, elf)
    out: list[RpathFinding] = []
    seen: set[str] = set()
    for raw in text.split(":"):
        if raw in seen or (musl_system is not None and not raw):
            continue
        seen.add(raw)
        out.extend(RpathFinding(raw, kind, message, tag)
                   for kind, message in _judge(raw, main, loader, system, root, display_root))
    if musl_system is not None:
        return tuple(out)
    # auditwheel's pattern (every element $ORIGIN inside the wheel, written as DT_RPATH on purpose so that
    # LD_LIBRARY_PATH cannot swap the vendored copies for others) is deliberate, not an oversight
    pinned = root is not None and not out and all(any(t in raw for t in _ORIGIN_TOKENS) for raw in seen)
    if tag == "RPATH" and result is not None and not pinned and not _inherited(result):
        out.append(RpathFinding(text, RpathKind.RPATH_NOT_RUNPATH,
                                "DT_RPATH is searched before LD_LIBRARY_PATH and inherited by every library this "
                                "object loads; none of them finds a library through it, so DT_RUNPATH would do",
                                tag))
    return tuple(out)


def _judge(raw: str, main: LoadedObject, loader: Loader, system: tuple[str, ...], root: str | None,
           display_root: str | None) -> Iterable[tuple[RpathKind, str]]:
    if raw == "":
        yield (RpathKind.EMPTY, "empty element: the loader searches the process's current directory, so whoever "
                                "chooses the working directory at load time can plant a library")
        return
    expanded = loader.expand(raw, main)
    if not expanded:
        return  # the loader drops the element (a token it cannot expand): nothing is searched
    if not expanded.startswith("/"):
        yield (RpathKind.RELATIVE, f"{raw!r} is relative without $ORIGIN: the loader resolves it against the "
                                   "process's current directory, not the object's")
        return
    directory = os.path.normpath(expanded)
    has_origin = any(token in raw for token in _ORIGIN_TOKENS)
    if has_origin:
        if root is not None:
            if not _inside(loader.host_path(directory), root):
                where = display_root or "its package"
                yield (RpathKind.OUTSIDE_PACKAGE, f"{raw!r} climbs out of {where}: it names a directory the "
                                                  "package does not ship, so what is found there depends on "
                                                  "where the package is installed")
            return  # $ORIGIN inside the package: never a finding
        why = _writable_by_others(directory, loader)
        if why:
            yield (RpathKind.WORLD_WRITABLE, why)
        return
    if any(_inside(directory, d) for d in system):
        return
    if root is None or not _inside(loader.host_path(directory), root):
        yield (RpathKind.ABSOLUTE, f"{raw!r} is an absolute directory outside the system directories and outside "
                                   "the object's package: it ships the build machine's layout and breaks when "
                                   "the files move")
    if not os.path.isdir(loader.host_path(directory)):
        yield (RpathKind.NONEXISTENT, f"{raw!r} does not exist" + (" here" if loader.env.root is None else
                                                                     " in the audited root"))
    why = _writable_by_others(directory, loader)
    if why:
        yield (RpathKind.WORLD_WRITABLE, why)


def _inherited(result: LoadResult) -> bool:
    """Whether a library of the closure was found through the main object's DT_RPATH for another requester."""
    main = result.main
    source = f"RPATH of {main.path}"
    for obj in result.searchlist[1:]:
        if obj.found_via is FoundVia.RPATH and obj.loader is not main and obj.searched \
                and obj.searched[-1].source == source:
            return True
    return False


def _inside(path: str, top: str) -> bool:
    top = top.rstrip("/") or "/"
    return path == top or path.startswith(top + "/") or top == "/"


def _system_dirs(loader: Loader, elf: ElfObject) -> tuple[str, ...]:
    dirs = set(loader.default_dirs(elf)) | set(loader.cache_directories(elf))
    dirs |= set(_ld_so_conf(loader))
    return tuple(sorted(d.rstrip("/") or "/" for d in dirs))


_CONF_MEMO: dict[str | None, tuple[str, ...]] = {}
_CONF_LIMIT = 1 << 20  # an ld.so.conf is a few hundred bytes


def _ld_so_conf(loader: Loader) -> tuple[str, ...]:
    """The directories ``/etc/ld.so.conf`` names, following its ``include`` globs (as ldconfig reads it).

    Read through the loader's sysroot (``--root`` is a boundary: links are
    followed as a chroot would) and bounded, never blocking: a FIFO or a huge
    file names no directory.
    """
    root = loader.env.root
    hit = _CONF_MEMO.get(root)
    if hit is not None:
        return hit
    out: list[str] = []

    def read(path: str, depth: int) -> None:
        if depth > 8:
            return
        try:
            text = read_bounded(loader.host_path(path), _CONF_LIMIT, "ld.so.conf").decode("utf-8", "replace")
        except ConfigError:
            return
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("include") and line[7:8].isspace():
                for pattern in line[8:].split():
                    if not pattern.startswith("/"):
                        pattern = os.path.join(os.path.dirname(path), pattern)
                    for match in _glob_in(loader, pattern):
                        read(match, depth + 1)
            elif line.startswith("/"):
                out.append(os.path.normpath(line.split("=", 1)[0]))

    read(_LD_SO_CONF, 0)
    hit = _CONF_MEMO[root] = tuple(out)
    return hit


def _glob_in(loader: Loader, pattern: str) -> list[str]:
    """``pattern``'s matches as the audited system names them (wildcards in the last component only)."""
    import fnmatch  # only ld.so.conf's include lines need it

    directory, name = os.path.split(pattern)
    try:
        entries = sorted(os.listdir(loader.host_path(directory or "/")))
    except OSError:
        return []
    return [os.path.join(directory, e) for e in entries if fnmatch.fnmatchcase(e, name)]


_WRITABLE_MEMO: dict[tuple[str | None, str], str | None] = {}


def _writable_by_others(directory: str, loader: Loader) -> str | None:
    """Why anyone but the owner could put a library into ``directory`` (in the audited system), or None.

    The directory itself world-writable (the sticky bit does not stop new
    files); missing while its nearest existing parent is world-writable (anyone
    can create it); or under a world-writable parent without the sticky bit
    (anyone can rename it away and put their own in its place).
    """
    key = (loader.env.root, directory)
    if key not in _WRITABLE_MEMO:
        _WRITABLE_MEMO[key] = _writable_by_others_uncached(directory, loader)
    return _WRITABLE_MEMO[key]


def _writable_by_others_uncached(directory: str, loader: Loader) -> str | None:
    def st(path: str) -> os.stat_result | None:
        try:
            return os.stat(loader.host_path(path))
        except OSError:
            return None

    here = st(directory)
    if here is not None:
        if not stat.S_ISDIR(here.st_mode):
            return None
        if here.st_mode & stat.S_IWOTH:
            return f"{directory} is world-writable: anyone can put a library there"
    parent = directory
    missing = here is None
    while parent != "/":
        parent = os.path.dirname(parent) or "/"
        info = st(parent)
        if info is None:
            continue
        if missing:
            missing = False
            if info.st_mode & stat.S_IWOTH:
                return (f"{directory} does not exist and {parent} is world-writable: anyone can create it "
                        "and put a library there")
            continue
        if info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX:
            return (f"{parent} is world-writable without the sticky bit: anyone can replace {directory} "
                    "with a directory of their own")
    return None
