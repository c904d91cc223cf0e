"""Verdicts: from a load and its symbol resolutions to used / unused / incidental / missing per DT_NEEDED entry.

Pure: no files are opened here beyond the tables the loader already parsed,
and nothing is printed.  Every rule works on the loaded objects themselves
(a :class:`~linkaudit.loader.LoadedObject` hashes by identity), never on
positions in the search list, except where the loader's own order matters
(musl's scope order, ``ldd -u``'s walk).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from linkaudit.errors import ElfReadError
from linkaudit.report import Owner, Status

if TYPE_CHECKING:
    from linkaudit.binding import Resolution
    from linkaudit.elf import ElfObject
    from linkaudit.loader import LoadedObject, LoadResult

Node = TypeVar("Node", bound=Hashable)
#: a lookup over a scope: ``binding.lookup`` for glibc, ``musl.lookup`` for musl
Rebind = Callable[..., tuple[int | None, object]]


def closure(starts: Iterable[Node], children: Callable[[Node], Iterable[Node]]) -> set[Node]:
    """``starts`` and everything reachable from them through ``children`` (the load graph's closure)."""
    seen = set(starts)
    stack = list(seen)
    while stack:
        for child in children(stack.pop()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def reachability(result: LoadResult) -> dict[LoadedObject, frozenset[LoadedObject]]:
    """For every library of the search list: itself and everything its DT_NEEDED closure loads.

    The main object is neither a key nor in any value: it stays loaded whatever is dropped.
    """
    members = set(result.searchlist[1:])

    def deps(obj: LoadedObject) -> list[LoadedObject]:
        return [d for d in obj.deps if d in members]

    return {obj: frozenset(closure([obj], deps)) for obj in result.searchlist[1:]}


class Resolved(NamedTuple):
    """The binder's output for one load, keyed by loaded object: what the verdicts are judged on."""

    resolutions: list[Resolution]
    rebind: Rebind  # the same lookup over a reduced scope
    damaged: dict[LoadedObject, str]  # objects whose symbol tables broke while binding, and why
    absent: dict[LoadedObject, str]  # musl system libraries this host lacks (not judged), search-list order


class Verdicts(NamedTuple):
    """What the rules concluded for one load: a status per direct dependency and its evidence."""

    status: Mapping[LoadedObject, Status]  # per direct dependency (a duplicate DT_NEEDED shares its object)
    bound: Mapping[LoadedObject, list[Resolution]]  # provider -> the references it satisfies (main excluded)
    owners: Mapping[LoadedObject, dict[bytes, Owner]]  # incidental provider -> symbol -> its owner
    reach: Mapping[LoadedObject, frozenset[LoadedObject]]
    exclusive: Mapping[LoadedObject, tuple[LoadedObject, ...]]  # direct -> providers loaded only through it
    keep: frozenset[LoadedObject]  # what the used direct dependencies keep loaded (the main object included)
    position: Mapping[LoadedObject, int]  # search-list order, for the rules that depend on it

    @property
    def used(self) -> set[LoadedObject]:
        return set(self.bound)

    def drags(self, dep: LoadedObject) -> tuple[LoadedObject, ...]:
        """Libraries loaded only because of ``dep``: not by the other entries, nor by what the used ones keep."""
        others = set(self.status) - {dep}
        for other, status in self.status.items():
            if other is not dep and status is Status.USED:
                others |= self.reach.get(other, frozenset())
        gone = self.reach.get(dep, frozenset()) - others - {dep}
        return tuple(sorted((o for o in gone if o.elf is not None), key=self.position.__getitem__))


def judge(result: LoadResult, resolved: Resolved) -> Verdicts:
    """The verdict on every direct dependency of ``result.main``.

    ``resolved.rebind`` looks a reference up again over a reduced scope (the
    incidental rule); ``resolved.absent`` are musl system libraries this host
    lacks, which are not judged.
    """
    scope, absent, rebind = result.searchlist, resolved.absent, resolved.rebind
    position = {obj: k for k, obj in enumerate(scope)}
    bound = providers(resolved.resolutions, scope)
    reach = reachability(result)
    direct = list(dict.fromkeys(result.direct))
    stays = {d: _loaded_without(d, direct, reach) for d in direct}
    status: dict[LoadedObject, Status] = {}
    owners: dict[LoadedObject, dict[bytes, Owner]] = {}
    for dep in direct:
        if dep.elf is None:
            status[dep] = Status.NOT_ON_HOST if dep in absent else Status.MISSING
        elif dep in bound:
            owned = incidental_owners(dep, bound[dep], result, stays[dep] | {result.main}, rebind)
            if owned is not None:
                owners[dep] = owned
            status[dep] = Status.USED if owned is None else Status.INCIDENTAL
        else:
            status[dep] = Status.UNUSED
    keep = {result.main}.union(*(reach[d] for d, s in status.items() if s is Status.USED))
    return Verdicts(status, bound, owners, reach, exclusive_providers(direct, bound, reach, stays, position),
                    frozenset(keep), position)


def providers(resolutions: Iterable[Resolution], scope: list[LoadedObject]) -> dict[LoadedObject, list[Resolution]]:
    """The libraries that satisfy at least one reference, each with the references it satisfies."""
    by_index: dict[int, list[Resolution]] = {}
    for r in resolutions:
        if k := r.scope_index:  # neither unresolved (None) nor the object itself (0)
            hit = by_index.get(k)
            if hit is None:
                hit = by_index[k] = []
            hit.append(r)
    return {scope[k]: refs for k, refs in by_index.items()}  # a search list holds each object once


def _loaded_without(dep: LoadedObject, direct: list[LoadedObject],
                    reach: Mapping[LoadedObject, frozenset[LoadedObject]]) -> set[LoadedObject]:
    """What the other direct dependencies keep loaded: what stays if ``dep`` is dropped (main excluded)."""
    return set().union(*(reach.get(d, frozenset()) for d in direct if d is not dep))


def exclusive_providers(direct: list[LoadedObject], bound: Mapping[LoadedObject, list[Resolution]],
                        reach: Mapping[LoadedObject, frozenset[LoadedObject]],
                        stays: Mapping[LoadedObject, set[LoadedObject]],
                        position: Mapping[LoadedObject, int]) -> dict[LoadedObject, tuple[LoadedObject, ...]]:
    """Per direct dependency: the transitive providers that only it loads (dropping it would unload them)."""
    transitive = [p for p in bound if p not in direct]
    out: dict[LoadedObject, tuple[LoadedObject, ...]] = {}
    for dep in direct:
        hits = [p for p in transitive if p in reach.get(dep, frozenset()) and p not in stays[dep]]
        if hits:
            out[dep] = tuple(sorted(hits, key=position.__getitem__))
    return out


def incidental_owners(dep: LoadedObject, bound: list[Resolution], result: LoadResult,
                      without: set[LoadedObject], rebind: Rebind) -> dict[bytes, Owner] | None:
    """Owners of every symbol bound to ``dep``, or None if any symbol is really its own.

    The rule: a binding is incidental when the definition in ``dep`` is
    unversioned while another library of the load closure, one that stays
    loaded without ``dep``, exports the same name under a version definition
    of its own.  A library all of whose bindings are incidental is linked only
    because it happens to re-export someone else's symbols.  ``without`` is
    what stays loaded if ``dep`` is dropped (the main object included).

    Under musl the binder ignores versions, but the version definitions in
    the files still say whose ABI a symbol is: the rule is the same, and
    ``rebind`` (musl's lookup) checks that the reference still binds.
    """
    from linkaudit.binding import is_unversioned_definition, owner_of

    elf = dep.elf
    assert elf is not None
    scope: list[ElfObject | None] = [o.elf for o in result.searchlist]
    at = result.searchlist.index(dep)
    out: dict[bytes, Owner] = {}
    for r in bound:
        if r.sym is None or not is_unversioned_definition(elf, r.sym):
            return None
        try:
            found = owner_of(r.ref.name, scope, at)
            # The reference must still bind without dep: an owner whose version the
            # reference cannot take (say a hidden foo@V2 for an unversioned foo) is no owner.
            rebound = rebind([o.elf if o in without else None for o in result.searchlist], r.ref)[0] \
                if found is not None else None
        except ElfReadError:
            return None
        if found is None or result.searchlist[found[0]] not in without or rebound is None:
            return None
        owner = result.searchlist[found[0]]
        out[r.ref.name] = Owner(soname_or(owner, owner.path) or owner.path, found[1].decode("utf-8", "surrogateescape"))
    return out


def unresolved(resolutions: Iterable[Resolution], is_extension: bool) -> tuple[list[str], list[str]]:
    """Strong references nothing defines, split into (unresolved, left to the Python host)."""
    missing: list[str] = []
    host: list[str] = []
    for r in [r for r in resolutions if r.scope_index is None]:  # few: filtered first, looked at after
        if not r.ref.weak:
            name = r.ref.name.decode("utf-8", "surrogateescape")
            (host if is_extension and name.startswith(("Py", "_Py")) else missing).append(name)
    return missing, host


def ldd_unused(result: LoadResult, used: set[LoadedObject], needed_count: int) -> tuple[str, ...]:
    """Exactly what ``ldd -u -r`` lists: rtld walks its l_next chain once per DT_NEEDED entry.

    It tests the n-th entry of the chain against the (n+1)-th object of the search list.
    """
    scope = result.searchlist
    out = []
    for n in range(min(needed_count, len(result.chain))):
        k = n + 1
        if k >= len(scope) or scope[k] not in used:
            out.append(result.chain[n].path)
    return tuple(out)


def soname_or(obj: LoadedObject, default: str | None) -> str | None:
    """The object's DT_SONAME, or ``default`` when it has none (or was not found, or is damaged)."""
    if obj.elf is None:
        return default
    try:
        return obj.elf.soname or default
    except ElfReadError:
        return default
