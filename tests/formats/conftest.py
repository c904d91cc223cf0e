"""Report objects built by hand, shared by the format tests.

``sample_report`` has one finding of every kind, in an extension module:

- ``libc10.so``: used (one binding), found inside the torch package;
- ``libtorch.so``: unused, drags in ``libtorch_cpu.so`` (loaded only for it);
- ``libgomp.so.1``: incidental (its one binding belongs to libtorch_cpu.so);
- ``libmissing.so.2``: missing (searched two directories, one candidate elsewhere);
- ``_Z3foov``: unresolved;

plus a statically linked object and one input error.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from linkaudit.hostparams import LoaderParams
from linkaudit.report import (
    Binding,
    Category,
    ErrorEntry,
    FoundVia,
    LoadedLibrary,
    NeededEntry,
    ObjectReport,
    Owner,
    Report,
    SearchStep,
    Status,
    Suggestion,
)

EXT = "build/lib.linux-x86_64-cpython-311/pybind_torch/_C.so"
STATIC = "tools/static-tool"
TORCH = Path("/opt/site-packages/torch/lib")
SCHEMAS = Path(__file__).parent.parent / "schemas"


def make_sample_report() -> Report:
    c10 = NeededEntry(
        name="libc10.so", path=TORCH / "libc10.so", found_via=FoundVia.PYTHON_PACKAGE, status=Status.USED,
        category=Category.TORCH,
        bindings=(Binding("_ZN3c1019UndefinedTensorImpl10_singletonE", None, False, str(TORCH / "libc10.so")),),
        python_package="torch",
    )
    torch = NeededEntry(
        name="libtorch.so", path=TORCH / "libtorch.so", found_via=FoundVia.RUNPATH, status=Status.UNUSED,
        category=Category.TORCH, drags=(TORCH / "libtorch_cpu.so",), drags_bytes=434_000_000,
        has_initializers=True,
    )
    gomp = NeededEntry(
        name="libgomp.so.1", path=Path("/usr/lib/libgomp.so.1"), found_via=FoundVia.CACHE,
        status=Status.INCIDENTAL, category=Category.OPENMP,
        bindings=(Binding("omp_get_num_threads", "OMP_1.0", True, "/usr/lib/libgomp.so.1", owner=Owner("libtorch_cpu.so", "OMP_1.0")),),
    )
    missing = NeededEntry(
        name="libmissing.so.2", path=None, found_via=None, status=Status.MISSING, category=Category.OTHER,
        searched=(SearchStep("/opt/app/lib", "RUNPATH of " + EXT, FoundVia.RUNPATH),
                  SearchStep("/usr/lib", "default", FoundVia.DEFAULT)),
        candidates=(Path("/srv/other/libmissing.so.2"),),
    )
    loaded = (
        LoadedLibrary("libc10.so", TORCH / "libc10.so", "libc10.so", FoundVia.PYTHON_PACKAGE, Category.TORCH,
                      1000, 1, (EXT,)),
        LoadedLibrary("libtorch.so", TORCH / "libtorch.so", "libtorch.so", FoundVia.RUNPATH, Category.TORCH,
                      2000, 1, (EXT,)),
        LoadedLibrary("libgomp.so.1", Path("/usr/lib/libgomp.so.1"), "libgomp.so.1", FoundVia.CACHE,
                      Category.OPENMP, 300, 1, (EXT, str(TORCH / "libtorch_cpu.so"))),
        LoadedLibrary("libtorch_cpu.so", TORCH / "libtorch_cpu.so", "libtorch_cpu.so", FoundVia.RUNPATH,
                      Category.TORCH, 434_000_000, 2, (str(TORCH / "libtorch.so"),), only_for_unneeded=True),
    )
    ext = ObjectReport(
        path=EXT, machine="x86_64", elf_class=64, soname=None,
        needed=(c10, torch, gomp, missing), loaded=loaded, unresolved=("_Z3foov",),
        host_provided=("PyModule_Create2",), ldd_unused=(str(TORCH / "libtorch.so"),), is_python_extension=True,
        warnings=("example warning",), abi="x86_64",
        suggestions=(Suggestion("libraries", "link only c10", "libraries=['c10']", removes=("libtorch.so",),
                                saves_libraries=1, saves_bytes=434_002_000, caution=None),),
    )
    static = ObjectReport(path=STATIC, machine="x86_64", elf_class=64, soname=None, needed=(), loaded=(),
                          unresolved=(), warnings=("statically linked: no dynamic dependencies",), abi="x86_64")
    assumed = LoaderParams("x86_64", "haswell", ("x86_64", "avx512_1"), ("x86-64-v3", "x86-64-v2"), (2, 36),
                           "override", "host cpuinfo", "host cpuinfo", "host libc")
    return Report(objects=(ext, static), errors=(ErrorEntry("notes.txt", "not an ELF file"),), loader=(assumed,))


@pytest.fixture
def sample_report() -> Report:
    return make_sample_report()


@pytest.fixture
def clean_report() -> Report:
    """One object whose only dependency is used: nothing to report."""
    libc = NeededEntry("libc.so.6", Path("/lib/libc.so.6"), FoundVia.CACHE, Status.USED, Category.C_RUNTIME,
                       bindings=(Binding("puts", "GLIBC_2.2.5", False, "/lib/libc.so.6"),))
    obj = ObjectReport("bin/hello", "x86_64", 64, None, (libc,),
                       (LoadedLibrary("libc.so.6", Path("/lib/libc.so.6"), "libc.so.6", FoundVia.CACHE,
                                      Category.C_RUNTIME, 2_000_000, 1, ("bin/hello",)),), ())
    return Report(objects=(obj,))


@pytest.fixture
def empty_report() -> Report:
    return Report()


@pytest.fixture(scope="session")
def report_schema() -> dict:
    """The JSON Schema of ``--format json``, as the package ships it."""
    return json.loads(resources.files("linkaudit.schemas").joinpath("report.schema.json").read_text("utf-8"))


@pytest.fixture(scope="session")
def sarif_schema() -> dict:
    return json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text("utf-8"))
