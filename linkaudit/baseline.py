"""Baselines: accept today's findings, fail only on new ones.

``--write-baseline FILE`` records every finding of the run; ``--baseline FILE``
then suppresses exactly those, and reports the entries that are no longer
found as fixed.  The file is small, sorted JSON meant to be committed::

    {"schema": 1, "findings": [{"object": "pybind_torch/_C.so", "kind": "unused", "library": "libtorch.so"}]}

Objects are keyed by their path relative to the input directory they were found
under, with build directories (``build/``, ``lib.linux-x86_64-cpython-311/``,
``temp.*``, ``_skbuild/``, ``cmake-build-*``) dropped and the Python ABI tag taken
out of extension file names (``m.cpython-311-x86_64-linux-gnu.so`` -> ``m.so``), so
the key survives a rebuild in another tree or for another Python version; an
object named directly on the command line is keyed by its file name.  Keys read
from a baseline file are normalised the same way, so older files still match.  An
entry holds for an object when its key is a trailing run of the object's own
(normalised) path, so a baseline written on ``build/`` holds for the same files
named one by one (as a pre-commit hook names them), and the other way round.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from linkaudit.errors import ConfigError
from linkaudit.report import FindingKind, Report

BASELINE_SCHEMA = 1
# build directories; the last alternative is scikit-build's platform directory (linux-x86_64-3.11)
_BUILD_DIR = re.compile(r"^(build|dist|_skbuild|cmake-build.*|lib\..+|temp\..+|bdist\..+"
                        r"|(linux|macosx|freebsd|win)-[a-z0-9_.]+-\d+\.\d+)$")
#: PEP 3149 / PEP 384 extension suffixes: .cpython-311-x86_64-linux-gnu.so, .cpython-313t-....so, .abi3.so,
#: .pypy310-pp73-x86_64-linux-gnu.so
_ABI_TAG = re.compile(r"\.(cpython-\d+[a-z]*(-[^.]+)?|abi3|pypy\d+-pp\d+(-[^.]+)?)(?=\.so$)")


@dataclass(frozen=True, order=True)
class BaselineEntry:
    object: str
    kind: FindingKind
    library: str

    def to_dict(self) -> dict[str, str]:
        return {"object": self.object, "kind": self.kind.value, "library": self.library}


@dataclass(frozen=True)
class Baseline:
    entries: frozenset[BaselineEntry]

    def contains(self, object_path: str, kind: FindingKind, name: str, roots: Iterable[str] = ()) -> bool:
        if BaselineEntry(object_key(object_path, roots), kind, name) in self.entries:
            return True
        full = _full_key(object_path)
        return any(_same_object(key, full) for key in self._keys_by_finding().get((kind, name), ()))

    def _keys_by_finding(self) -> dict[tuple[FindingKind, str], list[str]]:
        """Recorded object keys per (kind, library): a new finding is compared with its own few, not every entry."""
        index = self.__dict__.get("_index")
        if index is None:
            index = {}
            for e in self.entries:
                index.setdefault((e.kind, e.library), []).append(e.object)
            object.__setattr__(self, "_index", index)
        return index

    def fixed(self, report: Report, roots: Iterable[str] = ()) -> list[BaselineEntry]:
        """Entries no longer found in ``report`` (sorted)."""
        from linkaudit.gate import all_findings

        roots = tuple(roots)
        still = [(object_key(path, roots), _full_key(path), kind, name) for path, kind, name in all_findings(report)]
        return sorted(e for e in self.entries
                      if not any(e.kind is kind and e.library == name and (e.object == key or _same_object(e.object, full))
                                 for key, full, kind, name in still))


def _full_key(path: str) -> str:
    """The object's whole path, normalised like a key (build directories and ABI tag dropped)."""
    return normalize_key(os.path.abspath(path))


def _same_object(entry_key: str, full_key: str) -> bool:
    """Whether a recorded key names the object at ``full_key``: a trailing run of its path components.

    A baseline written from a directory (``pkg/m.so``) must hold for the same
    object named as a file, as a pre-commit hook names it, and a baseline
    written on files (``m.so``) for a directory run; ``pkg/m.so`` never matches
    ``other/m.so``.
    """
    return full_key == entry_key or full_key.endswith("/" + entry_key)


def object_key(path: str, roots: Iterable[str] = ()) -> str:
    """A stable name for an audited object: relative to its input root, build directories dropped."""
    absolute = os.path.abspath(path)
    best: str | None = None
    for root in roots:
        root_abs = os.path.abspath(root)
        if not os.path.isdir(root_abs):
            continue
        rel = os.path.relpath(absolute, root_abs)
        if rel.startswith(".." + os.sep) or rel == "..":
            continue
        if best is None or len(rel) < len(best):
            best = rel
    if best is None:
        return _without_abi_tag(os.path.basename(absolute))
    return normalize_key(best)


def normalize_key(key: str) -> str:
    """Build directories dropped and the ABI tag taken out of the file name: ``pkg/m.so``."""
    parts = [p for p in key.replace(os.sep, "/").split("/") if p not in ("", ".")]
    if not parts:
        return key
    kept = [p for p in parts[:-1] if not _BUILD_DIR.match(p)]
    return "/".join([*kept, _without_abi_tag(parts[-1])])


def _without_abi_tag(name: str) -> str:
    return _ABI_TAG.sub("", name)


def report_entries(report: Report, roots: Iterable[str] = ()) -> frozenset[BaselineEntry]:
    from linkaudit.gate import all_findings

    roots = tuple(roots)
    return frozenset(BaselineEntry(object_key(path, roots), kind, name) for path, kind, name in all_findings(report))


def dumps(report: Report, roots: Iterable[str] = ()) -> str:
    entries = sorted(report_entries(report, roots))
    return json.dumps({"schema": BASELINE_SCHEMA, "findings": [e.to_dict() for e in entries]}, indent=2) + "\n"


def write_baseline(report: Report, file: str | Path, roots: Iterable[str] = ()) -> int:
    """Write every finding of ``report`` to ``file``; returns how many."""
    text = dumps(report, roots)
    try:
        Path(file).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot write baseline: {exc.strerror}") from None
    return len(report_entries(report, roots))


def load_baseline(file: str | Path) -> Baseline:
    """Read a baseline file; anything but the documented shape raises :class:`ConfigError`."""
    from linkaudit.smallfile import BASELINE_LIMIT, decode_utf8, read_bounded
    from linkaudit.smallfile import first_clause as _first_clause

    try:
        raw = read_bounded(file, BASELINE_LIMIT, "baseline")
    except ConfigError as exc:
        if exc.message.endswith("file not found"):
            exc.hint = "create it with --write-baseline FILE"
        raise
    text = decode_utf8(raw, file, "baseline")
    hint = "recreate it with --write-baseline FILE"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file}: baseline is not valid JSON: {exc.msg} (line {exc.lineno})", hint) from None
    except RecursionError:
        raise ConfigError(f"{file}: baseline is not valid JSON: nested too deeply", hint) from None
    except ValueError as exc:  # e.g. an integer of thousands of digits (sys.set_int_max_str_digits)
        raise ConfigError(f"{file}: baseline is not valid JSON: {_first_clause(exc)}", hint) from None
    return parse_baseline(data, str(file))


def parse_baseline(data: object, where: str = "baseline") -> Baseline:
    def bad(message: str) -> ConfigError:
        return ConfigError(f"{where}: not a linkaudit baseline: {message}", "recreate it with --write-baseline FILE")

    if not isinstance(data, dict):
        raise bad("expected a JSON object with keys 'schema' and 'findings'")
    if data.get("schema") != BASELINE_SCHEMA:
        raise bad(f"'schema' must be {BASELINE_SCHEMA}, got {data.get('schema')!r}")
    extra = sorted(set(data) - {"schema", "findings"})
    if extra:
        raise bad(f"unknown key {extra[0]!r}")
    findings = data.get("findings")
    if not isinstance(findings, list):
        raise bad("'findings' must be a list")
    entries: set[BaselineEntry] = set()
    for i, item in enumerate(findings):
        if not isinstance(item, dict) or set(item) != {"object", "kind", "library"}:
            raise bad(f"findings[{i}] must be an object with exactly the keys object, kind, library")
        if not all(isinstance(item[k], str) and item[k] for k in ("object", "kind", "library")):
            raise bad(f"findings[{i}]: object, kind and library must be non-empty strings")
        try:
            kind = FindingKind(item["kind"])
        except ValueError:
            raise bad(f"findings[{i}].kind: unknown finding kind {item['kind']!r}") from None
        entries.add(BaselineEntry(normalize_key(item["object"]), kind, item["library"]))
    return Baseline(frozenset(entries))
