"""``--format dot`` and ``--format mermaid``: the load graph of each audited object.

Edges go from each object to what its DT_NEEDED entries bring in
(:attr:`LoadedLibrary.needed_by`).  Node fill says the status of a direct
dependency (used, unused, incidental, missing) or, for a transitive library,
whether it is loaded only on behalf of unused/incidental dependencies
("dragged"); the border says the library category (torch, cuda, openmp ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from linkaudit.formats.interface import Format
from linkaudit.report import Category, ObjectReport, Report, Status

#: status -> fill colour
STATUS_FILL = {
    "object": "#dbe9f6",
    "used": "#b7e4b0",
    "unused": "#f4a3a3",
    "incidental": "#ffe08a",
    "missing": "#e2b3f0",
    "not_on_host": "#f0e6f6",
    "dragged": "#fbd3d3",
    "transitive": "#eeeeee",
}
#: category -> border colour
CATEGORY_BORDER = {
    Category.TORCH: "#ee4c2c",
    Category.CUDA: "#76b900",
    Category.OPENMP: "#0097a7",
    Category.GLIBC_STUB: "#9e9e9e",
    Category.PYTHON: "#3776ab",
    Category.CXX_RUNTIME: "#7b1fa2",
    Category.C_RUNTIME: "#212121",
    Category.OTHER: "#616161",
}


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    status: str  # a key of STATUS_FILL
    category: Category | None  # None for the audited object


@dataclass(frozen=True)
class Graph:
    """The graph of one audited object: its nodes and (source id, target id) edges."""

    object: ObjectReport
    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]


def build_graph(obj: ObjectReport, index: int) -> Graph:
    prefix = f"o{index}"
    root = Node(prefix, obj.path, "object", None)
    nodes = [root]
    edges: list[tuple[str, str]] = []
    direct = {str(n.path): n for n in obj.needed if n.path is not None}
    by_path: dict[str, str] = {}
    for i, lib in enumerate(obj.loaded):
        by_path.setdefault(str(lib.path), f"{prefix}_{i}")
    for i, lib in enumerate(obj.loaded):
        node_id = f"{prefix}_{i}"
        if by_path[str(lib.path)] != node_id:
            continue  # the same file loaded twice under two names: one node
        entry = direct.get(str(lib.path)) if lib.depth == 1 else None
        if entry is not None:
            status = entry.status.value
        else:
            status = "dragged" if lib.only_for_unneeded else "transitive"
        nodes.append(Node(node_id, lib.soname or lib.name, status, lib.category))
        for parent in lib.needed_by or (obj.path,):
            edge = (by_path.get(parent, prefix), node_id)
            if edge not in edges and edge[0] != node_id:
                edges.append(edge)
    for j, n in enumerate(obj.needed):
        if n.status in (Status.MISSING, Status.NOT_ON_HOST):
            node_id = f"{prefix}_m{j}"
            nodes.append(Node(node_id, n.name, n.status.value, n.category))
            edges.append((prefix, node_id))
    return Graph(obj, tuple(nodes), tuple(edges))


def graphs(report: Report) -> Iterator[Graph]:
    for i, obj in enumerate(report.objects):
        yield build_graph(obj, i)


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class DotFormat(Format):
    """A Graphviz ``digraph`` with one cluster per audited object; render with ``dot -Tsvg``."""

    def format(self, report: Report) -> str:
        out = ["digraph linkaudit {", "  rankdir=LR;",
               '  node [shape=box, style="filled,rounded", penwidth=2, fontname="Helvetica"];']
        for g in graphs(report):
            out.append(f"  subgraph cluster_{g.nodes[0].id} {{")
            out.append(f"    label={_dot_quote(g.object.path)};")
            for node in g.nodes:
                attrs = [f"label={_dot_quote(node.label)}", f'fillcolor="{STATUS_FILL[node.status]}"',
                         f'tooltip={_dot_quote(node.status)}']
                if node.category is not None:
                    attrs.append(f'color="{CATEGORY_BORDER[node.category]}"')
                if node.status in ("missing", "not_on_host"):
                    attrs.append('style="filled,rounded,dashed"')
                if node.status == "object":
                    attrs.append("shape=component")
                out.append(f"    {node.id} [{', '.join(attrs)}];")
            for a, b in g.edges:
                out.append(f"    {a} -> {b};")
            out.append("  }")
        out.append("}")
        return "\n".join(out) + "\n"


def _mermaid_label(text: str) -> str:
    # Mermaid entity codes keep quotes and brackets from ending the label
    escaped = (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;"))
    return f'"{escaped}"'


class MermaidFormat(Format):
    """A Mermaid ``flowchart`` (renders in GitHub Markdown), one subgraph per object, a classDef per status."""

    def format(self, report: Report) -> str:
        out = ["flowchart LR"]
        for status, fill in STATUS_FILL.items():
            out.append(f"  classDef {status} fill:{fill},stroke:#333,color:#000")
        for g in graphs(report):
            out.append(f"  subgraph {g.nodes[0].id}_graph[{_mermaid_label(g.object.path)}]")
            for node in g.nodes:
                out.append(f"    {node.id}[{_mermaid_label(node.label)}]:::{node.status}")
            for a, b in g.edges:
                out.append(f"    {a} --> {b}")
            out.append("  end")
            for node in g.nodes:
                if node.category is not None:
                    out.append(f"  style {node.id} stroke:{CATEGORY_BORDER[node.category]},stroke-width:3px")
        return "\n".join(out) + "\n"
