"""Inputs: files and directories -> audit targets, or one error entry per bad input.

A named file must be ELF (anything else is an error); under a directory,
non-ELF files are skipped silently, symlink loops and unreadable directories
are reported and skipped, and each file is visited once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from linkaudit.report import ErrorEntry

ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True)
class Target:
    """One ELF object to audit: where it is on disk and how the report names it."""

    path: Path
    display: str


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


def iter_targets(paths: Iterable[str]) -> Iterator[Target | ErrorEntry]:
    """Expand command-line inputs in order; errors are yielded, never raised."""
    seen: set[tuple[int, int]] = set()
    for raw in paths:
        path = str(raw)
        if not os.path.lexists(path):
            yield ErrorEntry(path, "no such file or directory")
            continue
        if os.path.isdir(path):
            yield from _walk(path, seen)
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
        elif head != ELF_MAGIC:
            yield ErrorEntry(path, "not an ELF file")
        else:
            st = os.stat(path)
            key = (st.st_dev, st.st_ino)
            if key not in seen:
                seen.add(key)
                yield Target(Path(path), path)


def _walk(top: str, seen: set[tuple[int, int]]) -> Iterator[Target | ErrorEntry]:
    """Depth-first, sorted, following directory symlinks once (loops are reported)."""
    visited_dirs: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        directory = stack.pop()
        try:
            st = os.stat(directory)
        except OSError as exc:
            yield ErrorEntry(directory, f"cannot read directory: {exc.strerror}")
            continue
        key = (st.st_dev, st.st_ino)
        if key in visited_dirs:
            yield ErrorEntry(directory, "symbolic link loop (directory already visited); skipped")
            continue
        visited_dirs.add(key)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            yield ErrorEntry(directory, f"cannot read directory: {exc.strerror}")
            continue
        subdirs = []
        for entry in entries:
            try:
                if entry.is_dir():
                    subdirs.append(entry.path)
                    continue
                if not entry.is_file():
                    continue
                est = entry.stat()
            except OSError:
                continue
            fkey = (est.st_dev, est.st_ino)
            if fkey in seen or not _is_linked_elf(entry.path):
                continue
            seen.add(fkey)
            yield Target(Path(entry.path), entry.path)
        stack.extend(reversed(subdirs))
