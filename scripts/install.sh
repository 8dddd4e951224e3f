#!/usr/bin/env bash
# Install rbfviz on a fresh Debian machine: system libraries for headless rendering (and the
# browser for the tests), the CPU build of PyTorch 2.13.0, then the project itself.
#   bash scripts/install.sh          # the app
#   bash scripts/install.sh --test   # the app + test tools (Playwright driving Debian's chromium)
# A machine that already has a CUDA build of torch keeps it: set RBFVIZ_KEEP_TORCH=1.
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

apt_packages="libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 fonts-dejavu-core"
[ $want_test = 1 ] && apt_packages="$apt_packages chromium gcc g++ gfortran"  # compilers: tests build the C export and call it from C++ and Fortran
if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
    missing=""
    for p in $apt_packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    if [ -n "$missing" ]; then
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
    fi
fi

PIP="python3 -m pip"
[ "${RBFVIZ_KEEP_TORCH:-0}" = 1 ] || $PIP install -q "torch==2.13.0"   # the CPU wheel; an unpinned torch pulls a multi-GB CUDA build
if [ $want_test = 1 ]; then
    $PIP install -q -e ".[test]"
else
    $PIP install -q -e ".[sweep]"   # with the XGBoost baseline of rbfviz sweep (CPU wheel)
fi
