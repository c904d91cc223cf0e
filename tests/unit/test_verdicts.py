"""Verdicts on small cc-built shapes: incidental, drags (diamond, chain), categories, glibc stubs.

Each expectation is derived from how the fixture was built (which library
defines what, under which version, who needs whom) and, where ld.so has an
opinion, checked against ``ldd -u -r``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import IS_GLIBC, LDD, ldd_env, parse_ldd_unused

from linkaudit.audit import AuditOptions, audit
from linkaudit.loader import LoaderEnv
from linkaudit.report import Category, NeededEntry, ObjectReport, Status

pytestmark = pytest.mark.requires_cc



def _audit(path: Path) -> ObjectReport:
    report = audit([str(path)], AuditOptions(env=LoaderEnv(python_package_rule=False)))
    assert not report.errors, report.errors
    [obj] = report.objects
    return obj


def _needed(obj: ObjectReport) -> dict[str, NeededEntry]:
    return {n.name: n for n in obj.needed}


def _ldd_unused(path: Path) -> list[str]:
    if not IS_GLIBC or LDD is None:
        pytest.skip("the ldd oracle needs glibc's ldd")
    proc = subprocess.run([LDD, "-u", "-r", str(path)], capture_output=True, text=True, env=ldd_env(), timeout=60)
    unused = parse_ldd_unused(proc.stdout)
    if unused is None:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return []
    return unused


def _vscript(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


# -- incidental: an unversioned re-export of another library's versioned symbol -----------


@pytest.fixture(scope="module")
def incidental_tree(tmp_path_factory: pytest.TempPathFactory, build_so, build_exe) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("incidental")
    # libB owns shared_sym under version B_1.0 (and has b_only of its own).
    libb = build_so("libB.so", "int shared_sym(void) { return 2; }\nint b_only(void) { return 3; }\n", out_dir=d,
                    version_script=_vscript(d, "b.map", "B_1.0 { global: shared_sym; b_only; local: *; };\n"))
    # libA carries an unversioned copy of shared_sym (like libc10 re-exporting libstdc++ helpers).
    liba = build_so("libA.so", "int shared_sym(void) { return 1; }\n", out_dir=d)
    # libAv defines it under a version of its own: a real definition, not a re-export.
    libav = build_so("libAv.so", "int shared_sym(void) { return 1; }\n", out_dir=d,
                     version_script=_vscript(d, "av.map", "AV_1.0 { global: shared_sym; local: *; };\n"))
    src = "int shared_sym(void);\nint b_only(void);\nint main(void) { return shared_sym() + b_only() - 4; }\n"
    # Link A first: the linker resolves shared_sym from A, so the reference is unversioned and ld.so binds it to A.
    main = build_exe("main_ab", src, out_dir=d, libs=[liba, libb], runpath=["$ORIGIN"])
    main_v = build_exe("main_avb", src, out_dir=d, libs=[libav, libb], runpath=["$ORIGIN"])
    return {"main": main, "main_v": main_v, "libB": libb}


def test_incidental_reexport_is_charged_to_its_owner(incidental_tree) -> None:
    obj = _audit(incidental_tree["main"])
    needed = _needed(obj)
    a, b = needed["libA.so"], needed["libB.so"]
    assert a.status is Status.INCIDENTAL
    assert [bd.symbol for bd in a.bindings] == ["shared_sym"]
    assert all(bd.owner is not None and bd.owner.library.startswith("libB.so") and bd.owner.version == "B_1.0" for bd in a.bindings)
    assert b.status is Status.USED
    assert "b_only" in b.symbols


@pytest.mark.oracle
def test_incidental_counts_as_used_for_ldd(incidental_tree) -> None:
    # ld.so binds shared_sym to libA, so ldd -u lists nothing; linkaudit agrees on ldd_unused.
    obj = _audit(incidental_tree["main"])
    assert _ldd_unused(incidental_tree["main"]) == []
    assert obj.ldd_unused == ()


def test_versioned_definition_is_not_incidental(incidental_tree) -> None:
    needed = _needed(_audit(incidental_tree["main_v"]))
    assert needed["libAv.so"].status is Status.USED
    assert needed["libB.so"].status is Status.USED


# -- drags: what only an unused dependency loads -----------------------------------------------


@pytest.fixture(scope="module")
def drag_tree(tmp_path_factory: pytest.TempPathFactory, build_so, build_exe) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("drags")
    leaf = build_so("libleaf.so", "int leaf_fn(void) { return 0; }\n", out_dir=d)
    mid = build_so("libmid.so", "int mid_fn(void) { return 0; }\n", out_dir=d, libs=[leaf], runpath=["$ORIGIN"])
    shared = build_so("libshared.so", "int shared_fn(void) { return 0; }\n", out_dir=d)
    # Diamond: main -> libU (unused) -> libshared; main -> libX (used) -> libshared.
    u = build_so("libU.so", "int u_fn(void) { return 0; }\n", out_dir=d, libs=[shared], runpath=["$ORIGIN"])
    x = build_so("libX.so", "int x_fn(void) { return 0; }\n", out_dir=d, libs=[shared], runpath=["$ORIGIN"])
    # Chain: main -> libU2 (unused) -> libmid -> libleaf.
    u2 = build_so("libU2.so", "int u2_fn(void) { return 0; }\n", out_dir=d, libs=[mid], runpath=["$ORIGIN"])
    main = build_exe("main_drags", "int x_fn(void);\nint main(void) { return x_fn(); }\n", out_dir=d,
                     libs=[u, x, u2], runpath=["$ORIGIN"])
    return {"main": main, "dir": d}


def test_diamond_is_not_charged_to_the_unused_side(drag_tree) -> None:
    needed = _needed(_audit(drag_tree["main"]))
    assert needed["libU.so"].status is Status.UNUSED
    assert needed["libX.so"].status is Status.USED
    # libshared stays loaded through libX: removing libU unloads nothing but libU itself.
    assert needed["libU.so"].drags == ()
    assert needed["libU.so"].drags_bytes == 0


def test_chain_is_charged_to_the_unused_dependency(drag_tree) -> None:
    obj = _audit(drag_tree["main"])
    u2 = _needed(obj)["libU2.so"]
    assert u2.status is Status.UNUSED
    d = drag_tree["dir"]
    expect = {os.path.realpath(d / "libmid.so"), os.path.realpath(d / "libleaf.so")}
    assert {os.path.realpath(p) for p in u2.drags} == expect
    assert u2.drags_bytes == sum(os.path.getsize(p) for p in expect)
    flagged = {os.path.realpath(lib.path) for lib in obj.loaded if lib.only_for_unneeded}
    assert expect | {os.path.realpath(d / "libU.so"), os.path.realpath(d / "libU2.so")} == flagged


@pytest.mark.oracle
def test_drag_tree_unused_matches_ldd(drag_tree) -> None:
    obj = _audit(drag_tree["main"])
    assert list(obj.ldd_unused) == _ldd_unused(drag_tree["main"])
    assert sorted(os.path.basename(p) for p in obj.ldd_unused) == ["libU.so", "libU2.so"]


# -- categories ---------------------------------------------------------------------------------

CATEGORY_CASES = {
    "libtorch_foo.so": Category.TORCH,
    "libcudart-3f3c6934.so.11.0": Category.CUDA,
    "libgomp-75eea7e8.so.1": Category.OPENMP,
    "libcublasLt.so.12": Category.CUDA,
}


def test_categories_of_linked_libraries(tmp_path_factory: pytest.TempPathFactory, build_so, build_exe) -> None:
    d = tmp_path_factory.mktemp("categories")
    libs = [build_so(name, f"int f{i}(void) {{ return {i}; }}\n", out_dir=d) for i, name in enumerate(CATEGORY_CASES)]
    main = build_exe("main_categories", "int main(void) { return 0; }\n", out_dir=d, libs=libs, runpath=["$ORIGIN"])
    needed = _needed(_audit(main))
    for name, category in CATEGORY_CASES.items():
        assert needed[name].category is category, name
        assert needed[name].status is Status.UNUSED, name
        assert needed[name].path is not None


# -- glibc stubs ----------------------------------------------------------------------------------


def _glibc_at_least(major: int, minor: int) -> bool:
    text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    try:
        got = tuple(int(x) for x in text.split()[1].split(".")[:2])
    except (IndexError, ValueError):
        return False
    return got >= (major, minor)


@pytest.mark.skipif(not _glibc_at_least(2, 34), reason="libpthread/libdl/librt are empty stubs only since glibc 2.34")
def test_glibc_stubs_are_unused(tmp_path_factory: pytest.TempPathFactory, build_exe) -> None:
    d = tmp_path_factory.mktemp("stubs")
    src = ("#include <pthread.h>\n#include <dlfcn.h>\n#include <time.h>\n"
           "int main(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);"
           " return pthread_self() == 0 || dlerror() != (char *)1 ? 0 : 1; }\n")
    # Plain -lpthread -ldl -lrt pick the empty static archives glibc >= 2.34 ships (no DT_NEEDED at all);
    # -l:FILE names the shared stubs, as binaries linked against an older glibc have them.
    main = build_exe("main_stubs", src, out_dir=d, libs=["-l:libpthread.so.0", "-l:libdl.so.2", "-l:librt.so.1"])
    obj = _audit(main)
    needed = _needed(obj)
    stubs = {"libpthread.so.0", "libdl.so.2", "librt.so.1"}
    assert stubs <= set(needed)
    for name in stubs:
        assert needed[name].status is Status.UNUSED, name
        assert needed[name].category is Category.GLIBC_STUB, name
    assert needed["libc.so.6"].status is Status.USED
    # ld.so agrees: everything these programs call now lives in libc.so.6.
    oracle = _ldd_unused(main)
    assert {os.path.basename(p) for p in oracle} == stubs
    assert list(obj.ldd_unused) == oracle


# -- damaged symbol tables: reported, verdicts marked uncertain --------------------------


def test_damaged_dependency_makes_verdicts_uncertain(tmp_path_factory: pytest.TempPathFactory, build_so) -> None:
    import struct

    from linkaudit.elf import DT_GNU_HASH, ElfObject

    d = tmp_path_factory.mktemp("damaged")
    prov = build_so("libprov.so", "int prov_fn(void) { return 1; }\n", out_dir=d)
    other = build_so("libother.so", "int other_fn(void) { return 2; }\n", out_dir=d)
    top = build_so("libtop.so", "int prov_fn(void);\nint top(void) { return prov_fn(); }\n", out_dir=d,
                   libs=[prov, other], runpath=["$ORIGIN"])
    before = _needed(_audit(top))
    assert before["libprov.so"].status is Status.USED and before["libprov.so"].uncertain is None
    assert before["libother.so"].status is Status.UNUSED and before["libother.so"].uncertain is None

    # Break libprov's GNU hash table: a bucket count that runs past the end of the file.
    obj = ElfObject(prov)
    off = obj.vaddr_to_offset(obj.tags[DT_GNU_HASH])
    obj.close()
    data = bytearray(prov.read_bytes())
    struct.pack_into("<I", data, off, 0x7FFFFFF0)
    prov.write_bytes(bytes(data))

    report = audit([str(top)], AuditOptions(env=LoaderEnv(python_package_rule=False)))
    assert not report.errors, "a damaged dependency is a finding about the object, not an unreadable input"
    (o,) = report.objects
    after = _needed(o)
    assert after["libprov.so"].uncertain and "hash" in after["libprov.so"].uncertain
    assert after["libother.so"].uncertain, "an unused verdict next to a damaged library cannot be certain"
    assert any("damaged" in w for w in o.warnings)
    assert "prov_fn" in o.unresolved
