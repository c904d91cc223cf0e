"""``linkaudit fix``: removes exactly the unused DT_NEEDED entries, the result still loads, refusals change nothing.

"Unused" is checked against glibc's ``ldd -u -r`` (oracle) and DT_NEEDED is read
with pyelftools directly; "still loads" means the fixed object is really
loaded: an executable is run, a library is opened with ctypes, the greet
extension is imported and called in a fresh interpreter.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from _greet import (
    GREETING,
    dt_needed,
    extension_filename,
    ldd_unused,
    relinked_once,
    require_extension,
    run_python,
)

# -- fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixdir(tmp_path_factory: pytest.TempPathFactory, build_so, build_exe) -> Path:
    """libused.so, libunused.so, an exe using libused only, and a library consumer.so that also links libm."""
    d = tmp_path_factory.mktemp("fixcmd")
    used = build_so("libused.so", "used.c", out_dir=d)
    unused = build_so("libunused.so", "unused.c", out_dir=d)
    build_exe("app", "main_basic.c", out_dir=d, libs=[used, unused], runpath=["$ORIGIN"])
    build_so("libconsumer.so", "int used_fn(void);\nint consumer(void) { return used_fn() + 41; }\n",
             out_dir=d, libs=[used, unused, "m"], runpath=["$ORIGIN"])
    # Turns out used: libouter.so needs libinner.so; libtop.so calls inner_fn (defined in libinner only)
    # but links only -louter, so ldd -u calls libouter unused -- yet removing it unloads inner_fn.
    inner = build_so("libinner.so", "int inner_fn(void) { return 7; }\n", out_dir=d)
    outer = build_so("libouter.so", "int outer_fn(void) { return 8; }\n", out_dir=d, libs=[inner],
                     runpath=["$ORIGIN"])
    build_so("libtop.so", "int inner_fn(void);\nint top(void) { return inner_fn(); }\n", out_dir=d,
             libs=[outer], runpath=["$ORIGIN"])
    return d


def _copy(src: Path, dest_dir: Path, name: str | None = None) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / (name or src.name)
    shutil.copy2(src, dest)
    return dest


def _ran_ok(path: Path) -> None:
    import subprocess

    proc = subprocess.run([str(path)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)


# -- cc-built fixtures ----------------------------------------------------------------


@pytest.mark.requires_cc
@pytest.mark.oracle
def test_fix_executable_removes_exactly_the_unused(fixdir: Path, run_cli, tmp_path: Path) -> None:
    app = fixdir / "app"
    oracle = ldd_unused(app)
    assert [os.path.basename(p) for p in oracle] == ["libunused.so"]
    out = fixdir / "app.fixed"  # next to the libraries: RUNPATH is $ORIGIN
    result = run_cli(["fix", app, "-o", out])
    assert result.exit_code == 0, result.stderr
    assert "libunused.so" in result.stdout
    assert dt_needed(out) == tuple(n for n in dt_needed(app) if n != "libunused.so")
    assert ldd_unused(out) == []
    _ran_ok(out)


@pytest.mark.requires_cc
@pytest.mark.oracle
def test_fix_library_removes_exactly_the_unused(fixdir: Path, run_cli) -> None:
    lib = fixdir / "libconsumer.so"
    oracle = {os.path.basename(p) for p in ldd_unused(lib)}
    assert oracle == {"libunused.so", "libm.so.6"}
    out = fixdir / "libconsumer.fixed.so"
    before = lib.read_bytes()
    result = run_cli(["fix", lib, "-o", out])
    assert result.exit_code == 0, result.stderr
    assert lib.read_bytes() == before, "-o must not touch the source"
    assert dt_needed(out) == tuple(n for n in dt_needed(lib) if n not in oracle)
    assert ldd_unused(out) == []
    proc = run_python(f"import ctypes\nprint(ctypes.CDLL({str(out)!r}).consumer())")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "42"


@pytest.mark.requires_cc
def test_fix_in_place_keeps_a_backup(fixdir: Path, run_cli, tmp_path: Path) -> None:
    for name in ("libused.so", "libunused.so"):
        _copy(fixdir / name, tmp_path)
    app = _copy(fixdir / "app", tmp_path)
    original = app.read_bytes()
    mode = stat.S_IMODE(app.stat().st_mode)
    result = run_cli(["fix", app, "--in-place"])
    assert result.exit_code == 0, result.stderr
    backup = tmp_path / "app.orig"
    assert backup.read_bytes() == original
    assert "libunused.so" not in dt_needed(app)
    assert stat.S_IMODE(app.stat().st_mode) == mode
    assert len(app.read_bytes()) == len(original)
    _ran_ok(app)
    assert not list(tmp_path.glob("*.linkaudit")), "temporary files left behind"


@pytest.mark.requires_cc
def test_fix_nothing_to_remove(fixdir: Path, run_cli, tmp_path: Path) -> None:
    lib = fixdir / "libused.so"
    before = lib.read_bytes()
    out = tmp_path / "out.so"
    result = run_cli(["fix", lib, "-o", out])
    assert result.exit_code == 0
    # `fix a.so -o out.so && cp out.so ...` must work whether or not anything was removed
    assert "nothing to remove" in result.stderr and "byte-identical copy" in result.stderr
    assert out.read_bytes() == before
    assert out.stat().st_mode & 0o777 == lib.stat().st_mode & 0o777
    assert lib.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.so"]  # no temporary file left behind


def test_fix_nothing_to_remove_in_place(fixdir: Path, run_cli, tmp_path: Path) -> None:
    lib = tmp_path / "libused.so"
    lib.write_bytes((fixdir / "libused.so").read_bytes())
    before = lib.read_bytes()
    result = run_cli(["fix", "--in-place", lib])
    assert result.exit_code == 0
    assert "nothing to remove; left unchanged" in result.stderr
    assert lib.read_bytes() == before
    assert not lib.with_name(lib.name + ".orig").exists()


# -- refusals: exit 2, one line on stderr naming the file, bytes unchanged ----------------------


def _refusal(run_cli, target: Path, args: list[str]) -> None:
    before = target.read_bytes()
    mode = target.stat().st_mode
    result = run_cli(["fix", target, *args])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(target) in lines[0]
    assert result.stdout == ""
    assert target.read_bytes() == before
    assert target.stat().st_mode == mode
    assert not list(target.parent.glob("*.linkaudit")), "temporary files left behind"
    assert not target.with_name(target.name + ".orig").exists()


@pytest.mark.requires_cc
@pytest.mark.parametrize("how", ["-o", "--in-place"])
def test_refuses_non_elf(run_cli, tmp_path: Path, how: str) -> None:
    target = tmp_path / "notes.so"
    target.write_text("not an ELF file\n")
    _refusal(run_cli, target, ["-o", str(tmp_path / "out.so")] if how == "-o" else ["--in-place"])
    assert not (tmp_path / "out.so").exists()


@pytest.mark.requires_cc
def test_refuses_read_only_in_place(fixdir: Path, run_cli, tmp_path: Path) -> None:
    for name in ("libused.so", "libunused.so"):
        _copy(fixdir / name, tmp_path)
    app = _copy(fixdir / "app", tmp_path)
    app.chmod(0o555)
    try:
        _refusal(run_cli, app, ["--in-place"])
    finally:
        app.chmod(0o755)


@pytest.mark.requires_cc
def test_refuses_truncated_elf(fixdir: Path, run_cli, tmp_path: Path) -> None:
    data = (fixdir / "libconsumer.so").read_bytes()
    target = tmp_path / "libtruncated.so"
    target.write_bytes(data[: len(data) // 3])
    _refusal(run_cli, target, ["-o", str(tmp_path / "out.so")])
    assert not (tmp_path / "out.so").exists()


@pytest.mark.requires_cc
def test_refuses_elf_without_dynamic_section(build_exe, run_cli, tmp_path: Path) -> None:
    # A freestanding static executable: no PT_DYNAMIC, no DT_NEEDED to fix.
    exe = build_exe("freestanding", "void _start(void) { for (;;) ; }\n", out_dir=tmp_path, pie=False,
                    extra=["-static", "-nostdlib"])
    _refusal(run_cli, exe, ["-o", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


@pytest.mark.requires_cc
def test_refuses_relocatable_object(run_cli, tmp_path: Path) -> None:
    import subprocess

    cc = shutil.which("cc")
    obj = tmp_path / "unit.o"
    src = tmp_path / "unit.c"
    src.write_text("int f(void) { return 1; }\n")
    subprocess.run([cc, "-c", str(src), "-o", str(obj)], check=True)
    _refusal(run_cli, obj, ["-o", str(tmp_path / "out.so")])


@pytest.mark.requires_cc
@pytest.mark.oracle
def test_refuses_library_that_turns_out_used(fixdir: Path, run_cli, tmp_path: Path) -> None:
    top = fixdir / "libtop.so"
    # ldd -u calls libouter unused (nothing binds to it directly) ...
    assert [os.path.basename(p) for p in ldd_unused(top)] == ["libouter.so"]
    # ... but it is what loads libinner, which defines inner_fn.
    _refusal(run_cli, top, ["-o", str(fixdir / "libtop.fixed.so")])
    assert not (fixdir / "libtop.fixed.so").exists()


# -- the greet extension ----------------------------------------------------------------------


@pytest.mark.requires_torch
@pytest.mark.slow
@pytest.mark.oracle
def test_fix_relinked_greet(tmp_path_factory: pytest.TempPathFactory, torch_lib_dir: Path, run_cli,
                            tmp_path: Path) -> None:
    relinked = relinked_once(tmp_path_factory, torch_lib_dir)
    unused = {os.path.basename(p) for p in ldd_unused(relinked, torch_lib_dir)}
    assert unused == {"libtorch.so", "libtorch_python.so", "libm.so.6"}
    out_dir = tmp_path / "fixed"
    out_dir.mkdir()
    out = out_dir / extension_filename("_C")
    result = run_cli(["fix", relinked, "-o", out], env={"LD_LIBRARY_PATH": str(torch_lib_dir)})
    assert result.exit_code == 0, result.stderr
    assert dt_needed(out) == tuple(n for n in dt_needed(relinked) if n not in unused)
    assert ldd_unused(out, torch_lib_dir) == []
    # torch libraries remain (incidental ones are kept without --incidental): import torch first.
    proc = run_python("import torch\nimport _C\n_C.greet()\n", sys_path=out_dir)
    assert proc.returncode == 0, proc.stderr
    assert GREETING in proc.stdout


@pytest.mark.requires_torch
def test_fix_incidental_greet_imports_without_torch(torch_lib_dir: Path, run_cli, tmp_path: Path) -> None:
    c_ext = require_extension("_C")
    torch_needed = {n for n in dt_needed(c_ext) if n.startswith(("libc10", "libtorch"))}
    assert torch_needed, "the classic build links torch libraries"
    pkg = tmp_path / "site" / "greetpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    out = pkg / extension_filename("_C")
    before = c_ext.read_bytes()
    result = run_cli(["fix", "--incidental", c_ext, "-o", out], env={"LD_LIBRARY_PATH": None})
    assert result.exit_code == 0, result.stderr
    assert c_ext.read_bytes() == before
    assert dt_needed(out) == tuple(n for n in dt_needed(c_ext) if n not in torch_needed)
    proc = run_python(
        "from greetpkg import _C\n_C.greet()\n"
        "assert 'torch' not in sys.modules, 'torch got imported'\n",
        sys_path=tmp_path / "site",
    )
    assert proc.returncode == 0, proc.stderr
    assert GREETING in proc.stdout
    # Without torch/lib anywhere on the search path, the loader needs nothing more.
    assert ldd_unused(out) == []


# -- old-style glibc stubs, as manylinux toolchains link them ----------------------------


STUBS = {  # soname -> (version, symbol) as glibc < 2.34 defined them there
    "libpthread.so.0": ("GLIBC_2.2.5", "pthread_join"),
    "libdl.so.2": ("GLIBC_2.2.5", "dlopen"),
    "librt.so.1": ("GLIBC_2.2.5", "clock_gettime"),
}


@pytest.fixture(scope="module")
def stub_linked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An executable linked against old-style stubs that still define the symbols at link time.

    Its .gnu.version_r records pthread_join@GLIBC_2.2.5 against libpthread.so.0 (and likewise for
    libdl/librt); at run time this glibc's own stub files are found, and they provide nothing.
    """
    import subprocess

    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) to build ELF fixtures")
    d = tmp_path_factory.mktemp("stubs")
    stubdir = d / "stubs"
    stubdir.mkdir()
    for soname, (version, sym) in STUBS.items():
        src = stubdir / f"{sym}.c"
        src.write_text(f"int {sym}(void) {{ return 0; }}\n")
        (stubdir / f"{sym}.map").write_text(f"{version} {{ global: {sym}; local: *; }};\n")
        subprocess.run(["cc", "-shared", "-fPIC", "-o", str(stubdir / soname), str(src), f"-Wl,-soname,{soname}",
                        f"-Wl,--version-script,{stubdir / (sym + '.map')}"], check=True)
        (stubdir / (soname.split(".so")[0] + ".so")).symlink_to(soname)
    main = d / "app.c"
    main.write_text(
        "#include <stdio.h>\nextern int pthread_join(); extern void *dlopen(); extern int clock_gettime();\n"
        "int main(int argc, char **argv) { (void)argv; if (argc > 99) { pthread_join(); dlopen(); clock_gettime(); }\n"
        '  puts("stub app ran"); return 0; }\n')
    exe = d / "app"
    subprocess.run(["cc", "-o", str(exe), str(main), f"-L{stubdir}", "-Wl,--no-as-needed", "-lpthread", "-ldl", "-lrt",
                    "-Wl,-z,now"], check=True)
    proc = subprocess.run([str(exe)], capture_output=True, text=True)
    if proc.returncode != 0 or "stub app ran" not in proc.stdout:
        pytest.skip(f"this glibc has no loadable old-style stubs: {proc.stderr.strip()}")
    unused = {os.path.basename(p) for p in ldd_unused(exe)}
    if not set(STUBS) <= unused:
        pytest.skip(f"the stubs are used on this glibc (< 2.34?): ldd -u says {sorted(unused)}")
    return exe


@pytest.mark.oracle
def test_fix_removes_glibc_stubs_and_keeps_versions_loadable(stub_linked: Path, run_cli, tmp_path: Path) -> None:
    import subprocess

    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    out = tmp_path / "app.fixed"
    result = run_cli(["fix", stub_linked, "-o", out])
    assert result.exit_code == 0, result.stderr
    for soname in STUBS:
        assert f"version requirements of {soname} re-pointed to libc.so.6" in result.stderr
    assert dt_needed(out) == tuple(n for n in dt_needed(stub_linked) if n not in STUBS)
    with open(out, "rb") as fh:
        files = {vn.name for sec in ELFFile(fh).iter_sections() if isinstance(sec, GNUVerNeedSection)
                 for vn, _ in sec.iter_versions()}
    assert not files & set(STUBS), files
    # The real loader accepts it: ldd -r reports nothing, and it runs.
    proc = subprocess.run(["ldd", "-r", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0 and "undefined symbol" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert "Assertion" not in proc.stderr
    ran = subprocess.run([str(out)], capture_output=True, text=True, timeout=30)
    assert ran.returncode == 0 and "stub app ran" in ran.stdout, ran.stderr
    assert ldd_unused(out) == []


@pytest.mark.oracle
def test_naive_removal_of_a_stub_breaks_the_loader(stub_linked: Path, tmp_path: Path) -> None:
    """Why re-pointing matters: dropping only DT_NEEDED (what patchelf --remove-needed does) makes ld.so abort."""
    import subprocess

    from linkaudit.rewrite import plan_needed_removal

    data = bytearray(stub_linked.read_bytes())
    plan = plan_needed_removal(bytes(data), ["libpthread.so.0"], {"libpthread.so.0": "libc.so.6"})
    assert plan.verneed, "the stub must carry a version requirement for this test to mean anything"
    # Apply only the patch of the dynamic array (DT_NEEDED gone), not the .gnu.version_r re-pointing.
    for p in plan.patches:
        if p.what == "dynamic array":
            data[p.offset:p.offset + len(p.new)] = p.new
    naive = tmp_path / "app.naive"
    naive.write_bytes(bytes(data))
    naive.chmod(0o755)
    proc = subprocess.run([str(naive)], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "needed != NULL" in proc.stderr, proc.stderr


@pytest.mark.requires_cc
def test_fix_extension_written_under_another_name(fixdir: Path, build_so, run_cli, tmp_path: Path) -> None:
    """`-o` may name the output anything (`x.so.fixed`, `fixed.so`): the Python C API references
    the interpreter provides stay provided, so they are no reason to refuse."""
    src = tmp_path / "src"
    src.mkdir()
    ext = build_so(extension_filename("fakeext"),
                   "long PyLong_FromLong(long);\nvoid *PyInit_fakeext(void) { return (void *)PyLong_FromLong(1); }\n",
                   out_dir=src, soname=False, libs=[fixdir / "libunused.so"])
    for name in ("fixed.so", "out.so.fixed"):
        out = tmp_path / name
        result = run_cli(["fix", ext, "-o", out], env={"LD_LIBRARY_PATH": str(fixdir)})
        assert result.exit_code == 0, result.stderr
        assert dt_needed(out) == tuple(n for n in dt_needed(ext) if n != "libunused.so")


@pytest.mark.requires_cc
def test_output_in_another_directory_says_why_a_library_is_lost(fixdir: Path, run_cli, tmp_path: Path) -> None:
    """`-o` elsewhere: app's RUNPATH $ORIGIN no longer finds libused.so next to it; the refusal says that is why."""
    out = tmp_path / "elsewhere" / "app.fixed"
    out.parent.mkdir()
    result = run_cli(["fix", fixdir / "app", "-o", out])
    assert result.exit_code == 2
    assert "libused.so would no longer be found" in result.stderr
    assert f"checked where it is written: in {out.parent}, $ORIGIN-relative search paths" in result.stderr
    assert not out.exists()
