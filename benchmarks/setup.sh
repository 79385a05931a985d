#!/usr/bin/env bash
# Create .venv-bench (the project + the benchmark peers), separate from the project venv.
# Usage: bash benchmarks/setup.sh        (from the repository root or anywhere)
# Re-running is cheap: it reinstalls only when requirements.txt or pyproject.toml changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV_BENCH:-$root/.venv-bench}"
python="${PYTHON:-python3}"
stamp="$venv/.bench-requirements.sha256"
want="$(cat "$root/benchmarks/requirements.txt" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "bench venv up to date: $venv"
    exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
# torch first, alone and pinned, so the CPU wheel is chosen before any peer asks for torch.
"$venv/bin/pip" install --quiet "torch==2.13.0"
"$venv/bin/pip" install --quiet -e "$root" -r "$root/benchmarks/requirements.txt"
"$venv/bin/python" - <<'PY'
import torch
assert not torch.version.cuda, f"a CUDA torch was installed ({torch.__version__}); pin torch to the CPU build"
print(f"bench venv ready: torch {torch.__version__}")
PY
echo "$want" > "$stamp"
