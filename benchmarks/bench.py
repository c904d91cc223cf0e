#!/usr/bin/env python3
"""linkaudit against ``ldd -u -r``: speed, memory and verdicts (the figures the README quotes).

Run by hand from anywhere, with the Python that has linkaudit's dependencies and torch::

    python benchmarks/bench.py            # full: 15 runs per timing
    python benchmarks/bench.py --quick    # 5 runs per timing, one pass over the corpus
    python benchmarks/bench.py --json out.json

Sections (each is skipped, with the reason, when an input is missing):

a. one file: ``python -m linkaudit --format json _C*.so`` vs ``ldd -u -r _C*.so`` (both with
   LD_LIBRARY_PATH=torch/lib), plus the in-process ``audit()`` time and the interpreter
   start-up + import cost.  Target: linkaudit within 15x of ldd.
b. a directory corpus (torch/lib plus a deterministic selection of system libraries):
   one linkaudit run vs ``ldd -u -r`` once per file (sequential and 2 workers); verdicts
   compared object by object; peak RSS.  Targets: >= 3x faster, < 300 MB, identical verdicts.
c. the two greet builds in fresh interpreters: ``pybind_torch.greet`` (links torch) vs
   ``pybind_torch.lean.greet``: wall time, peak RSS, .so sizes, bytes of libraries loaded.

``ldd`` runs the dynamic loader on its input: the corpus is this machine's own trusted,
installed libraries only.  Nothing here uses the network.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_LIBDIR = "/usr/lib/x86_64-linux-gnu"
ELF_MAGIC = b"\x7fELF"

TARGET_ONE_FILE_RATIO = 15.0
TARGET_CORPUS_SPEEDUP = 3.0
TARGET_PEAK_RSS_MB = 300.0


# -- running children -------------------------------------------------------


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_child(cmd: list[str], env: dict[str, str], stdout=subprocess.DEVNULL, cwd: str | None = None,
              stderr=subprocess.DEVNULL, rss: bool = False) -> tuple[float, int, float]:
    """Wall seconds, exit status and, with ``rss``, peak RSS in MB (else NaN) of one child process.

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
    return wall, proc.returncode, peak


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
        ldd_t: list[float] = []
        la_t: list[float] = []
        for _ in range(self.runs):
            ldd_t.append(run_child(ldd_cmd, self.env, cwd=self.tmp)[0])
            la_t.append(run_child(la_cmd, self.env, cwd=self.tmp)[0])
        ratio = median(la_t) / median(ldd_t)

        # interpreter start-up and import cost
        pass_t, imp_t = [], []
        for _ in range(self.runs):
            pass_t.append(run_child([self.python, "-c", "pass"], self.env, cwd=self.tmp)[0])
            imp_t.append(run_child([self.python, "-c", "import linkaudit.cli"], self.env, cwd=self.tmp)[0])

        # in-process audit(): no interpreter start-up, no imports
        code = (
            "import json, sys, time\n"
            "from linkaudit.audit import AuditOptions, audit, default_env\n"
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
              f"{verdict(ratio <= TARGET_ONE_FILE_RATIO)})")
        print(f"  python -c pass       median {ms(median(pass_t))}")
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
            "file": ext, "ldd_median_s": median(ldd_t), "ldd_min_s": min(ldd_t),
            "linkaudit_median_s": median(la_t), "linkaudit_min_s": min(la_t), "ratio": ratio,
            "python_startup_s": median(pass_t), "import_cli_s": median(imp_t),
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
            try:
                st = os.stat(path)
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

    def section_corpus(self) -> None:
        print("\n== b. directory corpus: one linkaudit run vs ldd -u -r per file ==")
        if shutil.which("ldd") is None:
            print("SKIPPED: no ldd on PATH")
            return
        args, files = self.corpus()
        if not files:
            print("SKIPPED: no corpus (neither torch/lib nor", SYSTEM_LIBDIR, "found)")
            return
        big = sum(os.path.getsize(f) for f in files)
        print(f"corpus: {len(files)} ELF objects, {big / 2**20:.0f} MB "
              f"(torch/lib: {'yes' if self.torch_lib else 'missing'}; first {self.args.system_libs} of "
              f"{SYSTEM_LIBDIR}/*.so*, first {self.args.nested_libs} of its subdirectories, /usr/lib/python3*)")
        if len(files) < 700:
            print("  note: fewer than 700 objects on this machine")
        reps = 1 if self.args.quick else 3
        jobs_opt = self.has_jobs_option()
        argfile = os.path.join(self.tmp, "corpus.txt")
        with open(argfile, "w") as fh:
            fh.write("\n".join(files) + "\n")

        # warm the page cache for both tools alike
        for f in files:
            with open(f, "rb") as fh:
                while fh.read(1 << 24):
                    pass

        runs: dict[str, list[tuple[float, int, float]]] = {}
        report_path = os.path.join(self.tmp, "report.json")
        variants = [("linkaudit -j 1", ["-j", "1"]), ("linkaudit -j 2", ["-j", "2"])] if jobs_opt \
            else [("linkaudit", [])]
        for label, extra in variants:
            runs[label] = []
            for _ in range(reps):
                with open(report_path, "w") as out:
                    runs[label].append(run_child(self.linkaudit_cmd("--format", "json", *extra, *args), self.env,
                                                 stdout=out, cwd=self.tmp, rss=True))
        with open(report_path) as fh:
            report = json.load(fh)

        t0 = time.perf_counter()
        ldd_seq = [self.ldd_unused(f, self.env) for f in files]
        ldd_seq_t = time.perf_counter() - t0
        t0 = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda f: self.ldd_unused(f, self.env), files))
        ldd_par_t = time.perf_counter() - t0

        # verdicts
        la_by_path = {os.path.realpath(o["path"]): o for o in report["objects"]}
        la_err = {os.path.realpath(e["path"]): e["message"] for e in report["errors"]}
        agree, agree_nonempty, disagree, no_ldd, no_la = 0, 0, [], 0, []
        for f, (ldd_list, raw) in zip(files, ldd_seq):
            key = os.path.realpath(f)
            obj = la_by_path.get(key)
            if ldd_list is None:
                no_ldd += 1
                continue
            if obj is None:
                no_la.append((f, la_err.get(key, "not in the report")))
                continue
            a = sorted(os.path.realpath(p) for p in obj["ldd_unused"])
            b = sorted(os.path.realpath(p) for p in ldd_list)
            if a == b:
                agree += 1
                agree_nonempty += bool(b)
            else:
                disagree.append((f, obj["ldd_unused"], ldd_list))

        print(f"  {'run':<26}{'wall':>12}{'peak RSS':>12}  exit")
        for label, rs in runs.items():
            best = min(rs, key=lambda r: r[0])
            print(f"  {label:<26}{median([r[0] for r in rs]):10.2f} s{max(r[2] for r in rs):9.0f} MB  {best[1]}"
                  + (f"   (median of {reps})" if reps > 1 else ""))
        print(f"  {'ldd -u -r loop, 1 worker':<26}{ldd_seq_t:10.2f} s")
        print(f"  {'ldd -u -r loop, 2 workers':<26}{ldd_par_t:10.2f} s")
        la_seq = median([r[0] for r in runs[variants[0][0]]])
        la_best = min(median([r[0] for r in rs]) for rs in runs.values())
        speed_seq = ldd_seq_t / la_seq
        speed_fair = min(ldd_seq_t, ldd_par_t) / la_best
        peak = max(r[2] for rs in runs.values() for r in rs)
        speed_default = ldd_seq_t / la_best  # linkaudit as users run it (-j: all cores) vs ldd once per file
        print(f"  speed-up, linkaudit (all cores) vs the ldd loop: {speed_default:5.1f}x   (target >= "
              f"{TARGET_CORPUS_SPEEDUP:.0f}x: {verdict(speed_default >= TARGET_CORPUS_SPEEDUP)})")
        print(f"  speed-up, both sequential:          {speed_seq:5.1f}x   (stricter: "
              f"{verdict(speed_seq >= TARGET_CORPUS_SPEEDUP)})")
        print(f"  speed-up, best of each (2 cores):   {speed_fair:5.1f}x   "
              f"(stricter: {verdict(speed_fair >= TARGET_CORPUS_SPEEDUP)})")
        print(f"  peak RSS (largest process)          {peak:5.0f} MB  (target < {TARGET_PEAK_RSS_MB:.0f} MB: "
              f"{verdict(peak < TARGET_PEAK_RSS_MB)})"
              + ("; with -j the workers are separate processes" if jobs_opt else ""))
        print(f"  verdicts: {agree} agree ({agree_nonempty} of them list unused dependencies), {len(disagree)} disagree, {no_ldd} without an ldd verdict "
              f"(not dynamic), {len(no_la)} missing from linkaudit's report   "
              f"({verdict(not disagree and not no_la)})")
        for f, mine, theirs in disagree[:10]:
            print(f"    {f}\n      linkaudit: {mine}\n      ldd:       {theirs}")
        for f, why in no_la[:10]:
            print(f"    {f}: linkaudit: {why}")
        self.results["corpus"] = {
            "objects": len(files), "bytes": big,
            "linkaudit": {label: [{"wall_s": r[0], "exit": r[1], "peak_rss_mb": r[2]} for r in rs]
                          for label, rs in runs.items()},
            "ldd_sequential_s": ldd_seq_t, "ldd_2_workers_s": ldd_par_t,
            "speedup_default": speed_default, "speedup_sequential": speed_seq, "speedup_best": speed_fair,
            "peak_rss_mb": peak,
            "agree": agree, "agree_with_unused": agree_nonempty, "disagree": [{"path": f, "linkaudit": a, "ldd": b} for f, a, b in disagree],
            "no_ldd_verdict": no_ldd, "missing_from_linkaudit": no_la,
        }

    # -- c. the two greet builds -------------------------------------------------

    def section_greet(self) -> None:
        print("\n== c. importing greet: pybind_torch (links torch) vs pybind_torch.lean ==")
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
            _, rc, _ = run_child([self.python, "-c", code], env, cwd=self.tmp)
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
    parser.add_argument("--quick", action="store_true", help="5 runs per timing and one pass over the corpus")
    parser.add_argument("--runs", type=int, default=0, help="runs per timing (default 15, --quick 5)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs linkaudit (default: this one)")
    parser.add_argument("--sections", default="abc", help="which sections to run (default: abc)")
    parser.add_argument("--system-libs", type=int, default=300,
                        help=f"how many of {SYSTEM_LIBDIR}/*.so* to add to the corpus (default 300)")
    parser.add_argument("--nested-libs", type=int, default=400,
                        help=f"how many .so files from subdirectories of {SYSTEM_LIBDIR} (default 400)")
    parser.add_argument("--no-pyc-cache", action="store_true",
                        help="time linkaudit without a bytecode cache (compiling its modules on every run)")
    args = parser.parse_args()
    bench = Bench(args)
    started = time.perf_counter()
    print(f"linkaudit benchmark ({'quick' if args.quick else 'full'}; {bench.runs} runs per timing; "
          f"python {bench.python}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f})")
    try:
        if "a" in args.sections:
            bench.section_one_file()
        if "b" in args.sections:
            bench.section_corpus()
        if "c" in args.sections:
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
