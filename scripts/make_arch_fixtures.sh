#!/bin/sh
# Build the tiny per-architecture fixtures under tests/data/<arch>/ (committed; the tests
# never need a cross compiler).
#
# Needs Debian's cross compilers, e.g.  apt-get install -y gcc-aarch64-linux-gnu gcc-s390x-linux-gnu
# (an architecture whose compiler is missing is skipped with a note).
#
#   scripts/make_arch_fixtures.sh                 # every architecture below
#   scripts/make_arch_fixtures.sh s390x mipsel    # only these
#
# Everything is -nostdlib, so no target libc is needed and each file stays 1-6 KB:
#   libfa.so    defines fa() and the data object fa_data[4]
#   libfb.so    defines fb()                         (linked, never referenced: unused)
#   libmain.so  PIC; calls fa(), points at fa_data; DT_NEEDED libfa.so and libfb.so
#               (-Wl,--no-as-needed), DT_RUNPATH $ORIGIN.  On MIPS both go through global
#               GOT entries: no relocation looks anything up.
#   libuser.so  PIC; calls fa(); DT_NEEDED libmain.so then libfa.so.  libmain.so comes first
#               in the search but only holds an undefined fa (on MIPS with a non-zero value,
#               its lazy stub, and no STO_MIPS_PLT: still not a definition): libmain.so unused.
#   main_copy   a non-PIE executable whose only use of libfa.so is reading fa_data: a copy
#               relocation (R_*_COPY), which must bind in libfa.so, not in the executable
#               (mips64el: a global GOT entry instead).  DT_NEEDED libfa.so and libfb.so,
#               DT_RUNPATH $ORIGIN.
# The expected verdicts (tests/unit/test_arch_fixtures.py) were taken from each
# architecture's own ld.so under qemu (tests/foreign/test_qemu_oracle.py checks them again
# wherever qemu-user-static and the Debian packages are available).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf 'int fa(void) { return 1; }\nint fa_data[4] = { 1, 2, 3, 4 };\n' > "$tmp/fa.c"
printf 'int fb(void) { return 2; }\n' > "$tmp/fb.c"
# entry() only calls fa(): on MIPS that leaves fa undefined with a non-zero value (its lazy
# stub's address) and no STO_MIPS_PLT; fa_data_ref is a relocation that names a symbol.
printf 'int fa(void);\nextern int fa_data[4];\nint *fa_data_ref = &fa_data[1];\nint entry(void) { return fa() + 40; }\n' > "$tmp/main.c"
# user_fa takes fa's address: its lookup is not of the PLT class (MIPS: R_MIPS_32 from the GOT walk),
# so only the "undefined symbols never define" rule keeps it out of libmain.so.
printf 'int fa(void);\nint (*user_fa)(void) = fa;\nint user(void) { return user_fa() + 2; }\n' > "$tmp/user.c"
# never run (the loader only traces it): _start needs no C runtime.  ppc64's linker would
# rather relocate a TOC entry than copy, so there the address is built absolutely (@ha/@l).
printf 'extern int fa_data[4];\nint sink;\nvoid _start(void) { sink = fa_data[2]; for (;;) ; }\n' > "$tmp/copy.c"
printf 'extern int fa_data[4];\nint sink;\nvoid _start(void) {\n  int *p;\n  __asm__ ("lis %%0,fa_data@ha\\n\\taddi %%0,%%0,fa_data@l" : "=r" (p));\n  sink = p[2];\n  for (;;) ;\n}\n' > "$tmp/copy_ppc64.c"

set -- ${*:-aarch64 armhf armel i386 ppc64el s390x mipsel mips64el}
for arch in "$@"; do
    case $arch in
        aarch64)  cc=aarch64-linux-gnu ;;
        armhf)    cc=arm-linux-gnueabihf ;;
        armel)    cc=arm-linux-gnueabi ;;
        i386)     cc=i686-linux-gnu ;;
        ppc64el)  cc=powerpc64le-linux-gnu ;;
        s390x)    cc=s390x-linux-gnu ;;
        mipsel)   cc=mipsel-linux-gnu ;;
        mips64el) cc=mips64el-linux-gnuabi64 ;;
        *) echo "unknown architecture $arch" >&2; exit 2 ;;
    esac
    if ! command -v "$cc-gcc" >/dev/null 2>&1; then
        echo "skipping $arch: $cc-gcc not installed" >&2
        continue
    fi
    copy_src="$tmp/copy.c" exe_flags=""
    case $arch in
        ppc64el)  copy_src="$tmp/copy_ppc64.c" ;;
        mipsel)   exe_flags="-mno-shared -mplt" ;;  # non-PIC abicalls: a PLT and copy relocations
        mips64el) ;;  # n64 has no non-PIC PLT ABI: fa_data stays a global GOT entry (R_MIPS_REL32)
    esac
    out="$here/tests/data/$arch"
    mkdir -p "$out"
    common="-Os -nostdlib -Wl,--hash-style=gnu -Wl,--build-id=none -Wl,-z,norelro -Wl,-z,max-page-size=4096 -Wl,-z,noseparate-code"
    lib="$common -fPIC -shared"
    "$cc-gcc" $lib -Wl,-soname,libfa.so -o "$out/libfa.so" "$tmp/fa.c"
    "$cc-gcc" $lib -Wl,-soname,libfb.so -o "$out/libfb.so" "$tmp/fb.c"
    "$cc-gcc" $lib -Wl,-soname,libmain.so -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN' \
        -L"$out" -Wl,--no-as-needed -lfa -lfb -o "$out/libmain.so" "$tmp/main.c"
    "$cc-gcc" $lib -Wl,-soname,libuser.so -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN' \
        -L"$out" -Wl,--no-as-needed -lmain -lfa -o "$out/libuser.so" "$tmp/user.c"
    "$cc-gcc" $common -fno-pic $exe_flags -no-pie -Wl,-e,_start -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN' \
        -o "$out/main_copy" "$copy_src" -L"$out" -Wl,--no-as-needed -lfa -lfb
    "$cc-strip" --strip-unneeded "$out/libfa.so" "$out/libfb.so" "$out/libmain.so" "$out/libuser.so" "$out/main_copy"
    ls -l "$out"
done
