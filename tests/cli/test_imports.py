"""What a run imports: a plain glibc audit loads only what its inputs and its output need.

Start-up is most of the time of a one-file audit (README, Performance), so the
modules that only some runs need — the musl emulation, TOML parsing, fix
suggestions, the rewriters, the other formats, rich — stay out of the others.
These tests look at *which* modules a real process imported, never at times:
they cannot be flaky, and each exclusion has a run that proves the check sees
the module when it is needed.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import IS_GLIBC

REPO = Path(__file__).resolve().parents[2]

# `python -m linkaudit ARGS`, in-process via runpy, then the names of every module loaded (the run ends in
# os._exit, turned back into SystemExit here so the driver can speak after it).
DRIVER = """
import os, runpy, sys
def _exit(code):
    raise SystemExit(code)
os._exit = _exit
sys.argv = ["linkaudit", *sys.argv[1:]]
try:
    runpy.run_module("linkaudit", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
sys.stderr.write("\\nimported: " + " ".join(sorted(sys.modules)) + "\\n")
"""

# Never needed by a plain JSON audit of a glibc object, with no configuration and nothing missing.
NOT_ON_A_PLAIN_RUN = (
    "linkaudit.musl",  # only when a musl object (or a --root with musl's loader) is met
    "tomllib",  # only for a pyproject.toml / --config file that can hold [tool.linkaudit]
    "linkaudit.fixes", "shlex",  # only with --fix-suggestions or a missing library
    "linkaudit.baseline", "linkaudit.wheels", "zipfile",  # only with --baseline / wheels among the inputs
    "linkaudit.fixer", "linkaudit.rewrite", "linkaudit.rpathfix",  # only for `linkaudit fix`
    "linkaudit.formats.text", "linkaudit.formats.tree", "linkaudit.formats.sarif", "linkaudit.formats.github",
    "linkaudit.formats.graph", "linkaudit.formats.findings",  # only the chosen format
    "rich", "elftools", "ctypes",  # the terminal renderer, a parser linkaudit does not use, the demangler's FFI
    "concurrent.futures", "multiprocessing",  # a pool only for more than one object
)

pytestmark = [pytest.mark.requires_cc,
              pytest.mark.skipif(not IS_GLIBC, reason="a glibc host: its objects are audited by glibc's rules")]


def imported(args: list[str], cwd: Path) -> set[str]:
    """The modules a ``linkaudit ARGS`` process loaded beyond what the bare interpreter loads at start-up."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    env.pop("LD_LIBRARY_PATH", None)
    proc = subprocess.run([sys.executable, "-c", DRIVER, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return set(proc.stderr.rsplit("\nimported: ", 1)[1].split()) - _at_start_up()


@functools.cache
def _at_start_up() -> frozenset[str]:
    """What this interpreter imports before any code runs (site, .pth files): not linkaudit's doing."""
    out = subprocess.run([sys.executable, "-c", "import sys; print(' '.join(sys.modules))"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return frozenset(out.split())


def _within(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def test_a_plain_json_run_imports_only_what_it_needs(objs, tmp_path: Path) -> None:
    mods = imported(["--format", "json", str(objs["clean"])], tmp_path)
    assert {"linkaudit.audit", "linkaudit.formats.json", "linkaudit.libc"} <= mods  # the run did happen
    assert [name for name in NOT_ON_A_PLAIN_RUN if _within(mods, name)] == []


def test_a_project_file_that_cannot_hold_the_table_is_not_parsed(objs, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n[tool.ruff]\nline-length = 100\n')
    assert "tomllib" not in imported(["--format", "json", str(objs["clean"])], tmp_path)


def test_the_check_sees_what_a_run_does_need(objs, tmp_path: Path) -> None:
    """The other side of each exclusion above: the same check, on runs that need the module."""
    (tmp_path / "pyproject.toml").write_text('[tool.linkaudit]\nfail-on = ["missing"]\n')
    mods = imported(["--format", "json", "--fix-suggestions", str(objs["clean"])], tmp_path)
    assert {"tomllib", "linkaudit.fixes"} <= mods
    assert "linkaudit.formats.sarif" in imported(["--format", "sarif", str(objs["clean"])], tmp_path)


def test_the_compiled_path_never_imports_the_pure_python_loops(objs, tmp_path: Path) -> None:
    """bulk.py (its hash power table is built at import) is loaded only where it runs."""
    import linkaudit.accel as accel

    mods = imported(["--format", "json", str(objs["clean"])], tmp_path)
    assert "linkaudit.accel" in mods
    assert ("linkaudit.bulk" in mods) is (not accel.COMPILED)
