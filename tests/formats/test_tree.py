"""``--format tree`` on a report built by hand: placement, references, missing libraries, colours.

The object ``app`` needs libA and libB; libA needs libC and libB; libB needs
libC; libC needs libgone (not found).  Breadth-first, as ld.so maps them:
libA and libB under app, libC under libA (libA is processed before libB),
libB named on libA's line and libC on libB's, libgone under libC.
"""

from __future__ import annotations

from pathlib import Path

from linkaudit.formats import OutputFormat, make_format
from linkaudit.formats.tree import TreeFormat
from linkaudit.report import (
    Category,
    Dependency,
    FoundVia,
    LoadedLibrary,
    NeededEntry,
    ObjectReport,
    Report,
    SearchStep,
    Status,
)

GONE_SEARCHED = (SearchStep("/opt/c", "RUNPATH of /l/libC.so", FoundVia.RUNPATH),
                 SearchStep("/etc/ld.so.cache", "ld.so.cache: no entry", FoundVia.CACHE),
                 SearchStep("/lib", "default directories", FoundVia.DEFAULT),
                 SearchStep("/usr/lib", "default directories", FoundVia.DEFAULT))


def _report() -> Report:
    def lib(name: str, depth: int, by: tuple[str, ...], needs: tuple[Dependency, ...], via=FoundVia.CACHE):
        return LoadedLibrary(name, Path(f"/l/{name}"), name, via, Category.OTHER, 10, depth, by, needs=needs)

    loaded = (
        lib("libA.so", 1, ("app",), (Dependency("libC.so", "/l/libC.so"), Dependency("libB.so", "/l/libB.so"))),
        lib("libB.so", 1, ("app", "/l/libA.so"), (Dependency("libC.so", "/l/libC.so"),)),
        lib("libC.so", 2, ("/l/libA.so", "/l/libB.so"), (Dependency("libgone.so", None, GONE_SEARCHED),),
            via=FoundVia.RUNPATH),
    )
    needed = (
        NeededEntry("libA.so", Path("/l/libA.so"), FoundVia.CACHE, Status.USED, Category.OTHER),
        NeededEntry("libB.so", Path("/l/libB.so"), FoundVia.CACHE, Status.UNUSED, Category.OTHER),
        NeededEntry("libmissing.so", None, None, Status.MISSING, Category.OTHER,
                    searched=(SearchStep("/lib", "default directories", FoundVia.DEFAULT),)),
    )
    return Report((ObjectReport("app", "x86_64", 64, None, needed, loaded, ()),))


EXPECTED = """\
app  (x86_64)
├── libA.so [ld.so.cache] used (+libB.so)
│   └── libC.so [runpath]
│       └── libgone.so not found
│           searched: runpath: /opt/c; ld.so.cache (no entry); default: /lib:/usr/lib
├── libB.so [ld.so.cache] unused (+libC.so)
└── libmissing.so missing
    searched: default: /lib
"""


def test_structure_written_by_hand() -> None:
    assert TreeFormat().format(_report()) == EXPECTED


def test_plain_without_colour_and_coloured_on_a_terminal() -> None:
    assert "\x1b[" not in TreeFormat(color=False).format(_report())
    coloured = TreeFormat(color=True).format(_report())
    assert "\x1b[" in coloured
    assert "\x1b[31m" in coloured or "\x1b[1;31m" in coloured  # unused is red


def test_direct_dependency_named_twice_is_referenced() -> None:
    report = _report()
    obj = report.objects[0]
    twice = obj.needed + (obj.needed[0],)
    text = TreeFormat().format(Report((ObjectReport("app", "x86_64", 64, None, twice, obj.loaded, ()),)))
    assert text.splitlines()[-1] == "└── libA.so [ld.so.cache] used (see above)"


def test_static_object_shows_its_warning() -> None:
    obj = ObjectReport("tool", "x86_64", 64, None, (), (), (), warnings=("statically linked: no dynamic dependencies",))
    assert TreeFormat().format(Report((obj,))) == "tool  (x86_64)\n    statically linked: no dynamic dependencies\n"


def test_factory_builds_it() -> None:
    assert isinstance(make_format(OutputFormat.TREE), TreeFormat)


def test_cli_colours_only_when_asked(run_cli) -> None:
    """NO_COLOR (and a pipe, which CliRunner is) give plain text; FORCE_COLOR gives colours."""
    import sys

    exe = sys.executable
    plain = run_cli(["--format", "tree", "--fail-on", "none", exe])
    assert plain.exit_code == 0 and "\x1b[" not in plain.stdout and "── " in plain.stdout
    coloured = run_cli(["--format", "tree", "--fail-on", "none", exe], env={"NO_COLOR": None, "FORCE_COLOR": "1"})
    assert coloured.exit_code == 0 and "\x1b[" in coloured.stdout
    piped = run_cli(["--format", "tree", "--fail-on", "none", exe], env={"NO_COLOR": None})
    assert "\x1b[" not in piped.stdout


def test_a_library_not_on_this_host_is_not_called_missing() -> None:
    """A musl system library audited on a glibc host is ``not_on_host`` in every other format: not 'missing'."""
    libc = NeededEntry("libc.musl-aarch64.so.1", None, None, Status.NOT_ON_HOST, Category.C_RUNTIME)
    obj = ObjectReport("app", "aarch64", 64, None, (libc,), (), (), libc="musl")
    out = TreeFormat().format(Report(objects=(obj,)))
    assert "libc.musl-aarch64.so.1 not_on_host" in out and "missing" not in out
