"""``--root DIR``: paths of an audited system image mapped onto this machine, as a chroot would.

Every path the audited system names (DT_NEEDED, RPATH/RUNPATH entries,
``ld.so.cache`` entries, symbolic link targets met on the way) is resolved
inside the root: an absolute link target restarts at the root, ``..`` never
climbs above it, and a path relative to the working directory (a relative
RUNPATH entry such as ``""``, ``.`` or ``lib``, or a relative DT_NEEDED
containing ``/``) is taken relative to the image's ``/``: glibc resolves those
against the process's working directory, and a process of the image is taken
to run from its root.  No file outside the root is ever opened for the audit.
"""

from __future__ import annotations

import os

MAX_LINKS = 40  # the kernel's limit on symbolic links followed in one lookup (ELOOP)


def resolve_in_root(root: str, path: str) -> str:
    """``path``, as the audited system names it, resolved inside ``root`` like a chroot.

    A relative ``path`` is relative to the root's ``/``.  A symbolic link loop
    yields a path that cannot exist (inside the root) rather than an escape.
    """
    pending = [p for p in reversed(path.split("/")) if p]
    done: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        here = os.path.join(root, *done, part)
        try:
            target = os.readlink(here)
        except (OSError, ValueError):
            done.append(part)
            continue
        links += 1
        if links > MAX_LINKS:  # ELOOP: name a path that cannot exist rather than escape the root
            return os.path.join(root, ".linkaudit-symlink-loop", *done, part)
        if target.startswith("/"):
            done = []
        pending.extend(p for p in reversed(target.split("/")) if p)
    return os.path.join(root, *done)


class Sysroot:
    """The mapping between an image's paths and this machine's; the identity without a root."""

    def __init__(self, root: str | None) -> None:
        self.root = os.path.abspath(root) if root else None
        self._memo: dict[str, str] = {}

    def host(self, path: str) -> str:
        """Where a path of the audited system lives on this machine (relative: from the image's ``/``)."""
        if self.root is None:
            return path
        hit = self._memo.get(path)
        if hit is None:
            hit = self._memo[path] = resolve_in_root(self.root, path)
        return hit

    def guest(self, path: str) -> str:
        """The in-root name of a file given by its path on this machine (unchanged outside the root)."""
        if self.root is None:
            return path
        full = os.path.abspath(path)
        prefix = self.root.rstrip("/") + "/"
        if full.startswith(prefix):
            return "/" + full[len(prefix):]
        return "/" if full == self.root else path

    def contains(self, path: str) -> bool:
        """Whether a path on this machine lies inside the root (lexically)."""
        if self.root is None:
            return False
        full = os.path.abspath(path)
        return full == self.root or full.startswith(self.root.rstrip("/") + "/")

    def inside(self, path: str) -> str:
        """A host path inside the root with every link in it resolved inside the root."""
        return self.host(self.guest(path)) if self.contains(path) else path
