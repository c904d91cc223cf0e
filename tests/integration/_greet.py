"""Helpers for the greet-extension integration tests: find or build the extensions, run oracles.

Nothing here names a path of the machine: the built extensions are found
through ``importlib.util.find_spec("pybind_torch")`` and the repository's own
``demo/pybind_torch/`` and ``demo/build/`` directories, torch through the
``torch_lib_dir`` fixture of ``tests/conftest.py``.

The oracles (``ldd -u -r``, ``LD_DEBUG=bindings ldd -r``, running the module
in a fresh interpreter) execute the loader, so they are only ever pointed at
files these tests built or the project's own build output.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from conftest import IS_GLIBC, built_once, ldd_env, parse_ldd_unused

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo"  # the greet demo's own distribution (pybind_torch, csrc/, setup.py)
GREETING = "Hello Pytorch from C++"
NOT_BUILT = ("pybind_torch.{name} is not built: run `pip install --no-build-isolation ./demo` in the repository "
             "(it builds the extensions into demo/build/lib.*/pybind_torch/ and copies them into demo/pybind_torch/)")


# -- locating the built extensions ----------------------------------------------


def _package_dirs() -> list[Path]:
    dirs: list[Path] = []
    try:
        spec = importlib.util.find_spec("pybind_torch")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        dirs.extend(Path(p) for p in spec.submodule_search_locations)
    dirs.append(DEMO / "pybind_torch")
    dirs.extend(sorted((DEMO / "build").glob("lib.*/pybind_torch")))
    seen: set[Path] = set()
    out = []
    for d in dirs:
        r = d.resolve()
        if r not in seen and r.is_dir():
            seen.add(r)
            out.append(d)
    return out


def find_extension(name: str) -> Path | None:
    """The built ``pybind_torch.<name>`` extension module file (``_C`` or ``_lean``), or None."""
    for d in _package_dirs():
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            candidate = d / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def require_extension(name: str) -> Path:
    path = find_extension(name)
    if path is None:
        pytest.skip(NOT_BUILT.format(name=name))
    return path


def extension_filename(name: str) -> str:
    """``_C`` -> ``_C.cpython-311-x86_64-linux-gnu.so`` (the interpreter's own extension suffix)."""
    return name + importlib.machinery.EXTENSION_SUFFIXES[0]


# -- relinking the classic extension with every torch library -------------------


def _greet_object() -> Path | None:
    hits = sorted((DEMO / "build").glob("temp.*/csrc/greet.o"))
    return hits[0] if hits else None


def _compile_flags(python: str) -> list[str]:
    """Include paths and -D flags torch's BuildExtension uses, asked of a subprocess (no torch import here)."""
    code = (
        "import json, sysconfig\n"
        "import torch\n"
        "from torch.utils import cpp_extension as c\n"
        "print(json.dumps({'inc': c.include_paths() + [sysconfig.get_paths()['include']],"
        " 'abi': int(torch._C._GLIBCXX_USE_CXX11_ABI)}))\n"
    )
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return ([f"-I{d}" for d in info["inc"]]
            + ["-std=c++17", "-DTORCH_API_INCLUDE_EXTENSION_H", "-DTORCH_EXTENSION_NAME=_C",
               f"-D_GLIBCXX_USE_CXX11_ABI={info['abi']}"])


_RELINKED: dict[Path, Path] = {}


def relinked_once(tmp_path_factory: pytest.TempPathFactory, torch_lib: Path) -> Path:
    """:func:`relink_classic` once per test run (shared by every module and every worker that needs it)."""
    if torch_lib not in _RELINKED:
        _RELINKED[torch_lib] = built_once(tmp_path_factory, "relinked", lambda d: relink_classic(d, torch_lib))
    return _RELINKED[torch_lib]


def relink_classic(out_dir: Path, torch_lib: Path) -> Path:
    """``_C`` linked the way CppExtension asks, but with ``--no-as-needed``: every torch library stays.

    Reuses ``demo/build/temp.*/csrc/greet.o`` when the demo was built; otherwise
    compiles ``demo/csrc/greet.cpp`` with torch's include paths and flags (slow).
    """
    cxx = shutil.which("c++") or shutil.which("g++")
    if cxx is None:
        pytest.skip("no C++ compiler (c++/g++) to relink the greet extension")
    out_dir.mkdir(parents=True, exist_ok=True)
    obj = _greet_object()
    if obj is None:
        obj = out_dir / "greet.o"
        cmd = [cxx, "-O1", "-fPIC", *_compile_flags(sys.executable), "-c", str(DEMO / "csrc" / "greet.cpp"),
               "-o", str(obj)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    out = out_dir / extension_filename("_C")
    cmd = [cxx, "-shared", "-o", str(out), str(obj), "-Wl,--no-as-needed", f"-L{torch_lib}",
           "-lc10", "-ltorch", "-ltorch_cpu", "-ltorch_python"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"relink failed: {' '.join(cmd)}\n{proc.stderr}")
    return out


# -- static facts, read independently of linkaudit -------------------------------


def dt_needed(path: Path) -> tuple[str, ...]:
    """DT_NEEDED entries, in order, read with pyelftools directly."""
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as fh:
        elf = ELFFile(fh)
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                return tuple(t.needed for t in section.iter_tags() if t.entry.d_tag == "DT_NEEDED")
    return ()


def versioned_definition(lib: Path, symbol: str) -> str | None:
    """The version name a library's .dynsym definition of ``symbol`` carries (None: unversioned/absent)."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerDefSection, GNUVerSymSection

    with open(lib, "rb") as fh:
        elf = ELFFile(fh)
        dynsym = elf.get_section_by_name(".dynsym")
        versym = next((s for s in elf.iter_sections() if isinstance(s, GNUVerSymSection)), None)
        verdef = next((s for s in elf.iter_sections() if isinstance(s, GNUVerDefSection)), None)
        for i, sym in enumerate(dynsym.iter_symbols()):
            if sym.name != symbol or sym["st_shndx"] == "SHN_UNDEF":
                continue
            if versym is None or verdef is None:
                return None
            ndx = versym.get_symbol(i)["ndx"]
            if ndx in ("VER_NDX_LOCAL", "VER_NDX_GLOBAL"):
                return None
            ndx = int(ndx) & 0x7FFF
            found = verdef.get_version(ndx)
            if found is None:
                return None
            ver, aux = found
            if ver["vd_flags"] & 1:  # VER_FLG_BASE: the file's own name, i.e. unversioned
                return None
            return next(iter(aux)).name
    return None


# -- oracles (glibc's loader; trusted files only) --------------------------------


def require_ldd() -> str:
    ldd = shutil.which("ldd")
    if not IS_GLIBC or ldd is None:
        pytest.skip("the ldd oracle needs glibc's ldd")
    return ldd


_env = ldd_env


def ldd_unused(path: Path, ld_library_path: str | Path | None = None) -> list[str]:
    """``ldd -u -r PATH``'s "Unused direct dependencies" (paths, in order)."""
    proc = subprocess.run([require_ldd(), "-u", "-r", str(path)], capture_output=True, text=True,
                          env=_env(ld_library_path), timeout=120)
    unused = parse_ldd_unused(proc.stdout)
    if unused is None:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return []
    return unused


_BINDING = re.compile(r"binding file (?P<file>\S+) \[\d+\] to (?P<to>\S+) \[\d+\]: \w+ symbol `(?P<sym>[^']+)'")


def ldd_bindings(path: Path, ld_library_path: str | Path | None = None) -> dict[str, str]:
    """symbol -> providing file, for the references of ``path`` itself (``LD_DEBUG=bindings ldd -r``)."""
    env = _env(ld_library_path)
    env["LD_DEBUG"] = "bindings"
    proc = subprocess.run([require_ldd(), "-r", str(path)], capture_output=True, text=True, env=env, timeout=120)
    me = os.path.realpath(path)
    out: dict[str, str] = {}
    for line in (proc.stdout + proc.stderr).splitlines():
        m = _BINDING.search(line)
        if m and os.path.realpath(m["file"]) == me:
            out[m["sym"]] = m["to"]
    return out


def run_python(code: str, *, sys_path: Path | None = None, ld_library_path: str | Path | None = None,
               env_extra: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (this one's executable), nothing preloaded."""
    env = _env(ld_library_path)
    env.pop("PYTHONPATH", None)
    if env_extra:
        env.update(env_extra)
    prologue = f"import sys\nsys.path.insert(0, {str(sys_path)!r})\n" if sys_path is not None else ""
    return subprocess.run([sys.executable, "-c", prologue + code], capture_output=True, text=True, env=env,
                          timeout=120, cwd=str(sys_path) if sys_path is not None else None)


# -- linkaudit's JSON --------------------------------------------------------------


def audit_json(run_cli, args, env: Mapping[str, str | None] | None = None) -> tuple[int, dict]:
    """Run ``linkaudit --format json ARGS`` through the CLI fixture; returns (exit code, parsed report)."""
    full_env: dict[str, str | None] = {"LD_LIBRARY_PATH": None}
    if env:
        full_env.update(env)
    result = run_cli(["--format", "json", *[str(a) for a in args]], env=full_env)
    return result.exit_code, json.loads(result.stdout)


def by_name(obj: dict) -> dict[str, dict]:
    return {n["name"]: n for n in obj["needed"]}


def same_file(a: str | Path, b: str | Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)
