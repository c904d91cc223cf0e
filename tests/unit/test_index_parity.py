"""The name index (built for libraries asked many times) must answer exactly like the hash walk.

``binding.hash_lookup`` switches from walking the GNU hash chains to an
index built from those same chains once a library has been asked often
enough.  Both paths must give identical reports: these tests force the index
from the first lookup and compare whole reports, on every compiled scenario
and on real system libraries.
"""

from __future__ import annotations

import glob
import os

import pytest

import linkaudit.binding as binding
from linkaudit import accel
import linkaudit.elf as elf
from linkaudit.audit import AuditOptions, audit
from linkaudit.formats.json import report_to_dict
from linkaudit.loader import LoaderEnv


def _audit(paths, env, monkeypatch, after):
    monkeypatch.setattr(accel, "BATCH_LOOKUPS", False)  # the index is that of the per-reference lookups
    monkeypatch.setattr(binding, "INDEX_AFTER_LOOKUPS", after)
    monkeypatch.setattr(binding, "INDEX_LOOKUPS_PER_SYMBOL", 0 if after == 0 else 1 << 30)
    monkeypatch.setattr(binding, "_LIBRARIES", type(binding._LIBRARIES)())  # nothing indexed by an earlier test
    built = []
    original = binding._build_index
    monkeypatch.setattr(binding, "_build_index", lambda obj, lib, table: built.append(1) or original(obj, lib, table))
    report = report_to_dict(audit([str(p) for p in paths], AuditOptions(env=env, jobs=1)))
    assert bool(built) == (after == 0), "the index was not forced on (or off) as the test intends"
    return report


@pytest.mark.requires_cc
def test_index_matches_walk_on_every_scenario(scenario, monkeypatch):
    if scenario.cwd is not None:
        monkeypatch.chdir(scenario.cwd)
    env = LoaderEnv(ld_library_path=scenario.ld_library_path, python_package_rule=False)
    walked = _audit([scenario.path], env, monkeypatch, after=1 << 30)
    indexed = _audit([scenario.path], env, monkeypatch, after=0)
    assert indexed == walked


def _system_sample(n: int = 40) -> list[str]:
    libs = sorted(p for p in glob.glob("/usr/lib/x86_64-linux-gnu/*.so.*")
                  if os.path.isfile(p) and not os.path.islink(p))
    step = max(1, len(libs) // n)
    return libs[::step][:n]


@pytest.mark.skipif(not os.path.isdir("/usr/lib/x86_64-linux-gnu"), reason="no multiarch system library directory")
def test_index_matches_walk_on_system_libraries(monkeypatch):
    sample = _system_sample()
    if not sample:
        pytest.skip("no system libraries found")
    env = LoaderEnv(python_package_rule=False)
    walked = _audit(sample, env, monkeypatch, after=1 << 30)
    indexed = _audit(sample, env, monkeypatch, after=0)
    assert indexed["objects"], "nothing audited"
    assert indexed == walked


@pytest.mark.skipif(not os.path.isdir("/usr/lib/x86_64-linux-gnu"), reason="no multiarch system library directory")
def test_hashed_count_matches_the_section_headers():
    """The chains end at the last dynamic symbol: count them, and compare with pyelftools' .dynsym."""
    from elftools.elf.elffile import ELFFile

    checked = 0
    for path in _system_sample(15):
        obj = elf.ElfObject(path)
        table = obj.hash_table
        if not isinstance(table, elf._GnuHash):
            continue
        with open(path, "rb") as fh:
            dynsym = ELFFile(fh).get_section_by_name(".dynsym")
            if dynsym is None:
                continue
            assert table.hashed_count == dynsym.num_symbols() - table.symbias, path
            checked += 1
    assert checked
