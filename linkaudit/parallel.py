"""Auditing many objects at once: a process pool whose workers keep their own parse cache.

Targets are cut into contiguous chunks; every worker process keeps one
:class:`~linkaudit.loader.Loader` (and so one parse cache) for its lifetime,
so a library shared by the objects of a chunk is parsed at most once per
worker.  The calling process audits chunks as well (``-j 2`` is one worker
and this process), so its share is neither forked for nor pickled back.
Results come back in input order whatever order the chunks finish in.
Processes, not threads: the work is pure-Python parsing, bound by the GIL.
"""

from __future__ import annotations

import gc
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from linkaudit.inputs import Target
    from linkaudit.loader import Loader, LoaderEnv
    from linkaudit.report import ErrorEntry, ObjectReport

    Outcome = ObjectReport | ErrorEntry
    AuditFn = Callable[[Target, Loader], Outcome]

_WORKER: tuple[Loader, AuditFn] | None = None  # this worker process's loader and audit function


def default_jobs() -> int:
    """All the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@contextmanager
def few_collections() -> Iterator[None]:
    """Raise the garbage collector's thresholds for a run (forked workers inherit them).

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


def chunked(n: int, jobs: int) -> list[range]:
    """Contiguous index ranges: about four per worker, so a slow chunk does not idle the others."""
    size = max(1, -(-n // (jobs * 4)))
    return [range(i, min(n, i + size)) for i in range(0, n, size)]


def run(targets: Sequence[Target], audit_one: AuditFn, env: LoaderEnv, jobs: int,
        progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
    """One outcome per target, in input order, audited by ``jobs`` processes: this one and ``jobs - 1`` workers.

    ``audit_one(target, loader)`` audits one target and never raises; it must
    be a module-level function (it is sent to the workers by name).  This
    process audits chunks too, from the end of the list while the workers
    take them from the front: what it audits is never pickled, and the two
    ends of a path-sorted list share few libraries, so fewer are parsed twice.
    """
    from linkaudit.loader import Loader, ObjectCache

    n = len(targets)
    loader = Loader(env, ObjectCache())
    if jobs <= 1 or n < 2:
        out = []
        for k, target in enumerate(targets, 1):
            out.append(audit_one(target, loader))
            if progress:
                progress(k, n)
        return out
    import multiprocessing  # imported here: a one-file audit must not pay ~10 ms for the pool machinery
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    jobs = min(jobs, n)
    results: list[Outcome | None] = [None] * n
    # fork is the cheapest start; from 3.12 on it warns when threads exist, so use forkserver there
    methods = multiprocessing.get_all_start_methods()
    if sys.version_info < (3, 12) and "fork" in methods:
        context = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
    pending = deque(chunked(n, jobs))
    done = 0

    def store(chunk: range, outcomes: list[Outcome]) -> None:
        nonlocal done
        for i, outcome in zip(chunk, outcomes):
            results[i] = outcome
        done += len(chunk)
        if progress:
            progress(done, n)

    with ProcessPoolExecutor(max_workers=jobs - 1, mp_context=context, initializer=_init,
                             initargs=(env, audit_one)) as pool, _workers_stopped_on_exit(pool):
        running: dict = {}
        while pending or running:
            while pending and len(running) < 2 * (jobs - 1):  # two each: a worker never waits for this process
                chunk = pending.popleft()
                try:
                    running[pool.submit(_work, [targets[i] for i in chunk])] = chunk
                except Exception as exc:  # the pool broke: a worker died
                    store(chunk, _failed(chunk, targets, exc))
            finished = [f for f in running if f.done()]
            if not finished and pending:
                chunk = pending.pop()
                store(chunk, [audit_one(targets[i], loader) for i in chunk])
                continue
            if not finished:
                finished = list(wait(running, return_when=FIRST_COMPLETED).done)
            for future in finished:
                chunk = running.pop(future)
                store(chunk, _outcomes(future, chunk, targets))
    return results  # type: ignore[return-value]


def _outcomes(future, chunk: range, targets: Sequence[Target]) -> list[Outcome]:
    """A finished chunk's outcomes; when its worker died (killed, out of memory), an error per object."""
    try:
        return future.result()
    except Exception as exc:
        return _failed(chunk, targets, exc)


def _failed(chunk: range, targets: Sequence[Target], exc: Exception) -> list[Outcome]:
    from linkaudit.report import ErrorEntry

    return [ErrorEntry(targets[i].display, f"worker process failed ({type(exc).__name__})") for i in chunk]


@contextmanager
def _workers_stopped_on_exit(pool: ProcessPoolExecutor) -> Iterator[None]:
    """On Ctrl-C or SIGTERM, stop the workers now instead of waiting for their chunks.

    The caller then removes the wheel work directory; a worker still reading
    from it would only get an error, but it must not outlive the command.
    """
    try:
        yield
    except BaseException:
        processes = list((getattr(pool, "_processes", None) or {}).values())  # no public handle on them
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)
        raise


def _init(env: LoaderEnv, audit_one: AuditFn) -> None:
    global _WORKER
    from linkaudit.loader import Loader, ObjectCache

    _WORKER = (Loader(env, ObjectCache()), audit_one)


def _work(chunk: list[Target]) -> list[Outcome]:
    assert _WORKER is not None
    loader, audit_one = _WORKER
    return [audit_one(t, loader) for t in chunk]
