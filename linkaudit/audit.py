"""Orchestration: inputs -> one audit per object (in worker processes) -> Report.

Returns data and prints nothing; the CLI decides what to show.  What happens
to one object is :mod:`linkaudit.objectaudit`'s business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from linkaudit.inputs import BUILD_SCRATCH_DIRS, walking
from linkaudit.loader import LoaderEnv, loader_assumptions
from linkaudit.objectaudit import audit_one
from linkaudit.report import ErrorEntry, ObjectReport, Report


class AuditOptions(NamedTuple):
    """How a run audits: the loader's environment, workers, what the inputs skip, installed modules."""

    env: LoaderEnv = LoaderEnv()
    jobs: int = 1  # processes auditing; 0 = one per core for a run big enough to gain from them
    exclude: tuple[str, ...] = ()  # path globs the inputs skip ([tool.linkaudit] exclude)
    modules: tuple[str, ...] = ()  # installed modules/packages to audit (found without importing them)
    skip_dirs: tuple[str, ...] = BUILD_SCRATCH_DIRS  # directory-name globs skipped while walking


def audit(paths: Iterable[str], options: AuditOptions | None = None,
          progress: Callable[[int, int], None] | None = None) -> Report:
    """Audit every ELF object named by ``paths`` (files, directories, wheels) and ``options.modules``.

    ``progress(done, total)`` is called as objects finish.  Wheel members are
    extracted to a temporary directory that is removed before this returns.
    """
    from linkaudit.parallel import default_jobs, few_collections, run

    options = options or AuditOptions()
    with walking(paths, options.exclude, options.modules, options.skip_dirs, root=options.env.root) as \
            (found, targets, errors), few_collections():
        # the default (0) is every core, when the run is big enough to gain from them; workers start
        # on the first objects while the walk goes on
        jobs = options.jobs if options.jobs > 0 else default_jobs()
        outcomes = run(found, audit_one, options.env, jobs, progress, auto=options.jobs <= 0)
        objects = [o for o in outcomes if isinstance(o, ObjectReport)]
        errors += [o for o in outcomes if isinstance(o, ErrorEntry)]
        wheels = ()
        if any(t.alias is not None for t in targets):
            from linkaudit.wheels import wheel_reports

            wheels = wheel_reports(targets, outcomes)  # sizes are read from the extracted members
    return Report(objects=tuple(objects), errors=tuple(errors), wheels=wheels,
                  loader=loader_assumptions((o.abi for o in objects), options.env))
