#!/usr/bin/env bash
# Set up centerx_mm on a fresh machine (Python 3.11, CPU).
#   bash tools/setup_env.sh
# Installs, in order: torch 2.13.0 (the local CPU wheel; never an unpinned torch),
# the pinned pure-Python stack, mmengine/mmdet/mmdeploy with --no-deps, mmcv 2.1.0
# built from source once and cached as a wheel under $CENTERX_WHEEL_CACHE
# (default ~/.cache/centerx_mm/wheels; the build takes ~9 min on 2 cores, a
# cached install seconds), and centerx_mm itself in editable mode.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PIP="$PY -m pip install --disable-pip-version-check -q"
CACHE=${CENTERX_WHEEL_CACHE:-$HOME/.cache/centerx_mm/wheels}
mkdir -p "$CACHE"

echo "[setup] torch 2.13.0 (CPU)"
$PIP torch==2.13.0
# deploy.txt: onnx, onnxruntime, openvino (pulls no torch, keeps numpy), mmdeploy deps
echo "[setup] pinned runtime + deploy + test requirements"
$PIP -r requirements/runtime.txt -r requirements/deploy.txt -r requirements/tests.txt
echo "[setup] Ray Tune + Optuna (tools/tune.py; ~500 MB, ~25 s from wheels)"
$PIP -r requirements/tune.txt
# torch declares setuptools>=77, but mmcv's setup.py and mmengine need
# pkg_resources, which newer setuptools dropped: pin after torch on purpose.
$PIP -r requirements/build.txt 2>&1 | grep -v "incompatible" || true
echo "[setup] mmengine / mmdet / mmdeploy (--no-deps)"
$PIP --no-deps -r requirements/openmmlab.txt mmdeploy==1.3.1

if $PY -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  echo "[setup] mmcv 2.1.0 already installed"
else
  wheel=$(ls "$CACHE"/mmcv-2.1.0-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$wheel" ]; then
    echo "[setup] building mmcv 2.1.0 from source (about 9 minutes on 2 cores)"
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
      $PY -m pip wheel --disable-pip-version-check -q --no-deps --no-build-isolation \
      -r requirements/mmcv.txt -w "$CACHE"
    wheel=$(ls "$CACHE"/mmcv-2.1.0-*.whl | head -n 1)
  else
    echo "[setup] mmcv 2.1.0 from cached wheel $wheel"
  fi
  $PIP --no-deps "$wheel"
fi
echo "[setup] centerx_mm (editable)"
$PIP --no-deps --no-build-isolation -e .
$PY -c "import centerx_mm, mmdet, mmcv, torch; print('[setup] ok: centerx_mm', centerx_mm.__version__, '| torch', torch.__version__, '| mmcv', mmcv.__version__, '| mmdet', mmdet.__version__)"
