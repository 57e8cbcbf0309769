#!/usr/bin/env bash
# Set up dumptriage on a fresh Debian/Ubuntu machine: a venv in .venv with the package.
#   bash scripts/install.sh          the tool only
#   bash scripts/install.sh --test   plus everything the tests need: test extras from PyPI,
#                                    the pinned Kaitai compiler (npm), libvirt's virsh (apt)
set -euo pipefail
cd "$(dirname "$0")/.."
want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

apt_install() {
  # Install Debian packages only when a command is missing; needs root (CI and dev boxes are).
  local missing=()
  for pair in "$@"; do
    local cmd=${pair%%:*} pkg=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: please install: ${missing[*]}" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

apt_install python3:python3
# Debian splits venv/ensurepip into python3-venv.
python3 -c 'import ensurepip' 2>/dev/null || apt_install __no_such_command__:python3-venv
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ $want_tests -eq 1 ]; then
  apt_install node:nodejs npm:npm virsh:libvirt-clients
  .venv/bin/python -m pip install -q '.[test]'
  npm ci --prefix formats --no-audit --no-fund --loglevel=error
else
  .venv/bin/python -m pip install -q .
fi
