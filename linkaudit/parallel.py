"""Auditing many objects at once: a process pool whose workers keep their own parse cache.

Targets are cut into contiguous chunks; every worker process keeps one
:class:`~linkaudit.loader.Loader` (and so one parse cache) for its lifetime,
so a library shared by the objects of a chunk is parsed at most once per
worker.  Results come back in input order whatever order the chunks finish in.
Processes, not threads: the work is pure-Python parsing, bound by the GIL.
"""

from __future__ import annotations

import gc
import os
import sys
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
    """One outcome per target, in input order, audited by ``jobs`` worker processes.

    ``audit_one(target, loader)`` audits one target and never raises; it must
    be a module-level function (it is sent to the workers by name).
    """
    from linkaudit.loader import Loader, ObjectCache

    n = len(targets)
    if jobs <= 1 or n < 2:
        loader = Loader(env, ObjectCache())
        out = []
        for k, target in enumerate(targets, 1):
            out.append(audit_one(target, loader))
            if progress:
                progress(k, n)
        return out
    import multiprocessing  # imported here: a one-file audit must not pay ~10 ms for the pool machinery
    from concurrent.futures import ProcessPoolExecutor, as_completed

    jobs = min(jobs, n)
    results: list[Outcome | None] = [None] * n
    # fork is the cheapest start; from 3.12 on it warns when threads exist, so use forkserver there
    methods = multiprocessing.get_all_start_methods()
    if sys.version_info < (3, 12) and "fork" in methods:
        context = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
    done = 0
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init, initargs=(env, audit_one)) as pool, \
            _workers_stopped_on_exit(pool):
        futures = {pool.submit(_work, [targets[i] for i in chunk]): chunk for chunk in chunked(n, jobs)}
        for future in as_completed(futures):
            chunk = futures[future]
            try:
                outcomes = future.result()
            except Exception as exc:  # a worker died (killed, out of memory): say so per object
                from linkaudit.report import ErrorEntry

                outcomes = [ErrorEntry(targets[i].display, f"worker process failed ({type(exc).__name__})")
                            for i in chunk]
            for i, outcome in zip(chunk, outcomes):
                results[i] = outcome
            done += len(chunk)
            if progress:
                progress(done, n)
    return results  # type: ignore[return-value]


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
