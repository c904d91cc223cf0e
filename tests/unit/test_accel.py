"""The seam between the compiled fast path and pure Python: same reports, whichever runs.

``linkaudit.accel`` picks ``linkaudit._speedups`` (built by ``pip install .`` where a
compiler is at hand) or ``linkaudit.bulk``.  Here the whole audit runs twice on
every fixture the suite builds or ships (every compiled scenario, the CLI's
objects, the committed foreign-architecture objects, the greet extensions, a
sample of this machine's libraries and torch's, and damaged copies of a
compiled object), once through each, and the JSON reports must be identical.
Unit tests of each function against its twin are in test_bulk.py.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkaudit import accel, bulk
from linkaudit.audit import AuditOptions, audit
from linkaudit.formats.json import report_to_dict
from linkaudit.binding import bind_tolerant
from linkaudit.loader import Loader, LoaderEnv

from _compiled import WHY_NOT, speedups as _speedups  # tests/unit/_compiled.py: built in place, or compiled here

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
needs_c = pytest.mark.skipif(_speedups is None, reason=WHY_NOT)


def _use(monkeypatch: pytest.MonkeyPatch, impl) -> None:
    for name in accel.FUNCTIONS:
        monkeypatch.setattr(accel, name, getattr(impl, name))


def _bindings(paths: list[str], env: LoaderEnv) -> list:
    """Every reference of each object and where it binds, the object itself included (finer than a report)."""
    out: list = []
    for path in paths:
        try:
            scope = [o.elf for o in Loader(env).load(path).searchlist]
            out.append(sorted((r.ref.name, r.ref.version.name if r.ref.version else None, r.ref.klass, r.ref.weak,
                               r.ref.protected, r.scope_index, r.sym.index if r.sym else None)
                              for r in bind_tolerant(scope).resolutions))
        except Exception as exc:  # unreadable or unloadable here: the message must agree too
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def _runs(monkeypatch: pytest.MonkeyPatch, paths: list[str], env: LoaderEnv) -> list[tuple[dict, list]]:
    """(JSON report, bindings) of ``paths`` through the compiled functions, and through bulk.py."""
    out = []
    for impl in (_speedups, bulk):
        with monkeypatch.context() as m:
            _use(m, impl)
            out.append((report_to_dict(audit(paths, AuditOptions(env=env, jobs=1))), _bindings(paths, env)))
    return out


def _same(monkeypatch, paths: list[str], env: LoaderEnv | None = None) -> dict:
    (report, bindings), (pure_report, pure_bindings) = _runs(monkeypatch, paths,
                                                             env or LoaderEnv(python_package_rule=False))
    assert report == pure_report
    assert bindings == pure_bindings
    return report


def test_the_choice_follows_the_environment_and_the_build():
    code = "import linkaudit.accel as a; print(a.COMPILED, a.WHY)"
    env = {**os.environ, "LINKAUDIT_PURE_PYTHON": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.startswith("False pure Python (LINKAUDIT_PURE_PYTHON is set)")
    env.pop("LINKAUDIT_PURE_PYTHON")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    built = importlib.util.find_spec("linkaudit._speedups") is not None  # next to the linkaudit imported here
    assert out.stdout.startswith(str(built))
    assert accel.FUNCTIONS == tuple(n for n in accel.FUNCTIONS if callable(getattr(bulk, n)))


@needs_c
def test_every_function_has_a_compiled_twin():
    for name in accel.FUNCTIONS:
        assert callable(getattr(_speedups, name)), name


@needs_c
@pytest.mark.requires_cc
def test_same_report_on_every_scenario(scenario, monkeypatch):
    if scenario.cwd is not None:
        monkeypatch.chdir(scenario.cwd)
    _same(monkeypatch, [str(scenario.path)], LoaderEnv(ld_library_path=scenario.ld_library_path,
                                                        python_package_rule=False))


@needs_c
@pytest.mark.requires_cc
def test_same_report_on_the_cli_objects(objs, monkeypatch):
    _same(monkeypatch, [str(p) for p in objs.values()])


@needs_c
def test_same_report_on_the_committed_foreign_objects(monkeypatch):
    paths = sorted(str(p) for p in DATA.glob("*/*") if p.is_file())
    assert len(paths) >= 40
    report = _same(monkeypatch, paths)
    assert len(report["objects"]) == len(paths)


@needs_c
def test_same_report_on_the_greet_extensions(monkeypatch):
    paths = sorted(glob.glob(str(REPO / "demo" / "pybind_torch" / "_*.so")))
    if not paths:
        pytest.skip("the greet demo is not built (demo/pybind_torch/_C*.so)")
    _same(monkeypatch, paths, LoaderEnv())


def _system_sample(n: int = 30) -> list[str]:
    libs = sorted(p for p in glob.glob("/usr/lib/x86_64-linux-gnu/*.so.*") if os.path.isfile(p)
                  and not os.path.islink(p))
    return libs[::max(1, len(libs) // n)][:n]


def _torch_libs() -> list[str]:
    import importlib.util

    spec = importlib.util.find_spec("torch")  # found, never imported
    if spec is None or not spec.origin:
        return []
    return sorted(glob.glob(os.path.join(os.path.dirname(spec.origin), "lib", "*.so*")))


@needs_c
@pytest.mark.skipif(not os.path.isdir("/usr/lib/x86_64-linux-gnu"), reason="no multiarch system library directory")
def test_same_report_on_real_libraries(monkeypatch):
    """This machine's libraries, and torch's (libtorch_cpu.so binds ~58k references to itself)."""
    paths = _system_sample() + _torch_libs()
    report = _same(monkeypatch, paths, LoaderEnv())
    assert len(report["objects"]) >= 10


@needs_c
@pytest.mark.requires_cc
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=st.data())
def test_same_report_on_damaged_objects(scenarios, tmp_path_factory, monkeypatch, data):
    """Random bytes written over the tables the fast path reads (symbols, hash chains, relocations, versions)."""
    from linkaudit.elf import ElfObject

    sc = scenarios[data.draw(st.sampled_from(["self_definition", "basic", "version_other", "copyreloc"]))]
    raw = bytearray(sc.path.read_bytes())
    obj = ElfObject(sc.path)
    lay = obj.symbol_layout
    start, end = (lay.offset, lay.offset + obj.symbol_count * lay.size) if lay else (0, len(raw))
    # the symbol table and whatever follows it (hash table, versions, relocations in a typical layout)
    end = min(len(raw), max(end, start + 4096))
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(start, end - 1))
        chunk = data.draw(st.binary(min_size=1, max_size=8))
        raw[at:at + len(chunk)] = chunk
    copy = tmp_path_factory.mktemp("damaged") / sc.path.name
    copy.write_bytes(bytes(raw[:len(sc.path.read_bytes())]))
    env = LoaderEnv(ld_library_path=sc.ld_library_path or str(sc.path.parent), python_package_rule=False)
    _same(monkeypatch, [str(copy)], env)
