"""Symbol binding and the used/unused verdicts, from first principles.

Each scenario of ``conftest.build_scenarios`` states which library must be
used or unused and why (see the C sources in tests/c); the ldd oracle checks
the same scenarios against glibc.  The lookups below check ``check_match``
rules directly, with expected addresses read from the section headers.
"""

from __future__ import annotations

import os

import pytest
from elftools.elf.elffile import ELFFile

from linkaudit.audit import AuditOptions, audit
from linkaudit.binding import CLASS_COPY, CLASS_PLT, SymbolName, bind, lookup, lookup_in, references
from linkaudit.elf import ElfObject, Version, sysv_hash
from linkaudit.loader import Loader, LoaderEnv
from linkaudit.report import Owner, Status

pytestmark = pytest.mark.requires_cc


def env_for(sc) -> LoaderEnv:
    # this shell's loader: its GLIBC_TUNABLES too (the scenarios' $PLATFORM directory follows it)
    return LoaderEnv(ld_library_path=sc.ld_library_path, python_package_rule=False,
                     glibc_tunables=os.environ.get("GLIBC_TUNABLES"))


def audit_scenario(sc, monkeypatch):
    if sc.cwd is not None:
        monkeypatch.chdir(sc.cwd)
    report = audit([str(sc.path)], AuditOptions(env=env_for(sc)))
    assert not report.errors, report.errors
    (obj,) = report.objects
    return obj


def test_scenario_verdicts(scenario, monkeypatch):
    obj = audit_scenario(scenario, monkeypatch)
    got = {n.name: n.status.value for n in obj.needed}
    want = dict(scenario.expect)
    assert {k: got.get(k) for k in want} == want
    assert set(obj.unresolved) == set(scenario.unresolved)


def symtab_value(path, name: str) -> int:
    """The address of a (possibly local) function, from .symtab: independent of the dynamic tables."""
    with open(path, "rb") as fh:
        for sym in ELFFile(fh).get_section_by_name(".symtab").iter_symbols():
            if sym.name == name:
                return sym["st_value"]
    raise AssertionError(name)


def lookup_one(obj: ElfObject, name: bytes, version: Version | None = None, klass: int = 0):
    return lookup_in(obj, SymbolName(name), version, klass)


def test_unversioned_reference_takes_the_oldest_version(scenarios):
    lib = scenarios["version_old"].path.parent / "libversioned.so"
    obj = ElfObject(lib)
    sym = lookup_one(obj, b"foo")
    assert sym is not None and sym.value == symtab_value(lib, "foo_v1")


@pytest.mark.parametrize(("ver", "impl"), [(b"V1", "foo_v1"), (b"V2", "foo_v2")])
def test_versioned_reference_takes_its_version(scenarios, ver, impl):
    lib = scenarios["version_old"].path.parent / "libversioned.so"
    sym = lookup_one(ElfObject(lib), b"foo", Version(ver, sysv_hash(ver), False, b"libversioned.so"))
    assert sym is not None and sym.value == symtab_value(lib, impl)
    assert lookup_one(ElfObject(lib), b"foo", Version(b"V3", sysv_hash(b"V3"), False, None)) is None


def test_versioned_reference_accepts_unversioned_definition(scenarios):
    lib = scenarios["version_old"].path.parent / "libfoo_plain.so"
    hidden = Version(b"V1", sysv_hash(b"V1"), True, b"libversioned.so")
    assert lookup_one(ElfObject(lib), b"foo", Version(b"V1", sysv_hash(b"V1"), False, None)) is not None
    assert lookup_one(ElfObject(lib), b"foo", hidden) is None  # a hidden requirement insists on its version


def test_references_of_versioned_consumer(scenarios):
    refs = {r.name: r for r in references(ElfObject(scenarios["version_old"].path))}
    assert refs[b"foo"].version is not None and refs[b"foo"].version.name == b"V1"
    refs = {r.name: r for r in references(ElfObject(scenarios["version_new"].path))}
    assert refs[b"foo"].version.name == b"V2"


def test_weak_references(scenarios):
    refs = {r.name: r for r in references(ElfObject(scenarios["weak"].path))}
    assert refs[b"weak_present"].weak and refs[b"weak_absent"].weak
    res = {r.ref.name: r.scope_index for r in bind(scope_of(scenarios["weak"]))}
    assert res[b"weak_absent"] is None
    assert res[b"weak_present"] not in (None, 0)


def scope_of(sc):
    result = Loader(env_for(sc)).load(str(sc.path))
    return [o.elf for o in result.searchlist]


def scope_names(sc):
    result = Loader(env_for(sc)).load(str(sc.path))
    return [os.path.basename(o.path) for o in result.searchlist]


@pytest.mark.parametrize(("name", "winner"), [("interpose_ab", "libinterpose_a.so"),
                                             ("interpose_ba", "libinterpose_b.so")])
def test_first_definition_in_breadth_first_order_wins(scenarios, name, winner):
    sc = scenarios[name]
    res = {r.ref.name: r.scope_index for r in bind(scope_of(sc))}
    assert scope_names(sc)[res[b"dup_sym"]] == winner


def test_hidden_and_script_local_definitions_do_not_count(scenarios):
    sc = scenarios["visibility"]
    vis = ElfObject(sc.path.parent / "libvisibility.so")
    for name in (b"vis_hidden", b"vis_local_by_script", b"vis_static"):
        assert lookup_one(vis, name) is None
    assert lookup_one(vis, b"vis_protected") is not None  # protected is exported and binds
    names = scope_names(sc)
    res = {r.ref.name: names[r.scope_index] for r in bind(scope_of(sc))
           if r.ref.name in (b"vis_hidden", b"vis_local_by_script")}
    assert res == {b"vis_hidden": "libvisibility_fallback.so", b"vis_local_by_script": "libvisibility_fallback.so"}


def test_zero_value_definition_does_not_count(scenarios):
    sc = scenarios["zero_value"]
    lib = ElfObject(sc.path.parent / "libzero_value.so")
    assert lookup_one(lib, b"zero_fn") is None
    assert lookup_one(lib, b"zero_keep") is not None


def test_tls_ifunc_and_unique_definitions_bind(scenarios):
    for name, sym in (("tls", b"tls_var"), ("ifunc", b"ifn"), ("unique", b"_ZN6HolderIiE5valueE")):
        if name not in scenarios:
            continue
        sc = scenarios[name]
        res = {r.ref.name: r.scope_index for r in bind(scope_of(sc))}
        assert res[sym] not in (None, 0), name


def test_copy_relocation_skips_the_executable(scenarios):
    sc = scenarios["copyreloc"]
    scope = scope_of(sc)
    refs = [r for r in references(scope[0]) if r.name == b"lib_data"]
    assert refs and refs[0].klass & CLASS_COPY
    assert lookup_one(scope[0], b"lib_data") is not None  # the executable holds the copy...
    provider, _ = lookup(scope, refs[0])
    assert scope_names(sc)[provider] == "libdata_provider.so"  # ...but the lookup starts after it


def test_undefined_slot_never_satisfies_plt_lookup(scenarios):
    """A consumer's own undefined entry (st_value 0) is skipped; with PLT class even a canonical PLT address is."""
    sc = scenarios["basic"]
    main = ElfObject(sc.path)
    assert lookup_one(main, b"used_fn") is None
    assert lookup_one(main, b"used_fn", klass=CLASS_PLT) is None


def test_stub_libraries_are_unused(scenarios, monkeypatch):
    obj = audit_scenario(scenarios["glibc_stubs"], monkeypatch)
    version = tuple(int(x) for x in os.confstr("CS_GNU_LIBC_VERSION").split()[-1].split(".")[:2])
    if version < (2, 34):
        pytest.skip("before glibc 2.34 libpthread/libdl/librt are real libraries")
    status = {n.name: n.status for n in obj.needed}
    assert {k: status[k] for k in ("libpthread.so.0", "libdl.so.2", "librt.so.1")} == dict.fromkeys(
        ("libpthread.so.0", "libdl.so.2", "librt.so.1"), Status.UNUSED)
    assert status["libm.so.6"] is Status.USED


def test_incidental_only_when_the_owner_can_take_the_reference(scenarios, monkeypatch):
    """foo@V1 bound to an unversioned copy is incidental (libversioned's foo@V1 takes it without the copy);
    an unversioned foo bound to a copy is not, when the only versioned foo is a hidden foo@V2."""
    obj = audit_scenario(scenarios["version_shadowed"], monkeypatch)
    (plain,) = [n for n in obj.needed if n.name == "libfoo_plain.so"]
    assert plain.status is Status.INCIDENTAL
    assert [b.owner for b in plain.bindings] == [Owner("libversioned.so", "V1")]
    obj = audit_scenario(scenarios["unversioned_only_hidden"], monkeypatch)
    (plain,) = [n for n in obj.needed if n.name == "libfoo_plain.so"]
    assert plain.status is Status.USED
