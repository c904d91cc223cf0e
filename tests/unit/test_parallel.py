"""parallel: outcomes in input order whatever the number of workers; a dead worker is an error per object."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from linkaudit.inputs import Target
from linkaudit.loader import Loader, LoaderEnv
from linkaudit.parallel import chunk_size, run, worth_forking
from linkaudit.report import ErrorEntry


def fake_audit(target: Target, loader: Loader) -> ErrorEntry:
    """Module level, so the workers can import it; says which process audited the target."""
    assert isinstance(loader, Loader)
    return ErrorEntry(target.display, str(os.getpid()))


def dying_audit(target: Target, loader: Loader) -> ErrorEntry:
    if target.display == "t1":
        os._exit(1)  # the worker dies, as when it is killed
    return ErrorEntry(target.display, "ok")


TARGETS = [Target(Path(f"/nowhere/t{i}"), f"t{i}") for i in range(6)]


@pytest.mark.parametrize(("n", "jobs"), [(1, 2), (7, 4), (100, 2), (361, 2), (1000, 3)])
def test_chunks_shrink_as_the_list_is_handed_out_and_cover_it(n: int, jobs: int) -> None:
    left, sizes = n, []
    while left:
        size = chunk_size(left, jobs)
        assert 1 <= size <= left
        sizes.append(size)
        left -= size
    assert sum(sizes) == n
    assert sizes == sorted(sizes, reverse=True)  # big first, small last: the last chunk to finish is short
    assert sizes[-1] == 1
    assert sizes[0] <= max(1, n // (2 * jobs))


def test_small_runs_are_not_worth_a_pool(tmp_path: Path) -> None:
    small = [Target(tmp_path / f"t{i}", f"t{i}") for i in range(3)]
    for t in small:
        t.path.write_bytes(b"x" * 100)
    assert not worth_forking(small)
    assert not worth_forking(small[:1])
    assert worth_forking(TARGETS * 11)  # many objects: worth it whatever their size (these do not even exist)
    big = tmp_path / "big"
    with open(big, "wb") as fh:
        fh.truncate(600 << 20)  # sparse: a big library's size without its bytes
    assert worth_forking([small[0], Target(big, "big")])


def test_one_job_audits_in_this_process_in_order() -> None:
    seen: list[tuple[int, int]] = []
    out = run(TARGETS, fake_audit, LoaderEnv(), 1, progress=lambda k, n: seen.append((k, n)))
    assert [e.path for e in out] == [t.display for t in TARGETS]
    assert {e.message for e in out} == {str(os.getpid())}
    assert seen == [(k, 6) for k in range(1, 7)]


def slow_audit(target: Target, loader: Loader) -> ErrorEntry:
    """fake_audit, slow enough that a worker cannot finish its chunks before this process takes one."""
    import time

    time.sleep(0.01)
    return fake_audit(target, loader)


def test_workers_and_this_process_share_the_work_and_keep_input_order() -> None:
    targets = [Target(Path(f"/nowhere/t{i}"), f"t{i}") for i in range(40)]
    seen: list[int] = []
    out = run(targets, slow_audit, LoaderEnv(), 2, progress=lambda k, n: seen.append(k))
    assert [e.path for e in out] == [t.display for t in targets]
    pids = [e.message for e in out]
    assert pids[0] != str(os.getpid())  # the first chunks go to the worker...
    assert pids[-1] == str(os.getpid())  # ...while this process takes the last one itself
    assert seen == sorted(seen) and seen[-1] == 40


def test_a_dead_worker_is_an_error_for_its_objects_only_and_the_run_completes() -> None:
    out = run(TARGETS, dying_audit, LoaderEnv(), 2)
    assert [e.path for e in out] == [t.display for t in TARGETS]
    assert "worker process failed" in out[1].message
    assert all(e.message in ("ok",) or "worker process failed" in e.message for e in out)


def test_few_collections_raises_the_thresholds_for_the_run_only() -> None:
    import gc

    from linkaudit.parallel import few_collections

    before = gc.get_threshold()
    with pytest.raises(KeyboardInterrupt), few_collections():
        assert gc.get_threshold()[0] >= 100_000
        raise KeyboardInterrupt  # restored however the run ends
    assert gc.get_threshold() == before


def test_two_objects_are_one_each() -> None:
    """A run of two big objects: the worker gets one and this process audits the other, not both to the worker."""
    out = run(TARGETS[:2], slow_audit, LoaderEnv(), 2)
    assert [e.path for e in out] == ["t0", "t1"]
    assert out[0].message != str(os.getpid()) and out[1].message == str(os.getpid())


def timed_audit(target: Target, loader: Loader) -> ErrorEntry:
    import time

    return ErrorEntry(target.display, f"{os.getpid()} {time.monotonic()}")


def test_workers_start_while_the_walk_goes_on_and_small_default_runs_stay_here() -> None:
    import time

    walk_ended: list[float] = []

    def slow_walk():
        for i in range(48):
            if i >= 16:
                time.sleep(0.005)
            yield Target(Path(f"/nowhere/t{i}"), f"t{i}")
        walk_ended.append(time.monotonic())

    seen: list[tuple[int, int]] = []
    out = run(slow_walk(), timed_audit, LoaderEnv(), 2, progress=lambda k, n: seen.append((k, n)))
    assert [e.path for e in out] == [f"t{i}" for i in range(48)]
    stamps = [(pid, float(t)) for pid, t in (e.message.split() for e in out)]
    assert any(pid != str(os.getpid()) and t < walk_ended[0] for pid, t in stamps)  # audited before the walk ended
    assert seen[-1] == (48, 48) and all(n == 48 for _, n in seen)  # progress only once the total is known
    small = run(iter(TARGETS), timed_audit, LoaderEnv(), 2, auto=True)  # the default -j on six small objects
    assert {e.message.split()[0] for e in small} == {str(os.getpid())}
