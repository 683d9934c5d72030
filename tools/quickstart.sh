#!/usr/bin/env bash
# Quickstart on the embedded dataset, CPU only (about 10 minutes on 2 cores):
# generate the dataset, train a small CenterX R18, evaluate COCO mAP, and save
# a demo image with boxes. Outputs go to work_dirs/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
CONFIG=configs/centerx_ttf/centerx-ttf_r18w32_quickstart_shapes.py
WORK=work_dirs/quickstart

echo "[quickstart] 1/4 generate the embedded shapes dataset -> data/shapes"
$PY tools/dataset_converters/make_shapes_dataset.py --out-dir data/shapes \
    --partial-splits "ring,star;cross,triangle"
echo "[quickstart] 2/4 train $CONFIG"
# --amp: bf16 autocast on CPUs with bf16 instructions (else fp32, with a
# warning); the log prints an ETA every 50 iterations.
$PY tools/train.py $CONFIG --amp --work-dir $WORK
CKPT=$(cat $WORK/last_checkpoint)
echo "[quickstart] 3/4 evaluate $CKPT (COCO mAP on data/shapes val)"
$PY tools/test.py $CONFIG "$CKPT" --work-dir $WORK/test
echo "[quickstart] 4/4 demo -> $WORK/demo.png"
$PY tools/demo.py data/shapes/val/000004.png $CONFIG "$CKPT" \
    --out-file $WORK/demo.png --score-thr 0.3
echo "[quickstart] done: checkpoint $CKPT, demo image $WORK/demo.png"
