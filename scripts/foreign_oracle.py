#!/usr/bin/env python3
"""Measure linkaudit --root against each architecture's own loader (qemu-user), per architecture.

For every architecture asked for: unpack a Debian sysroot (tests/foreign/qemu_oracle.py),
audit every dynamic ELF object in it with ``linkaudit --root`` (one run), run the
architecture's ``ld.so`` under qemu on each object as ``ldd -u -r`` would, and count the
objects whose unused direct dependencies agree.

    python scripts/foreign_oracle.py --cache DIR arm64 s390x ...   # prints a table
    python scripts/foreign_oracle.py --cache DIR --show 20 mipsel  # and the first disagreements

Needs qemu-user-static, dpkg/apt with the architectures enabled and network for the
first run; the packages are cached in DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "tests" / "foreign"))
import qemu_oracle  # noqa: E402

PACKAGES = qemu_oracle.BASE_PACKAGES + (
    "liblzma5", "libbz2-1.0", "libzstd1", "liblz4-1", "libxml2", "libicu72", "libssl3", "libsqlite3-0",
    "libpcre2-8-0", "libffi8", "libselinux1", "libglib2.0-0", "libmount1", "libblkid1", "libcrypt1",
    "libexpat1", "libgmp10", "libmpfr6", "libreadline8", "libtinfo6", "libncursesw6", "coreutils", "grep",
    "sed", "tar", "gzip", "findutils", "libacl1", "libattr1", "libcap2", "libgcrypt20", "libgpg-error0",
    "libkrb5-3", "libk5crypto3", "libkrb5support0", "libcom-err2", "libkeyutils1", "libgssapi-krb5-2",
    "libcurl4", "libnghttp2-14", "libidn2-0", "libunistring2", "libpsl5", "librtmp1", "libssh2-1",
    "libldap-2.5-0", "libsasl2-2", "libbrotli1", "libgnutls30", "libhogweed6", "libnettle8", "libp11-kit0",
    "libtasn1-6", "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "libpython3.11",
    "libjpeg62-turbo", "libpng16-16", "libtiff6", "libwebp7", "libdeflate0", "libjbig0", "liblerc4",
    "libfreetype6", "libuuid1", "libdb5.3", "libgdbm6", "openssl", "curl", "libgomp1", "libatomic1",
    "libsystemd0", "libudev1", "libaudit1", "libcap-ng0", "libpam0g", "libsemanage2", "libsepol2",
    "libgnutls-openssl27", "libarchive13", "libmagic1", "file", "xz-utils", "bzip2", "zstd", "libedit2",
    "libbsd0", "libmd0", "libevent-2.1-7", "libyaml-0-2", "libjansson4", "libonig5", "jq",
)


def audit(root: Path, paths: list[Path]) -> dict[str, dict]:
    proc = subprocess.run([sys.executable, "-m", "linkaudit", "--root", str(root), "--format", "json",
                           "--no-python-packages", "--fail-on", "none", *map(str, paths)],
                          capture_output=True, text=True, cwd=HERE, env={**os.environ, "LD_LIBRARY_PATH": ""})
    doc = json.loads(proc.stdout)
    out = {o["path"]: o for o in doc["objects"]}
    for err in doc.get("errors", []):
        out.setdefault(err.get("path", "?"), {"error": err})
    # linkaudit reports a file once: hard links (bzip2, bzcat, ...) share the report
    by_inode = {os.stat(p)[1:3]: o for p, o in out.items() if os.path.exists(p)}
    for p in paths:
        out.setdefault(str(p), by_inode.get(os.stat(p)[1:3]))
    return out


def measure(arch: str, cache: Path, show: int, jobs: int) -> tuple[int, int, int, list[str]]:
    root, why = qemu_oracle.sysroot(arch, PACKAGES, name="oracle", where=cache, tolerant=True)
    if root is None:
        return 0, 0, 0, [f"unavailable: {why}"]
    paths = qemu_oracle.dynamic_objects(root)
    report = audit(root, paths)
    guests = ["/" + str(p.relative_to(root)) for p in paths]
    with ThreadPoolExecutor(jobs) as pool:
        answers = list(pool.map(lambda g: qemu_oracle.ldd_unused(arch, root, g), guests))
    agree, compared, bad = 0, 0, []
    for p, guest, (want, err) in zip(paths, guests, answers):
        obj = report.get(str(p))
        if want is None:
            if obj is not None and "error" not in obj:
                bad.append(f"{guest}: ld.so refused it ({err}); linkaudit audited it")
            continue
        compared += 1
        if obj is None or "error" in obj:
            bad.append(f"{guest}: ld.so ok, linkaudit error {obj and obj.get('error')}")
            continue
        got = {os.path.normpath(x) for x in obj["ldd_unused"]}
        if got == want:
            agree += 1
        else:
            bad.append(f"{guest}: ld.so unused {sorted(want)}, linkaudit {sorted(got)}")
    return len(paths), compared, agree, bad[: show or len(bad)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("arches", nargs="*", default=list(qemu_oracle.ARCHES))
    ap.add_argument("--cache", type=Path, default=qemu_oracle.cache_root())
    ap.add_argument("--show", type=int, default=5, help="disagreements printed per architecture (0 = all)")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    print(f"{'arch':10} {'objects':>8} {'oracle ok':>9} {'agree':>6}")
    for arch in args.arches:
        total, compared, agree, bad = measure(arch, args.cache, args.show, args.jobs)
        print(f"{arch:10} {total:8} {compared:9} {agree:6}", flush=True)
        for line in bad:
            print(f"    {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
