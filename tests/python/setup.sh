#!/usr/bin/env bash
# A Python 3.12 venv with the real Dify plugin SDK (dify-plugin 0.10.2), for the tests that run
# the Python endpoint plugin against the fake daemon (tests/python_peer.rs). Prints the venv's
# python last, so that:
#
#   DIFY_PLUGIN_PYTHON=$(tests/python/setup.sh | tail -1) cargo test -p e2e-tests python_peer
#
# The venv goes to ${DIFY_PLUGIN_VENV:-target/python-peer} (relative to the repository root).
# Idempotent: nothing is installed when the venv already has dify_plugin 0.10.2.
set -euo pipefail

SDK_VERSION=0.10.2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${DIFY_PLUGIN_VENV:-target/python-peer}
case $venv in /*) ;; *) venv=$root/$venv ;; esac

# A Python 3.12: python3.12 on PATH if it runs, else the newest 3.12.x that pyenv has.
find_python() {
  if command -v python3.12 >/dev/null && python3.12 -c '' 2>/dev/null; then
    command -v python3.12
    return
  fi
  if command -v pyenv >/dev/null; then
    local v
    v=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.12\.[0-9]+$' | sort -V | tail -1 || true)
    if [ -n "$v" ] && [ -x "$(pyenv root)/versions/$v/bin/python3.12" ]; then
      echo "$(pyenv root)/versions/$v/bin/python3.12"
      return
    fi
  fi
  echo "setup.sh: no Python 3.12 found (python3.12 on PATH, or pyenv with a 3.12.x)" >&2
  exit 1
}

python=$venv/bin/python
installed() {
  [ -x "$python" ] && "$python" - "$SDK_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("dify_plugin") == sys.argv[1] else 1)
EOF
}

if ! installed; then
  "$(find_python)" -m venv "$venv"
  "$python" -m pip install --quiet --disable-pip-version-check "dify-plugin==$SDK_VERSION" >&2
  installed || { echo "setup.sh: dify_plugin $SDK_VERSION did not install" >&2; exit 1; }
fi
echo "$python"
