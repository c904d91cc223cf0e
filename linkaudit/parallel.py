"""Auditing many objects at once: a process pool whose workers keep their own parse cache.

Every worker process keeps one :class:`~linkaudit.loader.Loader` (and so one
parse cache) for its lifetime.  The list of targets is handed out from both
ends: workers take chunks from the front, the calling process audits chunks
from the back (``-j 2`` is one worker and this process), so what it audits is
neither forked for nor pickled back, and each process walks a contiguous,
path-sorted stretch whose objects share their libraries (few are parsed
twice).  Workers start on the first objects while this process is still
walking the inputs.  Chunks shrink as the two ends meet (a fraction of what
is left), so nobody waits long for the last one.  A worker sends its chunk
back pickled with paths by their text (one ``Path`` per distinct path in
this process, not one per field).  Results come back in input order
whatever order the chunks finish in.  Processes, not threads: the work is
pure-Python parsing, bound by the GIL.
"""

from __future__ import annotations

import copyreg
import gc
import io
import itertools
import os
import pickle
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from linkaudit.inputs import Target
    from linkaudit.loader import Loader, LoaderEnv
    from linkaudit.report import ErrorEntry, ObjectReport

    Outcome = ObjectReport | ErrorEntry
    AuditFn = Callable[[Target, Loader], Outcome]

_WORKER: tuple[Loader, AuditFn] | None = None  # this worker process's loader and audit function

# Below this much work the pool costs more than it gains (importing it, forking, a thread, the
# pipes, and each process parsing the shared libraries that most of a small run's time goes to:
# 16 or 32 small system libraries took longer with -j 2 than with -j 1 here, 64 about as long),
# so the default -j audits in this process: an object count, or the bytes of the few objects named
# (a big C++ library takes 0.1-0.4 ms per MB).
WORTH_FORKING_OBJECTS = 64
WORTH_FORKING_BYTES = 512 << 20


def default_jobs() -> int:
    """All the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def worth_forking(targets: Sequence[Target]) -> bool:
    """Whether a run is big enough for worker processes to pay for themselves (the default -j asks this)."""
    if len(targets) >= WORTH_FORKING_OBJECTS:
        return True
    total = 0
    for t in targets:
        try:
            total += os.stat(t.path).st_size
        except OSError:
            pass
    return len(targets) >= 2 and total >= WORTH_FORKING_BYTES


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


def chunk_size(left: int, jobs: int) -> int:
    """How many of the ``left`` objects not handed out yet the next chunk takes.

    A fraction of what is left (guided scheduling): big chunks first, few
    round trips; small ones at the end, so the last chunk still running when
    everything else is done is short.  Each worker holds two chunks (one
    running, one queued) and this process takes one at a time.
    """
    return max(1, min(left, left // (2 * jobs)))


def run(targets: Iterable[Target], audit_one: AuditFn, env: LoaderEnv, jobs: int,
        progress: Callable[[int, int], None] | None = None, *, auto: bool = False) -> list[Outcome]:
    """One outcome per target, in input order, audited by ``jobs`` processes: this one and ``jobs - 1`` workers.

    ``audit_one(target, loader)`` audits one target and never raises; it must
    be a module-level function (it is sent to the workers by name).  Workers
    take chunks from the front of the list, this process from the back: what
    it audits is never pickled, and the two ends of a path-sorted list share
    few libraries, so fewer are parsed twice.  ``targets`` may be the walk
    itself (a generator): workers start on the first objects it finds while
    this process walks on.  ``auto``: ``jobs`` is the default, taken only for
    a run worth a pool (:func:`worth_forking`).
    """
    from linkaudit.loader import Loader, ObjectCache

    source = iter(targets)
    peek = max(jobs, WORTH_FORKING_OBJECTS if auto else 2)  # enough to decide, and to give every process one
    head = list(itertools.islice(source, peek))
    walking = len(head) == peek  # the walk may find more
    if not walking and (auto and not worth_forking(head)):
        jobs = 1
    loader = Loader(env, ObjectCache())
    if jobs <= 1 or len(head) < 2:
        listed = head + list(source)
        out = []
        for k, target in enumerate(listed, 1):
            out.append(audit_one(target, loader))
            if progress:
                progress(k, len(listed))
        return out
    return _Pool(source, head, walking, audit_one, loader, min(jobs, len(head)), progress).run()


# While the walk goes on (its length unknown), workers take chunks of this many objects as it finds them;
# this process walks that many at a time between looks at the workers.
WALK_CHUNK = 8
WALK_STEP = 16


class _Pool:
    """One parallel run: the workers, what is handed out, what came back."""

    def __init__(self, source: Iterator[Target], found: list[Target], walking: bool, audit_one: AuditFn,
                 loader: Loader, jobs: int, progress: Callable[[int, int], None] | None) -> None:
        self.source, self.targets, self.walking = source, found, walking
        self.audit_one, self.loader, self.progress = audit_one, loader, progress
        self.jobs, self.workers = jobs, jobs - 1
        self.results: list[Outcome | None] = [None] * len(found)
        self.lo, self.hi = 0, len(found)  # targets[lo:hi] are not handed out yet (hi grows while walking)
        self.done = 0
        self.running: dict = {}  # future -> its chunk

    def run(self) -> list[Outcome]:
        import multiprocessing  # imported here: a one-file audit must not pay ~10 ms for the pool machinery
        from concurrent.futures import ProcessPoolExecutor

        # fork is the cheapest start; from 3.12 on it warns when threads exist, so use forkserver there
        methods = multiprocessing.get_all_start_methods()
        if sys.version_info < (3, 12) and "fork" in methods:
            context = multiprocessing.get_context("fork")
        else:
            context = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=context, initializer=_init,
                                 initargs=(self.loader.env, self.audit_one)) as pool, _workers_stopped_on_exit(pool):
            self.pool = pool
            while self.walking:
                self._feed()
                self._walk()
                self._reap(block=False)
            if self.progress and self.done:
                self.progress(self.done, len(self.targets))
            while self.lo < self.hi or self.running:
                self._feed()
                if not self._reap(block=False) and self.lo < self.hi:  # nothing back yet: audit a chunk here
                    chunk = range(self.hi - self._own_size(), self.hi)
                    self.hi = chunk.start
                    self._store(chunk, [self.audit_one(self.targets[i], self.loader) for i in chunk])
                elif self.lo >= self.hi:
                    self._reap(block=True)
        return self.results  # type: ignore[return-value]

    def _own_size(self) -> int:
        """This process's next chunk: the guided size, but short enough to be back before the workers run dry.

        Half of what each worker holds: the workers' chunks may be small (handed out while walking).
        """
        size = chunk_size(self.hi - self.lo, self.jobs)
        queued = sum(len(chunk) for chunk in self.running.values())
        return max(1, min(size, queued // (2 * self.workers))) if queued else size

    def _walk(self) -> None:
        found = list(itertools.islice(self.source, WALK_STEP))
        self.targets += found
        self.results += [None] * len(found)
        self.hi = len(self.targets)
        self.walking = len(found) == WALK_STEP

    def _feed(self) -> None:
        """Two chunks per worker, so a worker never waits for this process; while walking, small fixed ones.

        A second one only while there is enough left for this process too (with two big objects, one each).
        """
        while self.lo < self.hi and len(self.running) < 2 * self.workers:
            left = self.hi - self.lo
            if self.walking:  # never more than the workers' share of what is found so far
                if self.lo + WALK_CHUNK > len(self.targets) * self.workers // self.jobs:
                    return
                size = WALK_CHUNK
            elif len(self.running) >= self.workers and left < 2 * self.jobs:
                return
            else:
                size = chunk_size(left, self.jobs)
            chunk = range(self.lo, self.lo + size)
            self.lo = chunk.stop
            try:
                self.running[self.pool.submit(_work, self.targets[chunk.start:chunk.stop])] = chunk
            except Exception as exc:  # the pool broke: a worker died
                self._store(chunk, _failed(chunk, self.targets, exc))

    def _reap(self, block: bool) -> bool:
        """Store what finished (waiting for something when ``block``); False when nothing had."""
        from concurrent.futures import FIRST_COMPLETED, wait

        finished = [f for f in self.running if f.done()]
        if not finished and block and self.running:
            finished = list(wait(self.running, return_when=FIRST_COMPLETED).done)
        for future in finished:
            chunk = self.running.pop(future)
            self._store(chunk, _outcomes(future, chunk, self.targets))
        return bool(finished)

    def _store(self, chunk: range, outcomes: list[Outcome]) -> None:
        self.results[chunk.start:chunk.stop] = outcomes
        self.done += len(chunk)
        if self.progress and not self.walking:  # the total is known once the walk is over
            self.progress(self.done, len(self.targets))


def _outcomes(future, chunk: range, targets: Sequence[Target]) -> list[Outcome]:
    """A finished chunk's outcomes; when its worker died (killed, out of memory), an error per object."""
    try:
        return _unpack(future.result())
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


def _work(chunk: Sequence[Target]) -> bytes:
    assert _WORKER is not None
    loader, audit_one = _WORKER
    return _pack([audit_one(t, loader) for t in chunk])


# -- sending outcomes back --------------------------------------------------------------

_PATH_TYPE = type(Path("/"))


def _reduce_path(path: Path) -> tuple[Callable[[str], Path], tuple[str]]:
    from linkaudit.objectreport import path_of  # one Path per distinct path, in the worker and here

    return path_of, (str(path),)


_REDUCERS = {**copyreg.dispatch_table, _PATH_TYPE: _reduce_path}


def _pack(outcomes: list[Outcome]) -> bytes:
    """A chunk's outcomes as bytes: paths by their text (``Path`` pickles as its parts, rebuilt one by one).

    Objects the report shares (a library's path, a binding seen by several
    entries) are pickled once per chunk, as references after the first.
    """
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _REDUCERS
    pickler.dump(outcomes)
    return buffer.getvalue()


def _unpack(data: bytes) -> list[Outcome]:
    return pickle.loads(data)
