"""pyindex: shared libraries found only inside installed Python packages, and which package owns them."""

from __future__ import annotations

from pathlib import Path

from linkaudit.pyindex import PackageIndex, python_package_of


def test_index_finds_libraries_three_levels_deep_and_skips_caches(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    for rel in ("torch/lib/libc10.so", "numpy.libs/libgfortran-040039e1.so.5.0.0", "a/b/c/libdeep.so",
                "a/b/c/d/libtoodeep.so", "__pycache__/libcached.so", "x-1.0.dist-info/libmeta.so",
                "torch/lib/notalib.txt"):
        f = site / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"")
    index = PackageIndex((str(site), str(tmp_path / "absent")))
    assert index.candidates("libc10.so") == [site / "torch/lib/libc10.so"]
    assert index.candidates("libgfortran-040039e1.so.5.0.0") == [site / "numpy.libs/libgfortran-040039e1.so.5.0.0"]
    assert index.candidates("libdeep.so") == [site / "a/b/c/libdeep.so"]
    for name in ("libtoodeep.so", "libcached.so", "libmeta.so", "notalib.txt"):
        assert index.candidates(name) == [], name


def test_index_is_built_once(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    (site / "p").mkdir(parents=True)
    (site / "p/liba.so").write_bytes(b"")
    index = PackageIndex((str(site),))
    assert index.candidates("liba.so")
    (site / "p/libb.so").write_bytes(b"")
    assert index.candidates("libb.so") == []  # indexed on first use, once per run


def test_python_package_of() -> None:
    assert python_package_of(Path("/v/lib/python3.11/site-packages/torch/lib")) == "torch"
    assert python_package_of(Path("/usr/lib/python3/dist-packages/numpy.libs")) == "numpy"
    assert python_package_of(Path("/usr/lib/x86_64-linux-gnu")) is None
    assert python_package_of(Path("/v/site-packages")) is None
