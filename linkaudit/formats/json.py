"""``--format json``: the machine-readable contract (schema in ``linkaudit/schemas``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from json.encoder import encode_basestring_ascii as _string  # what json.dumps writes a str as (ensure_ascii)
from pathlib import Path
from typing import Any

from linkaudit.formats.interface import Format
from linkaudit.gate import gate_of
from linkaudit.hostparams import LoaderParams
from linkaudit.report import (
    SCHEMA_VERSION,
    Binding,
    Finding,
    Gate,
    NeededEntry,
    ObjectReport,
    Report,
    SearchStep,
    Status,
    VendoredStatus,
    WheelReport,
)


def report_to_dict(report: Report) -> dict[str, Any]:
    """The document as plain data: what ``--format json`` writes, decoded."""
    data = _document(report)
    data["objects"] = [json.loads(o) for o in data["objects"]]
    return data


def _document(report: Report) -> dict[str, Any]:
    """The document: top-level keys in order; each object already encoded (see :class:`_Encoded`)."""
    gate = gate_of(report)
    by_object: dict[str, list[Finding]] = {}
    for f in gate.findings:
        by_object.setdefault(f.object, []).append(f)
    seen: dict[int, tuple[str, str]] = {}
    return {
        "schema": SCHEMA_VERSION,
        "gate": _gate(gate),
        "objects": [_object(o, by_object.get(o.path, ()), seen) for o in report.objects],
        "wheels": [_wheel(w, by_object.get(w.path, ())) for w in report.wheels],
        "errors": [{"path": e.path, "message": e.message} for e in report.errors],
        "loader": [_loader(p) for p in report.loader],
    }


class _Encoded(str):
    """JSON text already encoded exactly as ``json.dumps`` would encode the value: written as is.

    An object's bindings are most of the document and the same few thousand
    records recur across objects (:mod:`linkaudit.objectreport` shares them):
    each distinct one is encoded once and its text spliced in, the rest of an
    object encoded by :mod:`json` around it with the same separators.
    """


def _loader(p: LoaderParams) -> dict[str, Any]:
    return {
        "abi": p.machine,
        "platform": p.platform,
        "platform_source": p.platform_source,
        "hwcaps": list(p.hwcaps),
        "hwcaps_source": p.hwcaps_source,
        "glibc_hwcaps": list(p.levels),
        "glibc_hwcaps_source": p.levels_source,
        "glibc_version": f"{p.glibc[0]}.{p.glibc[1]}" if p.glibc else None,
        "glibc_version_source": p.glibc_source,
        "subdirectories": list(p.subdirs),
        "warnings": list(p.warnings),
    }


def _gate(gate: Gate) -> dict[str, Any]:
    """The gate's decision: what the exit code is and which findings make it so."""
    return {
        "exit_code": gate.exit_code,
        "passed": gate.exit_code == 0,
        "fail_on": [k.value for k in gate.fail_on],
        "failing": [{"object": f.object, "kind": f.kind.value, "name": f.name} for f in gate.failing],
        "no_objects": gate.no_objects,
    }


def _finding(f: Finding) -> dict[str, Any]:
    return {"kind": f.kind.value, "name": f.name, "gated": f.gated, "fails": f.fails,
            "allowed": f.allowed, "baselined": f.baselined}


def _wheel(w: WheelReport, findings: tuple[Finding, ...] = ()) -> dict[str, Any]:
    return {
        "path": w.path,
        "vendored": [
            {"name": v.name, "size": v.size, "compressed_size": v.compressed_size, "status": v.status.value,
             "loaded_by": list(v.loaded_by), "used_by": list(v.used_by), "unused_by": list(v.unused_by)}
            for v in w.vendored
        ],
        "unneeded_bytes": w.unneeded_bytes,
        "unloaded_bytes": w.unloaded_bytes,
        "unneeded_compressed_bytes": sum(v.compressed_size for v in w.vendored
                                         if v.status is VendoredStatus.UNNEEDED),
        "findings": [_finding(f) for f in findings],
    }


def _step(st: SearchStep) -> dict[str, str]:
    return {"directory": st.directory, "source": st.source, "via": st.via.value}


def _needed(n: NeededEntry, seen: dict[int, tuple[str, str]]) -> str:
    symbols, bindings = [], []
    for b in n.bindings:  # shared records: encoded once per document, found again by identity
        done = seen.get(id(b))
        if done is None:
            done = seen[id(b)] = _binding(b)
        symbols.append(done[0])
        bindings.append(done[1])
    head = json.dumps({
        "name": n.name,
        "path": _p(n.path),
        "found_via": n.found_via.value if n.found_via else None,
        "status": n.status.value,
        "category": n.category.value,
    })
    tail = json.dumps({
        "python_package": n.python_package,
        "drags": [str(p) for p in n.drags],
        "drags_bytes": n.drags_bytes,
        "has_initializers": n.has_initializers,
        "searched": [_step(st) for st in n.searched],
        "candidates": [str(c) for c in n.candidates],
        "uncertain": n.uncertain,
        "loads_providers": list(n.loads_providers),
    })
    return f'{head[:-1]}, "symbols": [{", ".join(symbols)}], "bindings": [{", ".join(bindings)}], {tail[1:]}'


def _binding(b: Binding) -> tuple[str, str]:
    """A binding's symbol and the binding itself as ``json.dumps`` writes them (strings through its own escaper)."""
    symbol = _string(b.symbol)
    version = "null" if b.version is None else _string(b.version)
    owner = _string(str(b.owner)) if b.owner else "null"
    weak = "true" if b.weak else "false"
    return symbol, f'{{"symbol": {symbol}, "version": {version}, "weak": {weak}, "owner": {owner}}}'


def _object(o: ObjectReport, findings: Iterable[Finding], seen: dict[int, tuple[str, str]]) -> _Encoded:
    unneeded = [lib for lib in o.loaded if lib.only_for_unneeded]
    statuses = [n.status for n in o.needed]
    head = json.dumps({
        "path": o.path,
        "machine": o.machine,
        "abi": o.abi,
        "elf_class": o.elf_class,
        "libc": o.libc,
        "soname": o.soname,
        "is_python_extension": o.is_python_extension,
    })
    tail = json.dumps({
        "unresolved": list(o.unresolved),
        "missing_transitive": [{"name": m.name, "needed_by": m.needed_by, "why": m.why,
                                "searched": [_step(st) for st in m.searched]} for m in o.missing_transitive],
        "host_provided": list(o.host_provided),
        "ldd_unused": list(o.ldd_unused),
        "loaded": [
            {
                "name": lib.name,
                "path": str(lib.path),
                "soname": lib.soname,
                "found_via": lib.found_via.value if lib.found_via else None,
                "category": lib.category.value,
                "size": lib.size,
                "depth": lib.depth,
                "needed_by": list(lib.needed_by),
                "only_for_unneeded": lib.only_for_unneeded,
            }
            for lib in o.loaded
        ],
        "summary": {
            "needed": len(o.needed),
            "used": statuses.count(Status.USED),
            "unused": statuses.count(Status.UNUSED),
            "incidental": statuses.count(Status.INCIDENTAL),
            "missing": statuses.count(Status.MISSING),
            "not_on_host": statuses.count(Status.NOT_ON_HOST),
            "missing_transitive": len(o.missing_transitive),
            "loaded": len(o.loaded),
            "loaded_bytes": sum(lib.size for lib in o.loaded),
            "unneeded_libraries": len(unneeded),
            "unneeded_bytes": sum(lib.size for lib in unneeded),
        },
        "suggestions": [
            {
                "kind": s.kind,
                "title": s.title,
                "text": s.text,
                "removes": list(s.removes),
                "saves_libraries": s.saves_libraries,
                "saves_bytes": s.saves_bytes,
                "caution": s.caution,
            }
            for s in o.suggestions
        ],
        "findings": [_finding(f) for f in findings],
        "warnings": list(o.warnings),
        "rpath": o.rpath,
        "runpath": o.runpath,
        "rpath_findings": [
            {"entry": f.entry, "kind": f.kind.value, "message": f.message, "tag": f.tag} for f in o.rpath_findings
        ],
    })
    needed = ", ".join(_needed(n, seen) for n in o.needed)
    return _Encoded(f'{head[:-1]}, "needed": [{needed}], {tail[1:]}')


def _p(path: Path | None) -> str | None:
    return None if path is None else str(path)


class JsonFormat(Format):
    def format(self, report: Report) -> str:
        return dumps(_document(report))


def dumps(data: dict[str, Any]) -> str:
    """Top-level keys one per line and each element of a top-level list on a line of its own.

    Not ``indent=2``: with any indent, :mod:`json` falls back to its pure-Python
    encoder, which took a quarter of a 768-object audit; element by element the C
    encoder does the work, and the output still diffs and greps one object per line.
    """
    parts = []
    for key, value in data.items():
        if isinstance(value, list) and value:
            items = ",\n".join(v if isinstance(v, _Encoded) else json.dumps(v) for v in value)
            parts.append(f"{json.dumps(key)}: [\n{items}\n]")
        else:
            parts.append(f"{json.dumps(key)}: {json.dumps(value)}")
    from linkaudit.printable import json_bytes

    return json_bytes("{\n" + ",\n".join(parts) + "\n}\n")  # undecodable bytes of file names as \\xNN
