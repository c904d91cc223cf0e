"""``--format dot`` and ``--format mermaid``: edges from needed_by, fill by status, border by category."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from linkaudit.formats.graph import CATEGORY_BORDER, STATUS_FILL, DotFormat, MermaidFormat, build_graph
from linkaudit.report import Category, Report

from .conftest import EXT


def _labels(graph) -> dict[str, str]:
    return {n.id: n.label for n in graph.nodes}


def test_graph_edges_follow_needed_by(sample_report: Report) -> None:
    g = build_graph(sample_report.objects[0], 0)
    label = _labels(g)
    edges = {(label[a], label[b]) for a, b in g.edges}
    assert edges == {
        (EXT, "libc10.so"), (EXT, "libtorch.so"), (EXT, "libgomp.so.1"),
        ("libtorch_cpu.so", "libgomp.so.1"),  # libgomp is needed by the object and by libtorch_cpu
        ("libtorch.so", "libtorch_cpu.so"),
        (EXT, "libmissing.so.2"),
    }


def test_graph_statuses(sample_report: Report) -> None:
    g = build_graph(sample_report.objects[0], 0)
    status = {n.label: n.status for n in g.nodes}
    assert status == {EXT: "object", "libc10.so": "used", "libtorch.so": "unused", "libgomp.so.1": "incidental",
                       "libtorch_cpu.so": "dragged", "libmissing.so.2": "missing"}


def test_dot_colours(sample_report: Report) -> None:
    text = DotFormat().format(sample_report)
    assert text.startswith("digraph linkaudit {")
    line = next(x for x in text.splitlines() if 'label="libtorch.so"' in x)
    assert f'fillcolor="{STATUS_FILL["unused"]}"' in line
    assert f'color="{CATEGORY_BORDER[Category.TORCH]}"' in line
    line = next(x for x in text.splitlines() if 'label="libgomp.so.1"' in x)
    assert f'fillcolor="{STATUS_FILL["incidental"]}"' in line
    assert f'color="{CATEGORY_BORDER[Category.OPENMP]}"' in line
    assert text.count("subgraph cluster_") == 2  # one per audited object


def test_dot_quotes_labels() -> None:
    from dataclasses import replace

    from .conftest import make_sample_report

    report = make_sample_report()
    report = replace(report, objects=(replace(report.objects[0], path='we"ird\\path.so'),))
    assert 'label="we\\"ird\\\\path.so"' in DotFormat().format(report)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_dot_renders(sample_report: Report) -> None:
    proc = subprocess.run(["dot", "-Tsvg"], input=DotFormat().format(sample_report), capture_output=True, text=True,
                          timeout=20, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "<svg" in proc.stdout


def test_mermaid(sample_report: Report) -> None:
    text = MermaidFormat().format(sample_report)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    for status in ("used", "unused", "incidental", "missing"):
        assert any(x.strip().startswith(f"classDef {status} fill:") for x in lines)
    assert re.search(r'\bo0_1\["libtorch\.so"\]:::unused$', text, re.M)
    assert re.search(r'\bo0_0\["libc10\.so"\]:::used$', text, re.M)
    assert "o0 --> o0_1" in text
    assert text.count("subgraph ") == 2


def test_mermaid_escapes_quotes() -> None:
    from dataclasses import replace

    from .conftest import make_sample_report

    report = make_sample_report()
    report = replace(report, objects=(replace(report.objects[0], path='a"b<c>.so'),))
    assert 'o0["a#quot;b#lt;c#gt;.so"]:::object' in MermaidFormat().format(report)


def test_empty_report(empty_report: Report) -> None:
    assert DotFormat().format(empty_report).strip().endswith("}")
    assert MermaidFormat().format(empty_report).startswith("flowchart LR")
