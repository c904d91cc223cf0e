"""sysroot: an image's paths resolved inside --root like a chroot, links included, never escaping it."""

from __future__ import annotations

import os

from linkaudit.sysroot import Sysroot, resolve_in_root


def test_absolute_links_and_dotdot_stay_inside_the_root(tmp_path) -> None:
    root = tmp_path / "root"
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/libz.so.1.3").write_bytes(b"")
    os.symlink("/usr/lib/libz.so.1.3", root / "usr/lib/libz.so.1")  # absolute: means the root's /usr
    os.symlink("usr/lib", root / "lib")
    assert resolve_in_root(str(root), "/usr/lib/libz.so.1") == str(root / "usr/lib/libz.so.1.3")
    assert resolve_in_root(str(root), "/lib/libz.so.1") == str(root / "usr/lib/libz.so.1.3")
    assert resolve_in_root(str(root), "/../../../etc/passwd") == str(root / "etc/passwd")


def test_a_link_loop_gives_a_path_that_cannot_exist_inside_the_root(tmp_path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    os.symlink("b", root / "a")
    os.symlink("a", root / "b")
    out = resolve_in_root(str(root), "/a/libx.so")
    assert out.startswith(str(root) + "/") and not os.path.exists(out)


def test_host_and_guest_map_both_ways(tmp_path) -> None:
    root = tmp_path / "root"
    (root / "lib").mkdir(parents=True)
    s = Sysroot(str(root))
    assert s.host("/lib/x.so") == str(root / "lib/x.so")
    assert s.guest(str(root / "lib/x.so")) == "/lib/x.so"
    assert s.guest(str(tmp_path / "elsewhere.so")) == str(tmp_path / "elsewhere.so")
    assert s.contains(str(root / "lib")) and not s.contains(str(tmp_path / "rootless"))


def test_no_root_is_the_identity() -> None:
    s = Sysroot(None)
    assert s.host("/lib/x.so") == "/lib/x.so"
    assert s.guest("/lib/x.so") == "/lib/x.so"
    assert not s.contains("/lib")
