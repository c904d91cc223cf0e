"""Fixtures for hardening: real objects compiled here, a map of their structures, a time bound."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

CC = shutil.which("cc") or shutil.which("gcc")

DEP_C = """
int dep_value = 3;
int dep_func(int x) { return x + dep_value; }
int dep_old(void) { return 1; }
__asm__(".symver dep_old, dep_versioned@DEP_1.0");
int dep_new(void) { return 2; }
__asm__(".symver dep_new, dep_versioned@@DEP_2.0");
"""
DEP_MAP = "DEP_1.0 { global: dep_func; dep_value; dep_old; local: *; };\nDEP_2.0 { global: dep_new; } DEP_1.0;\n"
MAIN_C = """
extern int dep_value;
int dep_func(int);
int dep_versioned(void);
__attribute__((weak)) int maybe_missing(void);
int entry(int x) { return dep_func(x) + dep_value + dep_versioned() + (maybe_missing ? maybe_missing() : 0); }
"""


@dataclass(frozen=True)
class Built:
    """A main library and its dependency (same directory, found through RUNPATH $ORIGIN)."""

    dir: Path
    main: Path
    dep: Path


def timeout(seconds: float):
    """Raise TimeoutError if the body runs longer than ``seconds`` (SIGALRM; main thread only)."""

    @contextlib.contextmanager
    def bound():
        def fire(signum, frame):
            raise TimeoutError(f"took more than {seconds} s")

        old = signal.signal(signal.SIGALRM, fire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    return bound()


def compile_so(out: Path, source: str, *flags: str) -> Path:
    src = out.with_name(out.name + ".c")
    src.write_text(source)
    subprocess.run([CC, "-shared", "-fPIC", "-O1", "-o", str(out), str(src), "-Wl,--no-as-needed", *flags],
                   check=True, capture_output=True)
    src.unlink()
    return out


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Built:
    if CC is None:
        pytest.skip("no C compiler (cc) on PATH")
    d = tmp_path_factory.mktemp("fuzzsrc")
    (d / "dep.map").write_text(DEP_MAP)
    dep = compile_so(d / "libdep.so", DEP_C, "-Wl,-soname,libdep.so", f"-Wl,--version-script={d / 'dep.map'}",
                     "-Wl,--hash-style=both")
    main = compile_so(d / "libmain.so", MAIN_C, f"-L{d}", "-ldep", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN",
                      "-Wl,--hash-style=both", "-Wl,-z,now")
    return Built(d, main, dep)


def regions(path: Path) -> dict[str, tuple[int, int]]:
    """(offset, size) of every structure the loader reads, found with pyelftools (test side only)."""
    from elftools.elf.elffile import ELFFile

    out: dict[str, tuple[int, int]] = {}
    with open(path, "rb") as fh:
        elf = ELFFile(fh)
        h = elf.header
        out["header"] = (0, h["e_ehsize"])
        out["phdrs"] = (h["e_phoff"], h["e_phnum"] * h["e_phentsize"])
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_DYNAMIC":
                out["dynamic"] = (seg["p_offset"], seg["p_filesz"])
            if seg["p_type"] == "PT_INTERP":
                out["interp"] = (seg["p_offset"], seg["p_filesz"])
        names = {".dynsym": "dynsym", ".dynstr": "dynstr", ".hash": "hash", ".gnu.hash": "gnu_hash",
                 ".gnu.version": "versym", ".gnu.version_r": "verneed", ".gnu.version_d": "verdef",
                 ".rela.dyn": "rela", ".rela.plt": "jmprel"}
        for sec in elf.iter_sections():
            if sec.name in names and sec["sh_size"]:
                out[names[sec.name]] = (sec["sh_offset"], sec["sh_size"])
    return out


@pytest.fixture(scope="session")
def structure(built) -> dict[str, dict[str, tuple[int, int]]]:
    return {"main": regions(built.main), "dep": regions(built.dep)}


def examples(default: int) -> int:
    """Examples per property: small in CI, large on demand (LINKAUDIT_FUZZ_EXAMPLES=20000)."""
    return int(os.environ.get("LINKAUDIT_FUZZ_EXAMPLES", default))
