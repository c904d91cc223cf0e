"""The reader under a hostile environment: files that change while read, descriptor limits, damaged dependencies.

* A dependency truncated in the middle of a run must give an error line or an
  uncertain verdict; with a memory mapping it killed the process (SIGBUS).
* However many objects a run covers, the open descriptors stay bounded, so a
  run over more objects than ``ulimit -n`` allows completes.
* A damaged dependency makes the undamaged audited object uncertain, never an
  error, and a hash table whose chains never end costs bounded time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkaudit.audit import AuditOptions, audit
from linkaudit.elf import ElfObject
from linkaudit.loader import LoaderEnv

from .conftest import examples, timeout
from .test_fuzz import check, materialise, mutations

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF platforms only")

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, *args: str, limit_files: int | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter importing this checkout (a crash there cannot take pytest down)."""
    def limit() -> None:
        if limit_files is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (limit_files, limit_files))

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          env=env, preexec_fn=limit, timeout=300)


def test_dependency_truncated_during_the_run(built, tmp_path):
    """The dependency is opened (headers read), then truncated before binding reads its tables: no signal."""
    work = tmp_path / "w"
    work.mkdir()
    dep = work / built.dep.name
    shutil.copy(built.dep, dep)
    first, second = work / "libfirst.so", work / "libsecond.so"
    shutil.copy(built.main, first)
    shutil.copy(built.main, second)
    code = """
        import os, sys, json
        from linkaudit.inputs import Target
        from linkaudit.loader import Loader, LoaderEnv, ObjectCache
        from linkaudit.objectaudit import audit_one
        from linkaudit.formats.json import report_to_dict
        from linkaudit.report import ErrorEntry, Report
        first, second, dep = sys.argv[1:4]
        loader = Loader(LoaderEnv(python_package_rule=False), ObjectCache())
        loader.load(first)  # the dependency is now open and cached, its symbol tables not read yet
        with open(dep, "r+b") as fh:  # cut it under the reader's feet
            fh.truncate(0)
        out = [audit_one(Target(first, first), loader), audit_one(Target(second, second), loader)]
        objects = tuple(o for o in out if not isinstance(o, ErrorEntry))
        errors = tuple(o for o in out if isinstance(o, ErrorEntry))
        print(json.dumps(report_to_dict(Report(objects, errors))))
    """
    done = run_python(code, str(first), str(second), str(dep))
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    report = json.loads(done.stdout)
    assert not report["errors"], "a damaged dependency is a finding about the object, not an unreadable input"
    (obj, _) = report["objects"]
    assert obj["path"] == str(first)
    assert any("truncated" in w or "damaged" in w for w in obj["warnings"]), obj["warnings"]


def test_file_changed_between_reads_is_refused(built, tmp_path, monkeypatch):
    """Once its descriptor is gone, a file is reopened only if it is still the same file."""
    import linkaudit.elf as elf

    lib = tmp_path / "lib.so"
    shutil.copy(built.dep, lib)
    obj = ElfObject(lib)
    obj.close()  # the pool forgets it: the next read reopens the path
    os.utime(lib, ns=(0, 0))  # same bytes, another modification time: not provably the same file
    with pytest.raises(elf.ElfReadError, match="changed while being read"):
        obj.symbol_bytes(1)


def test_open_files_stay_bounded(built, tmp_path):
    """More objects than the descriptor limit, audited in one run (-j 1): every one is audited."""
    tree = tmp_path / "many"
    tree.mkdir()
    n = 300
    shutil.copy(built.dep, tree / built.dep.name)
    for k in range(n):
        shutil.copy(built.main, tree / f"libm{k:04d}.so")
    code = """
        import sys
        from linkaudit.cli import main
        sys.argv = ["linkaudit", "--format", "json", "-j", "1", sys.argv[1]]
        main()
    """
    done = run_python(code, str(tree), limit_files=100)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert not report["errors"], report["errors"][:3]
    assert len(report["objects"]) == n + 1


DAMAGE = settings(max_examples=examples(40), deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@given(data=st.data())
@DAMAGE
def test_damaged_dependency_never_makes_the_object_an_error(built, structure, data):
    originals = {"main": built.main.read_bytes(), "dep": built.dep.read_bytes()}
    which, blob, what = data.draw(mutations(structure, originals).filter(lambda m: m[0] == "dep"), label="mutation")
    with_tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    import tempfile

    with tempfile.TemporaryDirectory(dir=with_tmp) as d:
        main, _ = materialise(built, which, blob, Path(d))
        with timeout(5.0):
            report = audit([str(main)], AuditOptions(env=LoaderEnv(python_package_rule=False), jobs=1))
        check(report, main, main_damaged=False)


def test_endless_hash_chains_cost_bounded_time(built, tmp_path):
    """A dependency whose GNU hash chains never end (every end bit cleared but the last): bounded, uncertain."""
    main = tmp_path / built.main.name
    dep = tmp_path / built.dep.name
    shutil.copy(built.main, main)
    shutil.copy(built.dep, dep)
    obj = ElfObject(dep)
    table = obj.hash_table
    data = bytearray(dep.read_bytes())
    # the chain words follow the buckets; clear every end bit except the table's last one
    chains = obj.vaddr_to_offset(obj.tags[0x6FFFFEF5]) + 16 + len(table.bloom) * (obj.bits // 8) + 4 * table.nbuckets
    obj.close()
    for k in range(table.hashed_count - 1):
        data[chains + 4 * k] &= 0xFE
    dep.write_bytes(bytes(data))
    started = time.perf_counter()
    report = audit([str(main)], AuditOptions(env=LoaderEnv(python_package_rule=False), jobs=1))
    assert time.perf_counter() - started < 5.0
    assert not report.errors
