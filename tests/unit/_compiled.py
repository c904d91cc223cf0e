"""The compiled twin of linkaudit/bulk.py for the tests, wherever it can be had.

The tests import linkaudit from the checkout, which holds no compiled extension
after a plain ``pip install .`` (that one went to site-packages).  So, like the
ELF fixtures, the extension is compiled here with the system C compiler when the
checkout has none; without a compiler or Python's headers the C tests skip.
"""

from __future__ import annotations

import atexit
import importlib.util
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from types import ModuleType

SOURCE = Path(__file__).resolve().parents[2] / "linkaudit" / "_speedups.c"
WHY_NOT = "the compiled extension could not be had here (no C compiler or no Python headers); only the " \
          "pure-Python path exists to test"


def _compile() -> ModuleType | None:
    cc = shutil.which("cc") or shutil.which("gcc")
    include = sysconfig.get_paths().get("include")
    if cc is None or not include or not (Path(include) / "Python.h").is_file():
        return None
    out = Path(tempfile.mkdtemp(prefix="linkaudit-speedups-"))
    atexit.register(shutil.rmtree, out, True)
    so = out / ("_speedups" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))
    proc = subprocess.run([cc, "-std=c99", "-O2", "-shared", "-fPIC", f"-I{include}", str(SOURCE), "-o", str(so)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    spec = importlib.util.spec_from_file_location("linkaudit._speedups", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules.pop("linkaudit._speedups", None)  # loading registered it: linkaudit.accel must not find it there
    return module


def _load() -> ModuleType | None:
    try:
        import linkaudit._speedups as built  # built in place (setup.py build_ext --inplace) or installed here
    except ImportError:
        return _compile()
    return built


speedups = _load()
