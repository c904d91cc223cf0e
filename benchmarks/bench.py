#!/usr/bin/env python3
"""linkaudit against ``ldd -u -r``: speed, memory and verdicts (the figures the README quotes).

Run by hand from anywhere, with the Python that has linkaudit's dependencies and torch::

    python benchmarks/bench.py                      # full: 15 runs per timing, every local set
    python benchmarks/bench.py --quick              # 5 runs per timing, one pass per tree, no whole /usr/lib
    python benchmarks/bench.py --download           # also fetch tensorflow-cpu and the wheel corpus (pip)
    python benchmarks/bench.py --json out.json

Every set is timed side by side with ``ldd -u -r`` in the same run, interleaved, and
reported as a ratio (linkaudit time / ldd time), with linkaudit's peak RSS and whether its
``ldd_unused`` agrees with ``ldd -u -r`` on every object.  Sets (each skipped, with the
reason, when its input is missing):

a. one small file: the greet extension ``_C*.so`` in a new process (target: within 10x of ldd),
   plus the in-process ``audit()`` time and the interpreter start-up + import cost.
b. big objects, one new process each: libtorch_cpu.so, the system's libLLVM, and tensorflow-cpu's
   libtensorflow_cc.so.2 (only with --download or an earlier download in the cache).
   Target: within 3x of ldd, peak RSS under 300 MB.
c. trees, one ``linkaudit --format json DIR...`` run (default -j, and -j 1), and the default
   text report as ``linkaudit DIR...`` prints it, vs ``ldd -u -r`` once per file:
   torch/lib plus a selection of system libraries; the wheel corpus (a fixed list of real
   wheels with native code and their vendored .libs, fetched by --download); the whole
   system library directory (not with --quick).  Targets: default -j at most 0.33x the
   ldd loop's time (stretch 0.25x), -j 1 at most 0.5x, peak RSS under 300 MB.
d. the two greet builds in fresh interpreters: ``pybind_torch.greet`` (links torch) vs
   ``pybind_torch.lean.greet``: wall time, peak RSS, .so sizes, bytes of libraries loaded.

``ldd`` runs the dynamic loader on its input (``-r`` runs IFUNC resolvers): the local sets
are this machine's installed libraries; the downloaded ones are wheels from the package
index, fetched only when asked.  Downloads go to --cache (default ~/.cache/linkaudit-bench).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_LIBDIR = "/usr/lib/x86_64-linux-gnu"
ELF_MAGIC = b"\x7fELF"

TARGET_ONE_FILE_RATIO = 10.0  # the greet extension, a new process, vs ldd
TARGET_BIG_RATIO = 3.0  # a big C++ library vs ldd on the same file
TARGET_TREE_RATIO = 0.33  # one `linkaudit DIR` (default -j) vs ldd once per file
TARGET_TREE_STRETCH = 0.25
TARGET_TREE_SINGLE = 0.5  # ... with -j 1
TARGET_PEAK_RSS_MB = 300.0

# The downloaded sets, pinned so that runs compare: real wheels with native code and vendored .libs.
TENSORFLOW = "2.21.0"
WHEELS = (
    "opencv-python-headless==5.0.0.93", "pillow==13.0.0", "pygame==2.6.1", "matplotlib==3.11.2",
    "numpy==2.4.6", "pandas==3.1.1", "grpcio-tools==1.85.1", "pynacl==1.6.2", "scipy==1.17.1",
    "lxml==6.1.3", "cryptography==50.0.2", "psutil==7.2.2", "pyzmq==27.3.0", "h5py==3.16.0",
    "shapely==2.2.0", "kiwisolver==1.5.1", "pyyaml==6.0.4",
)


# -- running children -------------------------------------------------------


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_child(cmd: list[str], env: dict[str, str], stdout=subprocess.DEVNULL, cwd: str | None = None,
              stderr=subprocess.DEVNULL, rss: bool = False) -> Run:
    """Wall seconds, exit status, with ``rss`` peak RSS in MB (else NaN), and CPU seconds of one child.

    CPU seconds (user + system, the child's own and its workers') barely move
    when other work shares the machine; wall seconds do.  Ratios are given in both.

    The peak RSS comes from GNU time, a small C program: a child forked straight
    from this process inherits this process's high-water mark on Linux (at exec
    the old mm's peak is kept), so ``wait4``'s ``ru_maxrss`` would report at least
    the benchmark's own size.  Without /usr/bin/time that upper bound is reported.
    """
    out_file = None
    if rss and GNU_TIME:
        fd, out_file = tempfile.mkstemp(prefix="rss-")
        os.close(fd)
        cmd = [GNU_TIME, "-f", "%M", "-o", out_file, *cmd]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=stderr, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = float("nan")
    if out_file:
        with open(out_file) as fh:
            lines = fh.read().split()
        os.unlink(out_file)
        peak = int(lines[-1]) / 1024.0 if lines and lines[-1].isdigit() else float("nan")
    elif rss:
        peak = usage.ru_maxrss / 1024.0
    return Run(wall, proc.returncode, peak, usage.ru_utime + usage.ru_stime)


class Run(NamedTuple):
    wall: float
    code: int
    peak: float
    cpu: float


def children_cpu() -> float:
    """User + system CPU seconds of every child this process has waited for so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def ms(x: float) -> str:
    return f"{x * 1000:8.1f} ms"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.python = args.python
        self.runs = args.runs or (5 if args.quick else 15)
        self.results: dict[str, object] = {"quick": args.quick, "runs": self.runs}
        self.tmp = tempfile.mkdtemp(prefix="linkaudit-bench-")
        self.cache = os.path.abspath(os.path.expanduser(args.cache))
        self.torch_lib = self._torch_lib()
        # Children import linkaudit and pybind_torch from this checkout; bytecode goes to a
        # private cache, so the timings are those of an installed package (pip compiles .pyc)
        # even where PYTHONDONTWRITEBYTECODE is set, and the tree stays untouched.
        self.base_env = {k: v for k, v in os.environ.items()
                         if k not in ("PYTHONDONTWRITEBYTECODE", "LD_LIBRARY_PATH", "PYTHONPATH")}
        self.base_env["PYTHONPATH"] = os.pathsep.join((str(ROOT), str(ROOT / "demo")))
        self.base_env["NO_COLOR"] = "1"
        if not args.no_pyc_cache:
            self.base_env["PYTHONPYCACHEPREFIX"] = os.path.join(self.tmp, "pycache")
        else:
            self.base_env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.env = dict(self.base_env)
        if self.torch_lib:
            self.env["LD_LIBRARY_PATH"] = self.torch_lib

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def linkaudit_cmd(self, *args: str) -> list[str]:
        return [self.python, "-m", "linkaudit", *args]

    def _child_python(self, code: str) -> str | None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = os.pathsep.join((str(ROOT), str(ROOT / "demo")))
        try:
            out = subprocess.run([self.python, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None

    def _torch_lib(self) -> str | None:
        found = self._child_python(
            "import importlib.util, os\n"
            "s = importlib.util.find_spec('torch')\n"
            "print(os.path.join(os.path.dirname(s.origin), 'lib') if s and s.origin else '')")
        return found if found and os.path.isdir(found) else None

    def greet_extension(self, name: str) -> str | None:
        """``demo/pybind_torch/<name>*.so``: in the checkout, under demo/build/, or wherever it is installed."""
        patterns = [ROOT / "demo" / "pybind_torch" / f"{name}.*.so",
                    ROOT / "demo" / "build" / "lib*" / "pybind_torch" / f"{name}.*.so"]
        for pattern in patterns:
            hits = sorted(glob.glob(str(pattern)))
            if hits:
                return hits[0]
        found = self._child_python(
            "import importlib.util, glob, os\n"
            "s = importlib.util.find_spec('pybind_torch')\n"
            f"hits = sorted(glob.glob(os.path.join(os.path.dirname(s.origin), '{name}.*.so'))) if s and s.origin else []\n"
            "print(hits[0] if hits else '')")
        return found or None

    def has_jobs_option(self) -> bool:
        out = subprocess.run(self.linkaudit_cmd("audit", "--help"), env=self.env, capture_output=True, text=True,
                             cwd=self.tmp)
        return "--jobs" in out.stdout

    # -- a. one file ---------------------------------------------------------

    def section_one_file(self) -> None:
        print("\n== a. one file: linkaudit vs ldd -u -r ==")
        ext = self.greet_extension("_C")
        if ext is None:
            print("SKIPPED: pybind_torch/_C*.so not found; build it first: pip install --no-build-isolation ./demo")
            return
        if not self.torch_lib:
            print("SKIPPED: torch is not importable by", self.python)
            return
        if shutil.which("ldd") is None:
            print("SKIPPED: no ldd on PATH")
            return
        print(f"file: {ext}\nLD_LIBRARY_PATH={self.torch_lib}   runs: {self.runs} each, interleaved")
        ldd_cmd = ["ldd", "-u", "-r", ext]
        la_cmd = self.linkaudit_cmd("--format", "json", ext)
        for cmd in (ldd_cmd, la_cmd):  # warm-up: page cache, bytecode cache
            run_child(cmd, self.env, cwd=self.tmp)
        ldd_r: list[Run] = []
        la_r: list[Run] = []
        for _ in range(self.runs):
            ldd_r.append(run_child(ldd_cmd, self.env, cwd=self.tmp))
            la_r.append(run_child(la_cmd, self.env, cwd=self.tmp))
        ldd_t, la_t = [r.wall for r in ldd_r], [r.wall for r in la_r]
        ratio = median(la_t) / median(ldd_t)
        cpu_ratio = median([r.cpu for r in la_r]) / max(1e-9, median([r.cpu for r in ldd_r]))
        out = subprocess.run(la_cmd, env=self.env, capture_output=True, text=True, cwd=self.tmp)
        try:
            ag = self.agreement([ext], json.loads(out.stdout), [self.ldd_unused(ext, self.env)])
        except ValueError:
            ag = {"agree": 0, "agree_with_unused": 0, "no_ldd_verdict": 0, "disagree": [],
                  "missing_from_linkaudit": [{"path": ext, "why": out.stderr.strip()[-200:]}]}

        # interpreter start-up and import cost
        pass_t, click_t, imp_t = [], [], []
        for _ in range(self.runs):
            pass_t.append(run_child([self.python, "-c", "pass"], self.env, cwd=self.tmp)[0])
            click_t.append(run_child([self.python, "-c", "import click"], self.env, cwd=self.tmp)[0])
            imp_t.append(run_child([self.python, "-c", "import linkaudit.cli"], self.env, cwd=self.tmp)[0])

        # in-process audit(): no interpreter start-up, no imports
        code = (
            "import json, sys, time\n"
            "from linkaudit.audit import AuditOptions, audit\n"
            "from linkaudit.loader import default_env\n"
            "from linkaudit.formats.json import JsonFormat\n"
            "ts = []\n"
            f"for _ in range({self.runs + 1}):\n"
            "    t = time.perf_counter()\n"
            "    r = audit([sys.argv[1]], AuditOptions(env=default_env()))\n"
            "    JsonFormat().format(r)\n"
            "    ts.append(time.perf_counter() - t)\n"
            "print(json.dumps(ts))\n")
        out = subprocess.run([self.python, "-c", code, ext], env=self.env, capture_output=True, text=True,
                             cwd=self.tmp)
        inproc = json.loads(out.stdout) if out.returncode == 0 else None

        # where the import time goes
        out = subprocess.run([self.python, "-X", "importtime", "-m", "linkaudit", "--format", "json", ext],
                             env=self.env, capture_output=True, text=True, cwd=self.tmp)
        top = []
        for line in out.stderr.splitlines():
            parts = line.split("|")
            depth = (len(parts[2]) - len(parts[2].lstrip()) - 1) // 2 if len(parts) == 3 else -1
            if 0 <= depth <= 1 and parts[1].strip().isdigit():
                top.append((int(parts[1]), parts[2].rstrip()[1:]))
        top.sort(reverse=True)

        print(f"  ldd -u -r            median {ms(median(ldd_t))}   min {ms(min(ldd_t))}")
        print(f"  linkaudit (process)  median {ms(median(la_t))}   min {ms(min(la_t))}")
        print(f"  ratio linkaudit/ldd  {ratio:6.1f}x   (target <= {TARGET_ONE_FILE_RATIO:.0f}x: "
              f"{verdict(ratio <= TARGET_ONE_FILE_RATIO)});  in CPU seconds: {cpu_ratio:.1f}x")
        self.print_agreement(ag)
        print(f"  python -c pass       median {ms(median(pass_t))}")
        print(f"  import click         median {ms(median(click_t))}   (the floor of any click command: "
              f"{median(click_t) / median(ldd_t):.1f}x ldd)")
        print(f"  import linkaudit.cli median {ms(median(imp_t))}   (imports alone: "
              f"{ms(median(imp_t) - median(pass_t)).strip()})")
        if inproc:
            print(f"  audit() in-process   first {ms(inproc[0])}   then median {ms(median(inproc[1:]))}"
                  "  (audit + JSON rendering)")
        else:
            print(f"  audit() in-process   failed: {out.stderr.strip()[-300:]}")
        print("  largest imports, cumulative (-X importtime of the linkaudit run; inflated by the tracing):")
        for us, name in top[:10]:
            print(f"      {us / 1000:7.1f} ms  {name}")
        self.results["one_file"] = {
            "file": ext, "agreement": ag, "ldd_median_s": median(ldd_t), "ldd_min_s": min(ldd_t),
            "linkaudit_median_s": median(la_t), "linkaudit_min_s": min(la_t), "ratio": ratio,
            "cpu_ratio": cpu_ratio,
            "python_startup_s": median(pass_t), "import_click_s": median(click_t), "import_cli_s": median(imp_t),
            "audit_inprocess_first_s": inproc[0] if inproc else None,
            "audit_inprocess_median_s": median(inproc[1:]) if inproc else None,
            "importtime_top_us": top[:10],
        }

    # -- b. corpus -------------------------------------------------------------

    def corpus(self) -> tuple[list[str], list[str]]:
        """(linkaudit arguments, every ELF object they name): torch/lib as a directory, the rest as files."""
        args: list[str] = []
        files: list[str] = []
        seen: set[tuple[int, int]] = set()

        def add(path: str) -> bool:
            if not self.is_linked_elf(path, seen):
                return False
            files.append(path)
            return True

        if self.torch_lib:
            args.append(self.torch_lib)
            for dirpath, dirnames, filenames in os.walk(self.torch_lib):
                dirnames.sort()
                for name in sorted(filenames):
                    add(os.path.join(dirpath, name))
        n_sys = self.args.system_libs
        top_level = sorted(p for p in glob.glob(os.path.join(SYSTEM_LIBDIR, "*.so*"))
                           if os.path.isfile(p) and not os.path.islink(p))
        taken = 0
        for p in top_level:
            if taken >= n_sys:
                break
            if add(p):
                args.append(p)
                taken += 1
        nested = sorted(p for p in glob.glob(os.path.join(SYSTEM_LIBDIR, "*", "**", "*.so*"), recursive=True)
                        if os.path.isfile(p) and not os.path.islink(p))
        taken = 0
        for p in nested:
            if taken >= self.args.nested_libs:
                break
            if add(p):
                args.append(p)
                taken += 1
        for p in sorted(glob.glob("/usr/lib/python3*/**/*.so*", recursive=True)):
            if os.path.isfile(p) and not os.path.islink(p) and add(p):
                args.append(p)
        return args, files

    @staticmethod
    def ldd_unused(path: str, env: dict[str, str]) -> tuple[list[str] | None, str]:
        """``ldd -u -r``'s "Unused direct dependencies" (None when ldd gives no verdict) and its raw output."""
        try:
            out = subprocess.run(["ldd", "-u", "-r", path], env=env, capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            return None, "timeout"
        text = out.stdout + out.stderr
        if "not a dynamic executable" in text or "statically linked" in text and out.returncode not in (0, 1):
            return None, text.strip()
        unused: list[str] = []
        in_list = False
        for line in out.stdout.splitlines():
            if line.startswith("Unused direct dependencies:"):
                in_list = True
            elif in_list and line.strip():
                unused.append(line.strip())
        if out.returncode not in (0, 1) and not unused:
            return None, text.strip()
        return unused, text.strip()

    # -- shared: verdicts against ldd ------------------------------------------------

    def agreement(self, files: list[str], report: dict, ldd_lists: list[tuple[list[str] | None, str]]) -> dict:
        """Object by object: does linkaudit's ``ldd_unused`` equal what ``ldd -u -r`` lists?"""
        la_by_path = {os.path.realpath(self.unalias(o["path"])): o for o in report["objects"]}
        la_err = {os.path.realpath(self.unalias(e["path"])): e["message"] for e in report["errors"]}
        agree, agree_nonempty, disagree, no_ldd, no_la = 0, 0, [], 0, []
        for f, (ldd_list, _raw) in zip(files, ldd_lists):
            key = os.path.realpath(f)
            obj = la_by_path.get(key)
            if ldd_list is None:
                no_ldd += 1
                continue
            if obj is None:
                no_la.append((f, la_err.get(key, "not in the report")))
                continue
            a = sorted(os.path.realpath(self.unalias(p)) for p in obj["ldd_unused"])
            b = sorted(os.path.realpath(p) for p in ldd_list)
            if a == b:
                agree += 1
                agree_nonempty += bool(b)
            else:
                disagree.append((f, obj["ldd_unused"], ldd_list))
        return {"agree": agree, "agree_with_unused": agree_nonempty, "no_ldd_verdict": no_ldd,
                "disagree": [{"path": f, "linkaudit": x, "ldd": y} for f, x, y in disagree],
                "missing_from_linkaudit": [{"path": f, "why": w} for f, w in no_la]}

    @staticmethod
    def unalias(path: str) -> str:
        return path

    def print_agreement(self, ag: dict) -> None:
        ok = not ag["disagree"] and not ag["missing_from_linkaudit"]
        print(f"  verdicts: {ag['agree']} agree with ldd -u -r ({ag['agree_with_unused']} of them list unused "
              f"dependencies), {len(ag['disagree'])} disagree, {ag['no_ldd_verdict']} without an ldd verdict, "
              f"{len(ag['missing_from_linkaudit'])} missing from linkaudit's report   ({verdict(ok)})")
        for d in ag["disagree"][:10]:
            print(f"    {d['path']}\n      linkaudit: {d['linkaudit']}\n      ldd:       {d['ldd']}")
        for d in ag["missing_from_linkaudit"][:10]:
            print(f"    {d['path']}: linkaudit: {d['why']}")

    # -- b. big objects --------------------------------------------------------------

    def big_objects(self) -> list[tuple[str, str | None, str]]:
        """(label, path or None, why absent) of every big object this machine can offer."""
        out: list[tuple[str, str | None, str]] = []
        torch_cpu = os.path.join(self.torch_lib, "libtorch_cpu.so") if self.torch_lib else None
        out.append(("libtorch_cpu.so", torch_cpu if torch_cpu and os.path.isfile(torch_cpu) else None,
                    "torch is not installed"))
        llvm = sorted((p for p in glob.glob(os.path.join(SYSTEM_LIBDIR, "libLLVM*.so*"))
                       if os.path.isfile(p) and not os.path.islink(p)), key=os.path.getsize)
        out.append((os.path.basename(llvm[-1]) if llvm else "libLLVM", llvm[-1] if llvm else None,
                    "no libLLVM on this system (apt-get install libllvm15)"))
        tf = self.tensorflow()
        out.append(("libtensorflow_cc.so.2", tf, "not downloaded (use --download)"))
        return out

    def tensorflow(self) -> str | None:
        """tensorflow-cpu's libtensorflow_cc.so.2, unpacked from the wheel (with the one library it links
        from the same wheel, libtensorflow_framework.so.2) into the cache; downloaded with --download."""
        target = os.path.join(self.cache, "tensorflow", "tensorflow", "libtensorflow_cc.so.2")
        if os.path.isfile(target):
            return target
        wheels = sorted(glob.glob(os.path.join(self.cache, "wheels-tf", f"tensorflow_cpu-{TENSORFLOW}-*.whl")))
        if not wheels and self.args.download:
            self.pip_download([f"tensorflow-cpu=={TENSORFLOW}"], os.path.join(self.cache, "wheels-tf"))
            wheels = sorted(glob.glob(os.path.join(self.cache, "wheels-tf", f"tensorflow_cpu-{TENSORFLOW}-*.whl")))
        if not wheels:
            return None
        import zipfile

        with zipfile.ZipFile(wheels[0]) as zf:
            for member in ("tensorflow/libtensorflow_cc.so.2", "tensorflow/libtensorflow_framework.so.2"):
                zf.extract(member, os.path.join(self.cache, "tensorflow"))
        return target if os.path.isfile(target) else None

    def pip_download(self, requirements: list[str], dest: str) -> None:
        os.makedirs(dest, exist_ok=True)
        print(f"  downloading {len(requirements)} wheel(s) into {dest} ...", flush=True)
        # wheels for the interpreter that runs linkaudit (the pins are CPython 3.11 x86_64 builds)
        subprocess.run([self.python, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "-d", dest, *requirements], check=False)

    def section_big(self) -> None:
        print("\n== b. big objects, a new process each: linkaudit vs ldd -u -r ==")
        if shutil.which("ldd") is None:
            print("SKIPPED: no ldd on PATH")
            return
        env = dict(self.base_env)  # each finds its own libraries (RUNPATH $ORIGIN)
        rows = []
        runs = max(3, self.runs // 3)
        print(f"  {'object':<26}{'size':>8}{'ldd -u -r':>12}{'linkaudit':>12}{'ratio':>8}{'cpu ratio':>10}"
              f"{'peak RSS':>10}  verdict")
        for label, path, why in self.big_objects():
            if path is None:
                print(f"  {label:<26} SKIPPED: {why}")
                continue
            la_cmd = self.linkaudit_cmd("--format", "json", path)
            ldd_cmd = ["ldd", "-u", "-r", path]
            run_child(ldd_cmd, env, cwd=self.tmp)  # warm-up: page cache, bytecode cache
            out_path = os.path.join(self.tmp, "big.json")
            with open(out_path, "w") as out:
                peak = run_child(la_cmd, env, stdout=out, cwd=self.tmp, rss=True).peak
            ldd_r, la_r = [], []
            for _ in range(runs):
                ldd_r.append(run_child(ldd_cmd, env, cwd=self.tmp))
                la_r.append(run_child(la_cmd, env, cwd=self.tmp))
            ldd_t, la_t = [r.wall for r in ldd_r], [r.wall for r in la_r]
            cpu_ratio = median([r.cpu for r in la_r]) / max(1e-9, median([r.cpu for r in ldd_r]))
            with open(out_path) as fh:
                report = json.load(fh)
            ag = self.agreement([path], report, [self.ldd_unused(path, env)])
            ratio = median(la_t) / median(ldd_t)
            agreed = ag["agree"] == 1
            print(f"  {label:<26}{os.path.getsize(path) / 2**20:6.0f} MB{ms(median(ldd_t))}{ms(median(la_t))}"
                  f"{ratio:7.1f}x{cpu_ratio:9.1f}x{peak:7.0f} MB  {'agrees' if agreed else 'DISAGREES'}"
                  f"   (3x: {verdict(ratio <= TARGET_BIG_RATIO)}, RSS: {verdict(peak < TARGET_PEAK_RSS_MB)})")
            rows.append({"object": label, "path": path, "bytes": os.path.getsize(path), "runs": runs,
                         "ldd_median_s": median(ldd_t), "linkaudit_median_s": median(la_t), "ratio": ratio,
                         "cpu_ratio": cpu_ratio,
                         "peak_rss_mb": peak, "agrees": agreed, "agreement": ag})
        print(f"  (medians of {runs} interleaved runs, wall time; cpu ratio: the same with user+system CPU seconds;"
              " peak RSS of one linkaudit run under /usr/bin/time)")
        self.results["big"] = rows

    # -- c. trees --------------------------------------------------------------------

    def elf_files(self, top: str, seen: set[tuple[int, int]] | None = None) -> list[str]:
        """Every ELF object (not .o) under ``top``, once per inode, in a sorted walk (as linkaudit walks)."""
        seen = set() if seen is None else seen
        files: list[str] = []
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if self.is_linked_elf(path, seen):
                    files.append(path)
        return files

    @staticmethod
    def is_linked_elf(path: str, seen: set[tuple[int, int]]) -> bool:
        try:
            st = os.stat(path)
            if not os.path.isfile(path):
                return False
            with open(path, "rb") as fh:
                head = fh.read(18)
        except OSError:
            return False
        key = (st.st_dev, st.st_ino)
        if key in seen or len(head) < 18 or head[:4] != ELF_MAGIC:  # linker scripts, dangling links
            return False
        if int.from_bytes(head[16:18], "big" if head[5] == 2 else "little") == 1:  # ET_REL
            return False
        seen.add(key)
        return True

    def wheel_tree(self) -> str | None:
        """The wheel corpus installed side by side (as in a site-packages) under the cache."""
        tree = os.path.join(self.cache, "site")
        stamp = os.path.join(tree, ".complete")
        if os.path.isfile(stamp):
            return tree
        dest = os.path.join(self.cache, "wheels")
        missing = [w for w in WHEELS if not self._have_wheel(dest, w)]
        if missing and self.args.download:
            self.pip_download(missing, dest)
        if any(not self._have_wheel(dest, w) for w in WHEELS):
            return None
        import zipfile

        shutil.rmtree(tree, ignore_errors=True)
        for w in WHEELS:
            with zipfile.ZipFile(self._have_wheel(dest, w)) as zf:  # type: ignore[arg-type]
                zf.extractall(tree)
        for dirpath, _, filenames in os.walk(tree):  # zipfile drops the mode: make the libraries loadable
            for name in filenames:
                if ".so" in name:
                    os.chmod(os.path.join(dirpath, name), 0o755)
        open(stamp, "w").close()
        return tree

    @staticmethod
    def _have_wheel(dest: str, requirement: str) -> str | None:
        name, version = requirement.split("==")
        hits = glob.glob(os.path.join(dest, f"{name.replace('-', '_')}-{version}-*.whl"))
        return hits[0] if hits else None

    def tree_sets(self) -> list[tuple[str, list[str], list[str] | None, str]]:
        """(label, linkaudit arguments, ELF files or None, why absent)."""
        sets = []
        args, files = self.corpus()
        sets.append(("torch/lib + system selection", args, files or None, "no corpus"))
        tree = self.wheel_tree()
        sets.append((f"wheel corpus ({len(WHEELS)} wheels)", [tree] if tree else [],
                     self.elf_files(tree) if tree else None, "not downloaded (use --download)"))
        if self.args.quick:
            sets.append((f"whole {SYSTEM_LIBDIR}", [], None, "not with --quick"))
        else:
            sets.append((f"whole {SYSTEM_LIBDIR}", [SYSTEM_LIBDIR], self.elf_files(SYSTEM_LIBDIR) or None,
                         "no such directory"))
        return sets

    def section_trees(self) -> None:
        print("\n== c. trees: one linkaudit run vs ldd -u -r once per file ==")
        if shutil.which("ldd") is None:
            print("SKIPPED: no ldd on PATH")
            return
        jobs_opt = self.has_jobs_option()
        self.results["trees"] = []
        for label, args, files, why in self.tree_sets():
            print(f"\n  -- {label}")
            if not files:
                print(f"  SKIPPED: {why}")
                continue
            self.one_tree(label, args, files, jobs_opt)

    def one_tree(self, label: str, args: list[str], files: list[str], jobs_opt: bool) -> None:
        env = self.env if label.startswith("torch/lib") else dict(self.base_env)
        big = sum(os.path.getsize(f) for f in files)
        print(f"  {len(files)} ELF objects, {big / 2**20:.0f} MB")
        reps = 1 if self.args.quick else 3
        for f in files:  # warm the page cache for both tools alike
            with open(f, "rb") as fh:
                while fh.read(1 << 24):
                    pass
        report_path = os.path.join(self.tmp, "report.json")
        variants = [("linkaudit (default -j)", []), ("linkaudit -j 1", ["-j", "1"])] if jobs_opt \
            else [("linkaudit", [])]
        variants.append(("text report (default -j)", ["--format", "text"]))  # `linkaudit DIR` as typed
        runs: dict[str, list[Run]] = {v: [] for v, _ in variants}
        ldd_loop: list[float] = []
        ldd_cpu: list[float] = []
        ldd_lists: list[tuple[list[str] | None, str]] = []
        for _ in range(reps):  # interleaved: each repetition runs every variant once
            for name, extra in variants:
                text = "--format" in extra
                with open(report_path + ".txt" if text else report_path, "w") as out:
                    cmd = self.linkaudit_cmd(*extra, *args) if text else \
                        self.linkaudit_cmd("--format", "json", *extra, *args)
                    runs[name].append(run_child(cmd, env, stdout=out, cwd=self.tmp, rss=True))
            t0, c0 = time.perf_counter(), children_cpu()
            ldd_lists = [self.ldd_unused(f, env) for f in files]
            ldd_loop.append(time.perf_counter() - t0)
            ldd_cpu.append(children_cpu() - c0)
        with open(report_path) as fh:
            report = json.load(fh)
        ldd_t, ldd_c = median(ldd_loop), median(ldd_cpu)
        print(f"  {'run':<26}{'wall':>10}{'vs ldd loop':>13}{'cpu':>10}{'vs ldd loop':>13}{'peak RSS':>10}  exit")
        print(f"  {'ldd -u -r once per file':<26}{ldd_t:8.2f} s{'1.00x':>13}{ldd_c:8.2f} s{'1.00x':>13}")
        row = {"set": label, "objects": len(files), "bytes": big, "reps": reps, "ldd_loop_s": ldd_t,
               "ldd_loop_cpu_s": ldd_c}
        for name, rs in runs.items():
            wall = median([r.wall for r in rs])
            cpu = median([r.cpu for r in rs])
            peak = max(r.peak for r in rs)
            row[name] = {"wall_s": wall, "ratio": wall / ldd_t, "cpu_s": cpu, "cpu_ratio": cpu / ldd_c,
                         "peak_rss_mb": peak, "exit": rs[-1].code}
            print(f"  {name:<26}{wall:8.2f} s{wall / ldd_t:12.2f}x{cpu:8.2f} s{cpu / ldd_c:12.2f}x{peak:7.0f} MB"
                  f"  {rs[-1].code}")
        default = row[variants[0][0]]["ratio"]
        print(f"  default -j vs the ldd loop: {default:.2f}x   (target <= {TARGET_TREE_RATIO}: "
              f"{verdict(default <= TARGET_TREE_RATIO)}; stretch <= {TARGET_TREE_STRETCH}: "
              f"{verdict(default <= TARGET_TREE_STRETCH)})")
        if jobs_opt:
            single = row["linkaudit -j 1"]["ratio"]
            print(f"  -j 1 vs the ldd loop:       {single:.2f}x   (target <= {TARGET_TREE_SINGLE}: "
                  f"{verdict(single <= TARGET_TREE_SINGLE)})")
        peak = max(r.peak for rs in runs.values() for r in rs)
        print(f"  peak RSS (largest process): {peak:.0f} MB   (target < {TARGET_PEAK_RSS_MB:.0f} MB: "
              f"{verdict(peak < TARGET_PEAK_RSS_MB)})" + ("; with -j the workers are separate processes" if jobs_opt else ""))
        ag = self.agreement(files, report, ldd_lists)
        self.print_agreement(ag)
        row["agreement"] = ag
        self.results["trees"].append(row)  # type: ignore[union-attr]

    # -- d. the two greet builds -------------------------------------------------

    def section_greet(self) -> None:
        print("\n== d. importing greet: pybind_torch (links torch) vs pybind_torch.lean ==")
        c_ext, lean_ext = self.greet_extension("_C"), self.greet_extension("_lean")
        if c_ext is None or lean_ext is None:
            print("SKIPPED: pybind_torch/_C*.so or _lean*.so not found; build first: pip install --no-build-isolation ./demo")
            return
        env = dict(self.base_env)  # a user's shell: no LD_LIBRARY_PATH
        builds = {
            "pybind_torch.greet": ("from pybind_torch import greet; greet()", c_ext),
            "pybind_torch.lean.greet": ("from pybind_torch.lean import greet; greet()", lean_ext),
        }
        for code, _ in builds.values():  # warm-up; also checks they work
            rc = run_child([self.python, "-c", code], env, cwd=self.tmp).code
            if rc != 0:
                print(f"SKIPPED: `python -c {code!r}` failed (exit {rc})")
                return
        times: dict[str, list[float]] = {k: [] for k in builds}
        rss: dict[str, list[float]] = {k: [] for k in builds}
        for _ in range(self.runs):  # timing runs, interleaved, nothing in between
            for label, (code, _) in builds.items():
                times[label].append(run_child([self.python, "-c", code], env, cwd=self.tmp)[0])
        for _ in range(3):  # memory runs, under /usr/bin/time
            for label, (code, _) in builds.items():
                rss[label].append(run_child([self.python, "-c", code], env, cwd=self.tmp, rss=True)[2])
        base_rss = median([run_child([self.python, "-c", "pass"], env, cwd=self.tmp, rss=True)[2] for _ in range(3)])
        loaded: dict[str, tuple[int, int]] = {}
        for label, (_, so) in builds.items():
            out = subprocess.run(self.linkaudit_cmd("--format", "json", so), env=env, capture_output=True,
                                 text=True, cwd=self.tmp)
            try:
                obj = json.loads(out.stdout)["objects"][0]
                loaded[label] = (len(obj["loaded"]), sum(lib["size"] for lib in obj["loaded"]))
            except (ValueError, KeyError, IndexError):
                loaded[label] = (-1, -1)
        print(f"  {'':<26}{'import+call':>13}{'peak RSS':>11}{'.so size':>11}{'libs loaded':>13}{'lib bytes':>12}")
        for label, (_, so) in builds.items():
            n, nbytes = loaded[label]
            print(f"  {label:<26}{median(times[label]) * 1000:10.1f} ms{median(rss[label]):8.0f} MB"
                  f"{os.path.getsize(so) / 1024:8.0f} KB{n:13d}{nbytes / 2**20:9.1f} MB")
        a, b = builds
        print(f"  lean is {median(times[a]) / median(times[b]):.0f}x faster to import and uses "
              f"{median(rss[a]) - median(rss[b]):.0f} MB less memory (median of {self.runs}, fresh interpreters)")
        print(f"  (peak RSS: median of 3, `python -c pass` alone: {base_rss:.0f} MB; lib bytes: the extension's own "
              "load closure per linkaudit; importing torch loads more)")
        self.results["greet"] = {
            label: {"median_s": median(times[label]), "peak_rss_mb": median(rss[label]),
                    "so_bytes": os.path.getsize(so), "libs_loaded": loaded[label][0],
                    "lib_bytes": loaded[label][1]}
            for label, (_, so) in builds.items()
        }
        self.results["greet"]["python_pass_peak_rss_mb"] = base_rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="5 runs per timing, one pass over each tree, no whole system directory")
    parser.add_argument("--runs", type=int, default=0, help="runs per timing (default 15, --quick 5)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs linkaudit (default: this one)")
    parser.add_argument("--sections", default="abcd", help="which sections to run (default: abcd)")
    parser.add_argument("--download", action="store_true",
                        help="fetch tensorflow-cpu and the wheel corpus with pip into --cache when absent")
    parser.add_argument("--cache", default=os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "linkaudit-bench"),
                        help="where downloaded wheels and their unpacked trees live (default ~/.cache/linkaudit-bench)")
    parser.add_argument("--system-libs", type=int, default=300,
                        help=f"how many of {SYSTEM_LIBDIR}/*.so* to add to the torch/lib set (default 300)")
    parser.add_argument("--nested-libs", type=int, default=400,
                        help=f"how many .so files from subdirectories of {SYSTEM_LIBDIR} (default 400)")
    parser.add_argument("--no-pyc-cache", action="store_true",
                        help="time linkaudit without a bytecode cache (compiling its modules on every run)")
    args = parser.parse_args()
    bench = Bench(args)
    started = time.perf_counter()
    print(f"linkaudit benchmark ({'quick' if args.quick else 'full'}; {bench.runs} runs per timing; "
          f"python {bench.python}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f})")
    accel = subprocess.run(bench.linkaudit_cmd()[:2] + ["linkaudit.accel"], env=bench.env, capture_output=True,
                           text=True, cwd=bench.tmp)
    which = accel.stdout.strip() or "unknown"
    hint = "" if "LINKAUDIT_PURE_PYTHON" in which else " (LINKAUDIT_PURE_PYTHON=1 for the pure-Python ones)"
    print(f"bulk loops: {which}{hint}")
    try:
        if "a" in args.sections:
            bench.section_one_file()
        if "b" in args.sections:
            bench.section_big()
        if "c" in args.sections:
            bench.section_trees()
        if "d" in args.sections:
            bench.section_greet()
    finally:
        bench.close()
    print(f"\n(total {time.perf_counter() - started:.0f} s; load average now {os.getloadavg()[0]:.2f}: "
          "timings on a busy machine are noisy)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(bench.results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
