#!/usr/bin/env bash
# Build every kernel variant plus every *-tester.c and run the testers.
#   cython_ops/tester/run.sh            native build (x86-64 runs scalar + AVX2 variants)
#   cython_ops/tester/run.sh aarch64    cross-compile with aarch64-linux-gnu-gcc, run under qemu-aarch64
#                                        (-cpu max so NEON dot-product variants run too)
# Extra arguments after the target are passed to every tester (e.g. a seed).
# Per-file SIMD flags mirror meson.build: *-avx2.c -> -mavx2 -mfma, *-avx512vnni.c -> + AVX512
# F/BW/VL/VNNI, *-neondot.c -> +dotprod.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
target=${1:-native}
shift || true
out=${EDGERT_TESTER_BUILD:-$(mktemp -d /tmp/edgert-tester.XXXXXX)}
mkdir -p "$out"

case "$target" in
  native)  cc=${CC:-cc}; runner=(); arch=$(uname -m) ;;
  aarch64) cc=aarch64-linux-gnu-gcc; runner=(qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu); arch=aarch64 ;;
  *) echo "usage: $0 [native|aarch64] [tester args...]" >&2; exit 2 ;;
esac

# -ffp-contract=off as in meson.build: no compiler-made FMAs (bit-exact int8 requantization).
cflags=(-std=c11 -O2 -g -Wall -Wextra -Wno-unused-parameter -ffp-contract=off -I"$root/include" -D_GNU_SOURCE)
if [ -n "${EDGERT_SANITIZE:-}" ]; then
  cflags+=(-fsanitize=address,undefined -fno-omit-frame-pointer)
  # LeakSanitizer cannot run under qemu-user
  [ "$target" = aarch64 ] && export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
fi
objs=()
for src in "$root"/src/*/*.c; do
  name=$(basename "$src" .c)
  flags=()
  case "$name" in
    *-avx2) [ "$arch" = x86_64 ] || continue; flags=(-mavx2 -mfma) ;;
    *-avx512vnni) [ "$arch" = x86_64 ] || continue; flags=(-mavx2 -mfma -mavx512f -mavx512bw -mavx512vl -mavx512vnni) ;;
    *-neondot) [ "$arch" = aarch64 ] || continue; flags=(-march=armv8.2-a+dotprod) ;;
    *-neon) [ "$arch" = aarch64 ] || continue ;;
  esac
  obj="$out/$name.o"
  "$cc" "${cflags[@]}" "${flags[@]}" -c "$src" -o "$obj"
  objs+=("$obj")
done

status=0
for t in "$here"/*-tester.c; do
  [ -e "$t" ] || continue
  exe="$out/$(basename "$t" .c)"
  "$cc" "${cflags[@]}" -I"$here" "$t" "${objs[@]}" -lm -lpthread -o "$exe"
  if [ ${#runner[@]} -gt 0 ]; then "${runner[@]}" "$exe" "$@" || status=1; else "$exe" "$@" || status=1; fi
done
exit $status
