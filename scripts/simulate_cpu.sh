#!/usr/bin/env bash
# Run a command as if this x86-64 machine had a lesser CPU: linkaudit and the tests read a
# /proc/cpuinfo without the removed flags (bind-mounted in a private mount namespace), and
# glibc's ld.so -- the tests' oracle -- is told the same through GLIBC_TUNABLES.
# Needs root (unshare -m). Classes: no-avx512 (Haswell-class Intel), no-avx2 (Sandy Bridge class).
#
#   sudo scripts/simulate_cpu.sh no-avx2 python -m pytest -q tests/integration/test_hwcaps_oracle.py
set -euo pipefail
class="${1:?usage: simulate_cpu.sh no-avx512|no-avx2 COMMAND...}"
shift
case "$class" in
  no-avx512) drop="avx512[a-z0-9_]*"; tunables="-AVX512F,-AVX512CD,-AVX512BW,-AVX512DQ,-AVX512VL" ;;
  no-avx2) drop="avx512[a-z0-9_]*|avx2|bmi1|bmi2|fma|abm|movbe"
           tunables="-AVX2,-BMI1,-BMI2,-FMA,-LZCNT,-MOVBE,-AVX512F,-AVX512CD,-AVX512BW,-AVX512DQ,-AVX512VL" ;;
  *) echo "unknown class $class (no-avx512, no-avx2)" >&2; exit 2 ;;
esac
fake="$(mktemp)"
trap 'rm -f "$fake"' EXIT
sed -E "s/(^|[[:space:]])($drop)(\$|[[:space:]])/\1\3/g; s/(^|[[:space:]])($drop)(\$|[[:space:]])/\1\3/g" /proc/cpuinfo > "$fake"
GLIBC_TUNABLES="glibc.cpu.hwcaps=$tunables" exec unshare -m sh -c 'mount --bind "$0" /proc/cpuinfo && exec "$@"' "$fake" "$@"
