"""The wheel report: which libraries a wheel vendors, and which of them it could shed.

auditwheel copies every library an extension's DT_NEEDED names into
``pkg.libs/``, used or not, and every download carries them.  The members of
a wheel are audited one by one like any other object; this module puts the
answers together per wheel:

* the **entry points** are the members nothing else in the wheel loads
  (extension modules, programs), Python extensions always among them;
* the **vendored** libraries are the other ELF members: those in a ``*.libs/``
  directory and those another member loads;
* a vendored library is ``needed`` when a chain of *used* dependencies leads
  to it from an entry point (each member was audited as an object of its own,
  so every link of the chain has a status: the extension uses libtiff, libtiff
  uses libzstd); ``unneeded`` when entry points load it but only through an
  unused or incidental dependency somewhere on the way (the extension links
  libunused; or a used library links libsub without using it); ``unloaded``
  when no entry point loads it at all (it may still be ``dlopen()``-ed or
  loaded with ctypes: check before dropping it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from linkaudit.inputs import Target
from linkaudit.report import ErrorEntry, ObjectReport, Status, VendoredLibrary, VendoredStatus, WheelReport

_ORDER = {VendoredStatus.UNNEEDED: 0, VendoredStatus.UNLOADED: 1, VendoredStatus.NEEDED: 2}


def in_libs_dir(member: str) -> bool:
    """auditwheel's layout: ``pkg.libs/`` next to the package (``pkg/.libs/`` in older versions)."""
    return any(part == ".libs" or part.endswith(".libs") for part in PurePosixPath(member).parts[:-1])


def wheel_reports(targets: Sequence[Target], outcomes: Sequence[ObjectReport | ErrorEntry]) -> tuple[WheelReport, ...]:
    """One :class:`WheelReport` per wheel among ``targets`` (``outcomes`` in the same order).

    Must run while the wheels' extracted members still exist (inside
    :func:`linkaudit.inputs.collect`): sizes are read from them.
    """
    groups: dict[str, list[tuple[Target, ObjectReport | ErrorEntry]]] = {}
    for target, outcome in zip(targets, outcomes):
        if target.alias is not None and target.alias[1].endswith(".whl!"):
            groups.setdefault(target.alias[1], []).append((target, outcome))
    return tuple(_one(prefix, members) for prefix, members in groups.items())


def _one(prefix: str, members: list[tuple[Target, ObjectReport | ErrorEntry]]) -> WheelReport:
    wheel = prefix[:-1]
    names = {t.display[len(prefix):]: (t, o) for t, o in members}
    loaded_by_other: set[str] = set()
    for name, (_t, outcome) in names.items():
        if isinstance(outcome, ObjectReport):
            for lib in outcome.loaded:
                path = str(lib.path)
                if path.startswith(prefix) and path[len(prefix):] != name:
                    loaded_by_other.add(path[len(prefix):])
    vendored = [n for n, (_t, o) in names.items()
                if not (isinstance(o, ObjectReport) and o.is_python_extension)
                and (in_libs_dir(n) or n in loaded_by_other)]
    roots = [(n, o) for n, (_t, o) in names.items() if n not in vendored and isinstance(o, ObjectReport)]
    reached = {root: _used_closure(prefix, root, names) for root, _o in roots}
    closure = {root: {str(lib.path) for lib in obj.loaded} for root, obj in roots}
    unused_by: dict[str, list[str]] = {}  # member -> the members that link it for nothing
    for name, (_t, outcome) in names.items():
        if isinstance(outcome, ObjectReport):
            for n in outcome.needed:
                if n.status in (Status.UNUSED, Status.INCIDENTAL) and n.path is not None \
                        and str(n.path).startswith(prefix):
                    unused_by.setdefault(str(n.path)[len(prefix):], []).append(name)
    compressed = _compressed_sizes(wheel)
    out: list[VendoredLibrary] = []
    for name in vendored:
        full = prefix + name
        loaders = tuple(root for root, _o in roots if full in closure[root])
        users = tuple(root for root in loaders if name in reached[root])
        status = (VendoredStatus.NEEDED if users else VendoredStatus.UNNEEDED if loaders
                  else VendoredStatus.UNLOADED)
        size = _size(names[name][0])
        out.append(VendoredLibrary(name, size, compressed.get(name, size), status, loaders, users,
                                   tuple(unused_by.get(name, ()))))
    out.sort(key=lambda v: (_ORDER[v.status], -v.size, v.name))
    return WheelReport(wheel, tuple(out))


def _used_closure(prefix: str, root: str, names: dict[str, tuple[Target, ObjectReport | ErrorEntry]]) -> set[str]:
    """The members ``root`` needs: its used dependencies, their used dependencies, and so on.

    Every member was audited as an object of its own, so each step reads that
    member's statuses; a member that could not be audited counts all it loads as used.
    """
    seen: set[str] = set()
    stack = [root]
    while stack:
        outcome = names[stack.pop()][1]
        if isinstance(outcome, ObjectReport):
            nexts = [str(n.path) for n in outcome.needed if n.status is Status.USED and n.path is not None]
        else:
            nexts = [prefix + m for m in names]  # unknown: keep everything it might load
        for path in nexts:
            member = path[len(prefix):] if path.startswith(prefix) else None
            if member is not None and member in names and member not in seen:
                seen.add(member)
                stack.append(member)
    return seen


def _size(target: Target) -> int:
    try:
        return target.path.stat().st_size
    except OSError:
        return 0


def _compressed_sizes(wheel: str) -> dict[str, int]:
    """Member name -> bytes in the archive (what it adds to every download)."""
    import zipfile

    try:
        with zipfile.ZipFile(wheel) as archive:
            return {info.filename: info.compress_size for info in archive.infolist()}
    except (OSError, zipfile.BadZipFile, ValueError):
        return {}
