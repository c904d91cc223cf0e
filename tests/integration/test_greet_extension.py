"""The headline integration test: the real greet extension built with torch's cpp_extension.

Expectations come from first principles (what CppExtension links, what the
linker's ``--as-needed`` keeps, which library defines which symbol) and from
glibc's own loader as an oracle (``ldd -u -r``, ``LD_DEBUG=bindings``), never
from linkaudit's output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from _greet import (
    DEMO,
    GREETING,
    audit_json,
    by_name,
    dt_needed,
    ldd_bindings,
    ldd_unused,
    relinked_once,
    require_extension,
    run_python,
    same_file,
    versioned_definition,
)

pytestmark = pytest.mark.requires_torch

TORCH_LIBS_KEPT = ("libc10.so", "libtorch_cpu.so")
RUNTIME = ("libstdc++.so.6", "libgcc_s.so.1", "libc.so.6", "ld-linux-x86-64.so.2")


def _toolchain_defaults_to_as_needed() -> bool:
    cxx = shutil.which("c++") or shutil.which("g++")
    if cxx is None:
        return False
    proc = subprocess.run([cxx, "-dumpspecs"], capture_output=True, text=True, check=False)
    return "--as-needed" in proc.stdout


def _nm_defined(lib: Path) -> dict[str, str | None] | None:
    """symbol -> version (None: unversioned) of a library's dynamic definitions, per ``nm -D``; None without nm.

    (nm rather than pyelftools here: iterating libtorch_cpu's .dynsym in Python takes seconds.)
    """
    nm = shutil.which("nm")
    if nm is None:
        return None
    out = subprocess.run([nm, "-D", "--defined-only", str(lib)], capture_output=True, text=True, check=True).stdout
    defs: dict[str, str | None] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            sym, _, ver = parts[2].partition("@")
            defs[sym] = ver.lstrip("@") or None
    return defs


@pytest.fixture(scope="module")
def c_ext() -> Path:
    return require_extension("_C")


@pytest.fixture(scope="module")
def lean_ext() -> Path:
    return require_extension("_lean")


@pytest.fixture(scope="module")
def c_ext_bindings(c_ext: Path, torch_lib_dir: Path) -> dict[str, str]:
    """``LD_DEBUG=bindings ldd -r`` on _C, run once for the tests that compare with it."""
    return ldd_bindings(c_ext, torch_lib_dir)


@pytest.fixture(scope="session")
def relinked(tmp_path_factory: pytest.TempPathFactory, torch_lib_dir: Path) -> Path:
    """_C relinked with ``--no-as-needed``: all four torch libraries stay in DT_NEEDED (built once)."""
    return relinked_once(tmp_path_factory, torch_lib_dir)


# -- the classic build --------------------------------------------------------------


def test_dt_needed_is_exact(c_ext: Path, run_cli, torch_lib_dir: Path) -> None:
    needed = dt_needed(c_ext)
    if _toolchain_defaults_to_as_needed():
        # CppExtension names c10, torch, torch_cpu, torch_python; --as-needed keeps only the two that
        # satisfy a reference (the incidental libstdc++ re-exports), then the C++ runtime g++ adds.
        assert needed == TORCH_LIBS_KEPT + RUNTIME
    else:
        assert needed[:4] == ("libc10.so", "libtorch.so", "libtorch_cpu.so", "libtorch_python.so")
    code, report = audit_json(run_cli, [c_ext])
    assert code == 0
    [obj] = report["objects"]
    assert tuple(n["name"] for n in obj["needed"]) == needed
    assert obj["is_python_extension"] is True


def test_torch_libraries_are_incidental_to_libstdcxx(c_ext: Path, run_cli, torch_lib_dir: Path,
                                                     c_ext_bindings: dict[str, str]) -> None:
    code, report = audit_json(run_cli, [c_ext])
    needed = by_name(report["objects"][0])
    stdcxx = Path(needed["libstdc++.so.6"]["path"])
    oracle = c_ext_bindings
    for name in TORCH_LIBS_KEPT:
        entry = needed[name]
        assert entry["status"] == "incidental", entry
        assert entry["category"] == "torch"
        assert entry["found_via"] == "python_package"
        assert entry["python_package"] == "torch"
        assert same_file(entry["path"], torch_lib_dir / name)
        assert entry["bindings"], f"{name}: an incidental library still satisfies references"
        torch_defs = _nm_defined(torch_lib_dir / name)
        for b in entry["bindings"]:
            # First principles: libstdc++ defines the symbol under a real version, the torch library
            # only an unversioned copy; the owner names libstdc++ and that version.
            version = versioned_definition(stdcxx, b["symbol"])
            assert version is not None, f"libstdc++ does not define {b['symbol']} under a version"
            if torch_defs is not None:  # the torch library's copy carries no version (nm: no @VERSION)
                assert torch_defs.get(b["symbol"], "absent") is None, (name, b["symbol"])
            assert b["owner"] is not None and b["owner"].startswith("libstdc++.so.6"), b
            assert version in b["owner"], (b, version)
            # The loader really binds it to the torch library (the ld.so oracle).
            assert same_file(oracle[b["symbol"]], torch_lib_dir / name), b["symbol"]
        # ... and nothing else of the extension binds to it.
        bound_here = {s for s, to in oracle.items() if same_file(to, torch_lib_dir / name)}
        assert bound_here == {b["symbol"] for b in entry["bindings"]}


def test_runtime_libraries_are_used(c_ext: Path, run_cli, torch_lib_dir: Path) -> None:
    _, report = audit_json(run_cli, [c_ext])
    needed = by_name(report["objects"][0])
    for name in RUNTIME:
        if name in needed:
            assert needed[name]["status"] == "used", name


@pytest.mark.oracle
def test_providers_match_ld_so(c_ext: Path, run_cli, torch_lib_dir: Path, c_ext_bindings: dict[str, str]) -> None:
    _, report = audit_json(run_cli, [c_ext], env={"LD_LIBRARY_PATH": str(torch_lib_dir)})
    needed = by_name(report["objects"][0])
    oracle = c_ext_bindings
    assert oracle, "LD_DEBUG=bindings printed nothing"
    # a binding's provider is the entry it is listed under (the JSON has no per-binding provider)
    assert all(set(b) == {"symbol", "version", "weak", "owner"} for n in needed.values() for b in n["bindings"])
    ours = {b["symbol"]: n["path"] for n in needed.values() for b in n["bindings"]}
    # Every binding linkaudit reports is where ld.so binds it ...
    wrong = {s: (p, oracle.get(s)) for s, p in ours.items() if s not in oracle or not same_file(p, oracle[s])}
    assert not wrong
    # ... and every reference ld.so binds outside the extension itself is reported.
    external = {s for s, to in oracle.items() if not same_file(to, c_ext)}
    assert external - set(ours) == set()
    # Known symbols, and a static check that the provider defines them.
    expect = {"_Unwind_Resume": "libgcc_s.so.1", "__cxa_finalize": "libc.so.6"}
    for sym, lib in expect.items():
        assert sym in needed[lib]["symbols"], (sym, lib)
        assert same_file(oracle[sym], needed[lib]["path"])
        nm = shutil.which("nm")
        if nm:
            out = subprocess.run([nm, "-D", "--defined-only", needed[lib]["path"]], capture_output=True,
                                 text=True, check=True).stdout
            assert re.search(rf"\s{re.escape(sym)}(@@?\S+)?$", out, re.M), (sym, lib)


@pytest.mark.oracle
def test_ldd_unused_matches_oracle(c_ext: Path, run_cli, torch_lib_dir: Path) -> None:
    _, report = audit_json(run_cli, [c_ext], env={"LD_LIBRARY_PATH": str(torch_lib_dir)})
    assert report["objects"][0]["ldd_unused"] == ldd_unused(c_ext, torch_lib_dir)


def test_without_python_packages_torch_is_missing(c_ext: Path, run_cli, torch_lib_dir: Path) -> None:
    code, report = audit_json(run_cli, ["--no-python-packages", "--fix-suggestions", c_ext])
    [obj] = report["objects"]
    entry = by_name(obj)["libc10.so"]
    assert entry["status"] == "missing"
    assert entry["path"] is None
    assert any(same_file(c, torch_lib_dir / "libc10.so") for c in entry["candidates"])
    assert entry["searched"], "a missing library must say where the loader looked"
    kinds = {s["kind"] for s in obj["suggestions"]}
    assert {"import-first", "runpath", "ld-library-path"} <= kinds
    assert code == 0  # the default gate fails on unused only


# -- the gate -------------------------------------------------------------------------


def test_gate_on_classic_and_lean(c_ext: Path, lean_ext: Path, run_cli, torch_lib_dir: Path) -> None:
    env = {"LD_LIBRARY_PATH": None}
    strict = ["--fail-on", "unused,incidental"]
    assert run_cli([*strict, c_ext], env=env).exit_code == 1
    assert run_cli([*strict, lean_ext], env=env).exit_code == 0
    assert run_cli([c_ext], env=env).exit_code == 0
    assert run_cli([lean_ext], env=env).exit_code == 0


def test_lean_has_no_torch_library(lean_ext: Path, run_cli) -> None:
    assert not [n for n in dt_needed(lean_ext) if n.startswith(("libc10", "libtorch"))]
    code, report = audit_json(run_cli, [lean_ext])
    assert code == 0
    statuses = {n["status"] for n in report["objects"][0]["needed"]}
    assert statuses == {"used"}


def test_fix_suggestions_name_the_lean_recipe(c_ext: Path, run_cli, torch_lib_dir: Path) -> None:
    _, report = audit_json(run_cli, ["--fix-suggestions", c_ext])
    [obj] = report["objects"]
    lean = [s for s in obj["suggestions"] if s["kind"] == "lean-extension"]
    assert len(lean) == 1
    assert set(lean[0]["removes"]) == set(TORCH_LIBS_KEPT) & {n["name"] for n in obj["needed"]}
    used = {n["name"] for n in obj["needed"] if n["status"] == "used"}
    for s in obj["suggestions"]:
        assert not set(s["removes"]) & used, s


# -- the relinked variant: every torch library in DT_NEEDED ---------------------------------


def _reachable_via_used(obj: dict) -> set[str]:
    """Paths reachable from the audited object through its USED direct dependencies (needed_by graph)."""
    children: dict[str, set[str]] = {}
    for lib in obj["loaded"]:
        for parent in lib["needed_by"]:
            children.setdefault(os.path.realpath(parent), set()).add(os.path.realpath(lib["path"]))
    stack = [os.path.realpath(n["path"]) for n in obj["needed"] if n["status"] == "used"]
    seen = set(stack)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


@pytest.mark.slow
@pytest.mark.oracle
def test_relinked_unused_match_ldd(relinked: Path, run_cli, torch_lib_dir: Path) -> None:
    oracle = ldd_unused(relinked, torch_lib_dir)
    assert sorted(os.path.basename(p) for p in oracle) == ["libm.so.6", "libtorch.so", "libtorch_python.so"]
    _, report = audit_json(run_cli, [relinked], env={"LD_LIBRARY_PATH": str(torch_lib_dir)})
    [obj] = report["objects"]
    assert obj["ldd_unused"] == oracle
    needed = by_name(obj)
    for name in ("libtorch.so", "libtorch_python.so", "libm.so.6"):
        assert needed[name]["status"] == "unused", name
    # ldd -u counts incidental libraries as used: they do satisfy references.
    for name in TORCH_LIBS_KEPT:
        assert needed[name]["status"] == "incidental", name
    assert dt_needed(relinked)[:4] == ("libc10.so", "libtorch.so", "libtorch_cpu.so", "libtorch_python.so")


_LDD_LINE = re.compile(r"^\t(?:(?P<name>\S+) => )?(?P<path>/\S+)(?P<mark> # <--- NOT USED.*)?$")


@pytest.mark.slow
def test_relinked_ldd_format_marks(relinked: Path, run_cli, torch_lib_dir: Path) -> None:
    env = {"LD_LIBRARY_PATH": str(torch_lib_dir)}
    _, report = audit_json(run_cli, [relinked], env=env)
    [obj] = report["objects"]
    result = run_cli(["--format", "ldd", relinked], env=env)
    listed: dict[str, bool] = {}
    for line in result.stdout.splitlines()[1:]:
        m = _LDD_LINE.match(line)
        assert m, line
        listed[os.path.basename(m["path"])] = bool(m["mark"])
    for name in ("libgomp.so.1", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libshm.so"):
        assert name in listed, name
    # Expected marks from first principles: unused/incidental direct dependencies, and every loaded
    # library not reachable from the object through a used direct dependency.
    reachable = _reachable_via_used(obj)
    not_used_direct = {os.path.basename(n["path"]) for n in obj["needed"] if n["status"] in ("unused", "incidental")}
    expected = {os.path.basename(lib["path"]) for lib in obj["loaded"]
                if os.path.realpath(lib["path"]) not in reachable} | not_used_direct
    assert {name for name, marked in listed.items() if marked} == expected
    assert {"libgomp.so.1", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libshm.so"} <= expected


# -- the demo as users run it ----------------------------------------------------------------------


def test_greet_silences_only_the_numpy_warning(c_ext: Path) -> None:
    """torch warns "Failed to initialize NumPy" when numpy is missing; the demo silences exactly that one.

    One interpreter (importing torch costs seconds): the greeting alone on stdout, nothing from the
    import on stderr, and a warning raised afterwards still shows (no filter was left behind).
    """
    # numpy made unimportable whether or not it is installed, so the warning would be raised for sure
    code = ("import sys, warnings\n"
            "sys.modules['numpy'] = None\n"
            "warnings.simplefilter('default')\n"
            "from pybind_torch import greet\n"
            "greet()\n"
            "sys.stdout.flush()\n"
            "print('--- after import', file=sys.stderr)\n"
            "warnings.warn('another warning', UserWarning)\n")
    proc = run_python(code, sys_path=DEMO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == GREETING + "\n"
    before, after = proc.stderr.split("--- after import\n")
    assert before == ""
    assert "UserWarning: another warning" in after and "NumPy" not in after


def test_in_tree_extension_runpath_suggestion_names_no_machine_path(run_cli, torch_lib_dir: Path) -> None:
    """The source-tree copy (demo/pybind_torch/_C*.so) gets the install-relative $ORIGIN/../torch/lib."""
    in_tree = next((DEMO / "pybind_torch").glob("_C.*.so"), None)
    if in_tree is None:
        pytest.skip("demo/pybind_torch/_C*.so is not built")
    _, report = audit_json(run_cli, ["--fix-suggestions", in_tree])
    texts = "\n".join(s["text"] for s in report["objects"][0]["suggestions"])
    rpaths = set(re.findall(r"-rpath,([^\"' ]+)", texts))
    assert rpaths == {"$ORIGIN/../torch/lib"}, texts
    assert "site-packages" not in texts
