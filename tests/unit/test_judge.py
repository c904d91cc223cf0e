"""verdicts.judge on a hand-built load graph: the rules alone, without ELF files.

The graph (main needs A, B, C; A needs X; B needs Y and D; C needs D) and the
two references (one bound to C, one to X) are chosen so that each rule has
exactly one right answer, worked out here from the rules themselves:

* C satisfies a reference: used.  A and B satisfy none: unused.
* X satisfies a reference and only A loads it: X is A's exclusive provider,
  so A, although unused, cannot simply be dropped.
* Y is loaded only for B: B drags Y.  D is also loaded by C, which is used, so B does not
  drag D; C does, since B (unused) does not count as keeping anything loaded.
* ``ldd -u`` walks the chain once per DT_NEEDED entry: A and B.
"""

from __future__ import annotations

from dataclasses import dataclass

from linkaudit.binding import Resolution
from linkaudit.loader import LoadedObject, LoadResult
from linkaudit.report import Status
from linkaudit.verdicts import Resolved, closure, judge, ldd_unused, reachability


@dataclass
class FakeElf:
    """What the verdicts read of a library: its size and soname."""

    soname: str
    size: int = 1000


@dataclass(frozen=True)
class Ref:
    name: bytes
    weak: bool = False
    version: None = None


def node(name: str, depth: int) -> LoadedObject:
    return LoadedObject(FakeElf(name), f"/lib/{name}", {name}, None, None, name, depth)


def graph() -> tuple[LoadResult, dict[str, LoadedObject]]:
    main = LoadedObject(FakeElf("main"), "/bin/main", {"main"}, None, None, "main", 0)
    n = {k: node(k, 1 if k in "ABC" else 2) for k in "ABCXYD"}
    main.deps = [n["A"], n["B"], n["C"]]
    n["A"].deps = [n["X"]]
    n["B"].deps = [n["Y"], n["D"]]
    n["C"].deps = [n["D"]]
    searchlist = [main, n["A"], n["B"], n["C"], n["X"], n["Y"], n["D"]]  # breadth-first
    return LoadResult(main, searchlist, main.deps, searchlist[1:], []), n


def resolved(result: LoadResult, n: dict[str, LoadedObject]) -> Resolved:
    at = result.searchlist.index
    refs = [Resolution(Ref(b"c_fn"), at(n["C"]), None), Resolution(Ref(b"x_fn"), at(n["X"]), None),
            Resolution(Ref(b"nowhere", weak=True), None, None)]
    return Resolved(refs, lambda *a: (None, None), {}, {})


def test_closure_follows_children_once() -> None:
    edges = {1: [2, 3], 2: [3], 3: [1], 4: []}
    assert closure([1], edges.__getitem__) == {1, 2, 3}
    assert closure([4], edges.__getitem__) == {4}


def test_reachability_leaves_out_the_main_object() -> None:
    result, n = graph()
    reach = reachability(result)
    assert result.main not in reach and all(result.main not in r for r in reach.values())
    assert reach[n["B"]] == {n["B"], n["Y"], n["D"]}
    assert reach[n["X"]] == {n["X"]}


def test_statuses_providers_drags() -> None:
    result, n = graph()
    v = judge(result, resolved(result, n))
    assert v.status == {n["A"]: Status.UNUSED, n["B"]: Status.UNUSED, n["C"]: Status.USED}
    assert v.used == {n["C"], n["X"]}
    assert v.exclusive == {n["A"]: (n["X"],)}
    assert v.drags(n["B"]) == (n["Y"],)
    assert v.drags(n["A"]) == (n["X"],)
    # drags count what the *used* entries keep: B is unused (to be dropped), so without C, D goes too
    assert v.drags(n["C"]) == (n["D"],)
    assert v.keep == {result.main, n["C"], n["D"]}
    assert v.owners == {}


def test_ldd_unused_walks_the_chain_per_needed_entry() -> None:
    result, n = graph()
    v = judge(result, resolved(result, n))
    assert ldd_unused(result, v.used, len(result.direct)) == ("/lib/A", "/lib/B")
