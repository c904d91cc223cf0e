"""``linkaudit fix --clean-rpath``: drop the flagged RPATH/RUNPATH elements and write DT_RUNPATH.

The new search path is what the RPATH findings leave (:func:`linkaudit.fixes.clean_rpath`):
every flagged element dropped, the others kept in order, stored as DT_RUNPATH.
The result is written next to the destination, re-audited, and moved into place
only if it loads every library from the same file as before and has no RPATH
finding left; pyelftools then reads the tags back.  Any doubt leaves the
original untouched.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path

from linkaudit.objectaudit import audit_object
from linkaudit.errors import RewriteError
from linkaudit.fixer import _copy, moved_origin, source_to_rewrite, write_patched
from linkaudit.fixes import clean_rpath
from linkaudit.inputs import Target
from linkaudit.loader import Loader, LoaderEnv, ObjectCache
from linkaudit.report import ObjectReport


@dataclass(frozen=True)
class SearchPathFix:
    source: Path
    destination: Path | None  # None: nothing to change
    old: str | None
    new: str | None  # None: the tag was deleted
    backup: Path | None = None
    copied: Path | None = None  # nothing to change, and -o OUT received a byte-identical copy


def _audit(path: Path, env: LoaderEnv, display: str | None = None, loader: Loader | None = None) -> ObjectReport:
    loader = loader or Loader(env, ObjectCache())
    return audit_object(Target(path, display or str(path)), loader)


def _resolution(obj: ObjectReport) -> list[tuple[str, str | None]]:
    return [(n.name, str(n.path) if n.path else None) for n in obj.needed] + \
        sorted((lib.name, str(lib.path)) for lib in obj.loaded)


def fix_search_path(source: Path, env: LoaderEnv, output: Path | None = None, in_place: bool = False,
                    backup_suffix: str = ".orig") -> SearchPathFix:
    """Drop the flagged elements of ``source``'s search path; written with ``linkaudit fix``'s safeguards."""
    with source_to_rewrite(source, output, in_place) as (source, fd):
        return _fix_locked(source, fd, env, output, in_place, backup_suffix)


def _fix_locked(source: Path, fd: int, env: LoaderEnv, output: Path | None, in_place: bool,
                backup_suffix: str) -> SearchPathFix:
    from linkaudit.rewrite import plan_search_path

    loader = Loader(env, ObjectCache())
    before = _audit(source, env, loader=loader)
    old = before.runpath if before.runpath is not None else before.rpath
    if not before.rpath_findings:
        if output is not None:  # like `linkaudit fix -o`: OUT always exists afterwards, here as a copy
            _copy(source, fd, output)
        return SearchPathFix(source, None, old, old, copied=output)
    new = clean_rpath(before)
    try:
        data = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:
        raise RewriteError(f"{source}: cannot read: {exc}") from None
    with data:
        try:
            plan = plan_search_path(data, new)
        except RewriteError as exc:
            raise RewriteError(f"{source}: {exc.message}", exc.hint) from None
    dest = output if output is not None else source

    def verify(tmp: Path) -> None:
        after = _audit(tmp, env, display=str(dest), loader=Loader(env, ObjectCache()))
        if _resolution(after) != _resolution(before):
            changed = sorted({name for name, _path in set(_resolution(before)) ^ set(_resolution(after))})
            raise RewriteError(f"{source}: refusing: without the flagged elements {', '.join(changed) or 'a library'} "
                               "would load from elsewhere (or not at all); ship it where a clean element finds it"
                               + moved_origin(source, dest))
        if after.rpath_findings:
            raise RewriteError(f"{source}: rewrite check failed: {after.rpath_findings[0].kind.value} finding left")
        _second_reader_check(tmp, new or None, source)

    backup = write_patched(source, fd, dest, plan.patches, in_place, backup_suffix, verify)
    return SearchPathFix(source, dest, old, new or None, backup)


def _second_reader_check(path: Path, expect: str | None, source: Path) -> None:
    """pyelftools must read exactly one DT_RUNPATH with the new value (or none), and no DT_RPATH."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as fh:
            dynamic = next((s for s in ELFFile(fh).iter_segments() if s["p_type"] == "PT_DYNAMIC"), None)
            tags = list(dynamic.iter_tags()) if dynamic is not None else []
            runpaths = [t.runpath for t in tags if t.entry.d_tag == "DT_RUNPATH"]
            rpaths = [t for t in tags if t.entry.d_tag == "DT_RPATH"]
    except (ELFError, ValueError, KeyError, IndexError, OSError) as exc:
        raise RewriteError(f"{source}: rewrite check failed: pyelftools cannot read the result ({exc})") from None
    if rpaths or runpaths != ([expect] if expect else []):
        raise RewriteError(f"{source}: rewrite check failed: pyelftools reads DT_RUNPATH {runpaths}"
                           f"{' and a DT_RPATH' if rpaths else ''}, expected {expect!r}")
