"""``--format text`` and the no-colour contract: piped output never carries ANSI escapes."""

from __future__ import annotations

import pytest

from linkaudit.formats.text import TextFormat
from linkaudit.report import Report

from .conftest import EXT

ESC = "\x1b["


def test_names_every_dependency_and_verdict(sample_report: Report) -> None:
    text = TextFormat(width=200).format(sample_report)
    assert EXT in text
    for name in ("libc10.so", "libtorch.so", "libgomp.so.1", "libmissing.so.2"):
        assert name in text
    for verdict in ("used", "unused", "incidental", "missing"):
        assert verdict in text
    assert ESC not in text


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
