"""The self-binding shortcut must answer exactly like looking every reference up.

``binding.self_bound`` decides from the symbol table's bytes, without names or
hashes, which references of the audited object bind to the object itself.
These tests compare it with the full ``do_lookup_x`` emulation (``bind(...,
shortcut=False)``) on every compiled scenario and on real libraries, whole
reports included, and check that tables it cannot trust turn it off.
"""

from __future__ import annotations

import glob
import importlib.util
import os

import pytest

import linkaudit.binding as binding
from linkaudit.audit import AuditOptions, audit
from linkaudit.binding import bind, self_bound
from linkaudit.elf import ElfObject
from linkaudit.formats.json import report_to_dict
from linkaudit.loader import Loader, LoaderEnv


def _resolutions(scope, shortcut: bool) -> list[tuple]:
    return sorted((r.ref.name, r.ref.version.name if r.ref.version else None, r.ref.klass, r.ref.weak,
                   r.ref.protected, r.scope_index, r.sym.index if r.sym else None)
                  for r in bind(scope, shortcut=shortcut))


def _scope(path, env: LoaderEnv):
    return [o.elf for o in Loader(env).load(str(path)).searchlist]


def _env(sc) -> LoaderEnv:
    return LoaderEnv(ld_library_path=sc.ld_library_path, python_package_rule=False)


@pytest.mark.requires_cc
def test_shortcut_matches_full_lookup_on_every_scenario(scenario, monkeypatch):
    if scenario.cwd is not None:
        monkeypatch.chdir(scenario.cwd)
    scope = _scope(scenario.path, _env(scenario))
    assert _resolutions(scope, shortcut=True) == _resolutions(scope, shortcut=False)


@pytest.mark.requires_cc
def test_whole_reports_match_without_the_shortcut(scenario, monkeypatch):
    if scenario.cwd is not None:
        monkeypatch.chdir(scenario.cwd)
    env = _env(scenario)
    fast = report_to_dict(audit([str(scenario.path)], AuditOptions(env=env, jobs=1)))
    monkeypatch.setattr(binding, "self_bound_mask", lambda main, marks, strtab=None: b"")
    slow = report_to_dict(audit([str(scenario.path)], AuditOptions(env=env, jobs=1)))
    assert fast == slow


@pytest.mark.requires_cc
def test_shortcut_is_taken_for_own_definitions(scenarios):
    """The scenario whose object defines what it references: the shortcut must really fire there."""
    sc = scenarios["self_definition"]
    scope = _scope(sc.path, _env(sc))
    main = scope[0]
    own = {i for i, _ in main.relocations()}
    found = self_bound(main, own)
    assert found, "no reference was recognised as bound to the object itself"
    full = {r.sym.index for r in bind(scope, shortcut=False) if r.scope_index == 0 and r.sym is not None}
    assert found <= full


def _real_libraries(n: int = 30) -> list[str]:
    libs = sorted(p for p in glob.glob("/usr/lib/x86_64-linux-gnu/*.so.*")
                  if os.path.isfile(p) and not os.path.islink(p))
    step = max(1, len(libs) // n)
    picked = libs[::step][:n]
    spec = importlib.util.find_spec("torch")  # found, never imported: only its lib directory is wanted
    if spec is None or not spec.origin:
        return picked
    torch_lib = os.path.join(os.path.dirname(spec.origin), "lib")
    return picked + [p for p in (os.path.join(torch_lib, "libc10.so"), os.path.join(torch_lib, "libshm.so"))
                     if os.path.isfile(p)]


@pytest.mark.skipif(not os.path.isdir("/usr/lib/x86_64-linux-gnu"), reason="no multiarch system library directory")
def test_shortcut_matches_full_lookup_on_real_libraries():
    env = LoaderEnv(python_package_rule=False)
    checked = fired = 0
    for path in _real_libraries():
        try:
            scope = _scope(path, env)
        except Exception:  # not loadable here: nothing to compare
            continue
        if scope[0] is None or not scope[0].is_dynamic:
            continue
        fast, full = _resolutions(scope, shortcut=True), _resolutions(scope, shortcut=False)
        assert fast == full, path
        checked += 1
        fired += bool(self_bound(scope[0], {i for i, _ in scope[0].relocations()}))
    assert checked >= 5 and fired >= 1


@pytest.mark.requires_cc
def test_untrusted_tables_turn_the_shortcut_off(scenarios):
    """A hash table not laid out as a linker writes it gives no shortcut (every reference is looked up)."""
    sc = scenarios["self_definition"]
    main = ElfObject(sc.path)
    own = {i for i, _ in main.relocations()}
    assert self_bound(main, own)
    table = main.hash_table
    table.chain[-1] &= ~1  # the last chain no longer ends where the table does: not a linker's layout
    assert self_bound(main, own) == set()
    table.chain[-1] |= 1
    assert self_bound(main, own)
    used = [k for k, start in enumerate(table.buckets) if start]
    if len(used) >= 2:  # two bucket starts swapped: still valid for ld.so, no longer in linker order
        a, b = used[0], used[-1]
        table.buckets[a], table.buckets[b] = table.buckets[b], table.buckets[a]
        assert self_bound(main, own) == set()


@pytest.mark.requires_cc
def test_a_name_in_the_wrong_bucket_is_caught_by_the_sample(scenarios, monkeypatch):
    sc = scenarios["self_definition"]
    main = ElfObject(sc.path)
    own = {i for i, _ in main.relocations()}
    assert self_bound(main, own)
    monkeypatch.setattr(binding, "gnu_hash", lambda name: 0x12345678)  # every name now hashes elsewhere
    assert self_bound(main, own) == set()
