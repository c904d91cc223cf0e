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
