"""``--format tree``: the load tree, libtree-style, with how each library was found.

Each library is nested under the object that first loads it, breadth-first
as ld.so maps them (``_dl_map_object_deps``); a library an object needs but
that was loaded first elsewhere is named on that object's line as
``(+libc.so.6, ...)`` and not expanded again (libtree's compactness).  Direct
dependencies carry their status; a library the loader does not find carries
the directories it searched.  Colours only on a terminal (the CLI turns them
off under NO_COLOR or a pipe)::

    pybind_torch/_C.so
    ├── libc10.so [python_package] incidental
    │   ├── libdl.so.2 [ld.so.cache] (+libc.so.6)
    │   ├── libm.so.6 [ld.so.cache] (+libc.so.6, ld-linux-x86-64.so.2)
    ...
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from linkaudit.formats.interface import Format
from linkaudit.report import FoundVia, ObjectReport, Report, SearchStep, Status

BRANCH, LAST, PIPE, SPACE = "├── ", "└── ", "│   ", "    "
# SGR codes: a tree is a few coloured words, not worth rich (which the machine formats never import either)
BOLD, DIM, RED, GREEN, YELLOW, MAGENTA = "1", "2", "31", "32", "33", "35"
STATUS_STYLE = {
    Status.USED: GREEN,
    Status.UNUSED: BOLD + ";" + RED,
    Status.INCIDENTAL: YELLOW,
    Status.MISSING: BOLD + ";" + MAGENTA,
}


@dataclass(frozen=True)
class Edge:
    """One DT_NEEDED entry as the tree shows it."""

    name: str
    path: str | None  # None: not found
    found_via: FoundVia | None
    status: Status | None  # direct dependencies only
    searched: tuple[SearchStep, ...] = ()


def edges(obj: ObjectReport) -> dict[str, list[Edge]]:
    """Each object's DT_NEEDED entries as resolved, keyed by path; the audited object under its own path."""
    out: dict[str, list[Edge]] = {
        obj.path: [Edge(n.name, str(n.path) if n.path is not None else None, n.found_via, n.status, n.searched)
                   for n in obj.needed]
    }
    via = {str(lib.path): lib.found_via for lib in obj.loaded}
    for lib in obj.loaded:
        out[str(lib.path)] = [Edge(d.name, d.path, via.get(d.path) if d.path else None, None, d.searched)
                              for d in lib.needs]
    return out


def placement(obj: ObjectReport, graph: dict[str, list[Edge]]) -> dict[str, tuple[str, int]]:
    """Library path -> (the object that first loads it, index of that DT_NEEDED entry), breadth-first."""
    placed: dict[str, tuple[str, int]] = {}
    seen = {obj.path}
    queue = deque([obj.path])
    while queue:
        parent = queue.popleft()
        for i, edge in enumerate(graph.get(parent, ())):
            if edge.path is None or edge.path in seen:
                continue
            seen.add(edge.path)
            placed[edge.path] = (parent, i)
            queue.append(edge.path)
    return placed


class Text:
    """One line being built: pieces of text, each with an optional SGR style."""

    def __init__(self, text: str = "", style: str = "") -> None:
        self.parts: list[tuple[str, str]] = [(text, style)] if text else []

    def append(self, text: str, style: str = "") -> None:
        self.parts.append((text, style))

    def render(self, color: bool) -> str:
        if not color:
            return "".join(t for t, _ in self.parts)
        return "".join(f"\x1b[{s}m{t}\x1b[0m" if s else t for t, s in self.parts)


class TreeFormat(Format):
    def __init__(self, color: bool = False, width: int = 100) -> None:
        self.color = color
        self.width = width  # lines are never wrapped: a tree is pasted, not read in a narrow pane

    def format(self, report: Report) -> str:
        out: list[str] = []
        for k, obj in enumerate(report.objects):
            if k:
                out.append("")
            out.extend(line.render(self.color).rstrip(" ") for line in self.lines(obj))
        return "".join(line + "\n" for line in out)

    def lines(self, obj: ObjectReport) -> Iterator[Text]:
        kind = "Python extension" if obj.is_python_extension else obj.machine
        head = Text(obj.path, BOLD)
        head.append(f"  ({kind})", DIM)
        yield head
        if not obj.needed:
            for w in obj.warnings:
                yield Text(f"    {w}", DIM)
            return
        graph = edges(obj)
        placed = placement(obj, graph)
        printed: set[str] = {obj.path}
        yield from self._children(obj.path, "", graph, placed, printed)

    def _children(self, parent: str, prefix: str, graph: dict[str, list[Edge]],
                  placed: dict[str, tuple[str, int]], printed: set[str], top: bool = True) -> Iterator[Text]:
        """The entries ``parent`` loads first, one line each; below the top, entries loaded earlier
        elsewhere are named on their parent's line (``(+libc.so.6)``) instead of a line of their own."""
        items = [(i, e) for i, e in enumerate(graph.get(parent, []))
                 if top or e.path is None or placed.get(e.path) == (parent, i)]
        for k, (i, edge) in enumerate(items):
            last = k == len(items) - 1
            line = Text(prefix + (LAST if last else BRANCH))
            deeper = prefix + (SPACE if last else PIPE)
            if edge.path is None:
                # a direct dependency says its status ("missing", "not_on_host"); a transitive one, what happened
                said = edge.status.value if edge.status is not None else "not found"
                line.append(f"{edge.name} {said}", BOLD + ";" + MAGENTA)
                yield line
                if edge.searched:
                    yield Text(deeper + "searched: " + _searched(edge.searched), DIM)
                continue
            line.append(edge.name, BOLD if edge.status is not None else "")
            if edge.found_via is not None:
                line.append(f" [{edge.found_via.value}]", DIM)
            if edge.status is not None:
                line.append(f" {edge.status.value}", STATUS_STYLE[edge.status])
            if placed.get(edge.path) != (parent, i):  # a direct dependency named twice, or the object itself
                line.append(" (see above)" if edge.path in printed else " (see below)", DIM)
                yield line
                continue
            printed.add(edge.path)
            refs = [e.name for j, e in enumerate(graph.get(edge.path, []))
                    if e.path is not None and placed.get(e.path) != (edge.path, j)]
            if refs:
                line.append(" (+" + ", ".join(dict.fromkeys(refs)) + ")", DIM)
            yield line
            yield from self._children(edge.path, deeper, graph, placed, printed, top=False)


def _searched(steps: tuple[SearchStep, ...]) -> str:
    """Consecutive directories of one rule joined: ``runpath: /a:/b; ld.so.cache (no entry); default: /lib:/usr/lib``."""
    groups: list[tuple[str, list[str]]] = []
    for step in steps:
        label = step.via.value
        if step.via is FoundVia.CACHE:
            groups.append((label + (" (no entry)" if "no entry" in step.source else f" -> {step.directory}"), []))
            continue
        if groups and groups[-1][0] == label:
            groups[-1][1].append(step.directory or ".")
        else:
            groups.append((label, [step.directory or "."]))
    return "; ".join(f"{label}: {':'.join(dirs)}" if dirs else label for label, dirs in groups)
