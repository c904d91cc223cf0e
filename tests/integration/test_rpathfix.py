"""``linkaudit fix --clean-rpath`` on objects compiled here: the search path cleaned, proven by ldd and pyelftools."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import IS_GLIBC
from elftools.elf.elffile import ELFFile

pytestmark = pytest.mark.requires_cc

NOWHERE = "/linkaudit-test-nonexistent/lib"
LDD = shutil.which("ldd")


def _paths(path: Path) -> dict[str, list[str]]:
    """DT_RPATH / DT_RUNPATH as pyelftools reads them."""
    with open(path, "rb") as fh:
        dyn = next(s for s in ELFFile(fh).iter_segments() if s["p_type"] == "PT_DYNAMIC")
        out: dict[str, list[str]] = {"DT_RPATH": [], "DT_RUNPATH": []}
        for t in dyn.iter_tags():
            if t.entry.d_tag == "DT_RPATH":
                out["DT_RPATH"].append(t.rpath)
            elif t.entry.d_tag == "DT_RUNPATH":
                out["DT_RUNPATH"].append(t.runpath)
        return out


def _ldd_dep(path: Path) -> str:
    out = subprocess.run([LDD, str(path)], capture_output=True, text=True, check=True, timeout=60,
                         env={k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}).stdout
    line = next(l for l in out.splitlines() if "libdep.so" in l)
    return os.path.realpath(line.split("=>")[1].split("(")[0].strip())


@pytest.fixture
def tree(tmp_path: Path, build_so) -> Path:
    build_so("libdep.so", "used.c", out_dir=tmp_path / "lib")
    return tmp_path


def _consumer(build_so, tree: Path, name: str, **kw) -> Path:
    return build_so(name, "consumer_basic.c", out_dir=tree, libs=[tree / "lib" / "libdep.so"], **kw)


@pytest.mark.skipif(not IS_GLIBC or LDD is None, reason="checks the result with glibc's ldd")
def test_flagged_elements_dropped(build_so, tree: Path, run_cli) -> None:
    obj = _consumer(build_so, tree, "app.so", runpath=["$ORIGIN/lib", "", "build/lib", NOWHERE])
    out = tree / "app.clean.so"
    result = run_cli(["fix", "--clean-rpath", obj, "-o", out])
    assert result.exit_code == 0, result.stderr
    assert "-> DT_RUNPATH '$ORIGIN/lib'" in result.stdout
    assert _paths(out) == {"DT_RPATH": [], "DT_RUNPATH": ["$ORIGIN/lib"]}
    assert _ldd_dep(out) == _ldd_dep(obj) == str((tree / "lib" / "libdep.so").resolve())
    assert os.path.getsize(out) == os.path.getsize(obj)
    assert run_cli(["--fail-on", "rpath", out]).exit_code == 0


def test_rpath_becomes_runpath(build_so, tree: Path, run_cli) -> None:
    obj = _consumer(build_so, tree, "old.so", rpath=["$ORIGIN/lib"])
    assert _paths(obj) == {"DT_RPATH": ["$ORIGIN/lib"], "DT_RUNPATH": []}
    assert run_cli(["fix", "--clean-rpath", "--in-place", obj]).exit_code == 0
    assert _paths(obj) == {"DT_RPATH": [], "DT_RUNPATH": ["$ORIGIN/lib"]}
    assert _paths(obj.with_name("old.so.orig"))["DT_RPATH"] == ["$ORIGIN/lib"]  # the backup


def test_refused_when_a_library_loads_through_a_flagged_element(build_so, tree: Path, run_cli) -> None:
    obj = _consumer(build_so, tree, "abs.so", runpath=[str(tree / "lib")])  # absolute: flagged, and it finds libdep
    before = obj.read_bytes()
    result = run_cli(["fix", "--clean-rpath", obj, "-o", tree / "abs.clean.so"])
    assert result.exit_code == 2
    assert "libdep.so would load from elsewhere" in result.stderr and "left unchanged" in result.stderr
    assert obj.read_bytes() == before and not (tree / "abs.clean.so").exists()


def test_every_element_flagged_deletes_the_tag(build_so, tmp_path: Path, run_cli) -> None:
    obj = build_so("bare.so", "int f(void) { return 0; }", out_dir=tmp_path, runpath=[NOWHERE])
    out = tmp_path / "bare.clean.so"
    result = run_cli(["fix", "--clean-rpath", obj, "-o", out])
    assert result.exit_code == 0, result.stderr
    assert "-> no search path" in result.stdout
    assert _paths(out) == {"DT_RPATH": [], "DT_RUNPATH": []}  # not an empty string: that would be the cwd


def test_nothing_to_change(build_so, tree: Path, run_cli) -> None:
    obj = _consumer(build_so, tree, "clean.so", runpath=["$ORIGIN/lib"])
    result = run_cli(["fix", "--clean-rpath", obj, "-o", tree / "x.so"])
    assert result.exit_code == 0 and "nothing to change" in result.stderr
    assert (tree / "x.so").read_bytes() == obj.read_bytes()  # like `fix -o`: OUT always exists afterwards


def test_string_that_may_be_shared_is_refused(build_so, tree: Path) -> None:
    """A name stored as the tail of the search path (libdep.so here) would be clobbered by an in-place write."""
    from linkaudit.errors import RewriteError
    from linkaudit.rewrite import plan_search_path

    obj = _consumer(build_so, tree, "tail.so", runpath=["$ORIGIN/lib", f"{NOWHERE}/libdep.so"])
    with pytest.raises(RewriteError, match="share its bytes with 'libdep.so'"):
        plan_search_path(obj.read_bytes(), "$ORIGIN/lib")
    with pytest.raises(RewriteError, match="longer"):
        plan_search_path(obj.read_bytes(), "$ORIGIN/lib:" + "x" * 200)


def test_output_in_another_directory_says_why_a_library_moves(build_so, tree: Path, run_cli, tmp_path: Path) -> None:
    """`-o` elsewhere: $ORIGIN/lib is resolved from the output's directory, which the refusal says."""
    obj = _consumer(build_so, tree, "app2.so", runpath=["$ORIGIN/lib", "build/lib"])
    out = tree / "other" / "app2.clean.so"
    out.parent.mkdir()
    result = run_cli(["fix", "--clean-rpath", obj, "-o", out])
    assert result.exit_code == 2
    assert f"checked where it is written: in {out.parent}, $ORIGIN-relative search paths" in result.stderr
    # next to the source, the same rewrite goes through
    assert run_cli(["fix", "--clean-rpath", obj, "-o", tree / "app2.clean.so"]).exit_code == 0
