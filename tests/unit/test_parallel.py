"""parallel: outcomes in input order whatever the number of workers; a dead worker is an error per object."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from linkaudit.inputs import Target
from linkaudit.loader import Loader, LoaderEnv
from linkaudit.parallel import chunked, run
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


@pytest.mark.parametrize(("n", "jobs"), [(0, 2), (1, 4), (6, 2), (100, 3)])
def test_chunks_cover_every_index_once_in_order(n: int, jobs: int) -> None:
    chunks = chunked(n, jobs)
    assert [i for c in chunks for i in c] == list(range(n))
    assert len(chunks) <= max(1, jobs * 4)


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
