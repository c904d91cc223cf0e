"""Each architecture's own dynamic loader, run under qemu-user, as the oracle for ``--root`` audits.

A sysroot is Debian's packages of one architecture unpacked with ``dpkg-deb -x``
(downloaded with ``apt-get download``, which needs the architecture enabled with
``dpkg --add-architecture``).  ``ldd -u -r`` is a shell script around the
loader; its equivalent is the architecture's ``ld.so`` run on the file under
``qemu-<arch>-static -L SYSROOT`` with ``LD_TRACE_LOADED_OBJECTS=1`` (load and
trace, never run), ``LD_BIND_NOW=yes LD_WARN=yes`` (``-r``: every relocation,
PLT ones included, resolved now) and ``LD_DEBUG=unused`` (``-u``: rtld prints
"Unused direct dependencies:" and the ``l_name`` of each DT_NEEDED object no
binding used, and exits 1).

The sysroot's ``/etc/ld.so.cache`` is built by the architecture's own
``ldconfig -r SYSROOT`` under qemu when we may chroot (root); otherwise it is
left empty, which both glibc and linkaudit read as "no cache" (without the
file, qemu would let the foreign loader read this machine's cache).

Everything here is optional: :func:`sysroot` returns None (and the tests skip)
when qemu, dpkg/apt, the architecture or the network is missing.  It also
serves ``scripts/foreign_oracle.py``, which measures agreement on whole sysroots.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Arch:
    """One Debian architecture: its qemu-user binary and its loader's path in the sysroot."""

    debian: str
    qemu: str
    ld_so: str
    triplet: str


ARCHES = {
    a.debian: a
    for a in (
        Arch("arm64", "qemu-aarch64-static", "/lib/ld-linux-aarch64.so.1", "aarch64-linux-gnu"),
        Arch("armhf", "qemu-arm-static", "/lib/ld-linux-armhf.so.3", "arm-linux-gnueabihf"),
        Arch("armel", "qemu-arm-static", "/lib/ld-linux.so.3", "arm-linux-gnueabi"),
        Arch("i386", "qemu-i386-static", "/lib/ld-linux.so.2", "i386-linux-gnu"),
        Arch("ppc64el", "qemu-ppc64le-static", "/lib64/ld64.so.2", "powerpc64le-linux-gnu"),
        Arch("s390x", "qemu-s390x-static", "/lib/ld64.so.1", "s390x-linux-gnu"),
        Arch("mipsel", "qemu-mipsel-static", "/lib/ld.so.1", "mipsel-linux-gnu"),
        Arch("mips64el", "qemu-mips64el-static", "/lib64/ld.so.1", "mips64el-linux-gnuabi64"),
    )
}

# What the test layer unpacks: the loader, libc, ldconfig and the C++ runtime.
BASE_PACKAGES = ("libc6", "libc-bin", "libgcc-s1", "libstdc++6", "zlib1g")

UNUSED_HEADER = "Unused direct dependencies:"
#: ``ldd -u -r`` as loader variables (see the module docstring); part of the answers' digest
ORACLE_ENV = {"LD_TRACE_LOADED_OBJECTS": "1", "LD_WARN": "yes", "LD_BIND_NOW": "yes", "LD_DEBUG": "unused"}


def cache_root() -> Path:
    """Where sysroots are kept between runs: $LINKAUDIT_SYSROOT_CACHE, else the user's cache directory."""
    explicit = os.environ.get("LINKAUDIT_SYSROOT_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "linkaudit-tests" / "sysroots"


def why_unavailable(arch: str) -> str | None:
    """A reason the oracle cannot run for ``arch`` on this machine, or None."""
    spec = ARCHES[arch]
    if shutil.which(spec.qemu) is None:
        return f"{spec.qemu} not installed (qemu-user-static)"
    for tool in ("dpkg", "dpkg-deb", "apt-get"):
        if shutil.which(tool) is None:
            return f"{tool} not available (Debian tools are needed to unpack {arch} packages)"
    try:
        native = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, timeout=30).stdout.split()
        foreign = subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True, text=True,
                                 timeout=30).stdout.split()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"dpkg failed: {exc}"
    if arch not in native + foreign:
        return f"architecture {arch} not enabled (dpkg --add-architecture {arch} && apt-get update)"
    return None


def sysroot(arch: str, packages: tuple[str, ...] = BASE_PACKAGES, name: str = "base",
            where: Path | None = None, tolerant: bool = False) -> tuple[Path | None, str]:
    """A sysroot of ``packages`` for ``arch`` (built once, then reused): (path, '') or (None, why not).

    ``tolerant``: packages this architecture lacks are left out instead of failing.
    """
    reason = why_unavailable(arch)
    if reason:
        return None, reason
    top = (where or cache_root()) / f"{arch}-{name}"
    root = top / "root"
    done = top / "complete"
    if done.exists():
        return root, ""
    try:
        top.mkdir(parents=True, exist_ok=True)
        with open(top / "lock", "w") as lock:  # two test runs at once: one builds, the other waits
            fcntl.flock(lock, fcntl.LOCK_EX)
            if done.exists():
                return root, ""
            return _build(arch, packages, top, tolerant)
    except OSError as exc:
        return None, f"cannot build the {arch} sysroot in {top}: {exc}"


def _build(arch: str, packages: tuple[str, ...], top: Path, tolerant: bool) -> tuple[Path | None, str]:
    root = top / "root"
    done = top / "complete"
    debs = top / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if not list(debs.glob(f"{p}_*_{arch}.deb")) and not list(debs.glob(f"{p}_*_all.deb"))]
    for _attempt in range(3):
        if not missing:
            break
        try:
            proc = subprocess.run(["apt-get", "download", "-q", *[f"{p}:{arch}" for p in missing]], cwd=debs,
                                  capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            return None, f"apt-get download failed: {exc}"
        if proc.returncode == 0:
            break
        unknown = set(re.findall(r"Unable to locate package ([^:\s]+)", proc.stderr))
        if not tolerant or not unknown:
            return None, f"apt-get download of {arch} packages failed: {proc.stderr.strip().splitlines()[-1:]}"
        missing = [p for p in missing if p not in unknown]  # this architecture lacks them: leave them out
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, capture_output=True, timeout=300)
    _write_cache(ARCHES[arch], root)
    done.write_text(" ".join(packages) + "\n")
    return root, ""


def _write_cache(spec: Arch, root: Path) -> None:
    """The architecture's own ldconfig builds ``/etc/ld.so.cache`` (needs chroot); else an empty, ignored one."""
    cache = root / "etc" / "ld.so.cache"
    cache.parent.mkdir(parents=True, exist_ok=True)
    ldconfig = root / "sbin" / "ldconfig"
    if os.geteuid() == 0 and ldconfig.exists():
        conf = root / "etc" / "ld.so.conf"
        if not conf.exists():
            conf.write_text("include /etc/ld.so.conf.d/*.conf\n")
        proc = subprocess.run([spec.qemu, "-L", str(root), str(ldconfig), "-r", str(root)], capture_output=True,
                              text=True, timeout=300)
        if proc.returncode == 0 and cache.exists() and cache.stat().st_size > 0:
            return
    cache.write_bytes(b"")


def host_path(root: Path, guest: str) -> Path:
    """A guest path's file on this machine, following symbolic links inside the root."""
    path = Path(guest.lstrip("/"))
    here = root
    for part in path.parts:
        here = here / part
        for _ in range(40):
            if not here.is_symlink():
                break
            target = os.readlink(here)
            here = (root / target.lstrip("/")) if target.startswith("/") else (here.parent / target)
    return here


def ldd_unused(arch: str, root: Path, guest: str, timeout: float = 120) -> tuple[set[str] | None, str]:
    """``ldd -u -r`` of the guest file ``guest`` by the architecture's loader: (unused paths, '') or (None, error)."""
    spec = ARCHES[arch]
    ld_so = host_path(root, spec.ld_so)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LD_") and not k.startswith("QEMU_")}
    env.update(ORACLE_ENV)
    try:
        proc = subprocess.run([spec.qemu, "-L", str(root), str(ld_so), guest], capture_output=True, text=True,
                              env=env, timeout=timeout, cwd=root)
    except subprocess.TimeoutExpired:
        return None, "timeout"
    lines = proc.stdout.splitlines()
    if UNUSED_HEADER in lines:
        if proc.returncode != 1:
            return None, f"exit status {proc.returncode} with an unused list"
        after = lines[lines.index(UNUSED_HEADER) + 1:]
        return {os.path.normpath(line.strip()) for line in after if line.strip()}, ""
    if proc.returncode != 0:
        return None, f"exit status {proc.returncode}: {(proc.stderr or proc.stdout).strip()[:300]}"
    return set(), ""


def dynamic_objects(root: Path) -> list[Path]:
    """Every linked ELF object (ET_EXEC or ET_DYN) a sysroot's program and library directories hold."""
    out = []
    for top in ("bin", "sbin", "lib", "lib64", "usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "usr/libexec"):
        base = root / top
        if not base.is_dir() or base.is_symlink():
            continue
        for dirpath, _dirs, files in os.walk(base):
            for f in files:
                p = Path(dirpath) / f
                if p.is_symlink() or not p.is_file():
                    continue
                with open(p, "rb") as fh:
                    head = fh.read(20)
                if head[:4] == b"\x7fELF" and head[17 if head[5] == 2 else 16] in (2, 3):  # ET_EXEC, ET_DYN
                    out.append(p)
    return sorted(out)


Answer = tuple[set[str] | None, str]


def loader_answers(arch: str, root: Path, guests: Sequence[str], jobs: int = 2) -> list[Answer]:
    """:func:`ldd_unused` of every guest file, kept next to the sysroot for the next run.

    A whole sysroot is ~285 loader runs under qemu per architecture (~6 s of CPU each time). The
    loader's answer depends only on bytes: the guest file, the libraries and ``ld.so`` in the root,
    its ``ld.so.cache``, qemu and the loader variables. The answers are stored under a digest of all
    of them (:func:`answers_digest`), so a recorded answer is reused only for the same loader on the
    same bytes; anything changed, and every answer is asked of the loader again. Timeouts are never kept.
    """
    store = root.parent / f"ldso-answers-{answers_digest(arch, root)}.json"
    try:
        known = {g: (None if w is None else set(w), e) for g, (w, e) in json.loads(store.read_text()).items()}
    except (OSError, ValueError):
        known = {}
    ask = sorted({g for g in guests if g not in known})
    if ask:
        with ThreadPoolExecutor(jobs) as pool:
            known.update(zip(ask, pool.map(lambda g: ldd_unused(arch, root, g), ask)))
        keep = {g: (None if w is None else sorted(w), e) for g, (w, e) in known.items() if e != "timeout"}
        tmp = store.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(keep, indent=0, sort_keys=True))
            os.replace(tmp, store)
            for old in root.parent.glob("ldso-answers-*.json"):
                if old != store:
                    old.unlink(missing_ok=True)
        except OSError:
            tmp.unlink(missing_ok=True)  # a read-only cache: the answers were still asked of the loader
    return [known[g] for g in guests]


def answers_digest(arch: str, root: Path) -> str:
    """SHA-256 of what the loader's answers depend on: every file and link of ``root``, qemu, the variables."""
    spec = ARCHES[arch]
    h = hashlib.sha256(json.dumps([spec.qemu, spec.ld_so, ORACLE_ENV], sort_keys=True).encode())
    qemu = shutil.which(spec.qemu)
    h.update(Path(qemu).read_bytes() if qemu else b"no qemu")
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]):
            path = os.path.join(dirpath, name)
            h.update(b"\0" + os.path.relpath(path, root).encode() + b"\0")
            if os.path.islink(path):
                h.update(b"-> " + os.readlink(path).encode())
            elif os.path.isfile(path):
                with open(path, "rb") as fh:
                    h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()[:32]
