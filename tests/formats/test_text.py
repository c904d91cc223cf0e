"""``--format text`` and the no-colour contract: piped output never carries ANSI escapes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataclasses import replace

from linkaudit.formats.text import TextFormat
from linkaudit.report import Report

from .conftest import EXT

ESC = "\x1b["


def test_names_every_dependency_and_status(sample_report: Report) -> None:
    text = TextFormat(width=200).format(sample_report)
    assert EXT in text
    for name in ("libc10.so", "libtorch.so", "libgomp.so.1", "libmissing.so.2"):
        assert name in text
    for status in ("used", "unused", "incidental", "missing"):
        assert status in text
    assert ESC not in text


def test_table_header_uses_the_json_field_names(sample_report: Report) -> None:
    """One vocabulary: the columns are named like the JSON fields they show (status, category)."""
    text = TextFormat(width=200).format(sample_report)
    (header,) = [line for line in text.splitlines() if line.startswith("needed ")]
    assert header.split()[:3] == ["needed", "status", "category"]


def test_colour_only_when_asked(sample_report: Report) -> None:
    assert ESC in TextFormat(color=True).format(sample_report)
    assert ESC not in TextFormat(color=False).format(sample_report)


def test_brackets_are_not_markup(sample_report: Report) -> None:
    """Demangled C++ names contain [] which rich must not read as markup."""
    from dataclasses import replace

    obj = sample_report.objects[0]
    obj = replace(obj, warnings=("operator[] and [bold]x[/bold]",))
    text = TextFormat(width=200).format(replace(sample_report, objects=(obj,)))
    assert "operator[] and [bold]x[/bold]" in text


@pytest.mark.requires_cc
@pytest.mark.parametrize("fmt", ["text", "json", "ldd", "sarif", "github", "dot", "mermaid"])
@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"NO_COLOR": None, "FORCE_COLOR": None}],
                         ids=["NO_COLOR", "not-a-tty"])
def test_piped_output_has_no_ansi(fmt: str, env: dict, build_so, run_cli, tmp_path) -> None:
    lib_dir = tmp_path / "lib"
    build_so("libtunused.so", "int unused_fn(void) { return 2; }", out_dir=lib_dir)
    target = build_so("libttarget.so", "int f(void) { return 0; }", out_dir=lib_dir, libs=["tunused"],
                      lib_dirs=[lib_dir], runpath=["$ORIGIN"])
    result = run_cli(["--format", fmt, str(target)], env=env)
    assert result.exit_code == 1  # libtunused.so is unused, and unused fails by default
    assert result.stdout
    assert ESC not in result.stdout
    assert ESC not in result.stderr


# -- wording: one thing is singular -----------------------------------------------------------------


def test_singular_and_plural_counts(sample_report: Report) -> None:
    """The sample has 1 unresolved symbol, 1 host-provided symbol, 1 dragged library: no "1 ... symbols"."""
    text = TextFormat(width=200).format(sample_report)
    assert "1 undefined symbol nothing in scope defines" in text
    assert "1 Python C API symbol comes from the interpreter" in text
    assert "libtorch.so drags in 1 more library (434.0 MB)" in text
    assert "2 objects:" in text
    assert "removes libtorch.so: 1 library (434.0 MB) no longer loaded" in text
    for wrong in ("1 undefined symbols", "1 Python C API symbols", "1 more libraries", "1 librarys"):
        assert wrong not in text
    obj = sample_report.objects[0]
    two = replace(obj, unresolved=("_Z3foov", "_Z3barv"), host_provided=("PyA", "PyB"))
    text = TextFormat(width=200).format(Report(objects=(two,)))
    assert "2 undefined symbols nothing in scope defines" in text
    assert "2 Python C API symbols come from the interpreter" in text


def test_accepted_findings_are_shown_with_why(sample_report: Report) -> None:
    from linkaudit.baseline import Baseline, BaselineEntry
    from linkaudit.config import AllowRule
    from linkaudit.gate import GatePolicy, evaluate
    from linkaudit.report import FindingKind

    policy = GatePolicy(frozenset(FindingKind), allow=(AllowRule("libgomp*", "OpenMP comes with torch"),),
                        baseline=Baseline(frozenset({BaselineEntry("_C.so", FindingKind.UNUSED, "libtorch.so")})))
    text = TextFormat(width=200).format(evaluate(sample_report, policy))
    assert "allowed: libgomp.so.1 is incidental (OpenMP comes with torch)" in text
    assert "baselined: libtorch.so is unused (recorded in the baseline)" in text


# -- drawn without rich: the same characters ---------------------------------------


def _variants(report: Report) -> list[Report]:
    """The sample, and copies whose text only rich can lay out (control, wide, combining characters)."""
    obj = report.objects[0]
    needed = obj.needed[0]
    return [
        report,
        replace(report, objects=(replace(obj, path="dir/bad\tname\x1b[31m\r.so"),)),
        replace(report, objects=(replace(obj, path="日本/模块.so"),)),
        replace(report, objects=(replace(obj, needed=(replace(needed, name="libe\u0301.so"), *obj.needed[1:])),)),
        replace(report, objects=(replace(obj, warnings=("w" * 300,), needed=()),)),
        replace(report, objects=(replace(obj, needed=(replace(needed, name="lib" + "x" * 150 + ".so"),
                                                      *obj.needed[1:])),)),
    ]


@pytest.mark.parametrize("width", [200, 100, 60, 20])
def test_plain_drawing_matches_rich(sample_report: Report, clean_report: Report, width: int) -> None:
    from linkaudit.formats.text import Table, _draw, _draw_plain, _draw_rich

    drawn = tables = 0
    for report in (*_variants(sample_report), clean_report):
        blocks = TextFormat(width=width).layout(report)
        for block in blocks:
            plain = _draw_plain(block, width)
            if plain is not None:
                drawn += 1
                tables += isinstance(block, Table)
                assert plain == _draw_rich([block], False, width)
        assert _draw(blocks, False, width) == _draw_rich(blocks, False, width)
    if width >= 100:
        assert drawn > 20 and tables >= 2  # most lines and the tables need none of rich's care


def test_only_rich_draws_what_needs_it(sample_report: Report) -> None:
    from linkaudit.formats.text import _draw_plain

    for report in _variants(sample_report)[1:3]:
        header = TextFormat(width=200).layout(report)[0]
        assert _draw_plain(header, 200) is None
    table = TextFormat(width=200).layout(_variants(sample_report)[3])[1]
    assert _draw_plain(table, 200) is None  # a combining accent: one cell for two characters


def test_plain_text_report_does_not_import_rich(sample_report: Report) -> None:
    import subprocess
    import sys

    code = ("import sys\n"
            "sys.path.insert(0, sys.argv[1])\n"
            "from formats.conftest import make_sample_report\n"
            "from linkaudit.formats.text import TextFormat\n"
            "TextFormat(width=200).format(make_sample_report())\n"
            "print('rich' in sys.modules)\n")
    from pathlib import Path

    tests = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code, str(tests)], capture_output=True, text=True,
                         cwd=tests.parent, check=True)
    assert out.stdout.strip() == "False"


def test_totals_line_with_libraries_not_on_this_host(sample_report: Report, clean_report: Report) -> None:
    """'… 0 missing dependencies, 1 not on this host.', never '1 not on this host dependencies'."""
    from linkaudit.report import Status

    obj = clean_report.objects[0]
    absent = replace(obj.needed[0], name="libz.so.1", path=None, found_via=None, status=Status.NOT_ON_HOST,
                     bindings=())
    two = Report(objects=(replace(obj, needed=(*obj.needed, absent)), obj))
    text = " ".join(TextFormat(width=200).format(two).split())
    assert "2 objects: 2 used, 0 incidental, 0 unused, 0 missing dependencies, 1 not on this host." in text
    assert "not on this host dependencies" not in text


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab -\t\n\xa0\u2003\u00e9\x0b\x0c\r\u2028.,")) | st.characters(),
                    max_size=60),
       width=st.integers(1, 60))
def test_a_line_taken_as_fitting_is_what_textwrap_gives(text: str, width: int) -> None:
    """Lines that fit skip textwrap: only when textwrap would return them unchanged."""
    import textwrap

    from linkaudit.formats.text import fits_one_line

    if fits_one_line(text, width):
        assert textwrap.wrap(text, width=width, break_on_hyphens=False, break_long_words=False) == [text]
