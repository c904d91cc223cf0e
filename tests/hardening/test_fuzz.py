"""Hostile ELF files: linkaudit must answer within a time bound, with one-line errors, and never crash.

Real objects compiled by the fixtures (a main library calling a versioned
dependency) are damaged in every way the loader's structures allow:
truncation at each structural boundary, random bytes written into the
header, program headers, dynamic array, symbol/string/hash/version tables
and relocations, and huge counts and offsets.  Budget: a few dozen examples
per property in CI; ``LINKAUDIT_FUZZ_EXAMPLES=20000`` for a long run.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkaudit.audit import AuditOptions, audit
from linkaudit.cli import main as cli_main
from linkaudit.loader import LoaderEnv
from linkaudit.report import Report, Status

from .conftest import compile_so, examples, timeout

BOUND_S = 5.0
FUZZ = settings(max_examples=examples(60), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
HUGE = [0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFFFFFFFFFF, 0x7FFFFFFFFFFFFFFF, 1 << 40, 0]


def run_audit(paths: list[Path], **env) -> Report:
    with timeout(BOUND_S * max(1, len(paths))):
        return audit([str(p) for p in paths], AuditOptions(env=LoaderEnv(python_package_rule=False, **env), jobs=1))


def check(report: Report, main: Path, main_damaged: bool) -> None:
    """The invariants: one outcome per input, one-line errors, no internal errors."""
    for err in report.errors:
        assert "\n" not in err.message and err.message.strip(), err
        assert "internal error" not in err.message, err
        assert "Traceback" not in err.message
    mine = [e for e in report.errors if e.path == str(main)]
    assert len(report.objects) + len(mine) == 1, report
    if not main_damaged:
        # a damaged dependency is a finding about main (missing, uncertain), never an unreadable input
        assert not mine, mine
    for obj in report.objects:
        for w in obj.warnings:
            assert "\n" not in w


def materialise(built, which: str, data: bytes, workdir: Path) -> tuple[Path, Path]:
    """A copy of the pair in ``workdir`` with ``which`` replaced by ``data`` (fresh files: no stale mmaps)."""
    main = workdir / "libmain.so"
    dep = workdir / "libdep.so"
    shutil.copy(built.main, main)
    shutil.copy(built.dep, dep)
    (main if which == "main" else dep).write_bytes(data)
    return main, dep


@st.composite
def mutations(draw, structure: dict, originals: dict[str, bytes]) -> tuple[str, bytes, str]:
    which = draw(st.sampled_from(["main", "dep"]))
    regs = structure[which]
    name = draw(st.sampled_from(sorted(regs)))
    off, size = regs[name]
    size = max(size, 1)
    blob = bytearray(originals[which])
    op = draw(st.sampled_from(["truncate", "bytes", "huge", "swap"]))
    if op == "truncate":
        cut = draw(st.one_of(st.sampled_from([off, off + size, off + 1, off + size - 1]),
                             st.integers(off, off + size)))
        return which, bytes(blob[:cut]), f"{which}: truncate {name} at {cut}"
    if op == "bytes":
        at = draw(st.integers(off, off + size - 1))
        junk = draw(st.binary(min_size=1, max_size=16))
        blob[at : at + len(junk)] = junk
        return which, bytes(blob[: len(originals[which])]), f"{which}: {len(junk)} random bytes into {name}+{at - off}"
    if op == "huge":
        width = draw(st.sampled_from([2, 4, 8]))
        at = off + draw(st.integers(0, max(0, size - width) // width)) * width
        value = draw(st.sampled_from(HUGE)) & ((1 << (8 * width)) - 1)
        blob[at : at + width] = value.to_bytes(width, "little")
        return which, bytes(blob), f"{which}: {value:#x} ({width} bytes) into {name}+{at - off}"
    # swap: copy another structure's bytes over this one (plausible-looking garbage)
    other = draw(st.sampled_from(sorted(regs)))
    o_off, o_size = regs[other]
    chunk = originals[which][o_off : o_off + min(o_size, size)]
    blob[off : off + len(chunk)] = chunk
    return which, bytes(blob), f"{which}: {other} copied over {name}"


@given(data=st.data())
@FUZZ
def test_mutated_objects_never_crash(built, structure, data):
    current = {"main": built.main.read_bytes(), "dep": built.dep.read_bytes()}
    touched: set[str] = set()
    for _ in range(data.draw(st.integers(1, 3), label="stacked mutations")):
        which, blob, what = data.draw(mutations(structure, current), label="mutation")
        current[which] = blob
        touched.add(which)
    with tempfile.TemporaryDirectory() as tmp:
        main, dep = materialise(built, "main", current["main"], Path(tmp))
        dep.write_bytes(current["dep"])
        report = run_audit([main])
        check(report, main, "main" in touched)


@pytest.mark.parametrize("which", ["main", "dep"])
def test_truncation_at_every_structural_boundary(built, structure, which):
    original = getattr(built, which).read_bytes()
    cuts = {0, 1, 4, 16, 52, 63, 64, len(original) - 1}
    for off, size in structure[which].values():
        cuts |= {off, off + 1, off + size // 2, off + size - 1, off + size}
    with tempfile.TemporaryDirectory() as tmp:
        for n, cut in enumerate(sorted(c for c in cuts if 0 <= c < len(original))):
            d = Path(tmp) / str(n)
            d.mkdir()
            main, _ = materialise(built, which, original[:cut], d)
            report = run_audit([main])
            check(report, main, which == "main")
            if which == "main":
                assert report.errors or report.objects  # either audited from what is left, or one error


@pytest.mark.parametrize("which", ["main", "dep"])
def test_huge_values_in_every_header_field(built, structure, which):
    """Every 4-byte slot of the first 64 bytes of each structure, and every dynamic entry's value, made huge."""
    original = getattr(built, which).read_bytes()
    slots: set[tuple[int, int]] = set()
    for name, (off, size) in structure[which].items():
        slots |= {(off + k, 4) for k in range(0, min(size, 64), 4)}
        if name == "dynamic":
            slots |= {(off + k + 8, 8) for k in range(0, size, 16)}  # d_val of every entry (ELF64)
    with tempfile.TemporaryDirectory() as tmp:
        n = 0
        for at, width in sorted(slots):
            patterns = {(v & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
                        for v in (0xFFFFFFFF, 0x7FFFFFFF, (1 << 63) - 1, 1 << 40)}
            for pattern in sorted(patterns):
                blob = bytearray(original)
                blob[at : at + width] = pattern
                d = Path(tmp) / str(n)
                n += 1
                d.mkdir()
                main, _ = materialise(built, which, bytes(blob), d)
                check(run_audit([main]), main, which == "main")


@given(data=st.data())
@settings(max_examples=max(5, examples(60) // 6), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_cli_on_mutated_objects(built, structure, data):
    originals = {"main": built.main.read_bytes(), "dep": built.dep.read_bytes()}
    which, blob, what = data.draw(mutations(structure, originals))
    with tempfile.TemporaryDirectory() as tmp:
        main, _ = materialise(built, which, blob, Path(tmp))
        ok = Path(tmp) / "ok" / "libok.so"
        ok.parent.mkdir()
        shutil.copy(built.dep, ok)
        runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "80"})
        with timeout(2 * BOUND_S):
            result = runner.invoke(cli_main, ["--format", "json", "-j", "1", "--no-python-packages",
                                              "--fail-on", "none", str(main), str(ok)], catch_exceptions=False)
    assert result.exit_code in (0, 2), (what, result.stderr)
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("linkaudit: error:")]
    assert (result.exit_code == 2) == bool(errors), (what, result.stderr)
    if which == "dep":
        assert result.exit_code == 0, (what, result.stderr)
    assert str(ok) in result.stdout  # the healthy input is always audited


def test_real_garbage_is_exit_2_with_one_line(tmp_path):
    bad = tmp_path / "junk.so"
    bad.write_bytes(b"\x7fELF" + bytes(range(256)) * 4)
    runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "80"})
    result = runner.invoke(cli_main, ["-j", "1", str(bad)], catch_exceptions=False)
    assert result.exit_code == 2
    assert len([ln for ln in result.stderr.splitlines() if str(bad) in ln]) == 1


# -- dependency graphs that loop or point where they should not -------------------------------------------


def test_cyclic_and_self_referencing_needed(built, tmp_path):
    d = tmp_path
    compile_so(d / "libb.so", "int b(void) { return 1; }\n", "-Wl,-soname,libb.so")
    compile_so(d / "liba.so", "int b(void);\nint a(void) { return b(); }\n", "-Wl,-soname,liba.so", f"-L{d}", "-lb",
               "-Wl,-rpath,$ORIGIN")
    # rebuild libb needing liba: a cycle liba <-> libb
    compile_so(d / "libb.so", "int a(void);\nint b(void) { return 1; }\nint c(void) { return a(); }\n",
               "-Wl,-soname,libb.so", f"-L{d}", "-la", "-Wl,-rpath,$ORIGIN")
    compile_so(d / "libself.so", "int s(void) { return 1; }\n", "-Wl,-soname,libself.so")
    shutil.copy(d / "libself.so", d / "old-libself.so")
    (d / "stub").mkdir()
    shutil.copy(d / "libself.so", d / "stub" / "libself.so")
    compile_so(d / "libself.so", "int s(void) { return 1; }\n", "-Wl,-soname,libself.so", f"-L{d / 'stub'}", "-lself",
               "-Wl,-rpath,$ORIGIN")
    report = run_audit([d / "liba.so", d / "libb.so", d / "libself.so"])
    assert not report.errors, report.errors
    by = {Path(o.path).name: {n.name: n.status for n in o.needed} for o in report.objects}
    assert by["liba.so"]["libb.so"] is Status.USED
    assert by["libb.so"]["liba.so"] is Status.USED
    assert "libself.so" in by["libself.so"]  # needs itself: already loaded, nothing used from it
    assert by["libself.so"]["libself.so"] is not Status.MISSING


def test_sonames_and_needed_with_slashes_and_dotdot(tmp_path):
    d = tmp_path / "build"
    d.mkdir()
    (tmp_path / "evil").mkdir()
    compile_so(tmp_path / "evil" / "libq.so", "int q(void) { return 1; }\n", "-Wl,-soname,../evil/libq.so")
    compile_so(d / "libp.so", "int q(void);\nint p(void) { return q(); }\n", f"-L{tmp_path / 'evil'}", "-lq")
    compile_so(d / "libslash.so", "int z(void) { return 1; }\n", "-Wl,-soname,/nonexistent/dir/libslash.so")
    report = run_audit([d / "libp.so", d / "libslash.so"])
    assert not [e for e in report.errors if "internal" in e.message]
    assert len(report.objects) == 2
    needed = report.objects[0].needed[0]
    assert needed.name == "../evil/libq.so"  # opened relative to the working directory, as ld.so would


def test_rpath_outside_the_root_stays_inside(built, tmp_path):
    root = tmp_path / "root"
    (root / "app").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(built.dep, outside / "libdep.so")  # would be found if the RPATH escaped the root
    rel = f"/../../../..{outside}"
    compile_so(root / "app" / "libm1.so", "int dep_func(int);\nint m(void) { return dep_func(1); }\n",
               f"-L{built.dir}", "-ldep", "-Wl,--disable-new-dtags", f"-Wl,-rpath,{rel}:/app/../../{outside}")
    (root / "app" / "link").symlink_to(outside)  # an absolute symlink out of the root
    compile_so(root / "app" / "libm2.so", "int dep_func(int);\nint m(void) { return dep_func(1); }\n",
               f"-L{built.dir}", "-ldep", "-Wl,--enable-new-dtags", "-Wl,-rpath,/app/link")
    report = run_audit([root / "app" / "libm1.so", root / "app" / "libm2.so"], root=str(root))
    assert not report.errors
    for obj in report.objects:
        dep = {n.name: n for n in obj.needed}["libdep.so"]
        assert dep.status is Status.MISSING, (obj.path, dep.path)
