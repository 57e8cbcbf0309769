#!/usr/bin/env bash
# Set up dumptriage on a fresh Debian/Ubuntu machine: a venv in .venv with the package.
#   bash scripts/install.sh          the tool only
#   bash scripts/install.sh --test   plus everything the tests need: test extras from PyPI,
#                                    the pinned Kaitai compiler (npm), libvirt's virsh, clang,
#                                    lld, llvm, chromium and chromedriver, qemu-system-x86 (apt)
set -euo pipefail
cd "$(dirname "$0")/.."
want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

missing=()
need() {  # need COMMAND PACKAGE: queue the Debian package when the command is absent
  command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}

install_missing() {
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: please install these Debian packages first: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  missing=()
}

need python3 python3
install_missing
# Debian ships venv/ensurepip separately, in python3-venv.
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ $want_tests -eq 1 ]; then
  need node nodejs
  need npm npm
  need virsh libvirt-clients
  # tests/dump/test_unwind_clang.py: a real x64 PE with .pdata, checked against llvm-readobj
  need clang clang
  need lld-link lld
  need llvm-readobj llvm
  # tests/service/test_page_browser.py: the drop page in Debian's Chromium, driven by Selenium
  need chromium chromium
  need chromedriver chromium-driver
  # tests/dump/test_qemu_real.py: a real QEMU (TCG, no KVM) writes the vmcores it reads
  need qemu-system-x86_64 qemu-system-x86
fi
install_missing

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ $want_tests -eq 1 ]; then
  .venv/bin/python -m pip install -q '.[test]'
  npm ci --prefix formats --no-audit --no-fund --loglevel=error
else
  .venv/bin/python -m pip install -q .
fi
