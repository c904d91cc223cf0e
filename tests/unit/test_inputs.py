"""Inputs beyond plain files: wheels, --module, --root sysroots, a foreign machine, -j, bad trees."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkaudit.audit import AuditOptions, audit
from linkaudit.cli import main
from linkaudit.inputs import Target, iter_targets
from linkaudit.loader import LoaderEnv, default_env
from linkaudit.report import ErrorEntry, FoundVia, Status

CC = shutil.which("cc") or shutil.which("gcc")
requires_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc) on PATH")
DATA = Path(__file__).resolve().parent.parent / "data"


def build(out: Path, source: str, *flags: str) -> Path:
    """Compile ``source`` into the shared object ``out`` (explicit --no-as-needed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.with_name(out.name + ".c")
    src.write_text(source)
    subprocess.run([CC, "-shared", "-fPIC", "-o", str(out), str(src), "-Wl,--no-as-needed", *flags],
                   check=True, capture_output=True)
    src.unlink()
    return out


def env(**kw) -> LoaderEnv:
    return LoaderEnv(python_package_rule=False, **kw)


def run_cli(*args: str):
    runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "80"})
    return runner.invoke(main, list(args), catch_exceptions=False)


# -- wheels -------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel laid out as auditwheel would: pkg/mod.so needs pkg.libs/libv.so through $ORIGIN/../pkg.libs."""
    if CC is None:
        pytest.skip("no C compiler (cc) on PATH")
    work = tmp_path_factory.mktemp("wheel")
    libv = build(work / "pkg.libs" / "libv.so", "int v(void) { return 7; }\n", "-Wl,-soname,libv.so")
    libu = build(work / "pkg.libs" / "libu.so", "int u(void) { return 8; }\n", "-Wl,-soname,libu.so")
    mod = build(work / "pkg" / "mod.so", "int v(void);\nint f(void) { return v(); }\n",
                f"-L{libv.parent}", "-lv", "-lu", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/../pkg.libs")
    whl = work / "dist" / "pkg-1.0-cp311-cp311-linux_x86_64.whl"
    whl.parent.mkdir()
    with zipfile.ZipFile(whl, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pkg/__init__.py", "")
        zf.write(mod, "pkg/mod.so")
        zf.write(libv, "pkg.libs/libv.so")
        zf.write(libu, "pkg.libs/libu.so")
        zf.writestr("pkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
        zf.writestr("../evil.so", b"\x7fELF")  # a member that would escape: never extracted
    return whl


@requires_cc
def test_wheel_members_audited_in_place_and_named_inside_the_wheel(wheel, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where collect() makes its work directory
    report = audit([str(wheel)], AuditOptions(env=env(), jobs=1))
    assert not report.errors
    by_path = {o.path: o for o in report.objects}
    assert set(by_path) == {f"{wheel}!pkg/mod.so", f"{wheel}!pkg.libs/libv.so", f"{wheel}!pkg.libs/libu.so"}
    mod = by_path[f"{wheel}!pkg/mod.so"]
    status = {n.name: n for n in mod.needed}
    assert status["libv.so"].status is Status.USED
    assert status["libu.so"].status is Status.UNUSED
    assert status["libv.so"].found_via is FoundVia.RUNPATH  # $ORIGIN/../pkg.libs resolved as installed
    assert str(status["libv.so"].path) == f"{wheel}!pkg.libs/libv.so"
    assert list(tmp_path.iterdir()) == []  # the extraction directory is gone


@requires_cc
def test_wheel_not_a_zip_is_one_error_and_the_rest_continues(wheel, tmp_path):
    bad = tmp_path / "bad-1.0-py3-none-any.whl"
    bad.write_bytes(b"this is not a zip archive\n")
    result = run_cli("--format", "json", "-j", "1", str(bad), str(wheel))
    assert result.exit_code == 2
    assert result.stderr.count(str(bad)) == 1
    line = [ln for ln in result.stderr.splitlines() if str(bad) in ln][0]
    assert "not a zip" in line
    assert f"{wheel}!pkg/mod.so" in result.stdout


def test_wheel_needs_a_workdir_outside_collect(tmp_path):
    whl = tmp_path / "x-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as zf:
        zf.writestr("x/__init__.py", "")
    items = list(iter_targets([str(whl)]))
    assert len(items) == 1 and isinstance(items[0], ErrorEntry)


# -- --module -------------------------------------------------------------------


@requires_cc
def test_module_found_without_importing_it(tmp_path, monkeypatch):
    site = tmp_path / "site"
    pkg = site / "la_probe_pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('imported!')\n")
    (pkg / "sub" / "__init__.py").write_text("raise RuntimeError('imported!')\n")
    build(pkg / "sub" / "ext.so", "int e(void) { return 1; }\n")
    (pkg / "sub" / "notes.txt").write_text("not ELF")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    items = list(iter_targets([], modules=["la_probe_pkg.sub"]))
    assert [i.path for i in items if isinstance(i, Target)] == [pkg / "sub" / "ext.so"]
    assert not [i for i in items if isinstance(i, ErrorEntry)]
    whole = list(iter_targets([], modules=["la_probe_pkg"]))
    assert [i.path.name for i in whole if isinstance(i, Target)] == ["ext.so"]
    assert "la_probe_pkg" not in sys.modules and "la_probe_pkg.sub" not in sys.modules


@requires_cc
def test_module_nosuch_is_an_error_and_the_rest_continues(tmp_path):
    lib = build(tmp_path / "libok.so", "int ok(void) { return 0; }\n")
    result = run_cli("--format", "json", "--module", "la_no_such_module_xyz", str(lib))
    assert result.exit_code == 2
    assert "la_no_such_module_xyz" in result.stderr and "no such module" in result.stderr
    assert str(lib) in result.stdout


def test_module_pure_python_and_builtin_are_errors():
    for name in ("json", "sys", "not-a-name"):
        items = list(iter_targets([], modules=[name]))
        assert len(items) == 1 and isinstance(items[0], ErrorEntry), name


# -- --root -----------------------------------------------------------------------


@pytest.fixture()
def sysroot(tmp_path) -> Path:
    """An image whose main lib finds one dependency through an absolute RPATH, one in the default dirs."""
    if CC is None:
        pytest.skip("no C compiler (cc) on PATH")
    root = tmp_path / "root"
    build_dir = tmp_path / "build"
    libr = build(build_dir / "libr.so", "int r(void) { return 1; }\n", "-Wl,-soname,libr.so")
    libd = build(build_dir / "libd.so", "int d(void) { return 2; }\n", "-Wl,-soname,libd.so")
    main_lib = build(build_dir / "libmain.so", "int r(void); int d(void);\nint m(void) { return r() + d(); }\n",
                     f"-L{build_dir}", "-lr", "-ld", "-lz", "-Wl,--disable-new-dtags", "-Wl,-rpath,/opt/app/lib")
    (root / "opt" / "app" / "lib").mkdir(parents=True)
    (root / "usr" / "lib" / "x86_64-linux-gnu").mkdir(parents=True)
    (root / "etc").mkdir()
    shutil.copy(libr, root / "opt" / "app" / "lib" / "libr.so")
    shutil.copy(libd, root / "usr" / "lib" / "x86_64-linux-gnu" / "libd.so")
    shutil.copy(main_lib, root / "opt" / "app" / "libmain.so")
    # an absolute symlink inside the image must not escape to this machine's libz
    host_z = Path("/usr/lib/x86_64-linux-gnu/libz.so.1")
    (root / "usr" / "lib" / "x86_64-linux-gnu" / "libz.so.1").symlink_to(host_z)
    return root


def _native_machine_is_x86_64() -> bool:
    return os.uname().machine == "x86_64"


@requires_cc
@pytest.mark.skipif(not _native_machine_is_x86_64(), reason="the sysroot fixture lays out x86-64 multiarch dirs")
def test_root_resolves_everything_inside_the_image(sysroot):
    target = sysroot / "opt" / "app" / "libmain.so"
    report = audit([str(target)], AuditOptions(env=default_env(root=str(sysroot)), jobs=1))
    assert not report.errors
    needed = {n.name: n for n in report.objects[0].needed}
    assert needed["libr.so"].found_via is FoundVia.RPATH
    assert str(needed["libr.so"].path) == "/opt/app/lib/libr.so"  # the in-image path
    assert needed["libd.so"].found_via is FoundVia.DEFAULT
    assert str(needed["libd.so"].path) == "/usr/lib/x86_64-linux-gnu/libd.so"
    # this machine's libz is not in the image; the absolute symlink resolves inside the root
    assert needed["libz.so.1"].status is Status.MISSING
    assert needed["libc.so.6"].status is Status.MISSING  # the image has no libc: this machine's does not count
    assert needed["libr.so"].status is Status.USED and needed["libd.so"].status is Status.USED


@requires_cc
@pytest.mark.skipif(shutil.which("ldconfig") is None and not os.path.exists("/sbin/ldconfig"),
                    reason="ldconfig is needed to build an ld.so.cache for the image")
def test_root_reads_the_images_ld_so_cache(sysroot):
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    cached = sysroot / "opt" / "cached"
    cached.mkdir()
    shutil.move(str(sysroot / "usr" / "lib" / "x86_64-linux-gnu" / "libd.so"), cached / "libd.so")
    (sysroot / "etc" / "ld.so.conf").write_text("/opt/cached\n")
    subprocess.run([ldconfig, "-r", str(sysroot)], check=True, capture_output=True)
    report = audit([str(sysroot / "opt" / "app" / "libmain.so")],
                   AuditOptions(env=default_env(root=str(sysroot)), jobs=1))
    libd = {n.name: n for n in report.objects[0].needed}["libd.so"]
    assert libd.found_via is FoundVia.CACHE
    assert str(libd.path) == "/opt/cached/libd.so"


# -- a foreign machine ---------------------------------------------------------------


def test_foreign_aarch64_objects_are_audited_statically():
    """tests/data/aarch64 is made by scripts/make_arch_fixtures.sh (libfa used, libfb not)."""
    main_lib = DATA / "aarch64" / "libmain.so"
    report = audit([str(main_lib)], AuditOptions(env=env(), jobs=1))
    assert not report.errors
    obj = report.objects[0]
    assert obj.machine == "aarch64"
    needed = {n.name: n for n in obj.needed}
    assert needed["libfa.so"].status is Status.USED
    assert needed["libfb.so"].status is Status.UNUSED
    assert needed["libfa.so"].found_via is FoundVia.RUNPATH
    assert sorted(b.symbol for b in needed["libfa.so"].bindings) == ["fa", "fa_data"]


def test_foreign_fixture_stays_tiny():
    total = sum(p.stat().st_size for p in (DATA / "aarch64").iterdir())
    assert total < 50_000


# -- -j -------------------------------------------------------------------------------


@requires_cc
def test_parallel_equals_serial_and_keeps_input_order(tmp_path):
    base = build(tmp_path / "libbase.so", "int b(void) { return 1; }\n", "-Wl,-soname,libbase.so")
    names = []
    for i in range(12):
        use = "b()" if i % 2 else "0"
        build(tmp_path / "objs" / f"lib{i:02d}.so", f"int b(void);\nint f{i}(void) {{ return {use}; }}\n",
              f"-L{tmp_path}", "-lbase", "-lm", f"-Wl,-rpath,{tmp_path}")
        names.append(f"lib{i:02d}.so")
    (tmp_path / "objs" / "zz-bad.so").write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 20)
    calls: list[tuple[int, int]] = []
    serial = audit([str(tmp_path / "objs")], AuditOptions(env=env(), jobs=1))
    parallel = audit([str(tmp_path / "objs")], AuditOptions(env=env(), jobs=2),
                     progress=lambda done, total: calls.append((done, total)))
    assert parallel == serial
    assert [Path(o.path).name for o in parallel.objects] == names
    assert [Path(e.path).name for e in parallel.errors] == ["zz-bad.so"]
    assert calls and calls[-1] == (13, 13)
    for o in parallel.objects:
        status = {n.name: n.status for n in o.needed}
        assert status["libbase.so"] is (Status.USED if int(Path(o.path).name[3:5]) % 2 else Status.UNUSED)


# -- trees that fight back ---------------------------------------------------------------


@requires_cc
def test_symlink_loop_walked_once_and_no_error(tmp_path):
    """Debian's /usr/bin/X11 -> . : the loop leads back to a directory already audited, nothing is lost."""
    tree = tmp_path / "tree"
    build(tree / "a" / "liba.so", "int a(void) { return 1; }\n")
    (tree / "a" / "loop").symlink_to(tree)
    (tree / "X11").symlink_to(".")
    items = list(iter_targets([str(tree)]))
    targets = [i for i in items if isinstance(i, Target)]
    errors = [i for i in items if isinstance(i, ErrorEntry)]
    assert [t.path.name for t in targets] == ["liba.so"]
    assert errors == []


@requires_cc
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads directories whatever their mode")
def test_unreadable_directory_reported_and_skipped(tmp_path):
    tree = tmp_path / "tree"
    build(tree / "ok" / "libok.so", "int a(void) { return 1; }\n")
    locked = tree / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        items = list(iter_targets([str(tree)]))
    finally:
        locked.chmod(0o755)
    assert [i.path.name for i in items if isinstance(i, Target)] == ["libok.so"]
    assert [i.path for i in items if isinstance(i, ErrorEntry)] == [str(locked)]


def test_unreadable_directory_simulated(tmp_path, monkeypatch):
    """As root the mode bits do not bite, so make scandir fail the way EACCES would."""
    tree = tmp_path / "tree"
    (tree / "locked").mkdir(parents=True)
    (tree / "open").mkdir()
    real = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    errors = [i for i in iter_targets([str(tree)]) if isinstance(i, ErrorEntry)]
    assert [(e.path, e.message) for e in errors] == [(str(tree / "locked"), "cannot read directory: Permission denied")]


def test_foreign_objects_under_a_root_use_the_images_multiarch_dirs(tmp_path):
    root = tmp_path / "image"
    libdir = root / "usr" / "lib" / "aarch64-linux-gnu"
    libdir.mkdir(parents=True)
    (root / "opt").mkdir()
    for name in ("libfa.so", "libfb.so"):
        shutil.copy(DATA / "aarch64" / name, libdir / name)
    shutil.copy(DATA / "aarch64" / "libmain.so", root / "opt" / "libmain.so")
    result = run_cli("--format", "json", "-j", "1", "--root", str(root), "--fail-on", "none",
                     str(root / "opt" / "libmain.so"))
    assert result.exit_code == 0, result.stderr
    import json

    obj = json.loads(result.stdout)["objects"][0]
    assert obj["machine"] == "aarch64"
    needed = {n["name"]: n for n in obj["needed"]}
    assert needed["libfa.so"]["path"] == "/usr/lib/aarch64-linux-gnu/libfa.so"
    assert needed["libfa.so"]["found_via"] == "default"
    assert (needed["libfa.so"]["status"], needed["libfb.so"]["status"]) == ("used", "unused")


@requires_cc
def test_symlink_to_a_directory_seen_elsewhere_is_not_an_error(tmp_path):
    tree = tmp_path / "tree"
    build(tree / "72.1" / "libicu.so", "int i(void) { return 1; }\n")
    (tree / "current").symlink_to("72.1")
    items = list(iter_targets([str(tree)]))
    assert [i.path.name for i in items if isinstance(i, Target)] == ["libicu.so"]
    assert not [i for i in items if isinstance(i, ErrorEntry)]


@pytest.mark.parametrize("text", ["/* GNU ld script\n   Use the shared library.  */\nGROUP ( /lib/libc.so.6 )\n",
                                  "INPUT(-lfoo)\n", "OUTPUT_FORMAT(elf64-x86-64)\nGROUP ( libbar.so.1 )\n"])
def test_a_named_linker_script_is_called_one(tmp_path: Path, text: str) -> None:
    """libc.so, libm.so and friends are linker scripts: the message says so, not just 'not an ELF file'."""
    script = tmp_path / "libfoo.so"
    script.write_text(text)
    (item,) = iter_targets([str(script)])
    assert isinstance(item, ErrorEntry)
    assert item.message == "a linker script (text for ld), not an ELF file: ld.so never loads it"
    plain = tmp_path / "notes.txt"
    plain.write_text("hello\n")
    (item,) = iter_targets([str(plain)])
    assert item.message == "not an ELF file"
