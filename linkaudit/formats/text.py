"""``--format text`` (the default): a readable report per object.

Built so a reader sees in ten seconds which libraries are linked, which are
used for what (demangled examples), what the others drag in, and what that
costs.  Colour only when the CLI says the output is a terminal.

The report is first laid out as a short list of blocks (lines and tables),
then drawn: with rich when colour is wanted or some text needs rich's care
(wide or control characters, a table wider than the page), block by block;
every other block is written by :func:`_draw_plain`, the very same characters
without importing rich (a third of a one-file run, most of a directory's report).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import NamedTuple

from linkaudit.display import demangle, human_size, plural, verb
from linkaudit.categories import cost_note
from linkaudit.formats.interface import Format
from linkaudit.gate import gate_of
from linkaudit.hostparams import LoaderParams
from linkaudit.report import Category, Finding, NeededEntry, ObjectReport, Report, Status, VendoredStatus, WheelReport

STATUS_STYLE = {
    Status.USED: "green",
    Status.UNUSED: "bold red",
    Status.INCIDENTAL: "yellow",
    Status.MISSING: "bold magenta",
    Status.NOT_ON_HOST: "magenta",
}
CATEGORY_STYLE = {
    Category.TORCH: "bright_red",
    Category.CUDA: "bright_green",
    Category.OPENMP: "cyan",
    Category.GLIBC_STUB: "dim",
    Category.PYTHON: "blue",
}
EXAMPLES = 3
EXAMPLE_WIDTH = 60
ELLIPSIS = "\u2026"

Span = tuple[str, str]  # (text, rich style)


class Line(NamedTuple):
    """One line of styled spans; ``fold``: the renderer wraps it at the page width (else never)."""

    spans: tuple[Span, ...]
    fold: bool = False


class Column(NamedTuple):
    header: str
    width: int
    right: bool = False  # right-justified; a longer cell is cut with an ellipsis


class Table(NamedTuple):
    """Columns of fixed widths, two spaces apart, a header row, no borders, no wrapping."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[Span, ...], ...]


Block = Line | Table

class TextFormat(Format):
    def __init__(self, color: bool = False, width: int = 100) -> None:
        self.color = color
        self.width = width

    def format(self, report: Report) -> str:
        text = _draw(self.layout(report), self.color, self.width)
        return "".join(line.rstrip(" ") + "\n" for line in text.splitlines())

    def layout(self, report: Report) -> list[Block]:
        """The report as lines and tables, before any drawing."""
        out: list[Block] = []
        by_object: dict[str, list[Finding]] = {}
        for f in gate_of(report).findings:
            if f.suppressed:
                by_object.setdefault(f.object, []).append(f)
        for obj in report.objects:
            self._object(out, obj, by_object.get(obj.path, ()))
        for wheel in report.wheels:
            total = sum(v.size for v in wheel.vendored)
            out.append(Line(((wheel.path, "bold"), (f"  (wheel: {len(wheel.vendored)} vendored "
                                                    f"libraries, {human_size(total)})", ""))))
            for line, style in (*_wheel_lines(wheel), *_accepted(by_object.get(wheel.path, ()))):
                self._line(out, line, style)
            out.append(Line(()))
        if report.objects and len(report.objects) > 1:
            out.append(Line(((_totals(report.objects), "bold"),), fold=True))
        for params in report.loader:
            self._line(out, _assumed(params), "dim")
        return out

    def _object(self, out: list[Block], obj: ObjectReport, accepted: Iterable[Finding] = ()) -> None:
        kind = "Python extension module" if obj.is_python_extension else "ELF object"
        out.append(Line(((obj.path, "bold"), (f"  ({obj.machine}, {obj.elf_class}-bit {kind}, {obj.libc})", ""))))
        if not obj.needed:
            for w in obj.warnings:
                out.append(Line(((f"  {w}", ""),), fold=True))
            for f in obj.rpath_findings:
                self._line(out, f"  {f.tag} {f.entry!r}: {f.kind.value}: {f.message}", "yellow")
            out.append(Line(()))
            return

        def width(header: str, cells: list[str]) -> int:
            return max([len(header), *map(len, cells)])

        widths = [
            width("needed", [n.name for n in obj.needed]),
            width("status", [n.status.value for n in obj.needed]),
            width("category", [n.category.value for n in obj.needed]),
            width("found via", [n.found_via.value if n.found_via else "-" for n in obj.needed]),
            5,
        ]
        # rich drops narrow columns when a long one must shrink: give the last column exactly what is left
        rest = max(8, self.width - sum(widths) - 2 * len(widths))
        columns = (*(Column(h, w) for h, w in zip(("needed", "status", "category", "found via"), widths)),
                   Column("binds", widths[-1], right=True), Column("examples / evidence", rest))
        rows = tuple(
            ((n.name, ""), (n.status.value, STATUS_STYLE[n.status]),
             (n.category.value, CATEGORY_STYLE.get(n.category, "")),
             (n.found_via.value if n.found_via else "-", ""), (str(len(n.bindings)), ""), (_evidence(n), ""))
            for n in obj.needed)
        out.append(Table(columns, rows))
        for line, style in (*_notes(obj), *_accepted(accepted)):
            self._line(out, "  " + line, style)
        self._line(out, "  " + _summary(obj), "bold")
        out.append(Line(()))

    def _line(self, out: list[Block], line: str, style: str) -> None:
        """Prose wraps under its own indentation; code lines (style "code") are never wrapped."""
        if style == "code":
            out.append(Line(((line, ""),)))
            return
        stripped = line.lstrip(" ")
        indent = " " * (len(line) - len(stripped))
        width = max(40, self.width - len(indent))
        if fits_one_line(stripped, width):  # most lines: what textwrap would give, without its regexes
            out.append(Line(((line, style),)))
            return
        for chunk in textwrap.wrap(stripped, width=width, break_on_hyphens=False, break_long_words=False) or [""]:
            out.append(Line(((indent + chunk, style),)))


def fits_one_line(text: str, width: int) -> bool:
    """Whether ``textwrap.wrap(text, width)`` is ``[text]``: it fits, and there is no whitespace to drop or replace.

    Printable text has no tab, newline or other whitespace but the space (textwrap's set is ASCII).
    """
    return 0 < len(text) <= width and text.isprintable() and not text.startswith(" ") and not text.endswith(" ")


_NARROW = dict.fromkeys(map(ord, ELLIPSIS + "\u2014\u2013"))  # the report's own punctuation: one cell each


def _plain_safe(text: str) -> bool:
    """Text each character of which is printable and one terminal cell wide, as rich counts them."""
    if not text.isascii():
        text = text.translate(_NARROW)
    return text.isascii() and text.isprintable()


def _draw(blocks: list[Block], color: bool, width: int) -> str:
    """Each block drawn plainly where that gives rich's characters, by rich otherwise."""
    out: list[str] = []
    rich: list[Block] = []  # blocks waiting for rich, drawn together in order
    for block in blocks:
        plain = None if color else _draw_plain(block, width)
        if plain is None:
            rich.append(block)
            continue
        if rich:
            out.append(_draw_rich(rich, color, width))
            rich.clear()
        out.append(plain)
    if rich:
        out.append(_draw_rich(rich, color, width))
    return "".join(out)


def _draw_plain(block: Block, width: int) -> str | None:
    """The block as rich draws it without colour, or None where only rich knows how.

    Rich counts terminal cells, strips control characters and shrinks tables wider
    than the page: any of these hands the block back to rich.
    """
    if isinstance(block, Line):
        text = "".join(t for t, _ in block.spans)
        if not _plain_safe(text) or block.fold and len(text) > width:
            return None
        return text + "\n"
    columns = block.columns
    if sum(c.width for c in columns) + 2 * (len(columns) - 1) > width:
        return None
    out = []
    for row in (tuple((c.header, "") for c in columns), *block.rows):
        cells = []
        for column, (text, _) in zip(columns, row):
            if not _plain_safe(text):
                return None
            if len(text) > column.width:
                text = text[: column.width - 1] + ELLIPSIS
            cells.append(text.rjust(column.width) if column.right else text.ljust(column.width))
        out.append("  ".join(cells) + "\n")
    return "".join(out)


def _draw_rich(blocks: list[Block], color: bool, width: int) -> str:
    import io

    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=color, no_color=not color, color_system="standard" if color else None,
                      width=width, markup=False, highlight=False, emoji=False)
    for block in blocks:
        if isinstance(block, Line):
            if block.spans:
                console.print(Text.assemble(*block.spans), soft_wrap=not block.fold)
            else:
                console.print()
            continue
        table = RichTable(box=None, pad_edge=False, show_edge=False, header_style="bold")
        for column in block.columns:
            table.add_column(column.header, no_wrap=True, width=column.width,
                             justify="right" if column.right else "left", overflow="ellipsis")
        for row in block.rows:
            table.add_row(*(Text(text, style=style) if style else text for text, style in row))
        console.print(table)
    return buf.getvalue()


def _evidence(n: NeededEntry) -> str:
    if n.status is Status.NOT_ON_HOST:
        return "not judged on this host (see below)"
    if n.status is Status.MISSING:
        return "not found" + (f"; candidate: {n.candidates[0]}" if n.candidates else "")
    if n.status is Status.UNUSED and n.loads_providers:
        return "nothing binds to it, but it alone loads " + ", ".join(n.loads_providers) + ", which does"
    if n.status is Status.UNUSED:
        extra = f"drags in {len(n.drags)} more ({human_size(n.drags_bytes)})" if n.drags else ""
        return "nothing binds to it" + (f"; {extra}" if extra else "")
    names = [_shorten(demangle(b.symbol)) for b in n.bindings[:EXAMPLES]]
    more = f" (+{len(n.bindings) - EXAMPLES} more)" if len(n.bindings) > EXAMPLES else ""
    return ", ".join(names) + more


def _shorten(name: str) -> str:
    return name if len(name) <= EXAMPLE_WIDTH else name[: EXAMPLE_WIDTH - 1] + ELLIPSIS


def _notes(obj: ObjectReport) -> Iterable[tuple[str, str]]:
    for n in obj.needed:
        if n.status is Status.INCIDENTAL:
            yield (f"{n.name} is incidental: every symbol it satisfies belongs to another library:", "yellow")
            for b in n.bindings:
                yield (f"    {demangle(b.symbol)}  -> belongs to {b.owner}", "")
            yield ("    --as-needed cannot drop it (it does satisfy a reference); drop the library from the link, "
                   "or link the owner before it.", "")
        if n.status in (Status.MISSING, Status.NOT_ON_HOST):
            what = "is missing" if n.status is Status.MISSING else "is not on this host"
            if n.searched or n.status is Status.MISSING:
                yield (f"{n.name} {what}: the loader searched, in order:", "magenta")
            for s in n.searched:
                yield (f"    {s.directory or '.'}  ({s.source})", "")
            for c in n.candidates:
                yield (f"    a file of that name exists at {c}", "")
        if n.found_via is not None and n.found_via.value == "python_package":
            yield (f"{n.name} is found only inside the installed Python package '{n.python_package}': "
                   f"it loads only because '{n.python_package}' is imported first.", "")
        if n.uncertain:
            yield (f"{n.name}: status uncertain: {n.uncertain}", "yellow")
        if n.loads_providers:
            yield (f"{n.name} binds nothing itself but is the only way {', '.join(n.loads_providers)} gets loaded, "
                   "and the object binds symbols there: link that library directly before dropping this one.", "yellow")
        if n.drags and n.status is not Status.USED:
            yield (f"{n.name} drags in {plural(len(n.drags), 'more library', 'more libraries')} "
                   f"({human_size(n.drags_bytes)}): "
                   + ", ".join(p.name for p in n.drags), "")
    categories = {n.category for n in obj.needed if n.status in (Status.UNUSED, Status.INCIDENTAL)}
    for category in sorted(categories, key=lambda c: c.value):
        note = cost_note(category)
        if note:
            yield (f"[{category.value}] {note}", "dim")
    if obj.host_provided:
        yield (f"{plural(len(obj.host_provided), 'Python C API symbol')} "
               f"{verb(len(obj.host_provided), 'comes', 'come')} from the interpreter that imports the module.", "dim")
    if obj.unresolved:
        yield (f"{plural(len(obj.unresolved), 'undefined symbol')} nothing in scope defines: "
               + ", ".join(demangle(s) for s in obj.unresolved[:5]) + (" ..." if len(obj.unresolved) > 5 else ""), "red")
    for f in obj.rpath_findings:
        yield (f"{f.tag} {f.entry!r}: {f.kind.value}: {f.message}", "yellow")
    for w in obj.warnings:
        yield (f"warning: {w}", "yellow")
    for s in obj.suggestions:
        yield (f"fix: {s.title}", "bold cyan")
        for line in s.text.splitlines():
            yield (f"    {line}", "code")
        if s.removes and s.saves_libraries:
            yield (f"    removes {', '.join(s.removes)}: {plural(s.saves_libraries, 'library', 'libraries')} "
                   f"({human_size(s.saves_bytes)}) no longer loaded", "green")
        elif s.removes:
            yield (f"    removes {', '.join(s.removes)}: saves nothing by itself (other dependencies still load "
                   "what it loads)", "")
        if s.caution:
            yield (f"    caution: {s.caution}", "yellow")


def _accepted(findings: Iterable[Finding]) -> Iterable[tuple[str, str]]:
    """Findings the allow-list or the baseline accepts: shown, with why they do not fail the gate."""
    for f in findings:
        if f.allowed is not None:
            yield (f"allowed: {demangle(f.name)} is {f.kind.value} ({f.allowed})", "dim")
        elif f.baselined:
            yield (f"baselined: {demangle(f.name)} is {f.kind.value} (recorded in the baseline)", "dim")


VENDORED_STYLE = {VendoredStatus.NEEDED: "green", VendoredStatus.UNNEEDED: "bold red", VendoredStatus.UNLOADED: "yellow"}


def _wheel_lines(wheel: WheelReport) -> Iterable[tuple[str, str]]:
    """A short section per wheel: the libraries it could shed, then a one-line total."""
    counts = {s: [v for v in wheel.vendored if v.status is s] for s in VendoredStatus}
    for v in counts[VendoredStatus.UNNEEDED] + counts[VendoredStatus.UNLOADED]:
        yield (f"  {v.status.value:<9} {human_size(v.size):>9}  {v.name}", VENDORED_STYLE[v.status])
        if v.status is VendoredStatus.UNLOADED:
            yield ("      no member loads it: drop it unless Python code loads it (ctypes, dlopen)", "")
            continue
        yield ("      loaded only for unused or incidental dependencies of " + _some(v.loaded_by), "")
        if v.unused_by:
            yield ("      linked but not used by " + _some(v.unused_by), "")
    yield (f"  {len(counts[VendoredStatus.NEEDED])} needed, {len(counts[VendoredStatus.UNNEEDED])} unneeded "
           f"({human_size(wheel.unneeded_bytes)} could be shed), {len(counts[VendoredStatus.UNLOADED])} unloaded "
           f"({human_size(wheel.unloaded_bytes)}).", "bold")


def _some(names: tuple[str, ...], shown: int = 2) -> str:
    """A few names and how many more: 25 h5py extensions load libaec, two make the point."""
    if len(names) <= shown + 1:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f" and {len(names) - shown} more"


def _summary(obj: ObjectReport) -> str:
    counts = {s: len(obj.entries(s)) for s in Status}
    loaded = sum(lib.size for lib in obj.loaded)
    unneeded = [lib for lib in obj.loaded if lib.only_for_unneeded]
    text = (f"{len(obj.needed)} needed: {counts[Status.USED]} used, {counts[Status.INCIDENTAL]} incidental, "
            f"{counts[Status.UNUSED]} unused, {counts[Status.MISSING]} missing"
            + (f", {counts[Status.NOT_ON_HOST]} not on this host" if counts[Status.NOT_ON_HOST] else "")
            + (f" (and {len(obj.missing_transitive)} missing further down)" if obj.missing_transitive else "") + "; "
            f"{plural(len(obj.loaded), 'library', 'libraries')} loaded ({human_size(loaded)})")
    if unneeded:
        text += f", {len(unneeded)} of them ({human_size(sum(lib.size for lib in unneeded))}) only for unused or incidental dependencies"
    return text + "."


def _assumed(p: LoaderParams) -> str:
    """One line saying what the emulated ld.so took for granted, and from where."""
    def src(value: str, source: str) -> str:
        return f"{value} ({source})"

    levels = ", ".join(p.levels) or "none"
    hwcaps = "+".join(p.hwcaps) or "none"
    glibc = f"{p.glibc[0]}.{p.glibc[1]}" if p.glibc else "unknown"
    text = (f"Loader assumed for {p.machine}: platform {src(p.platform or 'none', p.platform_source)}, "
            f"hwcaps {src(hwcaps, p.hwcaps_source)}, glibc-hwcaps {src(levels, p.levels_source)}, "
            f"glibc {src(glibc, p.glibc_source) if p.glibc else glibc}.")  # unknown: the warning says why
    return text + "".join(f" Warning: {w}." for w in p.warnings)


def _totals(objects: Iterable[ObjectReport]) -> str:
    objs = list(objects)
    c = {s: sum(len(o.entries(s)) for o in objs) for s in Status}
    return (f"{plural(len(objs), 'object')}: {c[Status.USED]} used, {c[Status.INCIDENTAL]} incidental, "
            f"{c[Status.UNUSED]} unused, {c[Status.MISSING]} missing dependencies"
            + (f", {c[Status.NOT_ON_HOST]} not on this host" if c[Status.NOT_ON_HOST] else "")
            + (f" ({further} missing further down)" if (further := sum(len(o.missing_transitive) for o in objs))
               else "") + ".")
