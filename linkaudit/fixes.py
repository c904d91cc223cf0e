"""Fix suggestions: each finding -> concrete remedies that fit how the object was built.

Suggestions never name a ``used`` library for removal.  "Unused" is not
always "removable": a library with load-time initialisers (DT_INIT /
DT_INIT_ARRAY) gets a caution, and libraries known to be linked for what they
do at load time (``load_bearing`` in ``data/families.json``: libtorch_cuda,
libc10_cuda, ... register kernels and initialise CUDA in static
constructors) are not suggested for removal unless asked.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
from dataclasses import replace
from functools import lru_cache
from importlib import resources

from linkaudit.families import base_name
from linkaudit.report import Category, FoundVia, NeededEntry, ObjectReport, Report, Status, Suggestion

_RUNTIME = (Category.C_RUNTIME, Category.CXX_RUNTIME, Category.GLIBC_STUB)


@lru_cache(maxsize=1)
def load_bearing_patterns() -> tuple[str, ...]:
    data = json.loads(resources.files("linkaudit.data").joinpath("families.json").read_text("utf-8"))
    return tuple(data.get("load_bearing", ()))


def is_load_bearing(name: str) -> bool:
    base = base_name(name)
    return any(fnmatch.fnmatchcase(base, pat) for pat in load_bearing_patterns())


def removable(n: NeededEntry, include_incidental: bool = False, include_load_bearing: bool = False) -> bool:
    """Whether ``linkaudit fix`` / the suggestions may drop this entry."""
    if n.status is Status.UNUSED or (include_incidental and n.status is Status.INCIDENTAL):
        return include_load_bearing or not is_load_bearing(n.name)
    return False


def _caution(n: NeededEntry) -> str | None:
    if is_load_bearing(n.name):
        return (f"{n.name} is linked for what it does at load time (its static constructors register kernels or "
                "initialise a runtime); it is not removed by default")
    if n.has_initializers and n.category not in _RUNTIME:
        return (f"{n.name} runs code when loaded (DT_INIT/DT_INIT_ARRAY); removing it also skips that code — "
                "check that the object does not rely on it")
    return None


def _savings(obj: ObjectReport, names: set[str]) -> tuple[int, int]:
    """Libraries and bytes no longer loaded when ``names`` are dropped (shared ones are not counted)."""
    entries = [n for n in obj.needed if n.name in names and n.path is not None]
    paths = {str(n.path) for n in entries}
    for n in entries:
        paths |= {str(p) for p in n.drags}
    kept_paths = {str(n.path) for n in obj.needed if n.name not in names and n.path is not None}
    paths -= kept_paths
    sizes = {str(lib.path): lib.size for lib in obj.loaded}
    return len(paths), sum(sizes.get(p, 0) for p in paths)


def _lflag(name: str) -> str:
    base = base_name(name)
    return base[3:] if base.startswith("lib") else base


def suggest(obj: ObjectReport) -> tuple[Suggestion, ...]:
    out: list[Suggestion] = []
    unused = [n for n in obj.needed if n.status is Status.UNUSED]
    incidental = [n for n in obj.needed if n.status is Status.INCIDENTAL]
    missing = [n for n in obj.needed if n.status is Status.MISSING]
    torch = [n for n in obj.needed if n.category is Category.TORCH]
    drop = [n for n in unused + incidental if removable(n, include_incidental=True)]
    drop_names = {n.name for n in drop}
    libs, nbytes = _savings(obj, drop_names)

    if torch and obj.is_python_extension:
        used_torch = [n for n in torch if n.status is Status.USED]
        if not used_torch:
            out.append(Suggestion(
                kind="lean-extension",
                title="build the extension without torch's libraries: it uses none of them",
                text=(
                    "# setup.py — a plain Extension with torch's headers (torch ships pybind11 in its include dir)\n"
                    "from setuptools import Extension\n"
                    "from torch.utils.cpp_extension import BuildExtension, include_paths\n"
                    "ext = Extension(\"pkg._C\", [\"csrc/ext.cpp\"], include_dirs=include_paths(), language=\"c++\",\n"
                    "                extra_compile_args=[\"-std=c++17\"], extra_link_args=[\"-Wl,--as-needed\"])\n"
                    "# setup(..., ext_modules=[ext], cmdclass={\"build_ext\": BuildExtension})\n"
                    "# in the C++ source: #include <pybind11/pybind11.h> instead of <torch/extension.h>\n"
                    "# (this project's helper: pybind_torch.build_helpers.lean_torch_extension(name, sources))"
                ),
                removes=tuple(n.name for n in torch),
                saves_libraries=_savings(obj, {n.name for n in torch})[0],
                saves_bytes=_savings(obj, {n.name for n in torch})[1],
            ))
        else:
            keep = [_lflag(n.name) for n in used_torch]
            out.append(Suggestion(
                kind="libraries",
                title=f"link only the torch libraries the object uses: {', '.join(n.name for n in used_torch)}",
                text=(
                    f"Extension(..., include_dirs=include_paths(), libraries={keep!r},\n"
                    "          library_dirs=library_paths(), extra_link_args=[\"-Wl,--as-needed\"])\n"
                    "# instead of CppExtension, which always adds c10, torch, torch_cpu and torch_python"
                ),
                removes=tuple(n.name for n in torch if n.status is not Status.USED),
                saves_libraries=_savings(obj, {n.name for n in torch if n.status is not Status.USED})[0],
                saves_bytes=_savings(obj, {n.name for n in torch if n.status is not Status.USED})[1],
            ))

    if unused:
        names = [n.name for n in unused if removable(n)]
        if names:
            out.append(Suggestion(
                kind="as-needed",
                title="let the linker drop unused libraries: link with -Wl,--as-needed (or remove the -l flags)",
                text=(
                    "setuptools: extra_link_args=[\"-Wl,--as-needed\"]  (before the libraries on the link line)\n"
                    "CMake:      target_link_options(<target> PRIVATE \"LINKER:--as-needed\")\n"
                    "            set_target_properties(<target> PROPERTIES LINK_WHAT_YOU_USE ON)  # reports them at build time\n"
                    "remove:     " + " ".join(f"-l{_lflag(n)}" for n in names)
                ),
                removes=tuple(names),
                saves_libraries=_savings(obj, set(names))[0],
                saves_bytes=_savings(obj, set(names))[1],
            ))
        used_libs = [_lflag(n.name) for n in obj.needed if n.status is Status.USED]
        out.append(Suggestion(
            kind="cmake",
            title="CMake: link exactly what is used",
            text="target_link_libraries(<target> PRIVATE " + " ".join(used_libs) + ")",
        ))

    for n in incidental:
        owners = sorted({b.owner for b in n.bindings if b.owner})
        out.append(Suggestion(
            kind="incidental",
            title=f"{n.name} is linked only because it re-exports symbols of {', '.join(owners)}",
            text=(
                "--as-needed keeps it: it does satisfy references, but only with unversioned copies of another\n"
                "library's symbols. Either do not link it at all (nothing of its own is used), or link the owner\n"
                f"first so the linker records the owner's versioned symbols: e.g. -l{_lflag(owners[0].split()[0]) if owners else 'owner'} "
                f"before -l{_lflag(n.name)}."
            ),
            removes=(n.name,),
            saves_libraries=_savings(obj, {n.name})[0],
            saves_bytes=_savings(obj, {n.name})[1],
            caution=_caution(n),
        ))

    if drop:
        quoted = shlex.quote(obj.path)
        flags = " --incidental" if any(n.status is Status.INCIDENTAL for n in drop) else ""
        patch = " ".join(f"--remove-needed {shlex.quote(n.name)}" for n in drop)
        out.append(Suggestion(
            kind="linkaudit-fix",
            title="or fix the built file after the fact",
            text=(
                f"linkaudit fix{flags} {quoted} -o {quoted}.fixed   # re-audits its own output, keeps symbol versions loadable\n"
                f"patchelf {patch} {quoted}   # equivalent, but leaves .gnu.version_r entries that can make ld.so abort"
            ),
            removes=tuple(n.name for n in drop),
            saves_libraries=libs,
            saves_bytes=nbytes,
            caution="; ".join(c for c in (_caution(n) for n in drop) if c) or None,
        ))

    for n in missing:
        out.extend(_missing(obj, n))
    for n in obj.needed:
        if n.found_via is FoundVia.PYTHON_PACKAGE:
            out.extend(_python_package(obj, n))
    return tuple(out)


def _runpath_for(obj: ObjectReport, directory: str) -> str:
    here = os.path.dirname(os.path.abspath(obj.path))
    rel = os.path.relpath(directory, here)
    return "$ORIGIN" if rel == "." else f"$ORIGIN/{rel}"


def _missing(obj: ObjectReport, n: NeededEntry) -> list[Suggestion]:
    out = []
    for cand in n.candidates[:1]:
        pkg = _package(cand)
        if pkg:
            out.append(Suggestion(kind="import-first", title=f"import {pkg} before this module",
                                  text=f"import {pkg}  # loads {n.name} into the process, so the module finds it by soname"))
        rp = _runpath_for(obj, str(cand.parent))
        out.append(Suggestion(
            kind="runpath",
            title=f"give the object a RUNPATH to {cand.parent}",
            text=(f"extra_link_args=[\"-Wl,-rpath,{rp}\"]   # at build time (setuptools)\n"
                  f"patchelf --set-rpath '{rp}' {shlex.quote(obj.path)}   # after the fact"),
        ))
        out.append(Suggestion(kind="ld-library-path", title="last resort: LD_LIBRARY_PATH",
                              text=f"export LD_LIBRARY_PATH={shlex.quote(str(cand.parent))}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"))
    if not n.candidates:
        out.append(Suggestion(kind="missing", title=f"{n.name} is not installed anywhere linkaudit looked",
                              text="install the package that provides it, or pass --search-path DIR if it lives elsewhere"))
    return out


def _python_package(obj: ObjectReport, n: NeededEntry) -> list[Suggestion]:
    if n.path is None or not n.python_package:
        return []
    rp = _runpath_for(obj, str(n.path.parent))
    return [Suggestion(
        kind="import-order",
        title=f"{n.name} loads only after `import {n.python_package}`",
        text=(f"import {n.python_package}  # must come before importing this module (or the package's __init__ does it)\n"
              f"# to import it on its own: extra_link_args=[\"-Wl,-rpath,{rp}\"]"),
    )]


def _package(path) -> str | None:
    parts = list(path.parts)
    for i, part in enumerate(parts):
        if part in ("site-packages", "dist-packages") and i + 1 < len(parts):
            top = parts[i + 1]
            return top[: -len(".libs")] if top.endswith(".libs") else top
    return None


def with_suggestions(report: Report) -> Report:
    return replace(report, objects=tuple(replace(o, suggestions=suggest(o)) for o in report.objects))
