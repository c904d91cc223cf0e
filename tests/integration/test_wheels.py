"""The wheel report on a wheel built here with one vendored library of each status, and on real wheels.

The synthetic wheel (auditwheel's layout, compiled with ``cc``)::

    pkg/fakeext.cpython-311-x86_64-linux-gnu.so   RUNPATH $ORIGIN/../pkg.libs
        -> libused-1a2b.so     (binds used_fn)                 needed
               -> libsub-7a8b.so (libused binds nothing there) unneeded: the used library links it for nothing
        -> libunused-3c4d.so   (nothing binds to it)           unneeded
               -> pkg/libdragged.so (RUNPATH $ORIGIN/../pkg)   unneeded, vendored because a member loads it
    pkg.libs/liborphan-5e6f.so (nothing loads it)              unloaded

The expectations come from how the wheel was built, not from the program.
Real wheels (opencv-python-headless, pillow, psycopg2-binary, h5py) are audited only when a
directory of them is named by ``LINKAUDIT_WHEEL_CACHE``: tests never download.
"""

from __future__ import annotations

import glob
import json
import os
import zipfile
from pathlib import Path

import pytest

from linkaudit.audit import AuditOptions, audit
from linkaudit.loader import LoaderEnv
from linkaudit.report import VendoredStatus

pytestmark = pytest.mark.requires_cc

EXT = "pkg/fakeext.cpython-311-x86_64-linux-gnu.so"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, build_so) -> Path:
    stage = tmp_path_factory.mktemp("wheelstage")
    libs, pkg = stage / "pkg.libs", stage / "pkg"
    dragged = build_so("libdragged.so", "int dragged_fn(void) { return 3; }", out_dir=pkg)
    sub = build_so("libsub-7a8b.so", "int sub_fn(void) { return 5; }", out_dir=libs)
    build_so("libused-1a2b.so", "used.c", out_dir=libs, libs=[sub], runpath=["$ORIGIN"])
    build_so("libunused-3c4d.so", "unused.c", out_dir=libs, libs=[dragged], runpath=["$ORIGIN/../pkg"])
    build_so("liborphan-5e6f.so", "int orphan_fn(void) { return 4; }", out_dir=libs)
    build_so("fakeext.cpython-311-x86_64-linux-gnu.so", "pyext.c", out_dir=pkg, soname=False,
             libs=[libs / "libused-1a2b.so", libs / "libunused-3c4d.so"], runpath=["$ORIGIN/../pkg.libs"],
             extra=["-Wl,--allow-shlib-undefined"])
    out = tmp_path_factory.mktemp("dist") / "pkg-1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(stage.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(stage).as_posix())
        z.writestr("pkg/__init__.py", "")
        z.writestr("pkg-1.0.dist-info/RECORD", "")
    return out


def test_one_library_of_each_status(wheel: Path) -> None:
    report = audit([str(wheel)], AuditOptions(env=LoaderEnv(python_package_rule=False), jobs=1))
    assert not report.errors
    (w,) = report.wheels
    assert w.path == str(wheel)
    got = {v.name: (v.status, v.loaded_by, v.used_by, v.unused_by) for v in w.vendored}
    assert got == {
        "pkg.libs/libused-1a2b.so": (VendoredStatus.NEEDED, (EXT,), (EXT,), ()),
        "pkg.libs/libsub-7a8b.so": (VendoredStatus.UNNEEDED, (EXT,), (), ("pkg.libs/libused-1a2b.so",)),
        "pkg.libs/libunused-3c4d.so": (VendoredStatus.UNNEEDED, (EXT,), (), (EXT,)),
        "pkg/libdragged.so": (VendoredStatus.UNNEEDED, (EXT,), (), ("pkg.libs/libunused-3c4d.so",)),
        "pkg.libs/liborphan-5e6f.so": (VendoredStatus.UNLOADED, (), (), ()),
    }
    with zipfile.ZipFile(wheel) as z:
        sizes = {i.filename: (i.file_size, i.compress_size) for i in z.infolist()}
    for v in w.vendored:
        assert (v.size, v.compressed_size) == sizes[v.name]
    assert w.unneeded_bytes == sum(sizes[m][0] for m in ("pkg.libs/libunused-3c4d.so", "pkg/libdragged.so",
                                                         "pkg.libs/libsub-7a8b.so"))
    assert w.unloaded_bytes == sizes["pkg.libs/liborphan-5e6f.so"][0]


def test_cli_json_and_gate(wheel: Path, run_cli) -> None:
    result = run_cli(["--format", "json", "--fail-on", "unneeded-vendored", str(wheel)])
    assert result.exit_code == 1, result.stderr
    data = json.loads(result.stdout)
    (w,) = data["wheels"]
    assert {v["name"]: v["status"] for v in w["vendored"]}["pkg.libs/liborphan-5e6f.so"] == "unloaded"
    assert run_cli(["--fail-on", "unloaded-vendored", "--format", "json", str(wheel)]).exit_code == 1
    assert run_cli(["--fail-on", "missing", str(wheel)]).exit_code == 0


def test_cli_text_section(wheel: Path, run_cli) -> None:
    out = run_cli(["--fail-on", "none", str(wheel)]).stdout
    assert f"{wheel}  (wheel: 5 vendored libraries" in out
    assert "pkg.libs/libunused-3c4d.so" in out and "pkg.libs/liborphan-5e6f.so" in out
    assert "1 needed, 3 unneeded" in out and "1 unloaded" in out


CACHE = os.environ.get("LINKAUDIT_WHEEL_CACHE")


@pytest.mark.skipif(not CACHE, reason="set LINKAUDIT_WHEEL_CACHE to a directory of downloaded wheels")
@pytest.mark.parametrize("project", ["opencv_python_headless", "pillow", "psycopg2_binary", "h5py"])
def test_real_wheels(project: str) -> None:
    """Every vendored library of these wheels is one a member loads: the report must account for all of them."""
    found = sorted(glob.glob(os.path.join(CACHE or "", f"{project}-*.whl")))
    if not found:
        pytest.skip(f"no {project} wheel in {CACHE}")
    report = audit([found[-1]], AuditOptions(env=LoaderEnv(python_package_rule=False), jobs=1))
    (w,) = report.wheels
    with zipfile.ZipFile(found[-1]) as z:
        libs = {i.filename for i in z.infolist() if ".libs/" in i.filename and ".so" in i.filename}
    assert libs and libs <= {v.name for v in w.vendored}
    for v in w.vendored:
        assert (v.status is VendoredStatus.UNLOADED) == (not v.loaded_by)
        assert set(v.used_by) <= set(v.loaded_by)
        assert (v.status is VendoredStatus.NEEDED) == bool(v.used_by)
        if v.status is VendoredStatus.UNNEEDED:  # something links it for nothing, and says so
            assert v.unused_by


def test_tree_names_where_a_member_dependency_was_searched_inside_the_wheel(tmp_path: Path, build_so,
                                                                          run_cli) -> None:
    """A vendored library's dependency that is not found: the tree says where it was searched as
    ``x.whl!pkg.libs``, never the temporary directory the wheel was extracted to."""
    stage = tmp_path / "stage"
    libs, pkg = stage / "pkg.libs", stage / "pkg"
    gone = build_so("libgone.so", "int gone_fn(void) { return 1; }", out_dir=tmp_path / "elsewhere")
    vend = build_so("libvend-1a2b.so", "int gone_fn(void);\nint used_fn(void) { return gone_fn(); }",
                    out_dir=libs, libs=[gone], runpath=["$ORIGIN"])
    build_so("fakeext.cpython-311-x86_64-linux-gnu.so", "pyext.c", out_dir=pkg, soname=False,
             libs=[vend], runpath=["$ORIGIN/../pkg.libs"], extra=["-Wl,--allow-shlib-undefined"])
    whl = tmp_path / "pkg-1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(whl, "w") as z:
        for f in sorted(stage.rglob("*")):
            z.write(f, f.relative_to(stage).as_posix())
    out = run_cli(["--format", "tree", "--fail-on", "none", "--no-python-packages", str(whl)]).stdout
    assert "libgone.so not found" in out
    assert f"runpath: {whl}!pkg.libs" in out
    assert "linkaudit-" not in out  # the extraction directory's name
