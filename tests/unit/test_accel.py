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


def _use(monkeypatch: pytest.MonkeyPatch, impl, batch: bool) -> None:
    for name in accel.FUNCTIONS:
        monkeypatch.setattr(accel, name, getattr(impl, name))
    monkeypatch.setattr(accel, "BATCH_LOOKUPS", batch)


#: The ways binding can run: the compiled functions (lookups batched, as installed), bulk.py's twins
#: with the lookups batched the same way, and bulk.py with binding's own memoized lookups (as pure
#: Python runs them).
PATHS = (("compiled", _speedups, True), ("bulk.py, batched", bulk, True), ("bulk.py, memoized", bulk, False))


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
    """(JSON report, bindings) of ``paths`` along each of PATHS, each run on freshly opened objects."""
    out = []
    for _, impl, batch in PATHS:
        with monkeypatch.context() as m:
            _use(m, impl, batch)
            out.append((report_to_dict(audit(paths, AuditOptions(env=env, jobs=1))), _bindings(paths, env)))
    return out


def _same(monkeypatch, paths: list[str], env: LoaderEnv | None = None) -> dict:
    runs = _runs(monkeypatch, paths, env or LoaderEnv(python_package_rule=False))
    (report, bindings) = runs[0]
    for (name, _, _), (other_report, other_bindings) in zip(PATHS[1:], runs[1:]):
        assert other_report == report, name
        assert other_bindings == bindings, name
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


@needs_c
@pytest.mark.requires_cc
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=st.data())
def test_same_report_with_a_damaged_dependency(scenarios, tmp_path_factory, monkeypatch, data):
    """Random bytes over the tables of a library the object loads: where the batch stops, binding's own
    lookup must say what broke and pass that library over exactly as the memoized path does."""
    from linkaudit.elf import ElfObject

    sc = scenarios[data.draw(st.sampled_from(["basic", "version_other", "protected", "weak_definition",
                                              "interpose_ab", "unversioned_single_default", "tls", "unique"]))]
    env = LoaderEnv(ld_library_path=sc.ld_library_path, python_package_rule=False)
    libs = [o.elf.path for o in Loader(env).load(str(sc.path)).searchlist[1:]
            if o.elf is not None and not str(o.elf.path).startswith(("/usr/", "/lib"))]
    assert libs, "the scenario loads a library of its own"
    copies = tmp_path_factory.mktemp("damaged_dep")
    for lib in libs:  # found first: LD_LIBRARY_PATH comes before the objects' DT_RUNPATH
        (copies / lib.name).write_bytes(lib.read_bytes())
    victim = copies / data.draw(st.sampled_from(sorted(lib.name for lib in libs)))
    raw = bytearray(victim.read_bytes())
    obj = ElfObject(victim)
    lay = obj.symbol_layout
    start = lay.offset if lay else 0
    end = min(len(raw), max(start + obj.symbol_count * (lay.size if lay else 0), start + 4096))
    obj.close()
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(start, end - 1))
        chunk = data.draw(st.binary(min_size=1, max_size=8))
        raw[at:at + len(chunk)] = chunk
    victim.write_bytes(bytes(raw[:victim.stat().st_size]))
    _same(monkeypatch, [str(sc.path)], LoaderEnv(ld_library_path=str(copies), python_package_rule=False))


def _break_hash_table(path: Path, how: str, names: list[bytes]) -> None:
    """Damage ``path``'s GNU hash table: a bucket count past the end of the file (the table cannot be read at
    all), or the bucket of one of ``names`` pointing below symoffset (found only when a lookup walks it)."""
    import struct

    from linkaudit.elf import DT_GNU_HASH, ElfObject, gnu_hash

    obj = ElfObject(path)
    off = obj.vaddr_to_offset(obj.tags[DT_GNU_HASH])
    table = obj.hash_table
    buckets = off + 16 + len(table.bloom) * (obj.bits // 8)
    obj.close()
    data = bytearray(path.read_bytes())
    if how == "header":
        struct.pack_into("<I", data, off, 0x7FFFFFF0)
    else:
        assert table.symbias > 1, "symbols below symoffset"
        at = next(b for b in (gnu_hash(n) % table.nbuckets for n in names)
                  if 0 < table.buckets[b] < max(table.buckets))  # the table's size stays readable
        struct.pack_into("<I", data, buckets + 4 * at, 1)
    path.write_bytes(bytes(data))
    if how == "bucket":
        assert ElfObject(path).hash_table is not None  # still read whole: only a walk meets the damage


@needs_c
@pytest.mark.requires_cc
@pytest.mark.parametrize("how", ["header", "bucket"])
def test_a_damaged_library_stops_the_batch_and_is_passed_over(tmp_path_factory, build_so, monkeypatch, how):
    d = tmp_path_factory.mktemp(f"batch_{how}")
    names = [f"prov_{k}" for k in range(12)]
    prov = build_so("libprov.so", "".join(f"int {n}(void) {{ return {k}; }}\n" for k, n in enumerate(names)),
                    out_dir=d)
    other = build_so("libother.so", "int other_fn(void) { return 2; }\n", out_dir=d)
    top = build_so("libtop.so", "".join(f"int {n}(void);\n" for n in names) + "int other_fn(void);\n"
                   "int top(void) { return other_fn()" + "".join(f" + {n}()" for n in names) + "; }\n",
                   out_dir=d, libs=[prov, other], runpath=["$ORIGIN"])
    _break_hash_table(prov, how, [n.encode() for n in names])
    env = LoaderEnv(python_package_rule=False)
    calls = []
    results = []
    for name, impl, batch in PATHS:
        with monkeypatch.context() as m:
            _use(m, impl, batch)
            m.setattr(accel, "lookup_batch", lambda *a, f=impl.lookup_batch, n=name: calls.append(n) or f(*a))
            scope = [o.elf for o in Loader(env).load(str(top)).searchlist]
            bound = bind_tolerant(scope)
            results.append((sorted((r.ref.name, r.scope_index) for r in bound.resolutions), bound.damaged))
    at = [o.path.name if o is not None else None for o in scope].index("libprov.so")
    for (name, _, _), got in zip(PATHS, results):
        resolutions, damaged = got
        assert list(damaged) == [at] and "hash" in damaged[at], name
        assert any(n == b"other_fn" and i not in (None, at) for n, i in resolutions), name
        assert got == results[0], name
    # the batched paths stopped at the first lookup that reached the damage, and went on after it
    assert calls.count("compiled") >= 2 and calls.count("bulk.py, batched") >= 2
    assert "bulk.py, memoized" not in calls


@pytest.mark.skipif(not glob.glob("/usr/lib/x86_64-linux-gnu/libstdc++.so.6*"), reason="no libstdc++ here")
@pytest.mark.parametrize("batch", [True, False])
def test_binding_keeps_no_object_alive(monkeypatch, batch):
    """What binding keeps per library (answers, lookup tables) is weakly keyed: dropping the objects frees it."""
    import gc

    from linkaudit import binding

    monkeypatch.setattr(accel, "BATCH_LOOKUPS", batch and accel.COMPILED)
    monkeypatch.setattr(binding, "_LIBRARIES", type(binding._LIBRARIES)())
    path = sorted(glob.glob("/usr/lib/x86_64-linux-gnu/libstdc++.so.6*"))[0]
    scope = [o.elf for o in Loader(LoaderEnv(python_package_rule=False)).load(path).searchlist]
    assert bind_tolerant(scope).resolutions
    assert len(binding._LIBRARIES) >= 2
    del scope
    gc.collect()
    assert len(binding._LIBRARIES) == 0
