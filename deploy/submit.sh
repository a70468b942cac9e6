#!/usr/bin/env bash
# spark-submit a cobuy job from the package built by `make package` (options: deploy/submit.py).
#   deploy/submit.sh [--master URL] [--deploy-mode client|cluster] JOB --env ENV --date D [--set k=v]
# Runs with the project's interpreter (its pyspark's spark-submit); COBUY_PYTHON picks another.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${COBUY_PYTHON:-}"
if [[ -z "$python" ]]; then
  for candidate in "$here/../.venv/bin/python" "$here/../../.venv/bin/python"; do
    if [[ -x "$candidate" ]]; then python="$candidate"; break; fi
  done
fi
exec "${python:-python3}" "$here/submit.py" "$@"
