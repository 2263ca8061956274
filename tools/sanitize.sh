#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer run of edgert's C code:
#   1. the kernel testers, built with EDGERT_SANITIZE=1, natively and (when the cross toolchain
#      and qemu-aarch64 are there, or can be installed) as aarch64 under qemu, in the background;
#   2. the Python extension built with meson's -Dsanitizers=true into its own build directory and
#      install target, so the normal (editable) install is untouched;
#   3. a representative pytest subset (parity, runtime, fuzz, concurrency, sequence and LM kernels,
#      fusions) on that build, with libasan preloaded into CPython.
#
#   tools/sanitize.sh                     everything
#   tools/sanitize.sh -k conv             extra arguments go to pytest
#   EDGERT_SANITIZE_DIR=/tmp/x            where the build and install go (default /tmp/edgert-sanitize;
#                                         kept between runs, so a re-run only rebuilds what changed)
#   EDGERT_SANITIZE_QEMU=0                skip the aarch64 tester run
#   EDGERT_SANITIZE_TESTERS=0             skip both tester runs (only the extension and pytest)
#
# Any sanitizer report fails the run (halt_on_error); leak checking is off because CPython
# deliberately keeps objects alive at exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${EDGERT_SANITIZE_DIR:-/tmp/edgert-sanitize}
python=${PYTHON:-python3}
mkdir -p "$work"

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# allocator_may_return_null: an impossible allocation (the tests ask for terabytes on purpose)
# returns NULL, which numpy turns into the MemoryError edgert reports, instead of an ASan abort.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_init_order=1:allocator_may_return_null=1

# The three builds are independent: the two tester builds run in the background (logs in $work)
# while meson builds the extension.
native_pid=""
qemu_pid=""
trap 'kill $native_pid $qemu_pid 2>/dev/null || true' EXIT  # no tester outlives a failed run
if [ "${EDGERT_SANITIZE_TESTERS:-1}" != 0 ]; then
  EDGERT_SANITIZE=1 EDGERT_TESTER_BUILD="$work/tester-native" \
    bash "$root/cython_ops/tester/run.sh" native > "$work/tester-native.log" 2>&1 &
  native_pid=$!
fi
if [ "${EDGERT_SANITIZE_TESTERS:-1}" != 0 ] && [ "${EDGERT_SANITIZE_QEMU:-1}" != 0 ]; then
  if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
    if [ "$(id -u)" = 0 ] || command -v sudo >/dev/null; then
      sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
      { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq gcc-aarch64-linux-gnu qemu-user; } >/dev/null || true
    fi
  fi
  if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
    EDGERT_SANITIZE=1 EDGERT_TESTER_BUILD="$work/tester-aarch64" \
      bash "$root/cython_ops/tester/run.sh" aarch64 > "$work/tester-aarch64.log" 2>&1 &
    qemu_pid=$!
  else
    echo "== aarch64 testers skipped: gcc-aarch64-linux-gnu / qemu-user not installable here" >&2
  fi
fi

echo "== extension with -Dsanitizers=true -> $work/site"
# A regular (non-editable) install into its own target directory; meson's build directory is kept
# in $work/build so repeated runs are incremental.
"$python" -m pip install -q --no-build-isolation --no-deps --upgrade --target "$work/site" \
  -Csetup-args=-Dsanitizers=true -Csetup-args=-Dbuildtype=debugoptimized \
  -Cbuild-dir="$work/build" "$root"

status=0
if [ -n "$native_pid" ]; then
  echo "== kernel testers, ASan+UBSan (native)"
  wait "$native_pid" || status=1
  tail -n 40 "$work/tester-native.log"
fi
if [ -n "$qemu_pid" ]; then
  echo "== kernel testers, ASan+UBSan (aarch64 under qemu)"
  wait "$qemu_pid" || status=1
  tail -n 40 "$work/tester-aarch64.log"
fi
if [ $status != 0 ]; then
  echo "sanitize: a kernel tester failed or reported (full logs: $work/tester-*.log)" >&2
  exit 1
fi

libasan=$(${CC:-cc} -print-file-name=libasan.so)
[ -e "$libasan" ] || { echo "sanitize: libasan.so not found (install the compiler's sanitizer runtime)" >&2; exit 1; }
# libstdc++ is preloaded too, so ASan's __cxa_throw interceptor finds the real one when it starts:
# otherwise the first C++ exception in any extension (onnx's, onnxruntime's) aborts the process.
libstdcxx=$(${CC:-cc} -print-file-name=libstdc++.so.6)
preload="$libasan"
[ -e "$libstdcxx" ] && preload="$libasan:$libstdcxx"

# An editable install of edgert in this interpreter claims `import edgert` before sys.path is
# searched; meson-python's loader steps aside for the build directories (build/cp311, ...) listed
# in this variable.
skip=""
for dir in "$root"/build/*/; do skip="$skip${skip:+:}${dir%/}"; done
export MESONPY_EDITABLE_SKIP="$skip"
export PYTHONPATH="$work/site${PYTHONPATH:+:$PYTHONPATH}"
export EDGERT_SANITIZE=1  # tests/test_fuzz.py: no address-space limit under ASan (it reserves shadow memory)

# Run from outside the source tree, so `import edgert` cannot pick up the unbuilt sources.
cd "$work"
LD_PRELOAD="$preload" "$python" - "$work/site" <<'EOF'
import sys
import edgert
from edgert._ops import _kernels
site = sys.argv[1]
assert edgert.__file__.startswith(site) and _kernels.__file__.startswith(site), (edgert.__file__, _kernels.__file__)
print(f"edgert from {edgert.__file__}")
EOF

echo "== pytest on the sanitized build"
# LiteRT's prebuilt interpreter aborts when loaded under a preloaded ASan runtime: its one test
# here is left out (it checks LiteRT, not edgert's C code).
LD_PRELOAD="$preload" "$python" -m pytest -q -p no:cacheprovider --rootdir "$root" -c "$root/pyproject.toml" \
  "$root/tests/test_parity_ops.py" "$root/tests/test_runtime.py" "$root/tests/test_fuzz.py" \
  "$root/tests/test_concurrency.py" "$root/tests/test_sequence_ops.py" "$root/tests/test_lm_native.py" \
  "$root/tests/test_fusion.py" \
  --deselect tests/test_runtime.py::test_litert_backend_on_onnx_file "$@"  # node ids are relative to --rootdir
echo "== sanitize: no ASan/UBSan reports"
