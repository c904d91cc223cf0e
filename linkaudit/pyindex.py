"""Libraries that live only inside installed Python packages (linkaudit's own last rule).

``torch/lib/libc10.so`` loads for an extension only because ``import torch``
loaded it first; ld.so itself would not find it.  The index of such files is
built once per run, three directory levels deep into each site-packages.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def site_dirs() -> tuple[str, ...]:
    """This interpreter's site-packages / dist-packages directories."""
    return tuple(p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and os.path.isdir(p))


class PackageIndex:
    """Shared-library file names under a set of site-packages directories, indexed on first use."""

    def __init__(self, roots: tuple[str, ...]) -> None:
        self.roots = roots
        self._index: dict[str, list[Path]] | None = None

    def candidates(self, name: str) -> list[Path]:
        if self._index is None:
            index: dict[str, list[Path]] = {}
            for root in self.roots:
                _index_tree(root, index, depth=3)
            self._index = index
        return self._index.get(name, [])


def python_package_of(directory: Path) -> str | None:
    """The top-level importable name a directory inside site-packages belongs to (``torch.libs`` -> torch)."""
    parts = directory.parts
    for i, part in enumerate(parts):
        if part in ("site-packages", "dist-packages") and i + 1 < len(parts):
            top = parts[i + 1]
            return top[: -len(".libs")] if top.endswith(".libs") else top
    return None


def _index_tree(root: str, index: dict[str, list[Path]], depth: int) -> None:
    """Index the ``*.so*`` files under ``root``; directories as strings, a Path only per library found
    (torch alone has hundreds of header directories in reach)."""
    try:
        with os.scandir(root) as it:
            entries = list(it)
    except OSError:
        return
    for entry in entries:
        name = entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                if depth > 0 and not name.startswith(("__pycache__", ".")) and not name.endswith(".dist-info"):
                    _index_tree(entry.path, index, depth - 1)
            elif ".so" in name:
                index.setdefault(name, []).append(Path(entry.path))
        except OSError:
            continue
