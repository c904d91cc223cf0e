"""Inputs: files, directories, wheels and installed modules -> audit targets.

A named file must be ELF or a wheel (anything else is an error); under a
directory, non-ELF files are skipped silently (wheels are opened), symlink
loops and unreadable directories are reported and skipped, and each file is
visited once.  A wheel's ELF members are extracted, keeping the layout, into
a work directory that :func:`collect` removes afterwards; they are reported as
``dist/x.whl!pkg/mod.so``.  ``--module NAME`` finds an installed package
without importing it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from linkaudit.config import is_excluded
from linkaudit.report import ErrorEntry

if TYPE_CHECKING:
    import zipfile

ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True)
class Target:
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


def _magic(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(4)
    except OSError:
        return None


def _is_linked_elf(path: str) -> bool:
    """ELF and not a relocatable object (.o): what a directory scan audits."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(18)
    except OSError:
        return False
    if len(head) < 18 or head[:4] != ELF_MAGIC:
        return False
    e_type = int.from_bytes(head[16:18], "big" if head[5] == 2 else "little")
    return e_type != 1


#: Build-system scratch directories skipped while walking a directory (not when named as an input):
#: CMake's probe executables (CMakeFiles/) and setuptools' object files (build/temp.*).
BUILD_SCRATCH_DIRS = ("CMakeFiles", "temp.*")


@contextmanager
def collect(paths: Iterable[str], exclude: tuple[str, ...] = (), modules: Iterable[str] = (),
            skip_dirs: tuple[str, ...] = BUILD_SCRATCH_DIRS) -> Iterator[tuple[list[Target], list[ErrorEntry]]]:
    """Expand every input; wheel members live in a work directory removed on exit."""
    with tempfile.TemporaryDirectory(prefix="linkaudit-") as workdir:
        targets: list[Target] = []
        errors: list[ErrorEntry] = []
        for item in iter_targets(paths, exclude, modules=modules, workdir=workdir, skip_dirs=skip_dirs):
            if isinstance(item, ErrorEntry):
                errors.append(item)
            else:
                targets.append(item)
        yield targets, errors


def iter_targets(paths: Iterable[str], exclude: tuple[str, ...] = (), modules: Iterable[str] = (),
                 workdir: str | None = None,
                 skip_dirs: tuple[str, ...] = BUILD_SCRATCH_DIRS) -> Iterator[Target | ErrorEntry]:
    """Expand command-line inputs in order, then ``modules``; errors are yielded, never raised.

    Paths matching an ``exclude`` glob (``[tool.linkaudit] exclude``) are skipped silently,
    and so are subdirectories whose name matches a ``skip_dirs`` glob while walking.
    Wheels are extracted under ``workdir``, which the caller removes (see :func:`collect`).
    """
    seen: set[tuple[int, int]] = set()
    wheels = _Wheels(workdir)
    for raw in paths:
        path = str(raw)
        if exclude and is_excluded(path, exclude):
            continue
        if not os.path.lexists(path):
            yield ErrorEntry(path, "no such file or directory")
            continue
        if os.path.isdir(path):
            yield from _walk(path, seen, exclude, wheels, skip_dirs)
            continue
        if not os.path.exists(path):
            yield ErrorEntry(path, "broken symbolic link")
            continue
        if not os.access(path, os.R_OK):
            yield ErrorEntry(path, "cannot read file: permission denied")
            continue
        if not os.path.isfile(path):
            yield ErrorEntry(path, "not a regular file")
            continue
        head = _magic(path)
        if head is None:
            yield ErrorEntry(path, "cannot read file")
        elif path.endswith(".whl"):
            yield from wheels.expand(path)
        elif head != ELF_MAGIC:
            yield ErrorEntry(path, "not an ELF file")
        else:
            st = os.stat(path)
            key = (st.st_dev, st.st_ino)
            if key not in seen:
                seen.add(key)
                yield Target(Path(path), path)
    for name in modules:
        yield from _module(name, seen)


def _walk(top: str, seen: set[tuple[int, int]], exclude: tuple[str, ...] = (),
          wheels: _Wheels | None = None, skip_dirs: tuple[str, ...] = ()) -> Iterator[Target | ErrorEntry]:
    """Depth-first, sorted, following directory symlinks once.

    A symlink back to one of its own ancestors is a loop and is reported; one
    to a directory already scanned elsewhere (``icu/current -> 72.1``) is
    skipped silently, its files having been audited once already.
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
        if key in ancestors:
            yield ErrorEntry(directory, "symbolic link loop (points back to a parent directory); skipped")
            continue
        if key in visited_dirs:
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
            try:
                if entry.is_dir():
                    if not any(fnmatchcase(entry.name, pattern) for pattern in skip_dirs):
                        subdirs.append(entry.path)
                    continue
                if not entry.is_file():
                    continue
                est = entry.stat()
            except OSError:
                continue
            fkey = (est.st_dev, est.st_ino)
            if fkey in seen:
                continue
            if wheels is not None and entry.name.endswith(".whl"):
                seen.add(fkey)
                yield from wheels.expand(entry.path)
                continue
            if not _is_linked_elf(entry.path):
                continue
            seen.add(fkey)
            yield Target(Path(entry.path), entry.path)
        inside = ancestors | {key}
        stack.extend((sub, inside) for sub in reversed(subdirs))


class _Wheels:
    """Extracts the ELF members of wheels, one subdirectory of ``workdir`` per wheel."""

    def __init__(self, workdir: str | None) -> None:
        self.workdir = workdir
        self.count = 0

    def expand(self, path: str) -> Iterator[Target | ErrorEntry]:
        if self.workdir is None:
            yield ErrorEntry(path, "wheels can only be audited through linkaudit.inputs.collect()")
            return
        import shutil  # imported here: zipfile (bz2, lzma, ...) costs a one-file audit ~5 ms
        import zipfile

        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            yield ErrorEntry(path, "not a wheel (not a zip archive)")
            return
        except (OSError, ValueError, EOFError) as exc:
            yield ErrorEntry(path, f"cannot read wheel: {exc}")
            return
        self.count += 1
        dest = os.path.join(self.workdir, f"{self.count}-{os.path.basename(path)}")
        found: list[tuple[str, str]] = []
        with archive:
            try:
                for info in archive.infolist():
                    rel = _safe_member(info)
                    if rel is None:
                        continue
                    with archive.open(info) as src:
                        if src.read(4) != ELF_MAGIC:
                            continue
                    out = os.path.join(dest, *rel.split("/"))
                    os.makedirs(os.path.dirname(out), exist_ok=True)
                    with archive.open(info) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)  # streamed: never a whole library in memory
                    found.append((out, rel))
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
                    NotImplementedError, RuntimeError) as exc:
                yield ErrorEntry(path, f"damaged wheel ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
                return
        if not found:
            yield ErrorEntry(path, "wheel contains no ELF objects")
            return
        for out, rel in sorted(found, key=lambda f: f[1]):
            yield Target(Path(out), f"{path}!{rel}", alias=(dest, f"{path}!"))


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
