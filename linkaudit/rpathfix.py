"""``linkaudit fix --clean-rpath``: drop the flagged RPATH/RUNPATH elements and write DT_RUNPATH.

The new search path is what the RPATH findings leave (:func:`linkaudit.fixes.clean_rpath`):
every flagged element dropped, the others kept in order, stored as DT_RUNPATH.
The result is written next to the destination, re-audited, and moved into place
only if it loads every library from the same file as before and has no RPATH
finding left; pyelftools then reads the tags back.  Any doubt leaves the
original untouched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from linkaudit.audit import AuditOptions, audit_object
from linkaudit.errors import RewriteError
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


def _audit(path: Path, env: LoaderEnv, display: str | None = None) -> ObjectReport:
    return audit_object(Target(path, display or str(path)), Loader(env, ObjectCache()), AuditOptions(env=env))


def _resolution(obj: ObjectReport) -> list[tuple[str, str | None]]:
    return [(n.name, str(n.path) if n.path else None) for n in obj.needed] + \
        sorted((lib.name, str(lib.path)) for lib in obj.loaded)


def fix_search_path(source: Path, env: LoaderEnv, output: Path | None = None, in_place: bool = False,
                    backup_suffix: str = ".orig") -> SearchPathFix:
    from linkaudit.rewrite import apply_plan, plan_search_path

    if (output is None) == (not in_place):
        raise RewriteError("choose exactly one of -o OUT or --in-place")
    before = _audit(source, env)
    old = before.runpath if before.runpath is not None else before.rpath
    if not before.rpath_findings:
        if output is not None:  # like `linkaudit fix -o`: OUT always exists afterwards, here as a copy
            try:
                shutil.copy2(source, output)
            except OSError as exc:
                raise RewriteError(f"{output}: cannot write: {exc.strerror}") from None
        return SearchPathFix(source, None, old, old, copied=output)
    new = clean_rpath(before)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise RewriteError(f"{source}: cannot read: {exc.strerror}") from None
    try:
        plan = plan_search_path(data, new)
    except RewriteError as exc:
        raise RewriteError(f"{source}: {exc.message}", exc.hint) from None
    dest = output if output is not None else source
    dest_dir = dest.parent if str(dest.parent) else Path(".")
    if in_place and (not os.access(source, os.W_OK) or not source.stat().st_mode & 0o222):
        raise RewriteError(f"{source}: file is read-only")
    if not os.access(dest_dir, os.W_OK):
        raise RewriteError(f"{dest_dir}: directory is not writable")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".linkaudit", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(apply_plan(data, plan))
        shutil.copymode(source, tmp)
        after = _audit(tmp, env, display=str(dest))
        if _resolution(after) != _resolution(before):
            changed = sorted({name for name, _path in set(_resolution(before)) ^ set(_resolution(after))})
            raise RewriteError(f"{source}: refusing: without the flagged elements {', '.join(changed) or 'a library'} "
                               "would load from elsewhere (or not at all); ship it where a clean element finds it")
        if after.rpath_findings:
            raise RewriteError(f"{source}: rewrite check failed: {after.rpath_findings[0].kind.value} finding left")
        _second_reader_check(tmp, new or None, source)
        backup = None
        if in_place:
            backup = source.with_name(source.name + backup_suffix)
            shutil.copy2(source, backup)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
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
