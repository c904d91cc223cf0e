"""``--format ldd``: the familiar ``ldd`` listing, annotated with evidence.

Every loaded library, direct and transitive, in load order; unused and
incidental direct dependencies, and every library loaded only on their
behalf, carry ``# <--- NOT USED`` — the classic hand-annotated listing.
"""

from __future__ import annotations

from linkaudit.formats.interface import Format
from linkaudit.report import ObjectReport, Report, Status

MARK = "# <--- NOT USED"


class LddFormat(Format):
    def format(self, report: Report) -> str:
        out: list[str] = []
        for obj in report.objects:
            out.append(f"{obj.path}:")
            out.extend(_lines(obj))
        return "\n".join(out) + ("\n" if out else "")


def _lines(obj: ObjectReport) -> list[str]:
    if not obj.needed:
        return ["\tstatically linked" if obj.warnings else "\t(no dependencies)"]
    status_by_path = {}
    for n in obj.needed:
        if n.path is not None:
            status_by_path.setdefault(str(n.path), n.status)
    lines = []
    line_of: dict[str, int] = {}  # path -> index of its line
    for lib in obj.loaded:
        status = status_by_path.get(str(lib.path))
        mark = ""
        if lib.only_for_unneeded or status in (Status.UNUSED, Status.INCIDENTAL):
            why = " (incidental)" if status is Status.INCIDENTAL else ""
            mark = f" {MARK}{why}"
        line_of.setdefault(str(lib.path), len(lines))
        if lib.name.startswith("/"):
            lines.append(f"\t{lib.path}{mark}")
        else:
            lines.append(f"\t{lib.name} => {lib.path}{mark}")
    return _with_unloaded(obj, lines, line_of)


def _with_unloaded(obj: ObjectReport, lines: list[str], line_of: dict[str, int]) -> list[str]:
    """Direct dependencies that did not load, in their DT_NEEDED place, as ldd lists them.

    ld.so in trace mode keeps a placeholder for each in load order: before the next direct
    dependency that loaded, or after the last direct one.
    """
    after_direct = max((k + 1 for k, lib in enumerate(obj.loaded) if lib.depth == 1), default=0)
    placed: list[tuple[int, int, str]] = []  # (line index to go before, DT_NEEDED index, text)
    for i, n in enumerate(obj.needed):
        if n.status is Status.MISSING:
            text = f"\t{n.name} => not found"
        elif n.status is Status.NOT_ON_HOST:
            text = f"\t{n.name} => not judged on this host (musl)"
        else:
            continue
        later = (line_of.get(str(m.path)) for m in obj.needed[i + 1:] if m.path is not None)
        at = next((k for k in later if k is not None), after_direct)
        placed.append((min(at, after_direct), i, text))
    for at, _, text in sorted(placed, reverse=True):
        lines.insert(at, text)
    return lines
