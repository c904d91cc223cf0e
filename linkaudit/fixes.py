"""Fix suggestions: each finding -> concrete remedies that fit how the object was built.

Suggestions never name a ``used`` library for removal.  "Unused" is not
always "removable": a library with load-time initialisers (DT_INIT /
DT_INIT_ARRAY) gets a caution, and libraries known to be linked for what they
do at load time (``load_bearing`` in ``data/categories.json``: libtorch_cuda,
libc10_cuda, ... register kernels and initialise CUDA in static
constructors) are not suggested for removal unless asked.
"""

from __future__ import annotations

import fnmatch
import os
import shlex
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from linkaudit.display import verb
from linkaudit.categories import base_name, policy_data
from linkaudit.pyindex import python_package_of
from linkaudit.report import Category, FoundVia, NeededEntry, ObjectReport, Report, RpathKind, Status, Suggestion
from linkaudit.verdicts import closure

_RUNTIME = (Category.C_RUNTIME, Category.CXX_RUNTIME, Category.GLIBC_STUB)


@lru_cache(maxsize=1)
def load_bearing_patterns() -> tuple[str, ...]:
    return tuple(policy_data().get("load_bearing", ()))


def is_load_bearing(name: str) -> bool:
    base = base_name(name)
    return any(_matches(base, pat) for pat in load_bearing_patterns())


def _matches(name: str, pattern: str) -> bool:
    """``fnmatchcase``, without compiling a regular expression for a plain name or ``prefix*``.

    (Compiling the seven load-bearing patterns cost a one-file run several milliseconds.)
    """
    head = pattern[:-1] if pattern.endswith("*") else pattern
    if not any(c in head for c in "*?["):
        return name.startswith(head) if len(head) < len(pattern) else name == pattern
    return fnmatch.fnmatchcase(name, pattern)


def removable(n: NeededEntry, include_incidental: bool = False, include_load_bearing: bool = False) -> bool:
    """Whether ``linkaudit fix`` / the suggestions may drop this entry."""
    if n.loads_providers:
        return False  # dropping it would unload a library the object binds symbols from
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
    """Libraries and bytes no longer loaded once the DT_NEEDED entries ``names`` are gone.

    Recomputed from the load graph (``LoadedLibrary.needed_by``): what the
    remaining entries still reach stays loaded, whichever entry brought it in first.
    """
    children: dict[str, list[str]] = {}
    for lib in obj.loaded:
        for parent in lib.needed_by:
            children.setdefault(parent, []).append(str(lib.path))
    still = closure((str(n.path) for n in obj.needed if n.name not in names and n.path is not None),
                    lambda path: children.get(path, ()))
    gone = [lib for lib in obj.loaded if str(lib.path) not in still]
    return len(gone), sum(lib.size for lib in gone)


def _cautions(entries: list[NeededEntry]) -> str | None:
    """One caution for several entries: load-bearing ones named, initialisers said once."""
    bearing = [n.name for n in entries if is_load_bearing(n.name)]
    init = [n.name for n in entries if not is_load_bearing(n.name) and n.has_initializers and n.category not in _RUNTIME]
    parts = []
    if bearing:
        parts.append(f"{', '.join(bearing)}: linked for what their static constructors do at load time; "
                     "not removed by default")
    if init:
        one = len(init) == 1
        parts.append(f"{', '.join(init)} {verb(len(init), 'runs', 'run')} code when loaded (DT_INIT/DT_INIT_ARRAY); "
                     f"removing {'it' if one else 'them'} also skips that code — check that the object does not "
                     "rely on it")
    return "; ".join(parts) or None


def _lflag(name: str) -> str:
    base = base_name(name)
    return base[3:] if base.startswith("lib") else base


def suggest(obj: ObjectReport) -> tuple[Suggestion, ...]:
    """Every suggestion for one object, most specific first."""
    unused = [n for n in obj.needed if n.status is Status.UNUSED]
    incidental = [n for n in obj.needed if n.status is Status.INCIDENTAL]
    out: list[Suggestion] = []
    out.extend(_torch_link(obj))
    if unused:
        out.extend(_as_needed(obj, unused))
    out.extend(_link_providers(unused))
    out.extend(_incidental(obj, incidental))
    out.extend(_fix_command(obj, [n for n in unused + incidental if removable(n, include_incidental=True)]))
    out.extend(_missing_groups(obj))
    out.extend(_python_packages(obj))
    out.extend(_rpath_fixes(obj))
    return tuple(out)


def _torch_link(obj: ObjectReport) -> list[Suggestion]:
    """For a torch extension: link only the torch libraries it uses, or none (the lean recipe)."""
    out: list[Suggestion] = []
    torch = [n for n in obj.needed if n.category is Category.TORCH]
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
    return out


def _as_needed(obj: ObjectReport, unused: list[NeededEntry]) -> list[Suggestion]:
    """--as-needed (or the -l flags to remove), and the CMake line that links exactly what is used."""
    out: list[Suggestion] = []
    names = [n.name for n in unused if removable(n)]  # never one that alone loads a provider
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
    # the compiler driver adds the C/C++ runtime itself: name only the libraries a build file names
    used_libs = [_lflag(n.name) for n in obj.needed if n.status is Status.USED and n.category not in _RUNTIME]
    used_libs += [_lflag(p) for n in unused for p in n.loads_providers]
    out.append(Suggestion(
        kind="cmake",
        title="CMake: link exactly what is used",
        text=("target_link_libraries(<target> PRIVATE " + " ".join(used_libs) + ")" if used_libs else
              "# nothing beyond the compiler's own C/C++ runtime is used: no target_link_libraries needed"),
    ))
    return out


def _link_providers(unused: list[NeededEntry]) -> list[Suggestion]:
    """An unused entry that alone loads a provider: link the provider directly first."""
    out: list[Suggestion] = []
    for n in unused:
        if n.loads_providers:
            provs = ", ".join(n.loads_providers)
            out.append(Suggestion(
                kind="link-provider",
                title=f"{n.name} binds nothing itself, but it is the only way {provs} gets loaded",
                text=(f"the object takes symbols from {provs}, which only {n.name} brings in: link "
                      + " ".join(f"-l{_lflag(p)}" for p in n.loads_providers)
                      + f" directly, then {n.name} can go (--as-needed would drop it and break the object today)"),
                caution=f"do not remove {n.name} before the object links {provs} itself",
            ))
    return out


def _incidental(obj: ObjectReport, incidental: list[NeededEntry]) -> list[Suggestion]:
    """An incidental entry: drop it, or link the owner of its symbols before it."""
    out: list[Suggestion] = []
    for n in incidental:
        owners = sorted({b.owner for b in n.bindings if b.owner}, key=str)
        out.append(Suggestion(
            kind="incidental",
            title=f"{n.name} is linked only because it re-exports symbols of {', '.join(map(str, owners))}",
            text=(
                "--as-needed keeps it: it does satisfy references, but only with unversioned copies of another\n"
                "library's symbols. Either do not link it at all (nothing of its own is used), or link the owner\n"
                f"first so the linker records the owner's versioned symbols: e.g. -l{_lflag(owners[0].library) if owners else 'owner'} "
                f"before -l{_lflag(n.name)}."
            ),
            removes=(n.name,),
            saves_libraries=_savings(obj, {n.name})[0],
            saves_bytes=_savings(obj, {n.name})[1],
            caution=_caution(n),
        ))
    return out


def _fix_command(obj: ObjectReport, drop: list[NeededEntry]) -> list[Suggestion]:
    """`linkaudit fix` (and the patchelf equivalent) for everything removable."""
    out: list[Suggestion] = []
    if drop:
        libs, nbytes = _savings(obj, {n.name for n in drop})
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
            caution=_cautions(drop),
        ))
    return out


#: one remedy per RPATH finding kind, for the build and for the built file
RPATH_REMEDY: dict[RpathKind, str] = {
    RpathKind.EMPTY: "drop the empty element (a stray ':' in -Wl,-rpath or an empty CMake list item)",
    RpathKind.RELATIVE: "write it relative to the object: -Wl,-rpath,'$ORIGIN/<dir>' instead of a bare relative path",
    RpathKind.ABSOLUTE: ("ship the libraries it provides inside the package and use -Wl,-rpath,'$ORIGIN/<dir>'; "
                         "CMake: set(CMAKE_BUILD_RPATH_USE_ORIGIN ON) and INSTALL_RPATH \"$ORIGIN/...\", "
                         "and package the installed tree, not the build tree"),
    RpathKind.WORLD_WRITABLE: "never search a directory others can write: remove it, or move the libraries somewhere safe",
    RpathKind.OUTSIDE_PACKAGE: ("keep $ORIGIN paths inside the package: vendor the library (auditwheel repair) or "
                                "depend on the wheel that ships it"),
    RpathKind.NONEXISTENT: "remove the element: nothing can be found there (or it is a leftover of the build machine)",
    RpathKind.RPATH_NOT_RUNPATH: "link with -Wl,--enable-new-dtags so the linker writes DT_RUNPATH",
}


def clean_rpath(obj: ObjectReport) -> str:
    """The object's search path with every flagged element dropped (the order of the others kept)."""
    bad = {f.entry for f in obj.rpath_findings if f.kind is not RpathKind.RPATH_NOT_RUNPATH}
    text = obj.runpath if obj.runpath is not None else obj.rpath or ""
    return ":".join(dict.fromkeys(e for e in text.split(":") if e not in bad))


def _rpath_fixes(obj: ObjectReport) -> list[Suggestion]:
    """One suggestion per object with RPATH findings: a remedy per kind, and the patchelf command."""
    if not obj.rpath_findings:
        return []
    kinds = list(dict.fromkeys(f.kind for f in obj.rpath_findings))
    lines = [f"{k.value}: {RPATH_REMEDY[k]}" for k in kinds]
    bad = [f.entry for f in obj.rpath_findings if f.kind is not RpathKind.RPATH_NOT_RUNPATH]
    path = shlex.quote(obj.path)
    keep = clean_rpath(obj)
    lines.append(f"linkaudit fix --clean-rpath {path} -o {path}.fixed   # re-audited: refused if a library "
                 "would load from elsewhere")
    lines.append(f"patchelf --set-rpath '{keep}' {path}   # the same with patchelf (it writes DT_RUNPATH)" if keep
                 else f"patchelf --remove-rpath {path}   # the same with patchelf")
    providers = [lib for lib in obj.loaded
                 if lib.found_via in (FoundVia.RPATH, FoundVia.RUNPATH)
                 and any(str(lib.path).startswith(os.path.normpath(b) + "/") for b in bad if b.startswith("/"))]
    caution = None
    if providers:
        caution = ("libraries are found through a flagged element today ("
                   + ", ".join(lib.name for lib in providers)
                   + "): put them where a safe element finds them before dropping it")
    return [Suggestion(kind="rpath", title="clean the search path: $ORIGIN-relative DT_RUNPATH elements only",
                       text="\n".join(lines), caution=caution)]


def _install_relative(path: str) -> list[str] | None:
    """Where a file sits relative to the site-packages it is (or will be) installed into.

    ``.../site-packages/torch/lib/libc10.so`` -> ``[torch, lib, libc10.so]``;
    ``build/lib.linux-x86_64-cpython-311/pkg/_C.so`` -> ``[pkg, _C.so]`` (setuptools' build tree
    mirrors the installed layout).
    """
    parts = list(os.path.abspath(path).split(os.sep))
    for i in range(len(parts) - 1, -1, -1):
        part = parts[i]
        if part in ("site-packages", "dist-packages") or (part.startswith("lib.") and i > 0 and parts[i - 1] == "build"):
            return parts[i + 1:]
    return None


def _package_relative(path: str) -> list[str]:
    """Where an object that is not installed yet will sit in site-packages: under its package directories.

    ``demo/pybind_torch/_C.so`` (``pybind_torch/`` has an ``__init__.py``, ``demo/`` has not) ->
    ``[pybind_torch, _C.so]``; a file outside any package is a top-level module: ``[m.so]``.
    """
    here = Path(os.path.abspath(path))
    parts = [here.name]
    directory = here.parent
    while directory != directory.parent and (directory / "__init__.py").is_file():
        parts.insert(0, directory.name)
        directory = directory.parent
    return parts


def _runpath_for(obj: ObjectReport, directory: str) -> str:
    """A RUNPATH that finds ``directory`` from the object once both are installed side by side.

    Computed from where the object *will be installed* (its package path inside
    site-packages), never from where it happens to be audited: an in-tree build
    of a top-level package's extension gets ``$ORIGIN/../torch/lib``, not the route
    from the source tree to this machine's virtualenv.
    """
    theirs = _install_relative(os.path.join(directory, "x"))
    if theirs is not None:
        path, _, member = obj.path.rpartition("!")
        if path:  # a wheel member: its name inside the wheel is its installed path
            mine = [p for p in member.split("/") if p]
        else:
            mine = _install_relative(obj.path) or _package_relative(obj.path)
        rel = "/".join([".."] * (len(mine) - 1) + theirs[:-1])
        return "$ORIGIN/" + rel if rel else "$ORIGIN"
    # a directory outside any site-packages (the project's own tree): the route between the two
    here = os.path.dirname(os.path.abspath(obj.path))
    rel = os.path.relpath(directory, here)
    return "$ORIGIN" if rel == "." else f"$ORIGIN/{rel}"


def _missing_groups(obj: ObjectReport) -> list[Suggestion]:
    """The missing-library diagnosis' fixes, once per directory that holds candidates."""
    out: list[Suggestion] = []
    by_dir: dict[str, list[str]] = {}
    nowhere: list[str] = []
    for n in obj.needed:
        if n.status is not Status.MISSING:
            continue
        if n.candidates:
            by_dir.setdefault(str(n.candidates[0].parent), []).append(n.name)
        else:
            nowhere.append(n.name)
    for directory, names in by_dir.items():
        libs = ", ".join(names)
        pkg = python_package_of(Path(directory))
        if pkg:
            out.append(Suggestion(kind="import-first", title=f"import {pkg} before this module",
                                  text=f"import {pkg}  # loads {libs} into the process; the module then finds them by soname"))
        rp = _runpath_for(obj, directory)
        out.append(Suggestion(
            kind="runpath",
            title=f"give the object a RUNPATH that reaches {directory}",
            text=(f"extra_link_args=[\"-Wl,-rpath,{rp}\"]   # at build time (setuptools)\n"
                  f"patchelf --set-rpath '{rp}' {shlex.quote(obj.path)}   # after the fact"),
        ))
        out.append(Suggestion(kind="ld-library-path", title="last resort: LD_LIBRARY_PATH",
                              text=f"export LD_LIBRARY_PATH={shlex.quote(directory)}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"))
    for name in nowhere:
        out.append(Suggestion(kind="missing", title=f"{name} is not installed anywhere linkaudit looked",
                              text="install the package that provides it, or pass --search-path DIR if it lives elsewhere"))
    return out


def _python_packages(obj: ObjectReport) -> list[Suggestion]:
    """One import-order note per Python package whose libraries the object finds only that way."""
    by_pkg: dict[tuple[str, str], list[str]] = {}
    for n in obj.needed:
        if n.found_via is FoundVia.PYTHON_PACKAGE and n.path is not None and n.python_package:
            by_pkg.setdefault((n.python_package, str(n.path.parent)), []).append(n.name)
    out = []
    for (pkg, directory), names in by_pkg.items():
        rp = _runpath_for(obj, directory)
        out.append(Suggestion(
            kind="import-order",
            title=f"{', '.join(names)} load only after `import {pkg}`",
            text=(f"import {pkg}  # must come before importing this module (or the package's __init__ does it)\n"
                  f"# to import it on its own: extra_link_args=[\"-Wl,-rpath,{rp}\"]"),
        ))
    return out


def missing_fixes(obj: ObjectReport) -> tuple[Suggestion, ...]:
    """The fixes of the missing-library diagnosis, which every report carries."""
    return tuple(_missing_groups(obj))


def with_suggestions(report: Report, full: bool = True) -> Report:
    """Attach suggestions: all of them (``--fix-suggestions``), or only the fixes for missing libraries."""
    make = suggest if full else missing_fixes
    return replace(report, objects=tuple(replace(o, suggestions=make(o)) for o in report.objects))
