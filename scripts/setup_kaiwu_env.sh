#!/usr/bin/env bash
# Create (or update) .venv-kaiwu at the repository root with QBoson's kaiwu-community SDK.
#
# kaiwu-community pins numpy==2.2.6 and pandas==2.2.3, which clash with the project's own
# environment, so it lives in a venv of its own. tests/formats/test_kaiwu.py runs Kaiwu's
# QUBO -> Ising converter there in a subprocess (QAMA_KAIWU_PYTHON overrides the path) and
# is skipped when the venv is absent. Idempotent: a second run changes nothing.
#
#   scripts/setup_kaiwu_env.sh                 # uses python3.11 (or $PYTHON)
#   PYTHON=python3.12 scripts/setup_kaiwu_env.sh
set -euo pipefail

KAIWU_VERSION="1.0.7"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${QAMA_KAIWU_VENV:-$ROOT/.venv-kaiwu}"
PYTHON="${PYTHON:-python3.11}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
installed="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("kaiwu-community"))' 2>/dev/null || true)"
if [ "$installed" != "$KAIWU_VERSION" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "kaiwu-community==$KAIWU_VERSION"
fi
"$VENV/bin/python" -c 'import kaiwu; print("kaiwu-community", kaiwu.__version__, "in", __import__("sys").prefix)'
echo "tests use it by default; or export QAMA_KAIWU_PYTHON=$VENV/bin/python"
