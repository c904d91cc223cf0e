"""One object audited: open it, load its dependencies, bind its references, judge them -> its ObjectReport.

The per-object step of a run (:mod:`linkaudit.audit` hands :func:`audit_one`
to the workers of :mod:`linkaudit.parallel`), and what ``linkaudit fix``
re-audits a rewritten file with (:func:`audit_object`).  glibc's or musl's
rules are picked per object; a file that cannot be audited becomes one error
line, never an exception.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from linkaudit.binding import SymbolName, bind_tolerant, lookup, lookup_in
from linkaudit.elf import ET_DYN, ET_EXEC, ET_REL, NOT_LINKED_TYPES, ElfObject
from linkaudit.errors import ElfReadError, LinkauditError
from linkaudit.libc import MUSL, libc_flavour
from linkaudit.loader import Loader, LoadResult, machine_of
from linkaudit.objectreport import loaded_libraries, needed_entries, renamed
from linkaudit.report import ErrorEntry, MissingLibrary, ObjectReport, RpathFinding
from linkaudit.rpath import package_root, rpath_findings
from linkaudit.verdicts import Rebind, Resolved, judge, ldd_unused
from linkaudit.verdicts import unresolved as unresolved_references

if TYPE_CHECKING:
    from linkaudit.inputs import Target


def audit_one(target: Target, loader: Loader) -> ObjectReport | ErrorEntry:
    """Audit one target; never raises: a file that cannot be audited becomes one error line."""
    try:
        report = audit_object(target, loader)
    except LinkauditError as exc:
        return ErrorEntry(target.display, _one_line(target.rename(_strip_path(exc.message, target))))
    except (OSError, MemoryError) as exc:
        return ErrorEntry(target.display, _one_line(f"cannot read file: {exc}"))
    except Exception as exc:  # a bug, not a bad file: keep auditing the other objects
        return ErrorEntry(target.display, _one_line(f"internal error ({type(exc).__name__}: {exc}); please report it"))
    return renamed(report, target) if target.alias else report


def _one_line(message: str) -> str:
    return " ".join(message.split()) or "error"


def _strip_path(message: str, target: Target) -> str:
    for prefix in (f"{target.path}: ", f"{target.display}: "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def audit_object(target: Target, loader: Loader) -> ObjectReport:
    """Audit one object: resolve its dependencies, bind its references, judge every DT_NEEDED entry."""
    path = str(target.path)
    elf = loader.objects.open(path)
    _require_linked(elf, path)
    abi = machine_of(elf).name
    libc = libc_flavour(elf, loader, target.display)
    if not elf.is_dynamic:
        return ObjectReport(target.display, elf.machine, elf.bits, None, (), (), (),
                            warnings=("statically linked: no dynamic dependencies",), libc=libc, abi=abi)
    if libc == MUSL:
        from linkaudit import musl  # here: glibc-only runs never import the musl emulation

        result = musl.musl_loader(loader).load(path, elf)
    else:
        result = loader.load(path, elf)
    resolved = _bind(result, libc)
    verdicts = judge(result, resolved)
    candidates = loader.python_candidates if libc != MUSL else lambda name: ()
    is_ext = _is_python_extension(elf, Path(target.display.rsplit("!", 1)[-1]))
    unresolved, host = unresolved_references(resolved.resolutions, is_ext)
    warnings = list(result.warnings)
    if resolved.absent and unresolved:  # they may well be defined by what this host lacks
        warnings.append(f"undefined references not judged ({len(set(unresolved))}): "
                        f"{', '.join(dict.fromkeys(o.first_name for o in resolved.absent))} not on this host")
        unresolved = []
    warnings += [f"the real loader stops at {name}: {dep.fatal}" for name, dep in zip(elf.needed, result.direct)
                 if dep.fatal]
    missing_transitive = _transitive_not_found(result, resolved)
    warnings += [f"{m.name}, needed by {m.needed_by}, is not found ({m.why}): the real loader refuses to load "
                 "this object" for m in missing_transitive]
    warnings += [f"{o.path}: symbol tables damaged ({why}); statuses that depend on it are uncertain"
                 for o, why in resolved.damaged.items()]
    return ObjectReport(
        path=target.display, machine=elf.machine, elf_class=elf.bits, soname=_safe(lambda: elf.soname),
        needed=needed_entries(elf, result, verdicts, resolved, candidates), loaded=loaded_libraries(result, verdicts),
        unresolved=tuple(sorted(set(unresolved))), host_provided=tuple(sorted(set(host))),
        ldd_unused=() if libc == MUSL else ldd_unused(result, verdicts.used, len(elf.needed)),  # musl's ldd has no -u
        is_python_extension=is_ext, warnings=tuple(warnings), libc=libc, abi=abi,
        rpath_findings=_rpath_findings(target, elf, result, loader, libc), rpath=elf.rpath, runpath=elf.runpath,
        missing_transitive=missing_transitive,
    )


def _transitive_not_found(result: LoadResult, resolved: Resolved) -> tuple[MissingLibrary, ...]:
    """Libraries a dependency needs that are not found, in load order: ld.so refuses the whole object for each.

    A direct dependency that is not found is a ``missing`` status; one further down is a
    :class:`MissingLibrary` (``ldd`` lists both as ``=> not found``).  Libraries this host lacks
    (musl) are not judged.
    """
    direct = {id(o) for o in result.direct}
    out, said = [], {o.first_name for o in result.direct if o.elf is None}  # a missing direct one is said already
    for o in result.searchlist[1:]:
        if o.elf is not None or id(o) in direct or o in resolved.absent or o.first_name in said:
            continue
        said.add(o.first_name)
        out.append(MissingLibrary(o.first_name, o.loader.path if o.loader is not None else "?",
                                  o.fatal or "cannot open shared object file: No such file or directory",
                                  tuple(o.searched)))
    return tuple(out)


def _require_linked(elf: ElfObject, path: str) -> None:
    """Refuse what ld.so does not load: relocatable objects, core dumps, ET_NONE."""
    if elf.e_type == ET_REL:
        raise ElfReadError(f"{path}: relocatable object file (.o), not a linked object; nothing to audit")
    if elf.e_type not in (ET_EXEC, ET_DYN):
        kind = NOT_LINKED_TYPES.get(elf.e_type, f"e_type {elf.e_type:#x}")
        raise ElfReadError(f"{path}: not a linked object: {kind}; nothing to audit")


def _bind(result: LoadResult, libc: str) -> Resolved:
    """Bind every reference of the main object with glibc's or musl's rules."""
    scope: list[ElfObject | None] = [o.elf for o in result.searchlist]
    if libc == MUSL:
        from linkaudit import musl

        at = [k for k, o in enumerate(result.searchlist) if o is result.ldso]
        libc_at = at[0] if at else None
        bound = musl.bind_tolerant(scope, libc_at)
        rebind: Rebind = functools.partial(musl.lookup, libc=libc_at)
        absent = {o: result.not_on_host[id(o)] for o in result.searchlist if id(o) in result.not_on_host}
    else:
        bound = bind_tolerant(scope, include_self=False)  # what binds to the object itself is not needed
        rebind, absent = lookup, {}
    return Resolved(bound.resolutions, rebind, {result.searchlist[k]: why for k, why in bound.damaged.items()}, absent)


def _rpath_findings(target: Target, elf: ElfObject, result: LoadResult, loader: Loader,
                    libc: str | None) -> tuple[RpathFinding, ...]:
    if elf.runpath is None and elf.rpath is None:
        return ()
    musl_system = None
    if libc == MUSL:
        from linkaudit.musl import system_path_of

        musl_system = system_path_of(loader, elf)
    path, wheel = str(target.path), target.alias
    return rpath_findings(elf, result.main, loader, result, package_root(path, wheel[0] if wheel else None),
                          wheel[1].rstrip("!") if wheel else None, musl_system)


def _is_python_extension(elf: ElfObject, path: Path) -> bool:
    module = path.name.split(".", 1)[0]
    if not module:
        return False
    name = b"PyInit_" + module.encode("utf-8", "surrogateescape")
    try:
        return lookup_in(elf, SymbolName(name), None, 0) is not None
    except ElfReadError:
        return False


def _safe(fn: Callable[[], str | None]) -> str | None:
    try:
        return fn()
    except ElfReadError:
        return None
