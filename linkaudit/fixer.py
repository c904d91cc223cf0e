"""``linkaudit fix``: drop unused DT_NEEDED entries from a file, and prove the result.

The rewrite itself is :mod:`linkaudit.rewrite`; this module decides what to
remove (from a fresh audit), which version requirements to re-point (to the
remaining library that defines those versions), writes to a temporary file
next to the destination, re-audits that file and only then moves it into
place.  Any doubt leaves the original file byte-for-byte unchanged.

Safety rules (see the README's Hardening section):

* the file is never read whole: it is memory-mapped for planning and copied
  by the kernel, then the few patched byte ranges are written;
* a library that is a filter (DT_FILTER/DT_AUXILIARY) is never removed, and
  every reference bound before must still bind afterwards (weak ones too);
* ``--in-place`` holds an exclusive ``flock`` on the file for the whole run
  (a second run waits, then sees the fixed file), creates the backup with
  ``O_CREAT|O_EXCL|O_NOFOLLOW`` (an existing ``X.orig`` -- file, link or
  directory -- is refused), keeps owner and mode, fixes the target of a
  symbolic link (the link stays), and refuses a file with other hard links;
* the temporary file is named ``.X.linkaudit-PID-RANDOM.tmp``: it is removed
  on every exit path (SIGTERM included, see ``cli``), and one left by a
  process that no longer exists (``kill -9``) is removed by the next run
  writing to the same directory.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from linkaudit.objectaudit import audit_object
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
    kept: tuple[str, ...] = ()  # unused entries kept because removing them would change what loads
    kept_why: tuple[str, ...] = ()  # one reason per ``kept`` entry
    copied: bool = False  # nothing to remove: the destination is a byte-identical copy of the source


def _audit(path: Path, env: LoaderEnv, display: str | None = None, loader: Loader | None = None) -> ObjectReport:
    loader = loader or Loader(env, ObjectCache())
    return audit_object(Target(path, display or str(path)), loader)


def _bound(path: Path, env: LoaderEnv, loader: Loader | None = None) -> set[bytes]:
    """Names of the references of ``path`` that bind to some object when it loads (weak ones too).

    With the ``loader`` of the audit just made, the libraries' parsed tables and lookup
    answers are reused: the second binding pass costs a fraction of the first.
    """
    from linkaudit.binding import bind_tolerant

    loader = loader or Loader(env, ObjectCache())
    elf = loader.objects.open(str(path))
    result = loader.load(str(path), elf)
    return {r.ref.name for r in bind_tolerant([o.elf for o in result.searchlist]).resolutions if r.scope_index is not None}


def _is_filter(path: Path | None) -> bool:
    if path is None:
        return False
    from linkaudit.elf import ElfObject

    try:
        lib = ElfObject(path)
    except LinkauditError:
        return False
    try:
        return bool(getattr(lib, "filters", ()))
    finally:
        lib.close()


def fix_file(source: Path, env: LoaderEnv, output: Path | None = None, in_place: bool = False,
             include_incidental: bool = False, include_load_bearing: bool = False,
             backup_suffix: str = ".orig") -> FixResult:
    """Remove the unused (optionally incidental) DT_NEEDED entries of ``source``."""
    with source_to_rewrite(source, output, in_place) as (source, fd):
        return _fix_locked(source, fd, env, output, in_place, include_incidental, include_load_bearing,
                           backup_suffix)


@contextlib.contextmanager
def source_to_rewrite(source: Path, output: Path | None, in_place: bool) -> Iterator[tuple[Path, int]]:
    """The file a rewrite reads, and its descriptor: exactly one of ``-o``/``--in-place``; in place,
    a link's final target, opened locked (every rewriting command goes through here)."""
    if (output is None) == (not in_place):
        raise RewriteError("choose exactly one of -o OUT or --in-place")
    if in_place:
        source = _in_place_target(source)
    with _opened(source, lock=in_place) as fd:
        yield source, fd


def _in_place_target(source: Path) -> Path:
    """The file ``--in-place`` rewrites: a symbolic link's final target; a file with other hard links is refused."""
    try:
        real = Path(os.path.realpath(source))
        st = os.stat(real)
    except OSError as exc:
        raise RewriteError(f"{source}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise RewriteError(f"{source}: not a regular file")
    if st.st_nlink > 1:
        raise RewriteError(f"{source}: has {st.st_nlink - 1} other hard link(s); replacing it would leave them "
                           "with the unfixed file (write the result with -o instead)")
    return real


@contextlib.contextmanager
def _opened(source: Path, lock: bool) -> Iterator[int]:
    """``source`` opened read-only; with ``lock``, exclusively flock-ed and still the file the path names."""
    import fcntl

    for _ in range(100):
        try:
            fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | (os.O_NOFOLLOW if lock else 0))
        except OSError as exc:
            raise RewriteError(f"{source}: cannot read: {exc.strerror}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise RewriteError(f"{source}: not a regular file")
            if lock:
                fcntl.flock(fd, fcntl.LOCK_EX)  # another `fix --in-place` of this file finishes first
                try:
                    now = os.stat(source, follow_symlinks=False)
                except OSError:
                    now = None
                if now is None or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                    os.close(fd)  # it was replaced while we waited: lock the file that is there now
                    fd = -1
                    continue
            yield fd
            return
        finally:
            if fd >= 0:
                os.close(fd)
    raise RewriteError(f"{source}: keeps being replaced by other processes; try again")


def _fix_locked(source: Path, fd: int, env: LoaderEnv, output: Path | None, in_place: bool,
                include_incidental: bool, include_load_bearing: bool, backup_suffix: str) -> FixResult:
    from linkaudit.rewrite import plan_needed_removal

    loader = Loader(env, ObjectCache())  # one parse cache for the audits before and after the rewrite
    before = _audit(source, env, loader=loader)
    if not before.needed and any(w.startswith("statically linked") for w in before.warnings):
        raise RewriteError(f"{source}: no dynamic section (statically linked): it has no DT_NEEDED entries to fix")
    candidates = [n for n in before.needed
                  if removable(n, include_incidental=include_incidental, include_load_bearing=include_load_bearing)]
    kept: list[tuple[str, str]] = []  # (entry, why it must stay)
    advice = ""
    for n in before.needed:
        if n.status is Status.UNUSED and n.loads_providers:
            providers = ", ".join(n.loads_providers)
            kept.append((n.name, f"it alone loads {providers}, which the object binds symbols from"))
            advice = advice or f" (link {providers} directly first)"
    remove = []
    for n in candidates:
        if _is_filter(n.path):
            kept.append((n.name, "it is a filter (DT_FILTER/DT_AUXILIARY): the loader loads its filtees "
                                 "and redirects lookups through it"))
        else:
            remove.append(n)
    if not remove and kept:
        name, why = kept[0]
        raise RewriteError(f"{source}: refusing: {name} binds nothing itself but {why}; the library turns out "
                           f"to be used{advice if 'alone loads' in why else ''}")
    if not remove:
        if output is None:
            return FixResult(source, None, (), (), None, before, None)
        _copy(source, fd, output)  # `fix a.so -o b.so && cp b.so ...` works whether or not anything was removed
        return FixResult(source, output, (), (), None, before, before, tuple(k for k, _ in kept),
                         tuple(w for _, w in kept), copied=True)
    if len({n.name for n in before.needed}) != len(before.needed):
        raise RewriteError(f"{source}: duplicate DT_NEEDED entries; refusing to guess which to remove")
    try:
        data = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)  # pages are read on demand: never the whole file
    except (OSError, ValueError) as exc:
        raise RewriteError(f"{source}: cannot read: {exc}") from None
    with data:
        names = {n.name for n in remove}
        repoint = _repoint(source, data, remove, before, names)
        plan = plan_needed_removal(data, names, repoint)
        for p in plan.patches:  # the plan was computed from these bytes; apply_plan's check, without a copy
            if data[p.offset : p.offset + len(p.old)] != p.old:
                raise RewriteError(f"{source}: file changed while it was being fixed ({p.what})")
        dest = output if output is not None else source
        return _write(source, fd, dest, plan, env, in_place, names, before, repoint, kept, backup_suffix, loader)


def _repoint(source: Path, data: mmap.mmap, remove: list, before: ObjectReport, names: set[str]) -> dict[str, str]:
    from linkaudit.rewrite import versions_required_from

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
    return repoint


_TEMP = re.compile(r"^\.(?P<name>.+)\.linkaudit-(?P<pid>\d+)-[0-9a-f]{8}\.tmp$")


def temp_name(dest: Path) -> str:
    """``.NAME.linkaudit-PID-RANDOM.tmp``: recognisable, so a later run can remove it if PID is gone."""
    return f".{dest.name}.linkaudit-{os.getpid()}-{secrets.token_hex(4)}.tmp"


def remove_stale_temporaries(directory: Path, name: str) -> list[Path]:
    """Remove the temporary files of ``name`` left by fix processes that no longer exist (kill -9)."""
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP.match(entry.name)
        if not m or m.group("name") != name:
            continue
        pid = int(m.group("pid"))
        try:
            os.kill(pid, 0)
            continue  # still running (or someone else's): leave it
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _copy_fd(src: int, dst: int, size: int) -> None:
    """Copy ``size`` bytes in the kernel (no file content passes through Python's memory)."""
    offset = 0
    while offset < size:
        try:
            n = os.copy_file_range(src, dst, size - offset, offset, offset)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            n = os.sendfile(dst, src, offset, min(size - offset, 1 << 30))
            os.lseek(dst, offset + n, os.SEEK_SET)
        if n == 0:
            raise OSError(errno.EIO, "file shrank while it was being copied")
        offset += n


def _write(source: Path, fd: int, dest: Path, plan, env: LoaderEnv, in_place: bool, names: set[str],
           before: ObjectReport, repoint: dict[str, str], kept: list[tuple[str, str]],
           backup_suffix: str, loader: Loader | None = None) -> FixResult:
    bound_before = _bound(source, env, loader)
    after: list[ObjectReport] = []

    def verify(tmp: Path) -> None:
        after.append(_audit(tmp, env, display=str(dest), loader=loader))
        _check(before, after[0], names, source, moved_origin(source, dest))
        lost = bound_before - _bound(tmp, env, loader)
        if lost:
            sample = sorted(lost)[0].decode("utf-8", "surrogateescape")
            raise RewriteError(f"{source}: refusing: removing {', '.join(sorted(names))} would leave "
                               f"{plural(len(lost), 'bound symbol')} undefined (e.g. {sample}); "
                               "the library turned out to be used")
        _second_reader_check(tmp, [n.name for n in before.needed if n.name not in names], names, source)

    backup = write_patched(source, fd, dest, plan.patches, in_place, backup_suffix, verify)
    return FixResult(source, dest, tuple(sorted(names)), tuple(sorted(repoint.items())), backup, before, after[0],
                     tuple(k for k, _ in kept), tuple(w for _, w in kept))


def write_patched(source: Path, fd: int, dest: Path, patches, in_place: bool, backup_suffix: str,
                  verify: Callable[[Path], None]) -> Path | None:
    """Write ``source`` (open as ``fd``) with ``patches`` applied to ``dest``, the safe way; returns the backup.

    The copy is made by the kernel into a temporary file next to ``dest``, patched,
    given the source's mode (and owner, in place), synced and handed to ``verify``,
    which raises to refuse it; only then is it moved into place.  In place, the
    backup is made first and removed again if anything fails.
    """
    st = os.fstat(fd)
    # A file without any write bit is refused even for root (who may write it anyway): read-only is a request.
    if in_place and (not os.access(source, os.W_OK) or not st.st_mode & 0o222):
        raise RewriteError(f"{source}: file is read-only")
    dest_dir = _writable_dir(dest)
    remove_stale_temporaries(dest_dir, dest.name)
    tmp = dest_dir / temp_name(dest)
    backup: Path | None = None
    made_backup = False
    try:
        if in_place:
            backup = source.with_name(source.name + backup_suffix)
            _make_backup(fd, st, backup)
            made_backup = True
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            _copy_fd(fd, out, st.st_size)
            for p in patches:
                os.pwrite(out, p.new, p.offset)
            os.fchmod(out, stat.S_IMODE(st.st_mode))
            if in_place and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(out, st.st_uid, st.st_gid)
                except PermissionError:
                    raise RewriteError(f"{source}: cannot keep its owner ({st.st_uid}:{st.st_gid}) on the "
                                       "replacement; run as its owner or write with -o") from None
                os.fchmod(out, stat.S_IMODE(st.st_mode))  # chown clears set-id bits
            os.fsync(out)
        finally:
            os.close(out)
        verify(tmp)
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if made_backup and backup is not None:
            with contextlib.suppress(OSError):
                backup.unlink()
        if isinstance(exc, OSError):
            raise RewriteError(f"{dest}: cannot write: {exc.strerror or exc}") from None
        raise
    return backup


def _writable_dir(dest: Path) -> Path:
    dest_dir = dest.parent if str(dest.parent) else Path(".")
    if not os.path.isdir(dest_dir):
        raise RewriteError(f"{dest}: cannot write there: {dest_dir} is not a directory")
    if not os.access(dest_dir, os.W_OK):
        raise RewriteError(f"{dest_dir}: directory is not writable")
    return dest_dir


def _copy(source: Path, fd: int, dest: Path) -> None:
    """Write ``dest`` as a byte-identical copy of ``source`` (same mode), atomically; nothing when they are one file."""
    try:
        if dest.exists() and os.path.samefile(source, dest):
            return
    except OSError:
        pass
    dest_dir = _writable_dir(dest)
    remove_stale_temporaries(dest_dir, dest.name)
    tmp = dest_dir / temp_name(dest)
    try:
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            st = os.fstat(fd)
            _copy_fd(fd, out, st.st_size)
            os.fchmod(out, stat.S_IMODE(st.st_mode))
        finally:
            os.close(out)
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise RewriteError(f"{dest}: cannot write: {exc.strerror or exc}") from None
        raise


def _make_backup(fd: int, st: os.stat_result, backup: Path) -> None:
    """A copy of the original, created only if nothing at all is at ``backup`` (never through a link)."""
    try:
        out = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise RewriteError(f"{backup} already exists (a backup from an earlier fix?); move it away first") from None
    except OSError as exc:
        raise RewriteError(f"{backup}: cannot create the backup: {exc.strerror}") from None
    try:
        _copy_fd(fd, out, st.st_size)
        with contextlib.suppress(PermissionError):
            os.fchown(out, st.st_uid, st.st_gid)
        os.fchmod(out, stat.S_IMODE(st.st_mode))
        os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.fsync(out)
    except BaseException:
        os.close(out)
        with contextlib.suppress(OSError):
            os.unlink(backup)
        raise
    os.close(out)


def moved_origin(source: Path, dest: Path) -> str:
    """Said when a check fails on an output written to another directory: its $ORIGIN is not the source's."""
    if os.path.dirname(os.path.abspath(dest)) == os.path.dirname(os.path.abspath(source)):
        return ""
    return (f" (the output is checked where it is written: in {os.path.dirname(os.path.abspath(dest))}, "
            "$ORIGIN-relative search paths point elsewhere; write it next to the source)")


def _check(before: ObjectReport, after: ObjectReport, removed: set[str], source: Path, note: str = "") -> None:
    """The rewritten file must load the same way, minus exactly the removed entries."""
    expect = [n.name for n in before.needed if n.name not in removed]
    got = [n.name for n in after.needed]
    if got != expect:
        raise RewriteError(f"{source}: rewrite check failed: DT_NEEDED is {got}, expected {expect}")
    old = {n.name: n for n in before.needed}
    for n in after.needed:
        if n.status is Status.MISSING and old[n.name].status is not Status.MISSING:
            raise RewriteError(f"{source}: rewrite check failed: {n.name} would no longer be found{note}")
    # The interpreter still provides what it provided: the output's name may differ from the
    # module's (`-o x.so.fixed`), which is no reason to count its Python C API references undefined.
    new_unresolved = set(after.unresolved) - set(before.unresolved) - set(before.host_provided)
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
