"""``--format ldd``: the familiar ``ldd`` listing, annotated with evidence.

Every loaded library, direct and transitive, in load order; unused and
incidental direct dependencies, and every library loaded only on their
behalf, carry ``# <--- NOT USED`` — the classic hand-annotated listing.
"""

from __future__ import annotations

from linkaudit.formats.interface import Format
from linkaudit.report import FoundVia, ObjectReport, Report, Status

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
    """Libraries that did not load, in the place ld.so's trace mode lists them.

    ld.so maps breadth-first and, tracing, keeps a placeholder for a library it cannot load where it
    would have mapped it: a direct dependency before the next direct one that loaded (or after the
    last direct one); a library a dependency needs after every library mapped before it.
    """
    after_direct = max((k + 1 for k, lib in enumerate(obj.loaded) if lib.depth == 1), default=0)
    placed: list[tuple[int, int, int, str]] = []  # (line index to go before, direct first, order, text)
    for i, n in enumerate(obj.needed):
        if n.status is Status.MISSING:
            text = f"\t{n.name} => not found"
        elif n.status is Status.NOT_ON_HOST:
            text = f"\t{n.name} => not judged on this host (musl)"
        else:
            continue
        later = (line_of.get(str(m.path)) for m in obj.needed[i + 1:] if m.path is not None)
        at = next((k for k in later if k is not None), after_direct)
        placed.append((min(at, after_direct), 0, i, text))
    for i, (k, name) in enumerate(_placeholders(obj)):
        at = line_of.get(str(obj.loaded[k].path), len(lines)) if k < len(obj.loaded) else len(lines)
        placed.append((at, 1, i, f"\t{name} => not found"))
    for at, _, _, text in sorted(placed, reverse=True):
        lines.insert(at, text)
    return lines


def _placeholders(obj: ObjectReport) -> list[tuple[int, str]]:
    """(index into ``obj.loaded`` it goes before, name) of each placeholder a loaded library's DT_NEEDED makes.

    Replays the breadth-first walk over the libraries' own DT_NEEDED entries: a placeholder follows
    every library mapped before it.  ld.so never matches a request against a placeholder, so a name
    asked for again gets another; and it lists itself (mapped from the start) right after the
    library before it in the search list, so a placeholder made in between follows ld.so's line.
    """
    missing = {m.name for m in obj.missing_transitive} | {n.name for n in obj.needed if n.status is Status.MISSING}
    loaded = {str(lib.path): k for k, lib in enumerate(obj.loaded)}  # (not the audited object, should one need it)
    mapped = {str(n.path) for n in obj.needed} & loaded.keys()
    out: list[tuple[int, str]] = []
    for lib in obj.loaded:
        for dep in lib.needs:
            if dep.path in loaded:
                mapped.add(dep.path)
            elif dep.path is None and dep.name in missing:
                at = len(mapped)
                while at < len(obj.loaded) and obj.loaded[at].found_via is FoundVia.LOADED:
                    at += 1
                out.append((at, dep.name))
    return out
