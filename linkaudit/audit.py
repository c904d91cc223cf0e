"""Orchestration: inputs -> ELF -> loader -> binding -> verdicts -> Report.

Returns data and prints nothing; the CLI decides what to show.
"""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from linkaudit import musl
from linkaudit.binding import Resolution, bind, is_unversioned_definition, lookup, lookup_in, owner_of
from linkaudit.elf import ET_DYN, ET_EXEC, ET_REL, ElfObject, gnu_hash
from linkaudit.errors import ElfReadError, LinkauditError
from linkaudit.families import classify
from linkaudit.hostparams import HostFacts, LoaderParams, Overrides
from linkaudit.inputs import BUILD_SCRATCH_DIRS, Target, collect
from linkaudit.loader import LoadedObject, Loader, LoaderEnv, LoadResult, machine_of
from linkaudit.report import (
    Binding,
    Dependency,
    ErrorEntry,
    LoadedLibrary,
    NeededEntry,
    ObjectReport,
    Report,
    RpathFinding,
    Status,
)
from linkaudit.rpath import package_root, rpath_findings


@dataclass(frozen=True)
class AuditOptions:
    env: LoaderEnv = LoaderEnv()
    jobs: int = 1  # worker processes; 0 = one per core
    exclude: tuple[str, ...] = ()  # path globs the inputs skip ([tool.linkaudit] exclude)
    modules: tuple[str, ...] = ()  # installed modules/packages to audit (found without importing them)
    skip_dirs: tuple[str, ...] = BUILD_SCRATCH_DIRS  # directory-name globs skipped while walking


def audit(paths: Iterable[str], options: AuditOptions | None = None,
          progress: Callable[[int, int], None] | None = None) -> Report:
    """Audit every ELF object named by ``paths`` (files, directories, wheels) and ``options.modules``.

    ``progress(done, total)`` is called as objects finish.  Wheel members are
    extracted to a temporary directory that is removed before this returns.
    """
    from linkaudit.parallel import default_jobs, run

    options = options or AuditOptions()
    with collect(paths, options.exclude, options.modules, options.skip_dirs, root=options.env.root) as \
            (targets, errors), _few_collections():
        jobs = options.jobs if options.jobs > 0 else default_jobs()
        objects: list[ObjectReport] = []
        outcomes = run(targets, options, jobs, progress)
        for outcome in outcomes:
            if isinstance(outcome, ErrorEntry):
                errors.append(outcome)
            else:
                objects.append(outcome)
        wheels = ()
        if any(t.alias is not None for t in targets):
            from linkaudit.wheels import wheel_reports

            wheels = wheel_reports(targets, outcomes)  # sizes are read from the extracted members
    return Report(objects=tuple(objects), errors=tuple(errors), loader=loader_assumptions(objects, options.env),
                  wheels=wheels)


def loader_assumptions(objects: Iterable[ObjectReport], env: LoaderEnv) -> tuple[LoaderParams, ...]:
    """The platform, hwcaps and glibc release the emulated ld.so took for each ABI audited."""
    from linkaudit.machines import by_name

    loader = Loader(env)
    machines = [by_name(abi) for abi in dict.fromkeys(o.abi for o in objects if o.abi)]
    return tuple(loader.params_for(m) for m in machines if m is not None)


@contextmanager
def _few_collections() -> Iterator[None]:
    """Raise the garbage collector's thresholds for the run (forked workers inherit them).

    A directory audit allocates millions of small objects (symbols, memo
    entries) that live until the run ends; with the default thresholds the
    collector keeps re-scanning that growing heap and finds next to no
    garbage: about a fifth of the run's time.
    """
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 100_000), max(old[1], 50), max(old[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*old)


def audit_one(target: Target, loader: Loader, options: AuditOptions) -> ObjectReport | ErrorEntry:
    """Audit one target; never raises: a file that cannot be audited becomes one error line."""
    try:
        report = audit_object(target, loader, options)
    except LinkauditError as exc:
        return ErrorEntry(target.display, _one_line(target.rename(_strip_path(exc.message, target))))
    except (OSError, MemoryError) as exc:
        return ErrorEntry(target.display, _one_line(f"cannot read file: {exc}"))
    except Exception as exc:  # a bug, not a bad file: keep auditing the other objects
        return ErrorEntry(target.display, _one_line(f"internal error ({type(exc).__name__}: {exc}); please report it"))
    return _renamed(report, target) if target.alias else report


def _one_line(message: str) -> str:
    return " ".join(message.split()) or "error"


def _renamed(report: ObjectReport, target: Target) -> ObjectReport:
    """Wheel members: name libraries found inside the extracted wheel as ``x.whl!pkg.libs/lib.so``."""
    def p(path: Path | None) -> Path | None:
        return None if path is None else Path(target.rename(str(path)))

    def s(text: str) -> str:
        assert target.alias is not None
        return text.replace(target.alias[0] + "/", target.alias[1])

    needed = tuple(replace(
        n, path=p(n.path), drags=tuple(Path(target.rename(str(d))) for d in n.drags),
        bindings=tuple(replace(b, provider=b.provider and target.rename(b.provider)) for b in n.bindings),
        searched=tuple(replace(st, directory=target.rename(st.directory), source=s(st.source)) for st in n.searched),
        uncertain=n.uncertain and s(n.uncertain),
    ) for n in report.needed)
    loaded = tuple(replace(lib, path=Path(target.rename(str(lib.path))),
                           needed_by=tuple(target.rename(x) for x in lib.needed_by),
                           needs=tuple(replace(d, path=d.path and target.rename(d.path)) for d in lib.needs))
                   for lib in report.loaded)
    return replace(report, needed=needed, loaded=loaded, ldd_unused=tuple(target.rename(x) for x in report.ldd_unused),
                   warnings=tuple(s(w) for w in report.warnings),
                   rpath_findings=tuple(replace(f, message=s(f.message)) for f in report.rpath_findings))


def _strip_path(message: str, target: Target) -> str:
    for prefix in (f"{target.path}: ", f"{target.display}: "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def audit_object(target: Target, loader: Loader, options: AuditOptions) -> ObjectReport:
    """Audit one object: resolve its dependencies, bind its references, give verdicts."""
    path = str(target.path)
    elf = loader.objects.open(path)
    display = target.display
    warnings: list[str] = []
    if elf.e_type == ET_REL:
        raise ElfReadError(f"{path}: relocatable object file (.o), not a linked object; nothing to audit")
    if elf.e_type not in (ET_EXEC, ET_DYN):  # a core dump, ET_NONE, ...: not something ld.so loads
        kind = {0: "ET_NONE (no file type)", 4: "a core dump (ET_CORE)"}.get(elf.e_type, f"e_type {elf.e_type:#x}")
        raise ElfReadError(f"{path}: not a linked object: {kind}; nothing to audit")
    abi = machine_of(elf).name
    if not elf.is_dynamic:
        return ObjectReport(display, elf.machine, elf.bits, None, (), (), (),
                            warnings=("statically linked: no dynamic dependencies",),
                            libc=musl.libc_flavour(elf, loader, display), abi=abi)
    libc = musl.libc_flavour(elf, loader, display)
    result = musl.musl_loader(loader).load(path, elf) if libc == musl.MUSL else loader.load(path, elf)
    warnings.extend(result.warnings)
    rpath_found: tuple[RpathFinding, ...] = ()
    if elf.runpath is not None or elf.rpath is not None:
        wheel = target.alias
        rpath_found = rpath_findings(elf, result.main, loader, result,
                                     package_root(path, wheel[0] if wheel else None),
                                     wheel[1].rstrip("!") if wheel else None,
                                     musl.system_path_of(loader, elf) if libc == musl.MUSL else None)
    scope: list[ElfObject | None] = [o.elf for o in result.searchlist]
    damaged: dict[int, str] = {}
    index_of = {id(o): i for i, o in enumerate(result.searchlist)}
    rebind = lookup
    absent: dict[int, str] = {}  # scope index -> why it is not judged (musl libraries not on this host)
    if isinstance(result, musl.MuslLoadResult):
        libc_at = index_of.get(id(result.ldso))
        resolutions = musl.bind(scope, damaged, libc_at)
        rebind = functools.partial(musl.lookup, libc=libc_at)
        absent = {index_of[k]: why for k, why in result.not_on_host.items() if k in index_of}
    else:
        resolutions = bind(scope, damaged, include_self=False)  # what binds to the object itself is not needed
    by_provider: dict[int, list[Resolution]] = {}
    for r in resolutions:
        if r.provider not in (None, 0):
            by_provider.setdefault(r.provider, []).append(r)
    used = set(by_provider)

    is_ext = _is_python_extension(elf, Path(target.display.rsplit('!', 1)[-1]))
    unresolved: list[str] = []
    host: list[str] = []
    for r in resolutions:
        if r.provider is None and not r.ref.weak:
            name = _text(r.ref.name)
            (host if is_ext and name.startswith(("Py", "_Py")) else unresolved).append(name)
    if absent and unresolved:  # they may well be defined by what this host lacks
        warnings.append(f"undefined references not judged ({len(set(unresolved))}): "
                        f"{', '.join(dict.fromkeys(result.searchlist[k].first_name for k in sorted(absent)))} "
                        "not on this host")
        unresolved = []

    reach = _reachability(result)
    direct_idx = {index_of[id(dep)] for dep in result.direct}
    # what the other direct dependencies keep loaded: what stays if entry i is dropped
    via_others = {i: set().union(*(reach.get(j, set()) for j in direct_idx if j != i)) for i in direct_idx}
    direct_status: dict[int, Status] = {}
    owners: dict[int, dict[bytes, tuple[str, str]]] = {}
    for dep in result.direct:
        i = index_of[id(dep)]
        if dep.elf is None:
            direct_status[i] = Status.NOT_ON_HOST if i in absent else Status.MISSING
        elif i in used:
            owned = _incidental_owners(i, by_provider[i], scope, result, via_others[i] | {0}, rebind)
            if owned is not None:
                owners[i] = owned
                direct_status[i] = Status.INCIDENTAL
            else:
                direct_status[i] = Status.USED
        else:
            direct_status[i] = Status.UNUSED

    transitive_used = {p for p in used if p not in direct_idx}
    exclusive_providers: dict[int, tuple[str, ...]] = {}
    for i in direct_idx:
        hits = sorted(p for p in transitive_used if p in reach.get(i, set()) and p not in via_others[i])
        if hits:
            exclusive_providers[i] = tuple(_soname_or(result.searchlist[p], result.searchlist[p].path) or ""
                                           for p in hits)

    keep: set[int] = {0}
    for i, status in direct_status.items():
        if status is Status.USED:
            keep |= reach[i]
    needed: list[NeededEntry] = []
    seen_direct: set[int] = set()
    for raw_name, dep in zip(elf.needed, result.direct):
        i = index_of[id(dep)]
        status = direct_status[i]
        others: set[int] = {0} | (set(direct_status) - {i})
        for j, st in direct_status.items():
            if j != i and st is Status.USED:
                others |= reach[j]
        drags = tuple(sorted(k for k in reach.get(i, set()) - others - {i} if result.searchlist[k].elf is not None))
        drag_paths = tuple(Path(result.searchlist[k].path) for k in drags)
        drag_bytes = sum(result.searchlist[k].elf.size for k in drags)  # type: ignore[union-attr]
        bindings = tuple(
            Binding(_text(r.ref.name), _text(r.ref.version.name) if r.ref.version else None, r.ref.weak,
                    dep.path, _owner_label(owners.get(i, {}).get(r.ref.name)))
            for r in by_provider.get(i, [])
        ) if i not in seen_direct else ()
        seen_direct.add(i)
        uncertain = damaged.get(i) or absent.get(i)
        if uncertain is None and dep.elf is not None and i not in used and damaged:
            uncertain = "; ".join(f"{result.searchlist[k].path}: symbol tables damaged" for k in damaged)
        if uncertain is None and i in used and any(k < i for k in absent):
            uncertain = (f"{', '.join(dict.fromkeys(result.searchlist[k].first_name for k in sorted(absent) if k < i))} "
                         "is not on this host and comes first in musl's scope: it may define these symbols")
        needed.append(NeededEntry(
            name=raw_name,
            path=Path(dep.path) if dep.elf is not None else None,
            found_via=dep.found_via if dep.elf is not None else None,
            status=status,
            category=classify(_soname_or(dep, raw_name)),
            bindings=bindings,
            searched=dep.searched if dep.elf is None else (),
            candidates=tuple(loader.python_candidates(raw_name)) if dep.elf is None and libc != musl.MUSL else (),
            python_package=dep.python_package,
            drags=drag_paths,
            drags_bytes=drag_bytes,
            has_initializers=bool(dep.elf and dep.elf.has_initializers),
            uncertain=uncertain,
            loads_providers=exclusive_providers.get(i, ()),
        ))
        if dep.fatal:
            warnings.append(f"the real loader stops at {raw_name}: {dep.fatal}")

    loaded: list[LoadedLibrary] = []
    for k, obj in enumerate(result.searchlist[1:], 1):
        if obj.elf is None:
            continue
        loaded.append(LoadedLibrary(
            name=obj.first_name,
            path=Path(obj.path),
            soname=_soname_or(obj, None),
            found_via=obj.found_via,
            category=classify(_soname_or(obj, obj.first_name)),
            size=obj.elf.size,
            depth=obj.depth,
            needed_by=tuple(obj.needed_by),
            only_for_unneeded=k not in keep,
            needs=_needs(obj),
        ))
    for k, why in damaged.items():
        warnings.append(f"{result.searchlist[k].path}: symbol tables damaged ({why}); verdicts that depend on it are uncertain")

    return ObjectReport(
        path=display,
        machine=elf.machine,
        elf_class=elf.bits,
        soname=_safe(lambda: elf.soname),
        needed=tuple(needed),
        loaded=tuple(loaded),
        unresolved=tuple(sorted(set(unresolved))),
        host_provided=tuple(sorted(set(host))),
        ldd_unused=() if libc == musl.MUSL else _ldd_unused(result, used, elf),  # musl's ldd has no -u
        is_python_extension=is_ext,
        warnings=tuple(warnings),
        libc=libc,
        abi=abi,
        rpath_findings=rpath_found,
        rpath=elf.rpath,
        runpath=elf.runpath,
    )


def _needs(obj: LoadedObject) -> tuple[Dependency, ...]:
    """A loaded library's own DT_NEEDED entries as this load resolved them (for the tree)."""
    try:
        names = obj.elf.needed if obj.elf is not None else ()
    except ElfReadError:
        return ()
    return tuple(Dependency(name, dep.path, ()) if dep.elf is not None else Dependency(name, None, dep.searched)
                 for name, dep in zip(names, obj.deps))


def _reachability(result: LoadResult) -> dict[int, set[int]]:
    """For every object of the search list: itself and everything its DT_NEEDED closure loads."""
    index_of = {id(o): i for i, o in enumerate(result.searchlist)}
    out: dict[int, set[int]] = {}
    for i, obj in enumerate(result.searchlist):
        if i == 0:
            continue
        seen = {i}
        stack = [obj]
        while stack:
            cur = stack.pop()
            for dep in cur.deps:
                j = index_of.get(id(dep))
                if j is None or j == 0 or j in seen:
                    continue
                seen.add(j)
                stack.append(dep)
        out[i] = seen
    return out


def _incidental_owners(i: int, bound: list[Resolution], scope: list[ElfObject | None], result: LoadResult,
                       without: set[int], rebind: Callable = lookup) -> dict[bytes, tuple[str, str]] | None:
    """Owners of every symbol bound to ``scope[i]``, or None if any symbol is really its own.

    The rule: a binding is incidental when the definition in ``scope[i]`` is
    unversioned while another library of the load closure, one that stays
    loaded without ``scope[i]``, exports the same name under a version
    definition of its own.  A library all of whose bindings are incidental is
    linked only because it happens to re-export someone else's symbols.
    ``without`` is what stays loaded if ``scope[i]`` is dropped (the main object included).

    Under musl the binder ignores versions, but the version definitions in
    the files still say whose ABI a symbol is: the rule is the same, and
    ``rebind`` (musl's lookup) checks that the reference still binds.
    """
    obj = scope[i]
    assert obj is not None
    out: dict[bytes, tuple[str, str]] = {}
    for r in bound:
        if r.sym is None or not is_unversioned_definition(obj, r.sym):
            return None
        try:
            found = owner_of(r.ref.name, scope, i)
            # The reference must still bind without scope[i]: an owner whose version the
            # reference cannot take (say a hidden foo@V2 for an unversioned foo) is no owner.
            rebound = rebind([o if k in without else None for k, o in enumerate(scope)], r.ref)[0] \
                if found is not None else None
        except ElfReadError:
            return None
        if found is None or found[0] not in without or rebound is None:
            return None
        owner_obj = result.searchlist[found[0]]
        out[r.ref.name] = (_soname_or(owner_obj, owner_obj.path), _text(found[1]))
    return out


def _owner_label(owner: tuple[str, str] | None) -> str | None:
    return None if owner is None else f"{owner[0]} ({owner[1]})"


def _ldd_unused(result: LoadResult, used: set[int], elf: ElfObject) -> tuple[str, ...]:
    """Exactly what ``ldd -u -r`` lists: rtld walks its l_next chain once per DT_NEEDED entry."""
    out = []
    for n in range(len(elf.needed)):
        if n >= len(result.chain):
            break
        obj = result.chain[n]
        k = n + 1
        if k not in used:
            out.append(obj.path)
    return tuple(out)


def _is_python_extension(elf: ElfObject, path: Path) -> bool:
    module = path.name.split(".", 1)[0]
    if not module:
        return False
    name = b"PyInit_" + module.encode("utf-8", "surrogateescape")
    try:
        return lookup_in(elf, name, None, 0, gnu_hash(name), []) is not None
    except ElfReadError:
        return False


def _soname_or(obj: LoadedObject, default: str | None) -> str | None:
    if obj.elf is None:
        return default
    return _safe(lambda: obj.elf.soname) or default  # type: ignore[union-attr]


def _safe(fn: Callable[[], str | None]) -> str | None:
    try:
        return fn()
    except ElfReadError:
        return None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def default_env(search_paths: Iterable[str] = (), python_packages: bool = True, root: str | None = None,
                overrides: Overrides = Overrides()) -> LoaderEnv:
    """The loader environment of this machine, as ``ldd`` would see it from this shell.

    Under ``root`` (a sysroot or unpacked image) this shell's LD_LIBRARY_PATH,
    GLIBC_TUNABLES and installed Python packages say nothing about the audited system.  The
    CPU and glibc facts are read here, once per run, and travel to the workers.
    """
    return LoaderEnv(
        ld_library_path=None if root else os.environ.get("LD_LIBRARY_PATH"),
        search_paths=tuple(search_paths),
        python_package_rule=python_packages and not root,
        root=root,
        host=HostFacts.read(),
        overrides=overrides,
        glibc_tunables=None if root else os.environ.get("GLIBC_TUNABLES"),
    )
