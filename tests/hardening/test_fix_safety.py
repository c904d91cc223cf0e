"""``linkaudit fix`` can never lose the original nor produce a file the loader rejects.

Filters and providers reachable only through removed entries block removal
(checked against glibc with ``ldd -r`` on the file a naive removal makes);
``--in-place`` is locked, refuses an existing backup of any kind, handles links
deliberately, keeps owner and mode; temporary files never outlive the run;
memory stays bounded on a 434 MB library.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from linkaudit import fixer
from linkaudit.audit import AuditOptions, audit
from linkaudit.errors import RewriteError
from linkaudit.fixer import fix_file, remove_stale_temporaries
from linkaudit.loader import LoaderEnv
from linkaudit.report import Status
from linkaudit.rewrite import apply_plan, plan_needed_removal

from .conftest import CC, compile_so

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc) on PATH")
REPO = Path(__file__).resolve().parents[2]
ENV = LoaderEnv(python_package_rule=False)


def _ldd_r(path: Path) -> str:
    proc = subprocess.run(["ldd", "-r", str(path)], capture_output=True, text=True, timeout=60)
    return proc.stdout + proc.stderr


# -- what removal would break ------------------------------------------------------------------


@pytest.fixture(scope="module")
def filters(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("filters")
    compile_so(d / "libprov.so", "int prov_fn(void) { return 42; }\n", "-Wl,-soname,libprov.so")
    compile_so(d / "libaux.so", "int aux_own(void) { return 1; }\n", "-Wl,-soname,libaux.so",
               "-Wl,--auxiliary=libprov.so", "-Wl,-rpath,$ORIGIN")
    compile_so(d / "libfilt.so", "int filt_own(void) { return 1; }\n", "-Wl,-soname,libfilt.so",
               "-Wl,--filter=libprov.so", "-Wl,-rpath,$ORIGIN")
    # uses prov_fn, but links only the auxiliary filter that loads its provider
    compile_so(d / "libviaaux.so", "int prov_fn(void);\nint use(void) { return prov_fn(); }\n",
               f"-L{d}", "-laux", "-Wl,-rpath,$ORIGIN")
    # links a filter it does not use at all
    compile_so(d / "libunusedfilter.so", "int nothing(void) { return 0; }\n", f"-L{d}", "-lfilt",
               "-Wl,-rpath,$ORIGIN")
    # two unused entries that both load the provider of a *weak* reference
    compile_so(d / "libpa.so", "int pa(void) { return 1; }\n", "-Wl,-soname,libpa.so", f"-L{d}", "-lprov",
               "-Wl,-rpath,$ORIGIN")
    compile_so(d / "libpb.so", "int pb(void) { return 1; }\n", "-Wl,-soname,libpb.so", f"-L{d}", "-lprov",
               "-Wl,-rpath,$ORIGIN")
    compile_so(d / "libweak.so", "__attribute__((weak)) int prov_fn(void);\n"
               "int use(void) { return prov_fn ? prov_fn() : -1; }\n", f"-L{d}", "-lpa", "-lpb", "-Wl,-rpath,$ORIGIN")
    return d


def test_filtees_are_loaded_where_glibc_puts_them(filters):
    obj = audit([str(filters / "libviaaux.so")], AuditOptions(env=ENV, jobs=1)).objects[0]
    names = [lib.name for lib in obj.loaded]
    assert names.index("libprov.so") < names.index("libaux.so")  # inserted before the filter, as ldd shows
    ldd = _ldd_r(filters / "libviaaux.so")
    assert ldd.index("libprov.so") < ldd.index("libaux.so")
    aux = {n.name: n for n in obj.needed}["libaux.so"]
    assert aux.status is Status.UNUSED and aux.loads_providers == ("libprov.so",)


def test_an_auxiliary_filter_that_alone_loads_a_provider_is_kept(filters, tmp_path):
    src = filters / "libviaaux.so"
    naive = tmp_path / "naive.so"  # what a blind removal gives: glibc then misses prov_fn
    data = src.read_bytes()
    naive.write_bytes(apply_plan(data, plan_needed_removal(data, ["libaux.so"])))
    shutil.copy(filters / "libprov.so", tmp_path)
    assert "undefined symbol: prov_fn" in _ldd_r(naive)
    with pytest.raises(RewriteError, match="alone loads libprov.so"):
        fix_file(src, ENV, output=tmp_path / "out.so")
    assert not (tmp_path / "out.so").exists()


def test_an_unused_filter_is_never_removed(filters, tmp_path):
    with pytest.raises(RewriteError, match="filter"):
        fix_file(filters / "libunusedfilter.so", ENV, output=tmp_path / "out.so")


def test_a_weak_reference_bound_through_removed_entries_blocks_them(filters, tmp_path):
    """libpa and libpb each look unused and neither alone loads libprov; removing both unbinds prov_fn."""
    src = filters / "libweak.so"
    needed = {n.name: n for n in audit([str(src)], AuditOptions(env=ENV, jobs=1)).objects[0].needed}
    assert needed["libpa.so"].status is Status.UNUSED and needed["libpb.so"].status is Status.UNUSED
    with pytest.raises(RewriteError, match="bound symbol"):
        fix_file(src, ENV, output=tmp_path / "out.so")
    assert list(tmp_path.iterdir()) == []


# -- where the result may go -------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixable(tmp_path_factory) -> Path:
    """x.so: libused.so used, libunused.so not (both next to it, RUNPATH $ORIGIN)."""
    d = tmp_path_factory.mktemp("fixable")
    compile_so(d / "libused.so", "int used_fn(void) { return 1; }\n", "-Wl,-soname,libused.so")
    compile_so(d / "libunused.so", "int unused_fn(void) { return 1; }\n", "-Wl,-soname,libunused.so")
    compile_so(d / "x.so", "int used_fn(void);\nint f(void) { return used_fn(); }\n", f"-L{d}", "-lunused",
               "-lused", "-Wl,-rpath,$ORIGIN")
    return d


def _copy_set(fixable: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("libused.so", "libunused.so", "x.so"):
        shutil.copy2(fixable / name, dest / name)
    return dest / "x.so"


@pytest.mark.parametrize("where", ["under-a-file", "proc", "proc-self", "missing-dir"])
def test_output_in_impossible_places_is_one_line(run_cli, fixable, tmp_path, where):
    (tmp_path / "regular").write_text("x")
    out = {"under-a-file": tmp_path / "regular" / "out.so", "proc": Path("/proc/out.so"),
           "proc-self": Path("/proc/self/out.so"), "missing-dir": tmp_path / "no" / "such" / "out.so"}[where]
    result = run_cli(["fix", fixable / "x.so", "-o", out])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "x.so" in lines[0] and "left unchanged" in lines[0], result.stderr


@pytest.mark.parametrize("kind", ["file", "symlink", "dangling-symlink", "directory"])
def test_in_place_refuses_any_existing_backup(run_cli, fixable, tmp_path, kind):
    x = _copy_set(fixable, tmp_path / "w")
    before = x.read_bytes()
    victim = tmp_path / "victim"
    victim.write_text("precious")
    backup = x.with_name("x.so.orig")
    if kind == "file":
        backup.write_text("older backup")
    elif kind == "symlink":
        backup.symlink_to(victim)
    elif kind == "dangling-symlink":
        backup.symlink_to(tmp_path / "nowhere")
    else:
        backup.mkdir()
    result = run_cli(["fix", x, "--in-place"])
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert x.read_bytes() == before
    assert victim.read_text() == "precious"
    assert not (tmp_path / "nowhere").exists()
    if kind == "directory":
        assert list(backup.iterdir()) == []
    assert [p.name for p in x.parent.iterdir() if "linkaudit" in p.name] == []


def test_concurrent_in_place_runs_never_lose_the_original(fixable, tmp_path):
    """Two fixes of the same file at once, 20 rounds: the original always survives in x.so.orig."""
    original = (fixable / "x.so").read_bytes()
    for round_ in range(20):
        x = _copy_set(fixable, tmp_path / f"r{round_}")

        def one(_: int) -> str:
            try:
                r = fix_file(x, ENV, in_place=True)
                return "fixed" if r.destination else "nothing"
            except RewriteError as exc:
                return f"refused: {exc}"

        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(one, range(2)))
        assert outcomes == ["fixed", "nothing"], outcomes  # the second waits for the lock, then finds nothing
        assert x.with_name("x.so.orig").read_bytes() == original
        assert x.read_bytes() != original


def test_in_place_on_a_symlink_fixes_its_target(fixable, tmp_path):
    x = _copy_set(fixable, tmp_path / "w")
    link = tmp_path / "w" / "link.so"
    link.symlink_to("x.so")
    original = x.read_bytes()
    result = fix_file(link, ENV, in_place=True)
    assert link.is_symlink() and os.readlink(link) == "x.so"
    assert result.destination == x and x.read_bytes() != original
    assert x.with_name("x.so.orig").read_bytes() == original


def test_in_place_refuses_a_file_with_other_hard_links(fixable, tmp_path):
    x = _copy_set(fixable, tmp_path / "w")
    os.link(x, tmp_path / "w" / "other.so")
    with pytest.raises(RewriteError, match="hard link"):
        fix_file(x, ENV, in_place=True)
    assert (tmp_path / "w" / "other.so").read_bytes() == x.read_bytes() == (fixable / "x.so").read_bytes()


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_in_place_keeps_owner_and_mode(fixable, tmp_path):
    x = _copy_set(fixable, tmp_path / "w")
    os.chown(x, 1234, 2345)
    os.chmod(x, 0o751)
    fix_file(x, ENV, in_place=True)
    for path in (x, x.with_name("x.so.orig")):
        st = os.stat(path)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1234, 2345, 0o751), path


# -- temporary files ---------------------------------------------------------------------------


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_interrupted_fix_leaves_nothing_behind(fixable, tmp_path, monkeypatch, interrupt):
    x = _copy_set(fixable, tmp_path / "w")
    original = x.read_bytes()

    def stop(*args, **kwargs):
        raise interrupt()

    monkeypatch.setattr(fixer, "_check", stop)  # after the temporary file and the backup exist
    with pytest.raises(interrupt):
        fix_file(x, ENV, in_place=True)
    assert sorted(p.name for p in x.parent.iterdir()) == ["libunused.so", "libused.so", "x.so"]
    assert x.read_bytes() == original


def test_temporaries_of_dead_processes_are_removed_by_the_next_run(fixable, tmp_path):
    x = _copy_set(fixable, tmp_path / "w")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = x.parent / f".out.so.linkaudit-{dead.pid}-deadbeef.tmp"
    live = x.parent / f".out.so.linkaudit-{os.getpid()}-0badf00d.tmp"
    other = x.parent / f".else.so.linkaudit-{dead.pid}-deadbeef.tmp"
    for p in (stale, live, other):
        p.write_bytes(b"partial")
    fix_file(x, ENV, output=x.parent / "out.so")
    assert not stale.exists()
    assert live.exists() and other.exists()  # a running process's, and another file's
    assert remove_stale_temporaries(x.parent, "else.so") == [other]


@pytest.mark.requires_torch
def test_fix_memory_is_bounded_on_libtorch_cpu(torch_lib_dir, tmp_path):
    lib = torch_lib_dir / "libtorch_cpu.so"
    if not lib.exists() or lib.stat().st_size < 100 << 20:
        pytest.skip("no big libtorch_cpu.so to measure")
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork and execve, so a child of a big pytest
    # worker would report the worker's peak; VmHWM belongs to the new program's own memory map.
    code = ("import sys\nfrom linkaudit.cli import main\n"
            "try:\n    main(['fix', sys.argv[1], '-o', sys.argv[2]])\nexcept SystemExit as e:\n    code = e.code\n"
            "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]\n"
            "print(hwm, code)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(lib), str(tmp_path / "out.so")], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
    maxrss_kb, code = proc.stdout.split()[-2:]
    assert code in ("0", "2"), proc.stderr
    assert int(maxrss_kb) < 200 * 1024, f"peak RSS {int(maxrss_kb) // 1024} MB"

