#!/usr/bin/env bash
# Installs edgert (editable, in .venv) with its test dependencies and runs every test:
# the C kernel testers natively and cross-compiled under qemu-aarch64, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq gcc-aarch64-linux-gnu qemu-user >/dev/null
fi

# The Kivy app test (tests/test_kivy_app.py) runs the app under Xvfb with Mesa's software OpenGL.
if ! command -v Xvfb >/dev/null || ! ls /usr/lib/*/dri/swrast_dri.so >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq xvfb libgl1-mesa-dri libegl1 libgl1 >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q meson-python meson ninja "cython>=3" numpy
# torch (CPU build, pinned so pip never pulls a CUDA build) lets the tests check models against PyTorch.
python -m pip install -q torch==2.13.0
python -m pip install -q --no-build-isolation -e ".[test,lm,app]"

echo "== kernel testers (native)"
bash cython_ops/tester/run.sh
echo "== kernel testers (aarch64 under qemu)"
bash cython_ops/tester/run.sh aarch64
echo "== pytest"
python -m pytest -q "$@"
