"""``python -m linkaudit`` and the ``linkaudit`` console script.

Before anything else is imported, the working directory is taken off
``sys.path``: ``python -m`` puts it first, and linkaudit is run inside
directories it does not trust (a ``typing.py`` or a ``cv2/`` there must not
run).  The one exception is linkaudit's own checkout: when the package itself
was imported from the working directory, that directory is the code being run.
Modules the interpreter imports before this line (``python -m`` runs
``runpy``: importlib.util, contextlib, functools, ...) are beyond its reach:
in an untrusted directory use the console script or ``python -P -m linkaudit``.
"""

import os
import sys


def _drop_working_directory() -> None:
    """Remove ``''``, ``.``, relative entries and the working directory itself from ``sys.path``."""
    try:
        cwd = os.path.realpath(os.getcwd())
    except OSError:  # the working directory was removed: relative entries point nowhere
        cwd = None
    ours = os.path.realpath(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    kept = []
    for entry in sys.path:
        relative = not entry or not os.path.isabs(entry)
        full = os.path.realpath(entry or ".") if cwd is not None else entry
        if (relative or full == cwd) and full != ours:
            continue
        kept.append(entry)
    sys.path[:] = kept


_drop_working_directory()

from linkaudit.cli import main  # noqa: E402  (after the sys.path clean-up, on purpose)


def console() -> None:
    """Run the command, flush its output and leave the process without tearing the interpreter down.

    A finished run has nothing left to clean up (the pool is joined, wheel
    extractions are removed, files are closed before the command returns), and
    freeing every module and object one by one at exit was 7% of a one-file
    audit's instructions.  The exit code is the command's, as ``sys.exit`` would
    make it; an output stream that can no longer be flushed (a reader that went
    away) does not change it.
    """
    try:
        main()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:  # sys.exit("message"): printed, status 1
            print(exc.code, file=sys.stderr)
            code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code & 0xFF)


if __name__ == "__main__":
    console()
