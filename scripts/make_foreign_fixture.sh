#!/bin/sh
# Build the tiny aarch64 fixture under tests/data/aarch64/ (the one committed binary set).
#
# Needs Debian's cross compiler:   apt-get install -y gcc-aarch64-linux-gnu
#
# Three shared objects, -nostdlib so they need no aarch64 sysroot and stay a few KB:
#   libfa.so    defines fa()                       (used by libmain)
#   libfb.so    defines fb()                       (linked, never referenced: unused)
#   libmain.so  calls fa(); DT_NEEDED libfa.so and libfb.so (-Wl,--no-as-needed),
#               DT_RUNPATH $ORIGIN
# linkaudit must report libfa.so used, libfb.so unused, machine aarch64.
# Re-run this script to regenerate them; the tests never need the cross compiler.
set -eu
CC=${CC:-aarch64-linux-gnu-gcc}
STRIP=${STRIP:-aarch64-linux-gnu-strip}
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/tests/data/aarch64"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

printf 'int fa(void) { return 1; }\n' > "$tmp/fa.c"
printf 'int fb(void) { return 2; }\n' > "$tmp/fb.c"
printf 'int fa(void);\nint entry(void) { return fa() + 40; }\n' > "$tmp/main.c"

flags="-Os -fPIC -shared -nostdlib -Wl,--hash-style=gnu -Wl,--build-id=none -Wl,-z,norelro -Wl,-z,max-page-size=4096"
$CC $flags -Wl,-soname,libfa.so -o "$out/libfa.so" "$tmp/fa.c"
$CC $flags -Wl,-soname,libfb.so -o "$out/libfb.so" "$tmp/fb.c"
$CC $flags -Wl,-soname,libmain.so -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN' \
    -L"$out" -Wl,--no-as-needed -lfa -lfb -o "$out/libmain.so" "$tmp/main.c"
$STRIP --strip-unneeded "$out/libfa.so" "$out/libfb.so" "$out/libmain.so"
ls -l "$out"
