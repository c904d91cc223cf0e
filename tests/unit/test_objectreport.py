"""objectreport: wheel members' reports renamed to the names inside the wheel, everywhere a path appears.

(needed_entries and loaded_libraries are exercised on compiled fixtures by test_verdicts.py and the oracles.)
"""

from __future__ import annotations

from pathlib import Path

from linkaudit.inputs import Target
from linkaudit.objectreport import renamed
from linkaudit.report import (Binding, Category, FoundVia, LoadedLibrary, MissingLibrary, NeededEntry, ObjectReport,
                              SearchStep, Status)

WORK = "/scratch/wheel-x1"  # where the wheel was extracted
ALIAS = "pkg-1.0-py3-none-any.whl!"


def test_renamed_rewrites_every_path_inside_the_extracted_wheel() -> None:
    lib = f"{WORK}/pkg.libs/libz-1234abcd.so.1"
    sys_lib = "/usr/lib/libc.so.6"
    z = NeededEntry("libz-1234abcd.so.1", Path(lib), FoundVia.RUNPATH, Status.UNUSED, Category.OTHER,
                    drags=(Path(f"{WORK}/pkg.libs/libdep.so"),),
                    searched=(SearchStep(f"{WORK}/pkg.libs", f"RUNPATH of {WORK}/pkg/ext.so", FoundVia.RUNPATH),))
    c = NeededEntry("libc.so.6", Path(sys_lib), FoundVia.CACHE, Status.USED, Category.C_RUNTIME,
                    bindings=(Binding("puts", None, False, sys_lib), Binding("f", None, False, lib),
                              Binding("g", None, True, None)))
    loaded = (LoadedLibrary("libz-1234abcd.so.1", Path(lib), None, FoundVia.RUNPATH, Category.OTHER, 10, 1,
                            (f"{WORK}/pkg/ext.so",)),)
    gone = MissingLibrary("libgone.so", lib, "cannot open shared object file: No such file or directory",
                          (SearchStep(f"{WORK}/pkg.libs", f"RUNPATH of {lib}", FoundVia.RUNPATH),))
    report = ObjectReport(f"{ALIAS}pkg/ext.so", "x86_64", 64, None, (z, c), loaded, (),
                          ldd_unused=(lib,), warnings=(f"{WORK}/pkg.libs/libdep.so: damaged",),
                          missing_transitive=(gone,))
    out = renamed(report, Target(Path(f"{WORK}/pkg/ext.so"), f"{ALIAS}pkg/ext.so", (WORK, ALIAS)))

    assert out.needed[0].path == Path(f"{ALIAS}pkg.libs/libz-1234abcd.so.1")
    assert out.needed[0].drags == (Path(f"{ALIAS}pkg.libs/libdep.so"),)
    assert out.needed[0].searched[0].directory == f"{ALIAS}pkg.libs"
    assert out.needed[0].searched[0].source == f"RUNPATH of {ALIAS}pkg/ext.so"
    assert [b.provider for b in out.needed[1].bindings] == [sys_lib, f"{ALIAS}pkg.libs/libz-1234abcd.so.1", None]
    assert out.needed[1].path == Path(sys_lib)  # outside the wheel: unchanged
    assert out.loaded[0].path == Path(f"{ALIAS}pkg.libs/libz-1234abcd.so.1")
    assert out.loaded[0].needed_by == (f"{ALIAS}pkg/ext.so",)
    assert out.ldd_unused == (f"{ALIAS}pkg.libs/libz-1234abcd.so.1",)
    assert out.warnings == (f"{ALIAS}pkg.libs/libdep.so: damaged",)
    [m] = out.missing_transitive
    assert m.needed_by == f"{ALIAS}pkg.libs/libz-1234abcd.so.1" and m.searched[0].directory == f"{ALIAS}pkg.libs"
    assert m.searched[0].source == f"RUNPATH of {ALIAS}pkg.libs/libz-1234abcd.so.1"
    assert WORK not in repr(out)
