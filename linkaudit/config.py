"""``[tool.linkaudit]`` configuration, and the gate policy built from it.

The configuration lives in ``pyproject.toml`` (found by walking up from the
working directory) or in a file named with ``--config``.  Command-line flags
override it.  Keys::

    [tool.linkaudit]
    fail-on = ["unused", "missing"]
    exclude = ["build/temp.*", "*/tests/*"]
    search-path = ["third_party/lib"]
    # the machine audited for, when it is not this one (see README, "Auditing for another machine")
    platform = "haswell"            # $PLATFORM / AT_PLATFORM
    hwcaps = ["x86_64", "avx512_1"] # legacy hwcap subdirectories (glibc < 2.37)
    cpu-level = "x86-64-v3"         # best glibc-hwcaps level, or "none"
    cpuinfo = "prod-cpuinfo.txt"    # or derive all three from that machine's /proc/cpuinfo
    glibc-version = "2.36"

    [[tool.linkaudit.allow]]
    library = "libtorch*.so"
    object = "*/pybind_torch/_C*.so"   # optional glob
    reason = "needed for torch's static initialisers"

Unknown keys and values of the wrong type raise :class:`ConfigError` naming the key.
The gate that applies these settings is :mod:`linkaudit.gate`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, NamedTuple

from linkaudit.errors import ConfigError
from linkaudit.gate import parse_fail_on
from linkaudit.hostparams import Overrides, check_hwcap, check_level, check_platform, parse_glibc_version
from linkaudit.report import FindingKind

PYPROJECT = "pyproject.toml"
TOP_KEYS = ("fail-on", "allow", "exclude", "search-path", "platform", "hwcaps", "cpu-level", "cpuinfo", "glibc-version")
ALLOW_KEYS = ("library", "object", "reason")


class AllowRule(NamedTuple):
    """Findings about ``library`` (a glob; the symbol for unresolved findings) in objects matching ``object``."""

    library: str
    reason: str
    object: str | None = None

    def matches(self, object_path: str, name: str) -> bool:
        if not fnmatchcase(name, self.library):
            return False
        if self.object is None:
            return True
        return any(fnmatchcase(candidate, self.object) for candidate in _path_forms(object_path))


class Config(NamedTuple):
    """The validated ``[tool.linkaudit]`` table; ``None`` means "not set, use the default"."""

    fail_on: frozenset[FindingKind] | None = None
    allow: tuple[AllowRule, ...] = ()
    exclude: tuple[str, ...] = ()
    search_path: tuple[str, ...] = ()
    loader: Overrides = Overrides()  # platform, hwcaps, cpu-level, cpuinfo, glibc-version
    source: Path | None = None  # the file it came from


def _path_forms(path: str) -> tuple[str, ...]:
    """The path as given, with forward slashes, and absolute: globs may be written either way."""
    posix = path.replace(os.sep, "/")
    forms = [posix]
    absolute = os.path.abspath(path).replace(os.sep, "/")
    if absolute != posix:
        forms.append(absolute)
    return tuple(forms)


def is_excluded(path: str, patterns: Iterable[str], root: str | None = None) -> bool:
    """Whether ``path`` matches an ``exclude`` glob: as given, absolute, relative to ``root``, or by name."""
    patterns = tuple(patterns)
    if not patterns:
        return False
    forms = list(_path_forms(path))
    if root is not None:
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        if not rel.startswith("../"):
            forms.append(rel)
    forms.append(os.path.basename(path.rstrip("/")))
    return any(fnmatchcase(form, pat.rstrip("/")) for form in forms for pat in patterns)


# -- loading -----------------------------------------------------------------------------------------------


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` with a ``[tool.linkaudit]`` table, walking up from ``start``."""
    found = _nearest_table(start)
    return found[0] if found else None


def _nearest_table(start: Path | None) -> tuple[Path, object] | None:
    """The nearest pyproject.toml with a ``[tool.linkaudit]`` table, and that table."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / PYPROJECT
        if candidate.is_file():
            text = _read_text(candidate)
            if not _may_name_linkaudit(text):
                continue  # the usual project file: no TOML parser needed to know it has no table of ours
            data = _parse_toml(text, candidate)
            if isinstance(data.get("tool"), dict) and "linkaudit" in data["tool"]:
                return candidate, data["tool"]["linkaudit"]
    return None


def _may_name_linkaudit(text: str) -> bool:
    """Whether TOML text can hold a key ``linkaudit``: spelled out, or hidden in a ``\\u`` escape of a quoted key."""
    return "linkaudit" in text or "\\u" in text or "\\U" in text


def load_config(path: str | Path | None = None, start: Path | None = None) -> Config:
    """Load ``--config FILE`` if given, else the nearest pyproject.toml's table, else defaults.

    ``FILE`` may be a pyproject.toml (its ``[tool.linkaudit]`` table is read) or a
    standalone TOML file whose top level is the table (e.g. ``linkaudit.toml``).
    """
    if path is not None:
        file = Path(path)
        data = _read_toml(file)
        tool = data.get("tool")
        if isinstance(tool, dict) and "linkaudit" in tool:
            table, prefix = tool["linkaudit"], "tool.linkaudit"
        elif file.name == PYPROJECT:
            table, prefix = {}, "tool.linkaudit"
        else:
            table, prefix = data, ""
        return parse_config(table, source=file, prefix=prefix)
    found = _nearest_table(start)
    if found is None:
        return Config()
    return parse_config(found[1], source=found[0], prefix="tool.linkaudit")


def _read_toml(file: Path) -> dict[str, Any]:
    """Parse a TOML file of at most :data:`~linkaudit.smallfile.CONFIG_LIMIT` bytes (never blocks)."""
    return _parse_toml(_read_text(file), file)


def _read_text(file: Path) -> str:
    from linkaudit.smallfile import CONFIG_LIMIT, decode_utf8, read_bounded

    return decode_utf8(read_bounded(file, CONFIG_LIMIT, "configuration"), file, "configuration")


def _parse_toml(text: str, file: Path) -> dict[str, Any]:
    import tomllib  # here, not at the top: most runs read no TOML and its import compiles many regexes

    from linkaudit.smallfile import first_clause as _first_clause

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{file}: not valid TOML: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits (sys.set_int_max_str_digits)
        raise ConfigError(f"{file}: not valid TOML: {_first_clause(exc)}") from None


def parse_config(table: object, source: Path | None = None, prefix: str = "tool.linkaudit") -> Config:
    """Validate a ``[tool.linkaudit]`` table; every error names the offending key."""
    where = f"{source}: " if source else ""

    def key(name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    def fail(message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(where + message, hint)

    if not isinstance(table, dict):
        raise fail(f"[{prefix or 'linkaudit'}] must be a table")
    unknown = sorted(set(table) - set(TOP_KEYS))
    if unknown:
        raise fail(f"unknown key {key(unknown[0])!r}", "known keys: " + ", ".join(TOP_KEYS))

    fail_on: frozenset[FindingKind] | None = None
    if "fail-on" in table:
        values = _str_list(table["fail-on"], key("fail-on"), fail)
        try:
            fail_on = parse_fail_on(values)
        except ValueError as exc:
            raise fail(f"{key('fail-on')}: {exc}") from None

    allow: list[AllowRule] = []
    raw_allow = table.get("allow", [])
    if not isinstance(raw_allow, list):
        raise fail(f"{key('allow')} must be a list of tables, e.g. [[{key('allow')}]]")
    for i, entry in enumerate(raw_allow):
        here = f"{key('allow')}[{i}]"
        if not isinstance(entry, dict):
            raise fail(f"{here} must be a table with keys library, reason and optionally object")
        bad = sorted(set(entry) - set(ALLOW_KEYS))
        if bad:
            raise fail(f"unknown key {here}.{bad[0]!r}", "known keys: " + ", ".join(ALLOW_KEYS))
        for required in ("library", "reason"):
            if required not in entry:
                raise fail(f"{here}.{required} is required")
        for name in ALLOW_KEYS:
            if name in entry and not (isinstance(entry[name], str) and entry[name]):
                raise fail(f"{here}.{name} must be a non-empty string")
        allow.append(AllowRule(library=entry["library"], reason=entry["reason"], object=entry.get("object")))

    exclude = _str_list(table.get("exclude", []), key("exclude"), fail)
    search_path = _str_list(table.get("search-path", []), key("search-path"), fail)
    if source is not None and search_path:  # relative directories are relative to the config file
        search_path = [p if os.path.isabs(p) else str(source.parent / p) for p in search_path]
    return Config(fail_on=fail_on, allow=tuple(allow), exclude=tuple(exclude), search_path=tuple(search_path),
                  loader=_loader_overrides(table, source, key, fail), source=source)


def _loader_overrides(table: dict[str, Any], source: Path | None, key, fail) -> Overrides:
    """The loader-parameter keys, checked like the command-line options they stand for."""
    def text(name: str) -> str | None:
        value = table.get(name)
        if value is not None and not (isinstance(value, str) and value):
            raise fail(f"{key(name)} must be a non-empty string, got {_type_name(value)}")
        return value

    hwcaps = tuple(_str_list(table["hwcaps"], key("hwcaps"), fail)) if "hwcaps" in table else None
    cpuinfo = text("cpuinfo")
    if cpuinfo is not None and source is not None and not os.path.isabs(cpuinfo):
        cpuinfo = str(source.parent / cpuinfo)
    glibc = None
    if text("glibc-version") is not None:
        try:
            glibc = parse_glibc_version(table["glibc-version"])
        except ValueError as exc:
            raise fail(f"{key('glibc-version')}: {exc}") from None
    checks = (("platform", [text("platform")], check_platform), ("hwcaps", list(hwcaps or ()), check_hwcap),
              ("cpu-level", [text("cpu-level")], check_level))
    for name, values, check in checks:
        for value in values:
            try:
                if value is not None:
                    check(value)
            except ValueError as exc:
                raise fail(f"{key(name)}: {exc}") from None
    return Overrides(platform=text("platform"), hwcaps=hwcaps, cpu_level=text("cpu-level"), glibc=glibc,
                     cpuinfo=cpuinfo)


def _str_list(value: object, name: str, fail) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f"{name} must be a list of strings, got {_type_name(value)}")
    return list(value)


def _type_name(value: object) -> str:
    if isinstance(value, list):
        return "a list containing " + ", ".join(sorted({_type_name(v) for v in value if not isinstance(v, str)}))
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string", dict: "a table"}.get(
        type(value), type(value).__name__)
