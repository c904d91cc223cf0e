"""Shared fixtures: compile ELF objects from ``tests/c``, run the CLI, find torch.

Nothing binary is committed: every ELF fixture is built here with the system
C compiler into a session temporary directory.  Tests that need a compiler
skip with a clear reason when there is none.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

C_DIR = Path(__file__).parent / "c"
CC = shutil.which("cc")
CXX = shutil.which("c++") or shutil.which("g++")
#: a glibc Linux host: the ldd oracle and glibc's loader rules apply (test modules import it from here)
IS_GLIBC = sys.platform.startswith("linux") and (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
LDD = shutil.which("ldd")
UNUSED_HEADER = "Unused direct dependencies:"
NO_CC_REASON = "no C compiler (cc) on PATH to build ELF fixtures"
DEMO = Path(__file__).resolve().parents[1] / "demo"
# The greet demo is its own distribution (demo/): its source tree, where its build copies the
# extensions, comes first, as the repository root does for linkaudit.
if str(DEMO) not in sys.path:
    sys.path.insert(0, str(DEMO))


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "requires_cc: needs the system C compiler to build ELF fixtures",
        "requires_torch: needs torch installed (its lib/ directory is audited)",
        "oracle: compares linkaudit with glibc's ldd (glibc only; runs ldd on trusted files)",
        "slow: takes more than a few seconds",
    ):
        config.addinivalue_line("markers", line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_cc = pytest.mark.skip(reason=NO_CC_REASON)
    for item in items:
        if CC is None and "requires_cc" in item.keywords:
            item.add_marker(skip_cc)


# -- building ELF fixtures ----------------------------------------------------


class BuildError(RuntimeError):
    pass


def _source(src: str | Path, workdir: Path) -> Path:
    """A source file of tests/c by name, or a snippet of C (``int f(void){...}``) written out."""
    if isinstance(src, Path):
        return src
    if "\n" in src or "(" in src or "{" in src:
        workdir.mkdir(parents=True, exist_ok=True)
        n = len(list(workdir.glob("snippet*.c")))
        path = workdir / f"snippet{n}.c"
        path.write_text(src)
        return path
    return C_DIR / src


@dataclass
class Builder:
    """Compile shared objects and executables with ``cc`` into one directory tree."""

    root: Path
    log: list[list[str]] = field(default_factory=list)

    def _compile(self, out: Path, sources: Sequence[str | Path], args: list[str], *, cxx: bool) -> Path:
        compiler = CXX if cxx else CC
        if compiler is None:
            pytest.skip(NO_CC_REASON if not cxx else "no C++ compiler (c++) to build ELF fixtures")
        out.parent.mkdir(parents=True, exist_ok=True)
        srcs = [str(_source(s, self.root / "_src")) for s in sources]
        cmd = [compiler, *srcs, "-o", str(out), *args]
        self.log.append(cmd)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BuildError(f"{' '.join(cmd)}\n{proc.stderr}")
        return out

    @staticmethod
    def _link_args(*, libs: Iterable[str | Path], lib_dirs: Iterable[str | Path], rpath: Sequence[str] | None,
                   runpath: Sequence[str] | None, version_script: str | Path | None, as_needed: bool,
                   extra: Iterable[str]) -> list[str]:
        args = ["-Wl,--as-needed" if as_needed else "-Wl,--no-as-needed"]
        for d in lib_dirs:
            args.append(f"-L{d}")
        for lib in libs:
            lib = str(lib)
            # A path links that file; "m" or "-lm" links by name.
            args.append(lib if "/" in lib or lib.startswith("-") else f"-l{lib}")
        if rpath is not None and runpath is not None:
            raise ValueError("give rpath or runpath, not both")
        if rpath is not None:
            args += ["-Wl,--disable-new-dtags", f"-Wl,-rpath,{':'.join(rpath)}"]
        if runpath is not None:
            args += ["-Wl,--enable-new-dtags", f"-Wl,-rpath,{':'.join(runpath)}"]
        if version_script is not None:
            vs = version_script if isinstance(version_script, Path) or "/" in str(version_script) else C_DIR / version_script
            args.append(f"-Wl,--version-script={vs}")
        args.extend(extra)
        return args

    def so(self, name: str, sources: str | Path | Sequence[str | Path], *, out_dir: str | Path | None = None,
           soname: str | None | bool = True, libs: Iterable[str | Path] = (), lib_dirs: Iterable[str | Path] = (),
           rpath: Sequence[str] | None = None, runpath: Sequence[str] | None = None,
           version_script: str | Path | None = None, as_needed: bool = False, extra: Iterable[str] = (),
           cxx: bool = False) -> Path:
        """Build ``out_dir/name`` as a shared object.

        ``soname=True`` sets DT_SONAME to ``name``, a string sets it to that,
        ``False``/``None`` leaves it out.  ``libs`` are paths or ``-l`` names;
        ``rpath`` gives DT_RPATH (``--disable-new-dtags``) and ``runpath``
        DT_RUNPATH (``--enable-new-dtags``).  ``--no-as-needed`` is explicit
        unless ``as_needed`` is set, so every library named stays in DT_NEEDED.
        """
        if isinstance(sources, (str, Path)):
            sources = [sources]
        out = (Path(out_dir) if out_dir is not None else self.root) / name
        args = ["-shared", "-fPIC"]
        if soname:
            args.append(f"-Wl,-soname,{name if soname is True else soname}")
        args += self._link_args(libs=libs, lib_dirs=lib_dirs, rpath=rpath, runpath=runpath,
                                version_script=version_script, as_needed=as_needed, extra=extra)
        return self._compile(out, sources, args, cxx=cxx or any(str(s).endswith(".cpp") for s in sources))

    def exe(self, name: str, sources: str | Path | Sequence[str | Path], *, out_dir: str | Path | None = None,
            pie: bool = True, libs: Iterable[str | Path] = (), lib_dirs: Iterable[str | Path] = (),
            rpath: Sequence[str] | None = None, runpath: Sequence[str] | None = None, as_needed: bool = False,
            extra: Iterable[str] = (), cxx: bool = False) -> Path:
        """Build ``out_dir/name`` as an executable (PIE unless ``pie=False``)."""
        if isinstance(sources, (str, Path)):
            sources = [sources]
        out = (Path(out_dir) if out_dir is not None else self.root) / name
        args = ["-fPIE", "-pie"] if pie else ["-fno-pic", "-no-pie"]
        args += self._link_args(libs=libs, lib_dirs=lib_dirs, rpath=rpath, runpath=runpath, version_script=None,
                                as_needed=as_needed, extra=extra)
        return self._compile(out, sources, args, cxx=cxx or any(str(s).endswith(".cpp") for s in sources))


def ldd_env(ld_library_path: str | Path | None = None) -> dict[str, str]:
    """This environment without the loader's LD_* variables (plus ``LD_LIBRARY_PATH`` when given): the oracle's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LD_")}
    if ld_library_path is not None:
        env["LD_LIBRARY_PATH"] = str(ld_library_path)
    return env


def parse_ldd_unused(stdout: str) -> list[str] | None:
    """The paths ``ldd -u`` lists under "Unused direct dependencies:", in order; None without that list."""
    lines = [line.strip() for line in stdout.splitlines()]
    if UNUSED_HEADER not in lines:
        return None
    return [line for line in lines[lines.index(UNUSED_HEADER) + 1:] if line]


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> object:
    """``build(directory)``, once per test run even on several pytest-xdist workers.

    Without workers it builds into a fresh directory.  With them, the first worker to ask
    builds into a directory of the run that all workers share, under a lock, and records the
    result (pickled); the others wait, then read it.  Only for fixtures tests never modify.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return build(tmp_path_factory.mktemp(name))
    shared = tmp_path_factory.getbasetemp().parent / f"shared-{name}"
    shared.mkdir(exist_ok=True)
    record = shared / "built.pickle"
    with open(shared.with_name(shared.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if record.exists():
            return pickle.loads(record.read_bytes())
        result = build(shared)
        record.write_bytes(pickle.dumps(result))
        return result


@pytest.fixture(scope="session")
def builder(tmp_path_factory: pytest.TempPathFactory) -> Builder:
    if CC is None:
        pytest.skip(NO_CC_REASON)
    return Builder(tmp_path_factory.mktemp("elf"))


@pytest.fixture(scope="session")
def build_so(builder: Builder) -> Callable[..., Path]:
    """``build_so(name, sources, **options) -> Path``: see :meth:`Builder.so`."""
    return builder.so


@pytest.fixture(scope="session")
def build_exe(builder: Builder) -> Callable[..., Path]:
    """``build_exe(name, sources, **options) -> Path``: see :meth:`Builder.exe`."""
    return builder.exe


# -- running the CLI ------------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def invoke_cli(args: Sequence[str], env: Mapping[str, str | None] | None = None) -> CliResult:
    """Run ``linkaudit ARGS`` in-process with click's CliRunner (exceptions propagate)."""
    from click.testing import CliRunner

    from linkaudit.cli import main

    full_env: dict[str, str | None] = {"NO_COLOR": "1", "COLUMNS": "80", "FORCE_COLOR": None}
    if env:
        full_env.update(env)
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()
    result = runner.invoke(main, [str(a) for a in args], env=full_env, catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="session")
def objs(tmp_path_factory: pytest.TempPathFactory, build_so, build_exe) -> dict[str, Path]:
    """Two executables for the CLI tests: one clean, one that links an unused library ($ORIGIN finds both)."""
    d = tmp_path_factory.mktemp("cli")
    used = build_so("libused.so", "used.c", out_dir=d)
    unused = build_so("libunused.so", "unused.c", out_dir=d)
    return {
        "clean": build_exe("clean", "main_basic.c", out_dir=d, libs=[used], runpath=["$ORIGIN"]),
        "unused": build_exe("with_unused", "main_basic.c", out_dir=d, libs=[used, unused], runpath=["$ORIGIN"]),
        "libused": used,
        "libunused": unused,
    }


@pytest.fixture
def run_cli() -> Callable[..., CliResult]:
    """``run_cli(args, env=None) -> CliResult(exit_code, stdout, stderr)``.

    ``env`` entries override (None removes) variables for the run; NO_COLOR=1
    and COLUMNS=80 are always set.
    """
    return invoke_cli


# -- torch -------------------------------------------------------------------------


def find_torch_lib_dir() -> Path | None:
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return lib if lib.is_dir() else None


@pytest.fixture(scope="session")
def torch_lib_dir() -> Path:
    lib = find_torch_lib_dir()
    if lib is None:
        pytest.skip("torch is not installed (importlib.util.find_spec('torch') found no torch/lib)")
    return lib


# -- the scenario catalogue ---------------------------------------------------------
#
# Each scenario is one audited object plus the environment to load it in, and
# what first principles say about its DT_NEEDED entries (by soname).  The unit
# tests check those expectations; the ldd oracle checks every scenario against
# glibc itself.


def _dst_lib() -> str | None:
    """``$LIB`` of this x86-64 system: Debian's multiarch ``lib/x86_64-linux-gnu``, else ``lib64``."""
    if os.uname().machine != "x86_64":
        return None
    return "lib/x86_64-linux-gnu" if os.path.isdir("/usr/lib/x86_64-linux-gnu") else "lib64"


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    expect: Mapping[str, str]  # DT_NEEDED name -> expected status (only the interesting ones)
    ld_library_path: str | None = None
    cwd: Path | None = None
    unresolved: frozenset[str] = frozenset()
    # ldd -u walks its l_next chain once per DT_NEEDED entry, so when two entries name
    # one object its list can differ from the per-entry verdicts: compare ldd_unused only.
    chain_quirk: bool = False


def patch_symbol_value(path: Path, symbol: str, value: int) -> None:
    """Set ``st_value`` of ``symbol`` in ``.dynsym`` (64-bit little-endian) in place."""
    import struct

    from elftools.elf.elffile import ELFFile

    with open(path, "r+b") as fh:
        elf = ELFFile(fh)
        dynsym = elf.get_section_by_name(".dynsym")
        offset = None
        for i, sym in enumerate(dynsym.iter_symbols()):
            if sym.name == symbol:
                offset = dynsym["sh_offset"] + i * dynsym["sh_entsize"] + 8
                break
        if offset is None:
            raise BuildError(f"{symbol} not in .dynsym of {path}")
        fh.seek(offset)
        fh.write(struct.pack("<Q", value))


def build_scenarios(b: Builder) -> dict[str, Scenario]:
    root = b.root / "scenarios"
    common = root / "common"
    lib = {n: b.so(f"lib{n}.so", f"{n}.c", out_dir=common) for n in ("used", "unused")}
    out: dict[str, Scenario] = {}

    def add(s: Scenario) -> None:
        out[s.name] = s

    rp = [str(common)]
    add(Scenario("basic", b.so("libconsumer_basic.so", "consumer_basic.c", out_dir=root / "basic",
                               libs=lib.values(), runpath=rp),
                 {"libused.so": "used", "libunused.so": "unused"}))
    add(Scenario("exe_pie", b.exe("main_basic", "main_basic.c", out_dir=root / "exe_pie", libs=lib.values(),
                                  runpath=rp),
                 {"libused.so": "used", "libunused.so": "unused"}))
    add(Scenario("undefined", b.so("libconsumer_undefined.so", "consumer_undefined.c", out_dir=root / "undefined",
                                   libs=[lib["used"]], runpath=rp),
                 {"libused.so": "used"}, unresolved=frozenset({"nowhere_fn"})))
    add(Scenario("noop", b.so("libnoop.so", "noop.c", out_dir=root / "noop", libs=lib.values(), runpath=rp),
                 {"libused.so": "unused", "libunused.so": "unused"}))

    # Symbol versions: foo@V1 and foo@@V2 in one library.
    d = root / "versioned"
    ver = b.so("libversioned.so", "versioned.c", out_dir=d, version_script="versioned.map")
    plain = b.so("libfoo_plain.so", "int foo(void) { return 100; }", out_dir=d)
    add(Scenario("version_old", b.so("libconsumer_version_old.so", "consumer_version_old.c", out_dir=d, libs=[ver],
                                     version_script="consumer.map",
                                     runpath=[str(d)]), {"libversioned.so": "used"}))
    add(Scenario("version_new", b.so("libconsumer_version_new.so", "consumer_version_new.c", out_dir=d, libs=[ver],
                                     runpath=[str(d)]), {"libversioned.so": "used"}))
    # A versioned reference accepts an unversioned definition in an object without version tables.
    add(Scenario("version_shadowed", b.so("libconsumer_version_shadowed.so", "consumer_version_old.c", out_dir=d,
                                          libs=[plain, ver], runpath=[str(d)], version_script="consumer.map"),
                 # libfoo_plain binds foo@V1 with an unversioned copy of libversioned's foo: incidental.
                 {"libfoo_plain.so": "incidental", "libversioned.so": "unused"}))

    d = root / "weak"
    weak = b.so("libweak_provider.so", "weak_provider.c", out_dir=d)
    add(Scenario("weak", b.so("libconsumer_weak.so", "consumer_weak.c", out_dir=d, libs=[weak, lib["unused"]],
                              runpath=[str(d), str(common)]),
                 {"libweak_provider.so": "used", "libunused.so": "unused"}))

    d = root / "interpose"
    ia = b.so("libinterpose_a.so", "interpose_a.c", out_dir=d)
    ib = b.so("libinterpose_b.so", "interpose_b.c", out_dir=d)
    add(Scenario("interpose_ab", b.so("libconsumer_ab.so", "consumer_interpose.c", out_dir=d, libs=[ia, ib],
                                      runpath=[str(d)]),
                 {"libinterpose_a.so": "used", "libinterpose_b.so": "unused"}))
    add(Scenario("interpose_ba", b.so("libconsumer_ba.so", "consumer_interpose.c", out_dir=d, libs=[ib, ia],
                                      runpath=[str(d)]),
                 {"libinterpose_b.so": "used", "libinterpose_a.so": "unused"}))

    d = root / "transitive"
    inner = b.so("libtrans_inner.so", "trans_inner.c", out_dir=d)
    outer = b.so("libtrans_outer.so", "trans_outer.c", out_dir=d, libs=[inner], runpath=["$ORIGIN"])
    add(Scenario("transitive", b.so("libconsumer_trans.so", "consumer_trans.c", out_dir=d, libs=[outer],
                                    runpath=[str(d)], extra=[f"-Wl,-rpath-link,{d}"]),
                 {"libtrans_outer.so": "unused"}))

    # DT_RPATH of the loading chain applies to grandchildren; DT_RUNPATH does not.
    d = root / "chain"
    da, db = d / "a", d / "b"
    grand = b.so("libchain_grand.so", "chain_grand.c", out_dir=db)
    child = b.so("libchain_child.so", "chain_child.c", out_dir=da, libs=[grand])
    for kind in ("rpath", "runpath"):
        paths = {kind: [str(da), str(db)]}
        add(Scenario(f"chain_{kind}", b.so(f"libconsumer_chain_{kind}.so", "consumer_chain.c", out_dir=d / kind,
                                           libs=[child], extra=[f"-Wl,-rpath-link,{db}"], **paths),
                     {"libchain_child.so": "used"}))

    d = root / "origin"
    used_sub = b.so("libused.so", "used.c", out_dir=d / "sub")
    for kind in ("rpath", "runpath"):
        add(Scenario(f"origin_{kind}", b.so(f"libconsumer_origin_{kind}.so", "consumer_basic.c", out_dir=d,
                                            libs=[used_sub], **{kind: ["$ORIGIN/sub"]}),
                     {"libused.so": "used"}))

    # DT_NEEDED libsn_file.so loads a file whose DT_SONAME is libsn_alias.so; the
    # second entry libsn_alias.so then matches the loaded object by soname.
    d = root / "soname"
    b.so("libsn_file.so", "soname_lib.c", out_dir=d / "link", soname=False)
    b.so("libsn_alias.so", "soname_lib.c", out_dir=d / "link")
    consumer = b.so("libconsumer_soname.so", "consumer_soname.c", out_dir=d, lib_dirs=[d / "link"],
                    libs=["-l:libsn_file.so", "-l:libsn_alias.so"], runpath=[str(d / "run")])
    b.so("libsn_file.so", "soname_lib.c", out_dir=d / "run", soname="libsn_alias.so")
    add(Scenario("soname_alias", consumer, {"libsn_file.so": "used", "libsn_alias.so": "used"}, chain_quirk=True))
    # A symlinked soname: DT_NEEDED libsn_real.so.1 -> libsn_real.so.1.2.3
    real = b.so("libsn_real.so.1.2.3", "soname_lib.c", out_dir=d / "sym", soname="libsn_real.so.1")
    link = d / "sym" / "libsn_real.so.1"
    if not link.exists():
        link.symlink_to(real.name)
    add(Scenario("soname_symlink", b.so("libconsumer_symlink.so", "consumer_soname.c", out_dir=d / "sym",
                                        libs=[real], runpath=["$ORIGIN"]), {"libsn_real.so.1": "used"}))

    d = root / "missing"
    gone = b.so("liblinkaudit_gone.so", "unused.c", out_dir=d / "gone")
    add(Scenario("missing", b.so("libconsumer_missing.so", "consumer_basic.c", out_dir=d,
                                 libs=[lib["used"], gone], runpath=rp),
                 {"libused.so": "used", "liblinkaudit_gone.so": "missing"}))
    gone.unlink()

    d = root / "visibility"
    vis = b.so("libvisibility.so", "visibility.c", out_dir=d, version_script="visibility.map")
    visfb = b.so("libvisibility_fallback.so", "visibility_fallback.c", out_dir=d)
    add(Scenario("visibility", b.so("libconsumer_visibility.so", "consumer_visibility.c", out_dir=d,
                                    libs=[vis, visfb], runpath=[str(d)]),
                 {"libvisibility.so": "unused", "libvisibility_fallback.so": "used"}))
    add(Scenario("protected", b.so("libconsumer_protected.so", "consumer_protected.c", out_dir=d,
                                   libs=[vis], runpath=[str(d)]), {"libvisibility.so": "used"}))

    d = root / "zero"
    zero = b.so("libzero_value.so", "zero_value.c", out_dir=d)
    zfb = b.so("libzero_fallback.so", "zero_fallback.c", out_dir=d)
    consumer = b.so("libconsumer_zero.so", "consumer_zero.c", out_dir=d, libs=[zero, zfb], runpath=[str(d)])
    patch_symbol_value(zero, "zero_fn", 0)
    add(Scenario("zero_value", consumer, {"libzero_value.so": "unused", "libzero_fallback.so": "used"}))

    d = root / "tls"
    tls = b.so("libtls_provider.so", "tls_provider.c", out_dir=d)
    add(Scenario("tls", b.so("libconsumer_tls.so", "consumer_tls.c", out_dir=d, libs=[tls], runpath=[str(d)]),
                 {"libtls_provider.so": "used"}))

    d = root / "ifunc"
    ifn = b.so("libifunc_provider.so", "ifunc_provider.c", out_dir=d)
    add(Scenario("ifunc", b.so("libconsumer_ifunc.so", "consumer_ifunc.c", out_dir=d, libs=[ifn], runpath=[str(d)]),
                 {"libifunc_provider.so": "used"}))

    if CXX is not None:
        d = root / "unique"
        uniq = b.so("libunique_provider.so", "unique_provider.cpp", out_dir=d)
        add(Scenario("unique", b.so("libconsumer_unique.so", "consumer_unique.cpp", out_dir=d, libs=[uniq],
                                    runpath=[str(d)]),
                     {"libunique_provider.so": "used"}))

    d = root / "copyreloc"
    data = b.so("libdata_provider.so", "data_provider.c", out_dir=d)
    add(Scenario("copyreloc", b.exe("main_copyreloc", "main_copyreloc.c", out_dir=d, pie=False, libs=[data],
                                    runpath=[str(d)]),
                 {"libdata_provider.so": "used"}))

    d = root / "ldlp"
    add(Scenario("ld_library_path", b.so("libconsumer_ldlp.so", "consumer_basic.c", out_dir=d, libs=lib.values()),
                 {"libused.so": "used", "libunused.so": "unused"}, ld_library_path=str(common)))

    d = root / "empty_rpath"
    add(Scenario("empty_rpath", b.so("libconsumer_empty_rpath.so", "consumer_basic.c", out_dir=d,
                                     libs=lib.values(), rpath=[str(d / "nonexistent"), ""]),
                 {"libused.so": "used", "libunused.so": "unused"}, cwd=common))

    # A weak definition in the first library beats a strong one in the second.
    d = root / "interpose"
    iw = b.so("libweak_definition.so", "weak_definition.c", out_dir=d)
    add(Scenario("weak_definition", b.so("libconsumer_wb.so", "consumer_interpose.c", out_dir=d, libs=[iw, ib],
                                         runpath=[str(d)]),
                 {"libweak_definition.so": "used", "libinterpose_b.so": "unused"}))

    # foo@@V9 in the first library does not satisfy a reference to foo@V1.
    d = root / "versioned"
    other = b.so("libfoo_other.so", "int foo(void) { return 9; }", out_dir=d, version_script="other_version.map")
    add(Scenario("version_other", b.so("libconsumer_version_other.so", "consumer_version_old.c", out_dir=d,
                                       libs=[other, ver], runpath=[str(d)], version_script="consumer.map"),
                 {"libfoo_other.so": "unused", "libversioned.so": "used"}))

    # A dependency that needs the main object back (by its DT_SONAME).
    d = root / "cyclic"
    b.so("libcyc_main.so", "noop.c", out_dir=d)  # only to link libcyc_dep against
    cyc = b.so("libcyc_dep.so", "cyclic.c", out_dir=d, libs=[d / "libcyc_main.so"])
    add(Scenario("cyclic", b.so("libcyc_main.so", "int cyc_dep(void); int cm(void) { return cyc_dep(); }",
                                out_dir=d, libs=[cyc], runpath=[str(d)]),
                 {"libcyc_dep.so": "used"}))

    # $PLATFORM and $LIB in a search path: the directory names are glibc's rules applied to this host's
    # CPU and glibc by the tests' own reading of them (glibc_rules.py), never linkaudit's.
    d = root / "dst"
    from glibc_rules import host_expectation

    host = host_expectation()
    libdir = _dst_lib()
    if host is not None and libdir is not None:
        u1 = b.so("libused.so", "used.c", out_dir=d / str(host["platform"]))
        u2 = b.so("libunused.so", "unused.c", out_dir=d / libdir)
        add(Scenario("dst_platform_lib", b.so("libconsumer_dst.so", "consumer_basic.c", out_dir=d, libs=[u1, u2],
                                              runpath=["$ORIGIN/$PLATFORM", "$ORIGIN/${LIB}"]),
                     {"libused.so": "used", "libunused.so": "unused"}))

    # A missing library first: ldd -u walks glibc's chain, where a library not found still takes a place.
    d = root / "missing"
    gone2 = b.so("liblinkaudit_gone2.so", "unused.c", out_dir=d / "gone")
    add(Scenario("missing_first", b.so("libconsumer_missing_first.so", "consumer_basic.c", out_dir=d,
                                       libs=[gone2, lib["used"], lib["unused"]], runpath=rp),
                 {"liblinkaudit_gone2.so": "missing", "libused.so": "used", "libunused.so": "unused"}))
    gone2.unlink()

    # The dynamic loader itself as a direct dependency (libc.so.6 has it too).
    d = root / "ldso"
    interp = "/lib64/ld-linux-x86-64.so.2"
    if os.path.exists(interp):
        add(Scenario("needs_ldso", b.so("libconsumer_ldso.so", "consumer_basic.c", out_dir=d,
                                        libs=[interp, lib["unused"], lib["used"]], runpath=rp),
                     {"ld-linux-x86-64.so.2": "unused", "libused.so": "used", "libunused.so": "unused"}))

    # RPATH before LD_LIBRARY_PATH before RUNPATH: the unused copy that ldd names shows which was taken.
    d = root / "order"
    first = b.so("libunused.so", "unused.c", out_dir=d / "first")
    b.so("libunused.so", "unused.c", out_dir=d / "second")
    add(Scenario("rpath_over_ldlp", b.so("libconsumer_rp.so", "consumer_basic.c", out_dir=d,
                                         libs=[lib["used"], first], rpath=[str(d / "first"), str(common)]),
                 {"libused.so": "used", "libunused.so": "unused"}, ld_library_path=str(d / "second")))
    add(Scenario("ldlp_over_runpath", b.so("libconsumer_runp.so", "consumer_basic.c", out_dir=d,
                                           libs=[lib["used"], first], runpath=[str(d / "second"), str(common)]),
                 {"libused.so": "used", "libunused.so": "unused"}, ld_library_path=str(d / "first")))

    # Unversioned references and libraries that define only versioned copies (check_match's num_versions).
    d = root / "nondefault"
    b.so("libnd.so", "noop.c", out_dir=d / "link")
    b.so("libfoo_plain.so", "int foo(void) { return 100; }", out_dir=d / "link")
    for variant, extra, first in (("only_hidden", [], "unused"), ("single_default", ["-DWITH_DEFAULT"], "used")):
        run = d / variant
        b.so("libfoo_plain.so", "int foo(void) { return 100; }", out_dir=run)
        consumer = b.so("libconsumer_nd.so", "consumer_version_new.c", out_dir=run, lib_dirs=[d / "link"],
                        libs=["nd", "foo_plain"], runpath=[str(run)])
        b.so("libnd.so", "nondefault.c", out_dir=run, version_script="nondefault.map", extra=extra)
        add(Scenario(f"unversioned_{variant}", consumer,
                     {"libnd.so": first, "libfoo_plain.so": "unused" if first == "used" else "used"}))

    d = root / "self"
    add(Scenario("self_definition", b.so("libself_definition.so", "self_definition.c", out_dir=d,
                                         libs=[lib["used"]], runpath=rp),
                 {"libused.so": "unused"}))

    d = root / "pyext"
    add(Scenario("python_extension", b.so("fakeext.cpython-311-x86_64-linux-gnu.so", "pyext.c", out_dir=d,
                                          libs=[lib["used"]], runpath=rp, soname=False),
                 {"libused.so": "used"}))

    d = root / "stubs"
    add(Scenario("glibc_stubs", b.so("libconsumer_stubs.so", "consumer_stubs.c", out_dir=d,
                                     libs=["m", "-l:libpthread.so.0", "-l:libdl.so.2", "-l:librt.so.1"]),
                 {"libm.so.6": "used", "libpthread.so.0": "unused", "libdl.so.2": "unused",
                  "librt.so.1": "unused"}))
    return out


SCENARIO_NAMES = (
    "basic", "exe_pie", "undefined", "noop", "version_old", "version_new", "version_shadowed", "weak",
    "interpose_ab", "interpose_ba", "transitive", "chain_rpath", "chain_runpath", "origin_rpath", "origin_runpath",
    "soname_alias", "soname_symlink", "missing", "visibility", "protected", "zero_value", "tls", "ifunc", "unique",
    "copyreloc", "ld_library_path", "empty_rpath", "glibc_stubs", "weak_definition", "version_other", "cyclic",
    "dst_platform_lib", "missing_first", "needs_ldso", "rpath_over_ldlp", "ldlp_over_runpath",
    "unversioned_only_hidden", "unversioned_single_default", "self_definition", "python_extension",
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scenario_name" in metafunc.fixturenames:
        metafunc.parametrize("scenario_name", SCENARIO_NAMES)


@pytest.fixture(scope="session")
def scenarios(builder: Builder, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Scenario]:
    """The catalogue, compiled once per run (about 60 objects) and shared by every worker."""
    built = built_once(tmp_path_factory, "scenarios", lambda d: build_scenarios(Builder(d)))
    assert set(built) <= set(SCENARIO_NAMES), set(built) - set(SCENARIO_NAMES)
    return built


@pytest.fixture
def scenario(scenarios: dict[str, Scenario], scenario_name: str) -> Scenario:
    if scenario_name not in scenarios:
        pytest.skip(f"scenario {scenario_name} could not be built here (no C++ compiler)")
    return scenarios[scenario_name]
