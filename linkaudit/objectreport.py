"""One object's report records from its load and its verdicts: DT_NEEDED entries, the load closure.

Turns loader nodes and verdicts into the frozen records of :mod:`linkaudit.report`;
it decides nothing (:mod:`linkaudit.verdicts` does) and reads nothing new.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from linkaudit.categories import classify
from linkaudit.errors import ElfReadError
from linkaudit.report import Binding, Dependency, LoadedLibrary, NeededEntry, ObjectReport, Owner, SearchStep
from linkaudit.verdicts import Resolved, Verdicts, soname_or

if TYPE_CHECKING:
    from linkaudit.binding import Resolution
    from linkaudit.elf import ElfObject
    from linkaudit.inputs import Target
    from linkaudit.loader import LoadedObject, LoadResult


def needed_entries(elf: ElfObject, result: LoadResult, verdicts: Verdicts, resolved: Resolved,
                   candidates: Callable[[str], Iterable[Path]]) -> tuple[NeededEntry, ...]:
    """One entry per DT_NEEDED string, in order; a repeated entry carries its bindings once.

    ``candidates(name)`` lists same-named files elsewhere, for a library the loader does not find.
    """
    out: list[NeededEntry] = []
    seen: set[LoadedObject] = set()
    for raw_name, dep in zip(elf.needed, result.direct):
        bindings = () if dep in seen else _bindings(verdicts.bound.get(dep, ()), dep.path, verdicts.owners.get(dep))
        seen.add(dep)
        drags = verdicts.drags(dep)
        out.append(NeededEntry(
            name=raw_name,
            path=path_of(dep.path) if dep.elf is not None else None,
            found_via=dep.found_via if dep.elf is not None else None,
            status=verdicts.status[dep],
            category=classify(soname_or(dep, raw_name)),
            bindings=bindings,
            searched=dep.searched if dep.elf is None else (),
            candidates=tuple(candidates(raw_name)) if dep.elf is None else (),
            python_package=dep.python_package,
            drags=tuple(path_of(o.path) for o in drags),
            drags_bytes=sum(o.elf.size for o in drags),  # type: ignore[union-attr]
            has_initializers=bool(dep.elf and dep.elf.has_initializers),
            uncertain=uncertainty(dep, verdicts, resolved),
            loads_providers=tuple(soname_or(p, p.path) or "" for p in verdicts.exclusive.get(dep, ())),
        ))
    return tuple(out)


# One Binding per distinct (reference, provider, owner) in a process: objects of a tree bind the
# same symbols of the same libraries (38,657 bindings, 17,009 distinct, in 361 objects of real
# wheels); a record is made once, and a chunk of outcomes sent back from a worker pickles it once.
_BINDINGS: dict[tuple, Binding] = {}
_BINDINGS_KEPT = 1 << 16  # then start over: a bound on the memory it holds, not a cache policy


def _bindings(resolutions: Iterable[Resolution], provider: str,
              owners: Mapping[bytes, Owner] | None) -> tuple[Binding, ...]:
    """The Binding records of the references one library satisfies, in order."""
    memo = _BINDINGS
    if len(memo) > _BINDINGS_KEPT:
        memo.clear()
    out = []
    for r in resolutions:
        ref = r.ref
        owner = owners.get(ref.name) if owners else None
        key = (ref, provider, owner)
        binding = memo.get(key)
        if binding is None:
            version = ref.version
            binding = memo[key] = Binding(_text(ref.name), _text(version.name) if version else None, ref.weak,
                                          provider, owner)
        out.append(binding)
    return tuple(out)


@functools.lru_cache(maxsize=1 << 14)
def path_of(text: str) -> Path:
    """One ``Path`` per distinct path: most reports of a run name the same libraries, and making one parses it."""
    return Path(text)


def uncertainty(dep: LoadedObject, verdicts: Verdicts, resolved: Resolved) -> str | None:
    """Why the status of ``dep`` may be wrong: damaged tables, or a musl library this host lacks."""
    why = resolved.damaged.get(dep) or resolved.absent.get(dep)
    if why is None and dep.elf is not None and dep not in verdicts.bound and resolved.damaged:
        why = "; ".join(f"{o.path}: symbol tables damaged" for o in resolved.damaged)
    before = [o for o in resolved.absent if verdicts.position[o] < verdicts.position[dep]]
    if why is None and dep in verdicts.bound and before:
        why = (f"{', '.join(dict.fromkeys(o.first_name for o in before))} "
               "is not on this host and comes first in musl's scope: it may define these symbols")
    return why


def loaded_libraries(result: LoadResult, verdicts: Verdicts) -> tuple[LoadedLibrary, ...]:
    """The load closure, breadth-first, each library marked when only unneeded entries keep it loaded."""
    return tuple(LoadedLibrary(
        name=obj.first_name,
        path=path_of(obj.path),
        soname=soname_or(obj, None),
        found_via=obj.found_via,  # type: ignore[arg-type]
        category=classify(soname_or(obj, obj.first_name)),  # type: ignore[arg-type]
        size=obj.elf.size,
        depth=obj.depth,
        needed_by=tuple(obj.needed_by),
        only_for_unneeded=obj not in verdicts.keep,
        needs=dependencies_of(obj),
    ) for obj in result.searchlist[1:] if obj.elf is not None)


def dependencies_of(obj: LoadedObject) -> tuple[Dependency, ...]:
    """A loaded library's own DT_NEEDED entries as this load resolved them (for the tree)."""
    try:
        names = obj.elf.needed if obj.elf is not None else ()
    except ElfReadError:
        return ()
    memo = _DEPENDENCIES
    if len(memo) > _BINDINGS_KEPT:
        memo.clear()
    out = []
    for name, dep in zip(names, obj.deps):
        key = (name, dep.path) if dep.elf is not None else (name, None, dep.searched)
        record = memo.get(key)
        if record is None:
            record = memo[key] = Dependency(name, dep.path, ()) if dep.elf is not None \
                else Dependency(name, None, dep.searched)
        out.append(record)
    return tuple(out)


_DEPENDENCIES: dict[tuple, Dependency] = {}  # as _BINDINGS: every library's own entries recur in most loads


def renamed(report: ObjectReport, target: Target) -> ObjectReport:
    """Wheel members: name libraries found inside the extracted wheel as ``x.whl!pkg.libs/lib.so``.

    Records that name nothing inside the wheel (system libraries, their bindings) are kept as they
    are, not copied: most of a report, and a binding copied per entry would be made again per object.
    """
    assert target.alias is not None
    inside, shown = target.alias[0] + "/", target.alias[1]
    rename = target.rename

    def p(path: Path) -> Path:
        text = str(path)
        return path_of(rename(text)) if text.startswith(inside) else path

    def s(text: str) -> str:
        return text.replace(inside, shown)

    def step(st: SearchStep) -> SearchStep:
        directory, source = rename(st.directory), s(st.source)
        return st if directory == st.directory and source == st.source else SearchStep(directory, source, st.via)

    def binding(b: Binding) -> Binding:
        if not (b.provider and b.provider.startswith(inside)):
            return b
        done = bindings.get(b)
        if done is None:
            done = bindings[b] = Binding(b.symbol, b.version, b.weak, rename(b.provider), b.owner)
        return done

    def dependency(d: Dependency) -> Dependency:
        path = d.path and rename(d.path)
        searched = tuple(step(st) for st in d.searched)
        return d if path == d.path and searched == d.searched else Dependency(d.name, path, searched)

    bindings: dict[Binding, Binding] = {}
    needed = tuple(replace(
        n, path=n.path and p(n.path), drags=tuple(p(d) for d in n.drags),
        bindings=tuple(binding(b) for b in n.bindings),
        searched=tuple(step(st) for st in n.searched),
        uncertain=n.uncertain and s(n.uncertain),
    ) for n in report.needed)
    loaded = tuple(replace(lib, path=p(lib.path), needed_by=tuple(rename(x) for x in lib.needed_by),
                           needs=tuple(dependency(d) for d in lib.needs))
                   for lib in report.loaded)
    missing = tuple(replace(m, needed_by=rename(m.needed_by), why=s(m.why),
                            searched=tuple(step(st) for st in m.searched)) for m in report.missing_transitive)
    return replace(report, needed=needed, loaded=loaded, ldd_unused=tuple(rename(x) for x in report.ldd_unused),
                   warnings=tuple(s(w) for w in report.warnings),
                   rpath_findings=tuple(replace(f, message=s(f.message)) for f in report.rpath_findings),
                   missing_transitive=missing)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")
