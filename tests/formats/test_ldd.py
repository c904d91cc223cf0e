"""``--format ldd``: the ldd listing with unused libraries marked."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import IS_GLIBC, LDD, ldd_env
from linkaudit.formats.ldd import MARK, LddFormat
from linkaudit.report import Report

from .conftest import EXT, STATIC, TORCH


def test_sample_listing(sample_report: Report) -> None:
    assert LddFormat().format(sample_report).splitlines() == [
        f"{EXT}:",
        f"\tlibc10.so => {TORCH}/libc10.so",
        f"\tlibtorch.so => {TORCH}/libtorch.so {MARK}",
        f"\tlibgomp.so.1 => /usr/lib/libgomp.so.1 {MARK} (incidental)",
        "\tlibmissing.so.2 => not found",  # a direct dependency: before what the direct ones load, as in ldd
        f"\tlibtorch_cpu.so => {TORCH}/libtorch_cpu.so {MARK}",
        f"{STATIC}:",
        "\tstatically linked",
    ]


def test_clean(clean_report: Report) -> None:
    assert MARK not in LddFormat().format(clean_report)


def test_empty(empty_report: Report) -> None:
    assert LddFormat().format(empty_report) == ""


@pytest.mark.requires_cc
@pytest.mark.oracle
@pytest.mark.skipif(not IS_GLIBC or LDD is None, reason="the ldd oracle needs glibc's ldd")
def test_not_found_lines_stand_where_ldd_prints_them(build_so, build_exe, run_cli, tmp_path: Path) -> None:
    """A direct dependency the loader does not find is listed in its DT_NEEDED place, as ldd lists it."""
    libs = tmp_path / "libs"
    libs.mkdir()
    gone = build_so("libgone.so", "int gone_fn(void) { return 1; }\n", out_dir=libs)
    there = build_so("libthere.so", "int there_fn(void) { return 2; }\n", out_dir=libs)
    source = "int gone_fn(void); int there_fn(void);\nint main(void) { return gone_fn() + there_fn(); }\n"
    app = build_exe("app", source, out_dir=tmp_path, libs=[gone, there, "m"])
    gone.unlink()
    env = ldd_env(libs)
    proc = subprocess.run([LDD, str(app)], capture_output=True, text=True, check=False, env=env)
    expected = [os.path.basename(line.split()[0]) for line in proc.stdout.splitlines()
                if line.strip() and "linux-vdso" not in line]
    assert "libgone.so" in expected
    result = run_cli(["--format", "ldd", app], env={"LD_LIBRARY_PATH": str(libs)})
    got = [os.path.basename(line.split()[0]) for line in result.stdout.splitlines()[1:]]
    assert got == expected


@pytest.mark.requires_cc
@pytest.mark.oracle
@pytest.mark.skipif(not IS_GLIBC or LDD is None, reason="the ldd oracle needs glibc's ldd")
def test_libraries_not_found_further_down_stand_where_ldd_prints_them(build_so, build_exe, run_cli,
                                                                       tmp_path: Path) -> None:
    """Libraries a dependency needs that are not found: ldd lists each where the breadth-first walk maps it.

    app -> liba (-> libgone1, libd), libc2 (-> libgone2, libe, libgone1 again), libgone3 (direct), with libgone1,
    libgone2 and libgone3 deleted; libc2 asks for libgone3 too.
    """
    libs = tmp_path / "libs"
    libs.mkdir()
    gone1 = build_so("libgone1.so", "int g1(void) { return 1; }\n", out_dir=libs)
    gone2 = build_so("libgone2.so", "int g2(void) { return 2; }\n", out_dir=libs)
    gone3 = build_so("libgone3.so", "int g3(void) { return 5; }\n", out_dir=libs)
    d = build_so("libd.so", "int d(void) { return 3; }\n", out_dir=libs)
    e = build_so("libe.so", "int e(void) { return 4; }\n", out_dir=libs)
    a = build_so("liba.so", "int g1(void); int d(void);\nint a(void) { return g1() + d(); }\n", out_dir=libs,
                 libs=[gone1, d], runpath=["$ORIGIN"])
    c2 = build_so("libc2.so", "int g2(void); int e(void); int g1(void); int g3(void);\n"
                  "int c2(void) { return g2() + e() + g1() + g3(); }\n",
                  out_dir=libs, libs=[gone2, e, gone1, gone3], runpath=["$ORIGIN"])
    app = build_exe("app", "int a(void); int c2(void); int g3(void);\nint main(void) { return a() + c2() + g3(); }\n",
                    out_dir=tmp_path, libs=[a, c2, gone3], runpath=["$ORIGIN/libs"])
    for gone in (gone1, gone2, gone3):
        gone.unlink()
    proc = subprocess.run([LDD, str(app)], capture_output=True, text=True, check=False, env=ldd_env())
    expected = [os.path.basename(line.split()[0]) for line in proc.stdout.splitlines()
                if line.strip() and "linux-vdso" not in line]
    assert {"libgone1.so", "libgone2.so", "libgone3.so"} <= set(expected)
    result = run_cli(["--format", "ldd", app], env={"LD_LIBRARY_PATH": None})
    got = [os.path.basename(line.split()[0]) for line in result.stdout.splitlines()[1:]]
    assert got == expected
    assert result.stdout.count("libgone1.so => not found") == 2  # asked for twice: ld.so never reuses a placeholder
