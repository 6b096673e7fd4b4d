#!/usr/bin/env bash
# The test command of the README (and of .ci/run): install the project with its test
# dependencies into ./.venv, prepare the offline model files, run the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
pip install -q -e ".[dev]"
# xtcocotools, the reference evaluator of the parity tests, comes with the dev extra; its 1.14.3
# wheel is built against numpy 1.x and fails to import with numpy 2, so when the import fails,
# rebuild it from source against the installed numpy (--force-reinstall: the wheel is "installed").
python -c "import xtcocotools.cocoeval" 2>/dev/null \
  || pip install -q --force-reinstall --no-deps --no-build-isolation --no-binary xtcocotools "xtcocotools==1.14.3"
python -c "import xtcocotools.cocoeval"  # fail here, not as skipped parity tests, if the build did not work
if [ -f scripts/prepare_models.sh ]; then bash scripts/prepare_models.sh; fi
export OMP_NUM_THREADS=1
python -m pytest -q "$@"
