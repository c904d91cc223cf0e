"""RPATH hygiene on objects compiled here with ``-Wl,-rpath`` (and ``--disable-new-dtags`` for DT_RPATH).

One fixture per finding kind, plus the cases that must never be findings:
system directories, ``$ORIGIN`` inside the package, auditwheel's pinned
DT_RPATH, and the system's own libraries.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from linkaudit.audit import AuditOptions, audit
from linkaudit.elf import ElfObject
from linkaudit.fixes import suggest
from linkaudit.loader import Loader, LoaderEnv
from linkaudit.report import ObjectReport, RpathKind

pytestmark = pytest.mark.requires_cc

NOWHERE = "/linkaudit-test-nonexistent/lib"  # an absolute directory no machine has (/ is not world-writable)


def _audit(path: Path, root: str | None = None) -> ObjectReport:
    report = audit([str(path)], AuditOptions(env=LoaderEnv(python_package_rule=False, root=root), jobs=1))
    assert not report.errors, report.errors
    (obj,) = report.objects
    return obj


def _kinds(obj: ObjectReport) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in obj.rpath_findings:
        out.setdefault(f.entry, set()).add(f.kind.value)
    return out


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory, build_so) -> Path:
    """A private tree: libdep.so in lib/, and directories of every permission the kinds need."""
    root = tmp_path_factory.mktemp("rpath")
    build_so("libdep.so", "used.c", out_dir=root / "lib")
    (root / "ww").mkdir()
    os.chmod(root / "ww", 0o777)  # world-writable
    (root / "open").mkdir()
    (root / "open" / "lib").mkdir(parents=True)
    os.chmod(root / "open", 0o777)  # world-writable parent, no sticky bit
    (root / "sticky").mkdir()
    os.chmod(root / "sticky", 0o1777)  # like /tmp: sticky, so existing children are safe, new ones are not
    (root / "sticky" / "mine").mkdir()
    return root


def _consumer(build_so, tree: Path, name: str, **kw) -> Path:
    return build_so(name, "consumer_basic.c", out_dir=tree / "bin", libs=[tree / "lib" / "libdep.so"], **kw)


def test_empty_element(build_so, tree: Path) -> None:
    obj = _audit(_consumer(build_so, tree, "empty.so", runpath=[str(tree / "lib"), ""]))
    assert obj.runpath is not None and obj.runpath.endswith(":")  # the linker kept the empty element
    assert _kinds(obj) == {"": {"empty"}, str(tree / "lib"): {"absolute"}}


def test_relative_element(build_so, tree: Path) -> None:
    obj = _audit(_consumer(build_so, tree, "relative.so", runpath=["$ORIGIN/../lib", "lib", "../lib"]))
    assert _kinds(obj) == {"lib": {"relative"}, "../lib": {"relative"}}


def test_absolute_outside_package_and_nonexistent(build_so, tree: Path) -> None:
    obj = _audit(_consumer(build_so, tree, "absolute.so", runpath=[str(tree / "lib"), NOWHERE]))
    assert _kinds(obj) == {str(tree / "lib"): {"absolute"}, NOWHERE: {"absolute", "nonexistent"}}
    (s,) = [s for s in suggest(obj) if s.kind == "rpath"]
    assert "patchelf --set-rpath" not in s.text or NOWHERE not in s.text.split("patchelf")[1]
    assert "patchelf --remove-rpath" in s.text  # every element was flagged
    assert s.caution is not None and "libdep.so" in s.caution  # libdep.so is found through a flagged element


def test_world_writable(build_so, tree: Path) -> None:
    entries = [str(tree / "ww"), str(tree / "open" / "lib"), str(tree / "sticky" / "new"),
               str(tree / "sticky" / "mine")]
    kinds = _kinds(_audit(_consumer(build_so, tree, "ww.so", runpath=["$ORIGIN/../lib", *entries])))
    assert kinds[str(tree / "ww")] == {"absolute", "world_writable"}
    assert kinds[str(tree / "open" / "lib")] == {"absolute", "world_writable"}  # parent replaceable
    assert kinds[str(tree / "sticky" / "new")] == {"absolute", "nonexistent", "world_writable"}  # anyone can create it
    assert kinds[str(tree / "sticky" / "mine")] == {"absolute"}  # sticky parent: the directory cannot be swapped
    assert "$ORIGIN/../lib" not in kinds


def test_world_writable_origin_outside_a_package(build_so, tree: Path) -> None:
    """$ORIGIN of an object outside any package: only the security check applies."""
    build_so("libdep.so", "used.c", out_dir=tree / "ww")
    obj = _audit(build_so("origin_ww.so", "consumer_basic.c", out_dir=tree / "bin",
                          libs=[tree / "lib" / "libdep.so"], runpath=["$ORIGIN/../ww", "$ORIGIN/../missing"]))
    assert _kinds(obj) == {"$ORIGIN/../ww": {"world_writable"}}


def test_origin_inside_and_outside_the_package(build_so, tree: Path) -> None:
    site = tree / "venv" / "lib" / "python3.11" / "site-packages"
    build_so("libdep.so", "used.c", out_dir=site / "pkg.libs")
    obj = _audit(build_so("_mod.so", "consumer_basic.c", out_dir=site / "pkg", libs=[site / "pkg.libs" / "libdep.so"],
                          runpath=["$ORIGIN/../pkg.libs", "$ORIGIN/../../../..", "${ORIGIN}/../other/lib"]))
    # inside the site-packages tree (even a directory another wheel would ship) is never a finding
    assert _kinds(obj) == {"$ORIGIN/../../../..": {"outside_package"}}


def test_rpath_not_runpath(build_so, tree: Path) -> None:
    obj = _audit(_consumer(build_so, tree, "old_dtags.so", rpath=["$ORIGIN/../lib"]))
    assert obj.rpath == "$ORIGIN/../lib" and obj.runpath is None
    assert [(f.kind, f.tag) for f in obj.rpath_findings] == [(RpathKind.RPATH_NOT_RUNPATH, "RPATH")]
    (s,) = [s for s in suggest(obj) if s.kind == "rpath"]
    assert "--enable-new-dtags" in s.text and "patchelf --set-rpath '$ORIGIN/../lib'" in s.text


def test_inherited_rpath_is_not_flagged(build_so, tree: Path) -> None:
    """The main object's DT_RPATH finds a library for one of its dependencies: DT_RUNPATH would break that."""
    inner = tree / "inherit" / "inner"
    build_so("libchain_grand.so", "chain_grand.c", out_dir=inner)
    child = build_so("libchain_child.so", "chain_child.c", out_dir=tree / "inherit" / "outer",
                     libs=[inner / "libchain_grand.so"])  # no search path of its own
    main = build_so("inherit_main.so", "consumer_chain.c", out_dir=tree / "inherit",
                    libs=[child], rpath=[str(tree / "inherit" / "outer"), str(inner)])
    obj = _audit(main)
    grand = [lib for lib in obj.loaded if lib.name == "libchain_grand.so"]
    assert grand and grand[0].found_via.value == "rpath"
    assert RpathKind.RPATH_NOT_RUNPATH not in {f.kind for f in obj.rpath_findings}


def test_system_directories_are_never_findings(build_so, tree: Path) -> None:
    loader = Loader(LoaderEnv(python_package_rule=False))
    defaults = loader.default_dirs(ElfObject(str(tree / "lib" / "libdep.so")))
    entries = [*defaults, defaults[0] + "/some-private-subdir"]
    obj = _audit(_consumer(build_so, tree, "system.so", runpath=entries))
    assert obj.rpath_findings == ()


def test_root_resolves_absolute_elements_inside_it(build_so, tree: Path) -> None:
    sysroot = tree / "sysroot"
    (sysroot / NOWHERE.lstrip("/")).mkdir(parents=True)
    obj_path = _consumer(build_so, tree, "rooted.so", runpath=[NOWHERE])
    assert _kinds(_audit(obj_path)) == {NOWHERE: {"absolute", "nonexistent"}}
    assert _kinds(_audit(obj_path, root=str(sysroot))) == {NOWHERE: {"absolute"}}


def test_auditwheel_pinned_rpath_in_a_wheel_is_not_flagged(build_so, tree: Path, tmp_path: Path) -> None:
    import zipfile

    stage = tmp_path / "stage"
    build_so("libdep.so", "used.c", out_dir=stage / "pkg.libs")
    build_so("_mod.so", "consumer_basic.c", out_dir=stage / "pkg", libs=[stage / "pkg.libs" / "libdep.so"],
             rpath=["$ORIGIN/../pkg.libs"])
    wheel = tmp_path / "pkg-1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for f in stage.rglob("*"):
            if f.is_file():
                z.write(f, f.relative_to(stage).as_posix())
    report = audit([str(wheel)], AuditOptions(env=LoaderEnv(python_package_rule=False), jobs=1))
    mod = next(o for o in report.objects if o.path.endswith("_mod.so"))
    assert mod.rpath == "$ORIGIN/../pkg.libs" and mod.rpath_findings == ()


def test_nothing_flagged_on_system_objects_with_a_search_path() -> None:
    """Objects the system installs in its own directories: their search paths are the system's business."""
    candidates = []
    for pattern in ("/usr/lib/*-linux-gnu/**/*.so*", "/usr/lib64/**/*.so*", "/usr/bin/*"):
        for p in sorted(glob.glob(pattern, recursive=True)):
            if os.path.isfile(p) and not os.path.islink(p):
                try:
                    elf = ElfObject(p)
                except Exception:  # noqa: BLE001 - not ELF, scripts
                    continue
                if elf.is_dynamic and (elf.runpath is not None or elf.rpath is not None):
                    candidates.append(p)
    if not candidates:
        pytest.skip("no system object with DT_RPATH/DT_RUNPATH on this machine")
    report = audit(candidates[:40], AuditOptions(env=LoaderEnv(python_package_rule=False), jobs=1))
    flagged = {o.path: o.rpath_findings for o in report.objects if o.rpath_findings}
    assert flagged == {}


def test_greet_extension_is_clean() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
    try:
        from _greet import find_extension  # finds the built demo extensions
    finally:
        sys.path.pop(0)
    built = [str(p) for p in (find_extension("_C"), find_extension("_lean")) if p is not None]
    if not built:
        pytest.skip("the greet extensions are not built")
    report = audit(built, AuditOptions(env=LoaderEnv(), jobs=1))
    assert [o.rpath_findings for o in report.objects] == [() for _ in built]



def test_musl_rules(tmp_path: Path) -> None:
    """Under musl an empty element is skipped and DT_RPATH is DT_RUNPATH (both inherited): neither is a finding;
    the system directories are musl's path file's."""
    import platform
    import subprocess

    arch = platform.machine()
    if arch not in ("x86_64", "aarch64"):
        pytest.skip("the fake musl root is built for x86_64/aarch64")
    root = tmp_path / "root"
    interp = f"/lib/ld-musl-{arch}.so.1"
    src = tmp_path / "stub.c"
    src.write_text("int stdin; void __libc_start_main(void) {}\n")
    (root / "lib").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc" / f"ld-musl-{arch}.path").write_text("/lib\n/usr/lib\n/opt/vendor/lib\n")
    subprocess.run(["cc", str(src), "-o", str(root / interp.lstrip("/")), "-nostdlib", "-fPIC", "-shared",
                    f"-Wl,-soname,libc.musl-{arch}.so.1"], check=True)
    app = tmp_path / "app"
    src.write_text("void _start(void) { for (;;) ; }\n")
    subprocess.run(["cc", str(src), "-o", str(app), "-nostdlib", "-fPIE", "-pie", f"-Wl,--dynamic-linker={interp}",
                    "-Wl,--disable-new-dtags", f"-Wl,-rpath,$ORIGIN/lib::/opt/vendor/lib/x:{NOWHERE}"], check=True)
    obj = _audit(app, root=str(root))
    assert obj.libc == "musl" and obj.rpath == f"$ORIGIN/lib::/opt/vendor/lib/x:{NOWHERE}"
    assert _kinds(obj) == {NOWHERE: {"absolute", "nonexistent"}}  # /opt/vendor/lib is musl's system path here
