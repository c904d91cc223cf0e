"""Inputs: files, directories, wheels and installed modules -> audit targets.

A named file must be a linked ELF object or a wheel (anything else, a core
dump included, is an error); under a directory, non-ELF files and ``.o`` files
are skipped silently (wheels are opened), unreadable directories and files
are reported, and each file and directory is visited once (a symlink loop such
as Debian's ``/usr/bin/X11 -> .`` leads back to a directory already walked).  Files are
opened without blocking (a FIFO never hangs the walk).  A wheel's ELF members
are extracted, streamed and within a byte and entry budget, keeping the layout,
into a work directory that :func:`collect` removes afterwards; they are
reported as ``dist/x.whl!pkg/mod.so``.  ``--module NAME`` finds an installed
package without importing it.  Under ``--root`` every link inside the image is
followed inside it (:mod:`linkaudit.sysroot`).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, NamedTuple

from linkaudit.config import is_excluded
from linkaudit.elf import ELF_MAGIC, ET_DYN, ET_EXEC, ET_REL, NOT_LINKED_TYPES
from linkaudit.report import ErrorEntry
from linkaudit.sysroot import Sysroot

if TYPE_CHECKING:
    import zipfile


class Target(NamedTuple):
    """One ELF object to audit: where it is on disk and how the report names it."""

    path: Path
    display: str
    # (directory on disk, how reports name it): set for wheel members, whose
    # dependencies inside the same wheel are renamed the same way
    alias: tuple[str, str] | None = None

    def rename(self, path: str) -> str:
        """A path as the report should show it (wheel members by their name in the wheel)."""
        if self.alias and path.startswith(self.alias[0] + "/"):
            return self.alias[1] + os.path.normpath(path[len(self.alias[0]) + 1 :])
        return path


_LINKER_SCRIPT_STARTS = (b"/* GNU ld script", b"INPUT", b"GROUP", b"OUTPUT_FORMAT")


def _not_elf(head: bytes) -> str:
    """Why a named file is refused: a linker script (``libc.so``) is said to be one."""
    if head.lstrip().startswith(_LINKER_SCRIPT_STARTS):
        return "a linker script (text for ld), not an ELF file: ld.so never loads it"
    return "not an ELF file"


def _head(path: str) -> bytes:
    """The first 18 bytes (ELF ident, e_type); never blocks on a FIFO swapped in meanwhile."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        return os.read(fd, 18)
    finally:
        os.close(fd)


def _sniff(path: str) -> tuple[tuple[int, int], bool]:
    """The file's identity (device, inode) and whether it is ELF and not a relocatable object (.o).

    What a directory scan audits.  Other files that are not linked objects
    (core dumps, ET_NONE) are audited so that they are reported as such, like
    a damaged header.  One open, one fstat, one read: the walk does this for
    every file under the tree.  Raises OSError when the file cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO must not block the walk
    try:
        st = os.fstat(fd)
        head = os.read(fd, 18) if stat.S_ISREG(st.st_mode) else b""
    finally:
        os.close(fd)
    linked = len(head) == 18 and head[:4] == ELF_MAGIC and \
        int.from_bytes(head[16:18], "big" if head[5] == 2 else "little") != ET_REL
    return (st.st_dev, st.st_ino), linked


def _is_linked_elf(path: str) -> bool:
    """:func:`_sniff`'s verdict; a file that cannot be opened counts as "no"."""
    try:
        return _sniff(path)[1]
    except OSError:
        return False


def not_linked_reason(head: bytes) -> str | None:
    """Why an ELF header (its first 18 bytes) is not a linked object ld.so could load; None if it is."""
    e_type = int.from_bytes(head[16:18], "big" if head[5] == 2 else "little")
    if e_type in (ET_EXEC, ET_DYN):
        return None
    return NOT_LINKED_TYPES.get(e_type, f"e_type {e_type:#x}, not ET_EXEC or ET_DYN")


#: Build-system scratch directories skipped while walking a directory (not when named as an input):
#: CMake's probe executables (CMakeFiles/) and setuptools' object files (build/temp.*).
BUILD_SCRATCH_DIRS = ("CMakeFiles", "temp.*")


@contextmanager
def collect(paths: Iterable[str], exclude: tuple[str, ...] = (), modules: Iterable[str] = (),
            skip_dirs: tuple[str, ...] = BUILD_SCRATCH_DIRS,
            root: str | None = None) -> Iterator[tuple[list[Target], list[ErrorEntry]]]:
    """Expand every input; wheel members live in a work directory removed on exit.

    Under ``root`` (``--root``), links met inside the image are resolved inside it.
    """
    with walking(paths, exclude, modules, skip_dirs, root) as (found, targets, errors):
        for _ in found:  # the whole walk first
            pass
        yield targets, errors


@contextmanager
def walking(paths: Iterable[str], exclude: tuple[str, ...] = (), modules: Iterable[str] = (),
            skip_dirs: tuple[str, ...] = BUILD_SCRATCH_DIRS,
            root: str | None = None) -> Iterator[tuple[Iterator[Target], list[Target], list[ErrorEntry]]]:
    """:func:`collect` as the walk goes: (the targets as they are found, those found so far, the errors so far).

    A run can start auditing the first objects while the walk goes on (the
    lists are complete once the iterator is exhausted); wheel members live in
    a work directory removed on exit.
    """
    workdir = _LazyWorkdir()
    targets: list[Target] = []
    errors: list[ErrorEntry] = []

    def found() -> Iterator[Target]:
        for item in iter_targets(paths, exclude, modules=modules, workdir=workdir, skip_dirs=skip_dirs, root=root):
            if isinstance(item, ErrorEntry):
                errors.append(item)
            else:
                targets.append(item)
                yield item

    try:
        yield found(), targets, errors
    finally:
        workdir.cleanup()


class _LazyWorkdir:
    """A temporary directory made the first time a wheel asks for one.

    Most runs audit no wheel: they import no :mod:`tempfile` and create nothing.
    SIGTERM and SIGHUP (turned into exceptions by the CLI) are held back while it
    is made, so an interruption never leaves the probe file or the directory behind.
    """

    def __init__(self) -> None:
        self._dir = None

    def __call__(self) -> str:
        if self._dir is None:
            import signal
            import tempfile
            import threading

            held = {signal.SIGTERM, signal.SIGHUP}
            main = threading.current_thread() is threading.main_thread()
            old = signal.pthread_sigmask(signal.SIG_BLOCK, held) if main else None
            try:
                self._dir = tempfile.TemporaryDirectory(prefix="linkaudit-")
            finally:
                if old is not None:
                    signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return self._dir.name

    def cleanup(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()


def iter_targets(paths: Iterable[str], exclude: tuple[str, ...] = (), modules: Iterable[str] = (),
                 workdir: str | Callable[[], str] | None = None, skip_dirs: tuple[str, ...] = BUILD_SCRATCH_DIRS,
                 root: str | None = None) -> Iterator[Target | ErrorEntry]:
    """Expand command-line inputs in order, then ``modules``; errors are yielded, never raised.

    Paths matching an ``exclude`` glob (``[tool.linkaudit] exclude``) are skipped silently,
    and so are subdirectories whose name matches a ``skip_dirs`` glob while walking.
    Wheels are extracted under ``workdir`` (or the directory it returns when called, made
    on demand), which the caller removes (see :func:`collect`).
    Under ``root``, a path inside the image is opened where the image's links lead inside it.
    """
    seen: set[tuple[int, int]] = set()
    wheels = _Wheels(workdir)
    image = Sysroot(root)
    for raw in paths:
        display = str(raw)
        if exclude and is_excluded(display, exclude):
            continue
        if not display:  # an unset shell variable: "" names no file, and nothing to walk
            yield ErrorEntry(display, "empty path")
            continue
        path = image.inside(display)
        if not os.path.lexists(path):
            yield ErrorEntry(display, "no such file or directory")
            continue
        if os.path.isdir(path):
            yield from _walk(path, seen, exclude, wheels, skip_dirs, image)
            continue
        if not os.path.exists(path):
            yield ErrorEntry(display, "broken symbolic link")
            continue
        if not os.path.isfile(path):
            yield ErrorEntry(display, "not a regular file")
            continue
        try:
            head = _head(path)
        except OSError as exc:
            yield ErrorEntry(display, f"cannot read file: {(exc.strerror or str(exc)).lower()}")
            continue
        if path.endswith(".whl"):
            yield from wheels.expand(path, display)
        elif head[:4] != ELF_MAGIC:
            yield ErrorEntry(display, _not_elf(head))
        elif len(head) < 18:
            yield ErrorEntry(display, "truncated ELF header")
        elif (why := not_linked_reason(head)) is not None:
            yield ErrorEntry(display, f"not a linked object: {why}; nothing to audit")
        else:
            st = os.stat(path)
            key = (st.st_dev, st.st_ino)
            if key not in seen:
                seen.add(key)
                yield Target(Path(path), display)
    for name in modules:
        yield from _module(name, seen)


def _walk(top: str, seen: set[tuple[int, int]], exclude: tuple[str, ...] = (),
          wheels: _Wheels | None = None, skip_dirs: tuple[str, ...] = (),
          image: Sysroot | None = None) -> Iterator[Target | ErrorEntry]:
    """Depth-first, sorted, following directory symlinks once.

    Inside an ``image`` (``--root``) a symbolic link is followed as a chroot
    would (absolute targets restart at the image's root, ``..`` stops there),
    so the walk never leaves the image.

    A symlink to a directory already walked is skipped silently, its files
    having been audited once already: one elsewhere (``icu/current -> 72.1``)
    and one back to its own ancestor (a loop: Debian's ``/usr/bin/X11 -> .``)
    alike.  Nothing is lost, so a loop is no error: ``linkaudit /usr/bin``
    must not fail the gate with exit 2 on every Debian system.
    """
    visited_dirs: set[tuple[int, int]] = set()
    stack: list[tuple[str, frozenset[tuple[int, int]]]] = [(top, frozenset())]
    while stack:
        directory, ancestors = stack.pop()
        try:
            st = os.stat(directory)
        except OSError as exc:
            yield ErrorEntry(directory, f"cannot read directory: {exc.strerror}")
            continue
        key = (st.st_dev, st.st_ino)
        if key in ancestors or key in visited_dirs:  # a loop, or a second way in: walked already
            continue
        visited_dirs.add(key)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            yield ErrorEntry(directory, f"cannot read directory: {exc.strerror}")
            continue
        subdirs = []
        for entry in entries:
            if exclude and is_excluded(entry.path, exclude, top):
                continue
            where = entry.path
            try:
                if image is not None and image.root is not None and entry.is_symlink() and image.contains(where):
                    where = image.inside(where)  # the link's target inside the image, never on this machine
                    est = os.stat(where)
                    if stat.S_ISDIR(est.st_mode):
                        if not any(fnmatchcase(entry.name, pattern) for pattern in skip_dirs):
                            subdirs.append(where)
                        continue
                    if not stat.S_ISREG(est.st_mode):
                        continue
                else:
                    if entry.is_dir():
                        if not any(fnmatchcase(entry.name, pattern) for pattern in skip_dirs):
                            subdirs.append(where)
                        continue
                    if not entry.is_file():
                        continue
                    est = None
            except OSError:
                continue
            yield from _file(entry, where, est, seen, wheels)
        inside = ancestors | {key}
        stack.extend((sub, inside) for sub in reversed(subdirs))


def _file(entry: os.DirEntry, where: str, est: os.stat_result | None, seen: set[tuple[int, int]],
          wheels: _Wheels | None) -> Iterator[Target | ErrorEntry]:
    """One regular file met by the walk (``est``: its stat when already made): a wheel, an object, an error, or nothing."""
    if wheels is not None and entry.name.endswith(".whl"):
        try:
            est = est or os.stat(where)
        except OSError:
            return
        if (est.st_dev, est.st_ino) not in seen:
            seen.add((est.st_dev, est.st_ino))
            yield from wheels.expand(where)
        return
    try:
        key, linked = _sniff(where)
    except OSError as exc:  # an unreadable file may be an object: say so rather than skip it
        try:
            est = est or os.stat(where)
        except OSError:
            return  # gone meanwhile
        if (est.st_dev, est.st_ino) not in seen:
            yield ErrorEntry(entry.path, f"cannot read file: {(exc.strerror or str(exc)).lower()}")
        return
    if linked and key not in seen:
        seen.add(key)
        yield Target(Path(where), entry.path)


# Wheels are untrusted archives: bounds on what one may make us extract.
WHEEL_MAX_ENTRIES = 100_000  # central-directory entries read (a wheel of torch has about 15,000)
WHEEL_MAX_BYTES = 8 << 30  # total bytes extracted from one wheel, at most ...
WHEEL_MAX_RATIO = 100  # ... and at most this many times the wheel's own size (plus 64 MiB)
WHEEL_SLACK = 64 << 20


class _Wheels:
    """Extracts the ELF members of wheels, one subdirectory of ``workdir`` per wheel.

    Only members that start with the ELF magic are written, each once (a
    central directory listing one member several times, or two members sharing
    their data, is refused), streamed in 1 MiB blocks, and never more bytes in
    total than :func:`wheel_budget` allows: a zip bomb ends as one error line.
    """

    def __init__(self, workdir: str | Callable[[], str] | None) -> None:
        self.workdir = workdir
        self.count = 0

    def expand(self, path: str, display: str | None = None) -> Iterator[Target | ErrorEntry]:
        display = display or path
        if self.workdir is None:
            yield ErrorEntry(display, "wheels can only be audited through linkaudit.inputs.collect()")
            return
        import zipfile  # imported here: zipfile (bz2, lzma, ...) costs a one-file audit ~5 ms

        try:
            size = os.stat(path).st_size
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            yield ErrorEntry(display, "not a wheel (not a zip archive)")
            return
        except (OSError, ValueError, EOFError, RuntimeError, NotImplementedError) as exc:
            yield ErrorEntry(display, f"cannot read wheel: {_first_line(exc)}")
            return
        self.count += 1
        workdir = self.workdir() if callable(self.workdir) else self.workdir
        dest = os.path.join(workdir, f"{self.count}-{os.path.basename(path)}")
        found: list[tuple[str, str]] = []
        budget = wheel_budget(size)
        with archive:
            try:
                infos = archive.infolist()
                if len(infos) > WHEEL_MAX_ENTRIES:
                    yield ErrorEntry(display, f"wheel lists {len(infos)} entries; the limit is {WHEEL_MAX_ENTRIES}")
                    return
                offsets: set[int] = set()
                names: set[str] = set()
                for info in infos:
                    rel = _safe_member(info)
                    if rel is None or info.file_size == 0:
                        continue
                    if info.header_offset in offsets or rel in names:
                        yield ErrorEntry(display, f"damaged wheel (member {rel} is listed more than once)")
                        return
                    offsets.add(info.header_offset)
                    names.add(rel)
                    with archive.open(info) as src:
                        head = src.read(4)
                        if head != ELF_MAGIC:
                            continue
                        out = os.path.join(dest, *rel.split("/"))
                        os.makedirs(os.path.dirname(out), exist_ok=True)
                        with open(out, "xb") as dst:
                            dst.write(head)
                            budget -= len(head)
                            while block := src.read(1 << 20):  # streamed: never a whole library in memory
                                budget -= len(block)
                                if budget < 0:
                                    yield ErrorEntry(display, "wheel expands to more than "
                                                     f"{wheel_budget(size)} bytes of ELF objects "
                                                     f"(limit: {WHEEL_MAX_RATIO} x its size + 64 MiB, "
                                                     f"at most {WHEEL_MAX_BYTES >> 30} GiB); not audited")
                                    return
                                dst.write(block)
                    found.append((out, rel))
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
                    NotImplementedError, RuntimeError) as exc:
                yield ErrorEntry(display, f"damaged wheel ({_first_line(exc)})")
                return
        if not found:
            yield ErrorEntry(display, "wheel contains no ELF objects")
            return
        for out, rel in sorted(found, key=lambda f: f[1]):
            yield Target(Path(out), f"{display}!{rel}", alias=(dest, f"{display}!"))


def wheel_budget(size: int) -> int:
    """How many bytes of ELF members a wheel of ``size`` bytes may extract."""
    return min(WHEEL_MAX_BYTES, WHEEL_SLACK + WHEEL_MAX_RATIO * size)


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text.strip() else type(exc).__name__


def _safe_member(info: zipfile.ZipInfo) -> str | None:
    """A member's relative path, or None for directories and names that would escape the extraction dir."""
    if info.is_dir():
        return None
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or any(p in ("..", ".", "") for p in parts) or "\0" in name:
        return None
    return "/".join(parts)


def _module(name: str, seen: set[tuple[int, int]]) -> Iterator[Target | ErrorEntry]:
    """The ELF files of an installed module or package, found without importing anything.

    Only the top-level name goes through ``importlib.util.find_spec`` (which,
    for a top-level name, asks the path finders and imports nothing); dotted
    names are then followed through the package directories by hand, because
    ``find_spec("a.b")`` would import ``a``.
    """
    label = f"--module {name}"
    parts = name.split(".")
    if not all(p.isidentifier() for p in parts):
        yield ErrorEntry(label, "not a valid module name")
        return
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError, AttributeError) as exc:
        yield ErrorEntry(label, f"cannot look up module: {exc}")
        return
    if spec is None:
        yield ErrorEntry(label, "no such module is installed")
        return
    if spec.origin in ("built-in", "frozen") or (spec.origin is None and not spec.submodule_search_locations):
        yield ErrorEntry(label, "built into the interpreter: no file to audit")
        return
    locations = list(spec.submodule_search_locations or [])
    files: list[str] = [] if locations else [spec.origin or ""]
    for i, part in enumerate(parts[1:], 1):
        if not locations:
            yield ErrorEntry(label, f"{'.'.join(parts[:i])} is a module, not a package")
            return
        subdirs: list[str] = []
        files = []
        regular: str | None = None
        for loc in locations:  # FileFinder's order: package dir, then module file, then namespace portion
            sub = os.path.join(loc, part)
            is_dir = os.path.isdir(sub)
            if is_dir and any(os.path.isfile(os.path.join(sub, "__init__" + sfx))
                              for sfx in importlib.machinery.all_suffixes()):
                regular = sub
                break
            files = [sub + sfx for sfx in importlib.machinery.all_suffixes() if os.path.isfile(sub + sfx)][:1]
            if files:
                break
            if is_dir:
                subdirs.append(sub)
        if regular is not None:
            files, subdirs = [], [regular]
        if not subdirs and not files:
            yield ErrorEntry(label, "no such module is installed")
            return
        locations = [] if files else subdirs
    if len(parts) == 1:
        for loc in list(locations):  # auditwheel vendors a package's libraries in a sibling <name>.libs
            sibling = os.path.join(os.path.dirname(loc), f"{parts[0]}.libs")
            if os.path.isdir(sibling) and sibling not in locations:
                locations.append(sibling)
    count = 0
    for loc in locations:
        for item in _walk(loc, seen):
            count += isinstance(item, Target)
            yield item
    for path in files:
        if path and _is_linked_elf(path):
            st = os.stat(path)
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                count += 1
                yield Target(Path(path), path)
    if not count:
        yield ErrorEntry(label, "no ELF objects in this module (pure Python?)")
