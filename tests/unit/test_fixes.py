"""Fix suggestions (linkaudit.fixes): the right remedy per finding, and never removing a used library."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkaudit.audit import AuditOptions, audit
from linkaudit.categories import classify
from linkaudit.fixes import is_load_bearing, removable, suggest, with_suggestions
from linkaudit.loader import LoaderEnv
from linkaudit.report import Binding, FoundVia, NeededEntry, ObjectReport, Owner, Report, Status


def entry(name: str, status: Status = Status.USED, **kw) -> NeededEntry:
    path = kw.pop("path", None if status is Status.MISSING else Path("/lib") / name)
    return NeededEntry(name=name, path=path, found_via=None if path is None else FoundVia.DEFAULT, status=status,
                       category=classify(name), **kw)


def obj(*needed: NeededEntry, path: str = "/pkg/mod/_C.so", ext: bool = True) -> ObjectReport:
    return ObjectReport(path=path, machine="x86_64", elf_class=64, soname=None, needed=tuple(needed), loaded=(),
                        unresolved=(), is_python_extension=ext)


def kinds(o: ObjectReport) -> list[str]:
    return [s.kind for s in suggest(o)]


def assert_no_used_removed(o: ObjectReport) -> None:
    used = {n.name for n in o.needed if n.status is Status.USED}
    names = {n.name for n in o.needed}
    for s in suggest(o):
        assert not set(s.removes) & used, (s.kind, s.removes)
        assert set(s.removes) <= names, (s.kind, s.removes)


# -- removable ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["libtorch_cuda.so", "libc10_cuda.so", "libtorch_cuda_linalg.so",
                                  "libtorch_global_deps.so", "libtorch_cuda-0123abcd.so"])
def test_load_bearing(name: str) -> None:
    assert is_load_bearing(name)
    n = entry(name, Status.UNUSED)
    assert not removable(n)
    assert removable(n, include_load_bearing=True)


@pytest.mark.parametrize("name", ["libtorch.so", "libc10.so", "libm.so.6", "libgomp-75eea7e8.so.1"])
def test_not_load_bearing(name: str) -> None:
    assert not is_load_bearing(name)


def test_removable_by_status() -> None:
    assert removable(entry("libz.so.1", Status.UNUSED))
    assert not removable(entry("libz.so.1", Status.USED))
    assert not removable(entry("libz.so.1", Status.MISSING))
    assert not removable(entry("libz.so.1", Status.INCIDENTAL))
    assert removable(entry("libz.so.1", Status.INCIDENTAL), include_incidental=True)
    assert not removable(entry("libz.so.1", Status.USED), include_incidental=True, include_load_bearing=True)


# -- suggest --------------------------------------------------------------------------------------


def test_lean_extension_when_no_torch_library_is_used() -> None:
    o = obj(entry("libc10.so", Status.INCIDENTAL,
                  bindings=(Binding("_ZSt28__throw_bad_array_new_lengthv", None, False, "/t/libc10.so",
                                    Owner("libstdc++.so.6", "GLIBCXX_3.4.29")),)),
            entry("libtorch.so", Status.UNUSED), entry("libstdc++.so.6"), entry("libc.so.6"))
    got = suggest(o)
    lean = [s for s in got if s.kind == "lean-extension"]
    assert len(lean) == 1 and set(lean[0].removes) == {"libc10.so", "libtorch.so"}
    assert "libraries" not in kinds(o)
    incidental = [s for s in got if s.kind == "incidental"]
    assert [s.removes for s in incidental] == [("libc10.so",)]
    assert "-lstdc++ before -lc10" in incidental[0].text
    assert_no_used_removed(o)


def test_no_lean_recipe_for_non_extensions() -> None:
    o = obj(entry("libtorch.so", Status.UNUSED), entry("libc.so.6"), ext=False)
    assert "lean-extension" not in kinds(o)
    assert "as-needed" in kinds(o)


def test_libraries_recipe_keeps_the_used_torch_library() -> None:
    o = obj(entry("libc10.so"), entry("libtorch.so", Status.UNUSED), entry("libtorch_cpu.so", Status.UNUSED),
            entry("libtorch_python.so", Status.UNUSED), entry("libc.so.6"))
    [lib] = [s for s in suggest(o) if s.kind == "libraries"]
    assert set(lib.removes) == {"libtorch.so", "libtorch_cpu.so", "libtorch_python.so"}
    assert "['c10']" in lib.text
    assert "lean-extension" not in kinds(o)
    assert_no_used_removed(o)


def test_load_bearing_is_not_in_as_needed_or_fix() -> None:
    o = obj(entry("libtorch_cuda.so", Status.UNUSED), entry("libz.so.1", Status.UNUSED), entry("libc.so.6"), ext=False)
    for s in suggest(o):
        if s.kind in ("as-needed", "linkaudit-fix"):
            assert s.removes == ("libz.so.1",), s


def test_initialisers_get_a_caution() -> None:
    o = obj(entry("libfoo.so", Status.UNUSED, has_initializers=True), entry("libc.so.6"), ext=False)
    [fix] = [s for s in suggest(o) if s.kind == "linkaudit-fix"]
    assert fix.caution and "libfoo.so" in fix.caution
    runtime = obj(entry("libm.so.6", Status.UNUSED, has_initializers=True), entry("libc.so.6"), ext=False)
    [fix] = [s for s in suggest(runtime) if s.kind == "linkaudit-fix"]
    assert fix.caution is None


def test_missing_with_a_candidate_in_a_package(tmp_path: Path) -> None:
    lib_dir = tmp_path / "site-packages" / "torch" / "lib"
    mod = tmp_path / "site-packages" / "pkg" / "_C.so"
    o = obj(entry("libc10.so", Status.MISSING, candidates=(lib_dir / "libc10.so",)), entry("libc.so.6"),
            path=str(mod))
    got = {s.kind: s for s in suggest(o)}
    assert {"import-first", "runpath", "ld-library-path"} <= set(got)
    assert "import torch" in got["import-first"].text
    assert f"$ORIGIN/{os.path.relpath(lib_dir, mod.parent)}" in got["runpath"].text
    assert str(lib_dir) in got["ld-library-path"].text
    assert all(not s.removes for k, s in got.items() if k in ("import-first", "runpath", "ld-library-path"))


def test_missing_nowhere() -> None:
    o = obj(entry("libnothere.so.3", Status.MISSING), entry("libc.so.6"))
    assert "missing" in kinds(o)


def test_with_suggestions_fills_every_object() -> None:
    r = Report(objects=(obj(entry("libz.so.1", Status.UNUSED), ext=False), obj(entry("libc.so.6"))))
    out = with_suggestions(r)
    assert out.objects[0].suggestions and out.objects[1].suggestions == ()


# -- property: no suggestion ever removes a used library -----------------------------------------

NAMES = ["libc10.so", "libtorch.so", "libtorch_cpu.so", "libtorch_python.so", "libtorch_cuda.so", "libc10_cuda.so",
         "libcudart-3f3c6934.so.11.0", "libcublasLt.so.12", "libgomp-75eea7e8.so.1", "libstdc++.so.6",
         "libgcc_s.so.1", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "libz.so.1", "libfoo.so"]


@st.composite
def object_reports(draw) -> ObjectReport:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=len(NAMES)))
    entries = []
    for name in names:
        status = draw(st.sampled_from(list(Status)))
        owner = draw(st.sampled_from([None, Owner("libstdc++.so.6", "GLIBCXX_3.4.29")]))
        bindings = (Binding("sym", None, False, f"/lib/{name}", owner),) if status is not Status.MISSING else ()
        candidates = (Path("/x/site-packages/torch/lib") / name,) if status is Status.MISSING and draw(st.booleans()) else ()
        entries.append(entry(name, status, bindings=bindings, candidates=candidates,
                             has_initializers=draw(st.booleans())))
    return obj(*entries, ext=draw(st.booleans()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(object_reports())
def test_property_never_removes_used(o: ObjectReport) -> None:
    assert_no_used_removed(o)


@pytest.mark.requires_cc
def test_property_on_built_fixtures(tmp_path_factory: pytest.TempPathFactory, build_so, build_exe) -> None:
    d = tmp_path_factory.mktemp("fixes")
    used = build_so("libused.so", "used.c", out_dir=d)
    unused = build_so("libunused.so", "unused.c", out_dir=d)
    libb = build_so("libB.so", "int shared_sym(void) { return 2; }\nint b_only(void) { return 3; }\n", out_dir=d,
                    version_script=_write(d / "b.map", "B_1.0 { global: shared_sym; b_only; local: *; };\n"))
    liba = build_so("libA.so", "int shared_sym(void) { return 1; }\n", out_dir=d)
    targets = [
        build_exe("app", "main_basic.c", out_dir=d, libs=[used, unused, "m"], runpath=["$ORIGIN"]),
        build_so("libcons.so", "int used_fn(void);\nint c(void) { return used_fn(); }\n", out_dir=d,
                 libs=[unused, used], runpath=["$ORIGIN"]),
        build_exe("inc", "int shared_sym(void);\nint b_only(void);\nint main(void) { return shared_sym() + b_only(); }\n",
                  out_dir=d, libs=[liba, libb], runpath=["$ORIGIN"]),
        build_exe("missing", "main_basic.c", out_dir=d, libs=[used, unused]),  # no RUNPATH: both missing
        build_exe("stubs", "int main(void) { return 0; }\n", out_dir=d,
                  libs=["-l:libpthread.so.0", "-l:libdl.so.2", "m"]),
    ]
    report = with_suggestions(audit([str(t) for t in targets], AuditOptions(env=LoaderEnv(python_package_rule=False))))
    assert not report.errors
    seen_statuses = set()
    for o in report.objects:
        seen_statuses |= {n.status for n in o.needed}
        assert_no_used_removed(o)
        assert o.suggestions == suggest(o)
    # not_on_host is a musl-only status (tests/integration/test_musl_oracle.py covers it)
    assert seen_statuses == set(Status) - {Status.NOT_ON_HOST}, "the fixtures cover every glibc status"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.requires_cc
def test_suggestions_do_not_remove_a_library_that_loads_a_provider(tmp_path_factory: pytest.TempPathFactory,
                                                                    build_so) -> None:
    d = tmp_path_factory.mktemp("transitive")
    inner = build_so("libinner.so", "int inner_fn(void) { return 7; }\n", out_dir=d)
    outer = build_so("libouter.so", "int outer_fn(void) { return 8; }\n", out_dir=d, libs=[inner], runpath=["$ORIGIN"])
    top = build_so("libtop.so", "int inner_fn(void);\nint top(void) { return inner_fn(); }\n", out_dir=d,
                   libs=[outer], runpath=["$ORIGIN"])
    [o] = with_suggestions(audit([str(top)], AuditOptions(env=LoaderEnv(python_package_rule=False)))).objects
    # libtop -> libouter -> libinner, and libtop calls inner_fn: ldd -u calls libouter unused (nothing binds
    # to it), but it is the only way libinner gets loaded, so no suggestion may remove it.
    [outer_entry] = [n for n in o.needed if n.name == "libouter.so"]
    assert outer_entry.status.value == "unused"
    assert outer_entry.loads_providers == ("libinner.so",)
    for s in o.suggestions:
        assert "libouter.so" not in s.removes, s
    assert any(s.kind == "link-provider" and "-linner" in s.text for s in o.suggestions)


@pytest.mark.requires_cc
def test_savings_count_only_what_really_unloads(tmp_path_factory: pytest.TempPathFactory, build_so) -> None:
    """main -> liba (unused) -> libshared, main -> libb (used) -> libshared, liba -> libonly.

    Dropping liba unloads liba and libonly; libshared stays (libb still needs it).
    """
    d = tmp_path_factory.mktemp("savings")
    shared = build_so("libshared.so", "int shared_fn(void) { return 1; }\n", out_dir=d)
    only = build_so("libonly.so", "int only_fn(void) { return 2; }\n", out_dir=d)
    a = build_so("liba.so", "int a_fn(void) { return 3; }\n", out_dir=d, libs=[shared, only], runpath=["$ORIGIN"])
    b = build_so("libb.so", "int b_fn(void) { return 4; }\n", out_dir=d, libs=[shared], runpath=["$ORIGIN"])
    main = build_so("libmain.so", "int b_fn(void);\nint main_fn(void) { return b_fn(); }\n", out_dir=d,
                    libs=[a, b], runpath=["$ORIGIN"])
    [o] = with_suggestions(audit([str(main)], AuditOptions(env=LoaderEnv(python_package_rule=False)))).objects
    by = {s.kind: s for s in o.suggestions}
    fix = by["linkaudit-fix"]
    assert fix.removes == ("liba.so",)
    assert fix.saves_libraries == 2
    assert fix.saves_bytes == os.path.getsize(a) + os.path.getsize(only)


def test_initialiser_caution_agrees_in_number() -> None:
    """One library "runs" code when loaded; two "run" it."""
    one = obj(entry("libz.so.1", Status.UNUSED, has_initializers=True))
    (caution,) = {s.caution for s in suggest(one) if s.caution}
    assert "libz.so.1 runs code when loaded" in caution and "removing it also skips" in caution
    two = obj(entry("libz.so.1", Status.UNUSED, has_initializers=True),
              entry("libpng16.so.16", Status.UNUSED, has_initializers=True))
    cautions = {s.caution for s in suggest(two) if s.caution}
    assert any("libz.so.1, libpng16.so.16 run code when loaded" in c and "removing them" in c for c in cautions)


# -- RUNPATH suggestions are relative to where the object will be installed -------------------------------


def _runpaths(o: ObjectReport) -> list[str]:
    import re

    return [m for s in suggest(o) for m in re.findall(r"-rpath,([^\"' ]+)", s.text)]


@pytest.mark.parametrize("layout", ["source-tree", "build-lib", "site-packages", "elsewhere"])
def test_runpath_is_relative_to_the_install_location(layout: str, tmp_path: Path) -> None:
    """A top-level package's extension gets $ORIGIN/../torch/lib wherever it is audited (issue: a route from
    the source tree to this machine's venv was suggested)."""
    torch_lib = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "torch" / "lib"
    torch_lib.mkdir(parents=True)
    if layout == "source-tree":
        pkg = tmp_path / "project" / "demo" / "mypkg"
    elif layout == "build-lib":
        pkg = tmp_path / "project" / "build" / "lib.linux-x86_64-cpython-311" / "mypkg"
    elif layout == "site-packages":
        pkg = tmp_path / "other-venv" / "lib" / "python3.11" / "site-packages" / "mypkg"
    else:
        pkg = tmp_path / "deep" / "down" / "somewhere" / "mypkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    c10 = replace(entry("libc10.so", Status.USED, path=torch_lib / "libc10.so", python_package="torch"),
                  found_via=FoundVia.PYTHON_PACKAGE)
    missing = entry("libtorch_cpu.so", Status.MISSING, candidates=(torch_lib / "libtorch_cpu.so",))
    o = obj(c10, missing, path=str(pkg / "_C.cpython-311-x86_64-linux-gnu.so"))
    runpaths = _runpaths(o)
    assert runpaths and set(runpaths) == {"$ORIGIN/../torch/lib"}, runpaths


def test_runpath_for_a_top_level_module_and_a_subpackage(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    torch_lib = site / "torch" / "lib"
    torch_lib.mkdir(parents=True)
    loose = tmp_path / "src" / "m.so"  # no package: installed at the top of site-packages
    loose.parent.mkdir()
    sub = tmp_path / "src2" / "pkg" / "sub"
    sub.mkdir(parents=True)
    for d in (sub, sub.parent):
        (d / "__init__.py").write_text("")
    missing = entry("libc10.so", Status.MISSING, candidates=(torch_lib / "libc10.so",))
    assert set(_runpaths(obj(missing, path=str(loose)))) == {"$ORIGIN/torch/lib"}
    assert set(_runpaths(obj(missing, path=str(sub / "_ext.so")))) == {"$ORIGIN/../../torch/lib"}
    wheel_member = obj(missing, path="dist/pkg-1.0-cp311-cp311-linux_x86_64.whl!pkg/_ext.so")
    assert set(_runpaths(wheel_member)) == {"$ORIGIN/../torch/lib"}


def test_load_bearing_matching_is_fnmatch():
    import fnmatch

    from linkaudit.fixes import _matches, load_bearing_patterns

    patterns = [*load_bearing_patterns(), "lib*x", "a[bc]", "*", "", "x?", "libc10_cuda*", "lib[!a]*"]
    names = ["libtorch_cuda", "libtorch_cuda_linalg", "libc10_cuda", "libc10_cuda2", "libx", "ab", "a", "x1", "",
             "libtorch_cud", "libtorch_global_deps", "libtorch_xpu_ops", "libb"]
    assert [[_matches(n, p) for p in patterns] for n in names] == \
        [[fnmatch.fnmatchcase(n, p) for p in patterns] for n in names]
    assert any(_matches("libtorch_cuda_linalg", p) for p in load_bearing_patterns())
