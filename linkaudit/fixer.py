"""``linkaudit fix``: drop unused DT_NEEDED entries from a file, and prove the result.

The rewrite itself is :mod:`linkaudit.rewrite`; this module decides what to
remove (from a fresh audit), which version requirements to re-point (to the
remaining library that defines those versions), writes to a temporary file
next to the destination, re-audits that file and only then moves it into
place.  Any doubt leaves the original file byte-for-byte unchanged.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from linkaudit.audit import AuditOptions, audit_object
from linkaudit.display import plural
from linkaudit.errors import LinkauditError, RewriteError
from linkaudit.fixes import removable
from linkaudit.inputs import Target
from linkaudit.loader import Loader, LoaderEnv, ObjectCache
from linkaudit.report import ObjectReport, Status


@dataclass(frozen=True)
class FixResult:
    source: Path
    destination: Path | None  # None when nothing needed removing in place
    removed: tuple[str, ...]
    repointed: tuple[tuple[str, str], ...]
    backup: Path | None
    before: ObjectReport
    after: ObjectReport | None
    kept: tuple[str, ...] = ()  # unused entries kept because they alone load a library the object uses
    copied: bool = False  # nothing to remove: the destination is a byte-identical copy of the source


def _audit(path: Path, env: LoaderEnv, display: str | None = None) -> ObjectReport:
    loader = Loader(env, ObjectCache())
    return audit_object(Target(path, display or str(path)), loader, AuditOptions(env=env))


def _copy(source: Path, dest: Path) -> None:
    """Write ``dest`` as a byte-identical copy of ``source`` (same mode), atomically; nothing when they are one file."""
    try:
        if dest.exists() and os.path.samefile(source, dest):
            return
    except OSError:
        pass
    dest_dir = dest.parent if str(dest.parent) else Path(".")
    if not os.access(dest_dir, os.W_OK):
        raise RewriteError(f"{dest_dir}: directory is not writable")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".linkaudit", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out)
        shutil.copymode(source, tmp)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RewriteError(f"{dest}: cannot write: {exc.strerror}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fix_file(source: Path, env: LoaderEnv, output: Path | None = None, in_place: bool = False,
             include_incidental: bool = False, include_load_bearing: bool = False,
             backup_suffix: str = ".orig") -> FixResult:
    """Remove the unused (optionally incidental) DT_NEEDED entries of ``source``."""
    from linkaudit.rewrite import apply_plan, plan_needed_removal, versions_required_from

    if (output is None) == (not in_place):
        raise RewriteError("choose exactly one of -o OUT or --in-place")
    before = _audit(source, env)
    if not before.needed and any(w.startswith("statically linked") for w in before.warnings):
        raise RewriteError(f"{source}: no dynamic section (statically linked): it has no DT_NEEDED entries to fix")
    remove = [n for n in before.needed
              if removable(n, include_incidental=include_incidental, include_load_bearing=include_load_bearing)]
    blocked = [n for n in before.needed if n.status is Status.UNUSED and n.loads_providers]
    if not remove and blocked:
        n = blocked[0]
        raise RewriteError(
            f"{source}: refusing: {n.name} binds nothing itself but it alone loads "
            f"{', '.join(n.loads_providers)}, which the object binds symbols from; the library turns out to be "
            f"used (link {', '.join(n.loads_providers)} directly first)")
    if not remove:
        if output is None:
            return FixResult(source, None, (), (), None, before, None)
        _copy(source, output)  # `fix a.so -o b.so && cp b.so ...` works whether or not anything was removed
        return FixResult(source, output, (), (), None, before, before, copied=True)
    if len({n.name for n in before.needed}) != len(before.needed):
        raise RewriteError(f"{source}: duplicate DT_NEEDED entries; refusing to guess which to remove")
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise RewriteError(f"{source}: cannot read: {exc.strerror}") from None
    names = {n.name for n in remove}
    repoint: dict[str, str] = {}
    defined_by: dict[Path, set[str]] = {}  # each remaining library's version definitions, read once (mmap)

    def defined(path: Path) -> set[str]:
        if path not in defined_by:
            from linkaudit.elf import ElfObject

            try:
                lib = ElfObject(path)
                try:
                    defined_by[path] = {v.decode("utf-8", "surrogateescape") for v in lib.defined_versions}
                finally:
                    lib.close()
            except LinkauditError:
                defined_by[path] = set()
        return defined_by[path]

    for n in remove:
        wanted = set(versions_required_from(data, n.name))
        if not wanted:
            continue
        for other in before.needed:
            if other.name in names or other.path is None:
                continue
            if wanted <= defined(other.path):
                repoint[n.name] = other.name
                break
        else:
            raise RewriteError(
                f"{source}: {n.name} is named in .gnu.version_r ({', '.join(sorted(wanted))}) and no remaining "
                "dependency defines those versions; removing it would make ld.so abort")
    plan = plan_needed_removal(data, names, repoint)
    new = apply_plan(data, plan)

    dest = output if output is not None else source
    dest_dir = dest.parent if str(dest.parent) else Path(".")
    # A file without any write bit is refused even for root (who may write it anyway): read-only is a request.
    if in_place and (not os.access(source, os.W_OK) or not source.stat().st_mode & 0o222):
        raise RewriteError(f"{source}: file is read-only")
    if not os.access(dest_dir, os.W_OK):
        raise RewriteError(f"{dest_dir}: directory is not writable")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".linkaudit", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(new)
        shutil.copymode(source, tmp)
        after = _audit(tmp, env, display=str(dest))
        _check(before, after, names, source)
        _second_reader_check(tmp, [n.name for n in before.needed if n.name not in names], names, source)
        backup = None
        if in_place:
            backup = source.with_name(source.name + backup_suffix)
            shutil.copy2(source, backup)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return FixResult(source, dest, tuple(sorted(names)), tuple(sorted(repoint.items())), backup, before, after,
                     tuple(n.name for n in blocked))


def _check(before: ObjectReport, after: ObjectReport, removed: set[str], source: Path) -> None:
    """The rewritten file must load the same way, minus exactly the removed entries."""
    expect = [n.name for n in before.needed if n.name not in removed]
    got = [n.name for n in after.needed]
    if got != expect:
        raise RewriteError(f"{source}: rewrite check failed: DT_NEEDED is {got}, expected {expect}")
    old = {n.name: n for n in before.needed}
    for n in after.needed:
        if n.status is Status.MISSING and old[n.name].status is not Status.MISSING:
            raise RewriteError(f"{source}: rewrite check failed: {n.name} would no longer be found")
    new_unresolved = set(after.unresolved) - set(before.unresolved)
    if new_unresolved:
        raise RewriteError(f"{source}: refusing: removing {', '.join(sorted(removed))} would leave "
                           f"{plural(len(new_unresolved), 'symbol')} undefined (e.g. {sorted(new_unresolved)[0]}); "
                           "the library turned out to be used")


def _second_reader_check(path: Path, expect_needed: list[str], removed: set[str], source: Path) -> None:
    """Read the rewritten file with pyelftools, an ELF reader independent of ours, before trusting it.

    It must see exactly the remaining DT_NEEDED entries, and no version
    requirement (``.gnu.version_r``) may still name a removed library: that is
    the precondition of glibc's ``find_needed`` assertion.
    """
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    try:
        with open(path, "rb") as fh:
            elf = ELFFile(fh)
            dynamic = next((seg for seg in elf.iter_segments() if seg["p_type"] == "PT_DYNAMIC"), None)
            if dynamic is None:
                raise RewriteError(f"{source}: rewrite check failed: no PT_DYNAMIC in the result")
            tags = list(dynamic.iter_tags())
            needed = [t.needed for t in tags if t.entry.d_tag == "DT_NEEDED"]
            if needed != expect_needed:
                raise RewriteError(f"{source}: rewrite check failed: pyelftools reads DT_NEEDED {needed}, "
                                   f"expected {expect_needed}")
            if any(t.entry.d_tag == "DT_VERNEED" for t in tags):
                for section in elf.iter_sections():
                    if isinstance(section, GNUVerNeedSection):
                        for verneed, _aux in section.iter_versions():
                            if verneed.name in removed:
                                raise RewriteError(f"{source}: rewrite check failed: .gnu.version_r still names "
                                                   f"{verneed.name}; ld.so would abort")
    except (ELFError, ValueError, KeyError, IndexError, OSError) as exc:
        raise RewriteError(f"{source}: rewrite check failed: pyelftools cannot read the result ({exc})") from None
