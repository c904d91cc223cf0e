"""``--format tree`` against the loader's own order: ``ldd`` lists the link-map chain, which is breadth-first.

Read breadth-first, the tree's expanded nodes must be exactly the libraries
``ldd`` lists, in ldd's order (the vDSO and the interpreter aside: ldd shows
them where the kernel and rtld put them).  Every expanded node must also
appear in its parent's DT_NEEDED, read here with pyelftools directly.
ldd runs only on files these tests built, the system's own programs and torch.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import IS_GLIBC

from linkaudit.audit import AuditOptions, audit
from linkaudit.formats.tree import BRANCH, LAST, PIPE, SPACE, TreeFormat
from linkaudit.loader import LoaderEnv

LDD = shutil.which("ldd")
pytestmark = [pytest.mark.oracle,
              pytest.mark.skipif(not IS_GLIBC or LDD is None, reason="the ldd oracle needs glibc's ldd")]
SKIP = re.compile(r"^(linux-vdso|linux-gate|ld-linux|ld64)|/ld-linux")


def ldd_order(path: Path | str, ld_library_path: str | None = None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    if ld_library_path:
        env["LD_LIBRARY_PATH"] = ld_library_path
    out = subprocess.run([LDD, str(path)], capture_output=True, text=True, env=env, timeout=60, check=True).stdout
    names = [line.split()[0] for line in out.splitlines() if line.startswith("\t")]
    return [n for n in names if not SKIP.search(n)]


def tree_nodes(text: str) -> list[tuple[str, list]]:
    """The tree's expanded nodes as (name, children), references and 'searched' lines left out."""
    root: list = []
    stack: list[tuple[int, list]] = [(-1, root)]
    for line in text.splitlines()[1:]:
        i = depth = 0
        while line[i:i + 4] in (BRANCH, LAST, PIPE, SPACE):
            i += 4
            depth += 1
        rest = line[i:]
        if not rest or rest.startswith("searched:") or "(see above)" in rest or "(see below)" in rest:
            continue
        while stack[-1][0] >= depth:
            stack.pop()
        node: tuple[str, list] = (rest.split()[0], [])
        stack[-1][1].append(node)
        stack.append((depth, node[1]))
    return root


def breadth_first(nodes: list[tuple[str, list]]) -> list[str]:
    order, queue = [], list(nodes)
    while queue:
        name, children = queue.pop(0)
        order.append(name)
        queue.extend(children)
    return order


def _check(path: Path | str, ld_library_path: str | None = None) -> list[str]:
    report = audit([str(path)], AuditOptions(env=LoaderEnv(ld_library_path=ld_library_path,
                                                           python_package_rule=False), jobs=1))
    assert not report.errors
    text = TreeFormat().format(report)
    got = [n for n in breadth_first(tree_nodes(text)) if not SKIP.search(n)]
    assert got == ldd_order(path, ld_library_path), text
    _check_parents(report.objects[0], tree_nodes(text), str(path))
    return got


def _check_parents(obj, nodes, main_path: str) -> None:
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    paths = {lib.name: str(lib.path) for lib in obj.loaded}

    def needed(path: str) -> set[str]:
        with open(path, "rb") as fh:
            for section in ELFFile(fh).iter_sections():
                if isinstance(section, DynamicSection):
                    return {t.needed for t in section.iter_tags() if t.entry.d_tag == "DT_NEEDED"}
        return set()

    def walk(parent: str, children) -> None:
        want = needed(parent)
        for name, grandchildren in children:
            assert name in want, f"{name} is shown under {parent}, which does not need it"
            if name in paths:
                walk(paths[name], grandchildren)

    walk(main_path, nodes)


@pytest.mark.requires_cc
def test_synthetic_chain(build_so, build_exe, tmp_path: Path) -> None:
    d = tmp_path / "lib"
    lib_d = build_so("libD.so", "int d_fn(void) { return 4; }", out_dir=d)
    lib_c = build_so("libC.so", "int d_fn(void); int c_fn(void) { return d_fn(); }", out_dir=d, libs=[lib_d],
                     runpath=["$ORIGIN"])
    lib_b = build_so("libB.so", "int c_fn(void); int b_fn(void) { return c_fn(); }", out_dir=d, libs=[lib_c],
                     runpath=["$ORIGIN"])
    lib_a = build_so("libA.so", "int b_fn(void); int c_fn(void); int a_fn(void) { return b_fn() + c_fn(); }",
                     out_dir=d, libs=[lib_c, lib_b], runpath=["$ORIGIN"])
    exe = build_exe("app", "int a_fn(void); int b_fn(void); int main(void) { return a_fn() + b_fn(); }",
                    out_dir=tmp_path, libs=[lib_a, lib_b, "m"], runpath=["$ORIGIN/lib"])
    order = _check(exe)
    assert order[:4] == ["libA.so", "libB.so", "libm.so.6", "libc.so.6"]  # the executable's own, in order


@pytest.mark.parametrize("program", ["ls", "ssh", "curl", "git", "gpg", "python3"])
def test_system_programs(program: str) -> None:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed")
    _check(os.path.realpath(path))


@pytest.mark.requires_torch
def test_greet_extension(torch_lib_dir: Path) -> None:
    from _greet import require_extension  # tests/integration/_greet.py: finds the built demo

    _check(require_extension("_C"), str(torch_lib_dir))
