#!/usr/bin/env bash
# Every row of the multi-teacher table (docs/experiments_multi_teacher.md,
# design notes "多模型蒸馏"), same schedule for all rows, all evaluated on the
# fully labelled val split with per-class AP (CocoMetric classwise=True):
#   A  teacher A: R50 on part 0 (ring, star labelled)
#   B  teacher B: R50 on part 1 (cross, triangle labelled)
#   1  R18 naive merge (part 0 + part 1 as if fully labelled)
#   2  R18 ignore-unlabelled (heatmap loss of unlabelled classes dropped)
#   3  R18 pseudo labels (parts completed by the other part's teacher, >= 0.3)
#   4  R18 multi-teacher KD without labels (teachers A and B)
#   5  R18 multi-teacher KD + the labels that exist (extra row)
# One seed, the configs/centerx names (aliases of configs/distill/ since
# issue 11). The 3-seed tables with overlapping teachers and recipes:
# tools/experiments/run_kd_seeds.py (configs/distill/README.md).
#
# Usage:
#   bash tools/experiments/run_multi_teacher_table.sh [WORK_ROOT] [ITERS] \
#       [TEACHER_ITERS]
# WORK_ROOT defaults to work_dirs/mt_table, ITERS (max_iters of every row,
# LR steps at 75% / 90% of it) to 2000, the configs' schedule. A smaller
# ITERS is a smoke run of the pipeline, e.g. ITERS=50. TEACHER_ITERS (default
# ITERS) is the teachers' schedule: a teacher must be clearly stronger than
# the student before KD is judged, so give it a longer one if it is not.
# WIDTH=32 (environment) runs every row, teachers included, with the
# half-width R18 of configs/_base_/models/centerx_r18w32.py (about 3x
# cheaper on CPU): the teacher configs are derived into WORK_ROOT/configs,
# the student rows get the width through --cfg-options.
#   WIDTH=32 bash tools/experiments/run_multi_teacher_table.sh \
#       work_dirs/mt_table_w32 1000
# EXTRA_ROW=0 (environment) skips the last row (KD + existing labels).
# Each CPU-heavy step runs under `flock $LOCK` (default
# /tmp/centerx_cpu.lock); LOCK= (empty) disables that, e.g. to hold the lock
# for a whole smoke run:
#   LOCK= flock /tmp/centerx_cpu.lock \
#       bash tools/experiments/run_multi_teacher_table.sh work_dirs/mt_smoke 50
# Rows whose final checkpoint / metrics exist are skipped (re-run resumes).
# Output: WORK_ROOT/<row>/metrics.json and WORK_ROOT/table.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
W=${1:-work_dirs/mt_table}
ITERS=${2:-2000}
TEACHER_ITERS=${3:-$ITERS}
LOCK=${LOCK-/tmp/centerx_cpu.lock}
WIDTH=${WIDTH:-64}
SEED=0
mkdir -p "$W"

TEACHER_A=configs/centerx/mt_teacher_a_r50_shapes.py
TEACHER_B=configs/centerx/mt_teacher_b_r50_shapes.py
STUDENT=()  # extra --cfg-options of every student row (train and test)
ARCH_T=R50 ARCH_S=R18
if [ "$WIDTH" = 32 ]; then
  mkdir -p "$W/configs"
  for t in a b; do
    cat > "$W/configs/mt_teacher_${t}_r18w32.py" <<EOF
# derived by tools/experiments/run_multi_teacher_table.sh (WIDTH=32)
_base_ = ['$PWD/configs/centerx/mt_teacher_${t}_r50_shapes.py']
model = dict(
    backbone=dict(depth=18, base_channels=32),
    neck=dict(in_channels=256, num_deconv_filters=(128, 64, 32)),
    bbox_head=dict(in_channels=32, feat_channels=32))
EOF
  done
  TEACHER_A=$W/configs/mt_teacher_a_r18w32.py
  TEACHER_B=$W/configs/mt_teacher_b_r18w32.py
  STUDENT=(model.backbone.base_channels=32 model.neck.in_channels=256
           "model.neck.num_deconv_filters=(128,64,32)"
           model.bbox_head.in_channels=32 model.bbox_head.feat_channels=32)
  ARCH_T=R18w32 ARCH_S=R18w32
elif [ "$WIDTH" != 64 ]; then
  echo "WIDTH must be 64 (R50 teachers, R18 students) or 32, not $WIDTH" >&2
  exit 2
fi
# finished rows are skipped on a re-run: never mix widths in one WORK_ROOT
if [ -f "$W/WIDTH" ] && [ "$(cat "$W/WIDTH")" != "$WIDTH" ]; then
  echo "$W holds a WIDTH=$(cat "$W/WIDTH") table; use another WORK_ROOT" >&2
  exit 2
fi
echo "$WIDTH" > "$W/WIDTH"

locked() {
  if [ -n "$LOCK" ]; then flock "$LOCK" "$@"; else "$@"; fi
}

# schedule N: --cfg-options of an N-iteration run (LR steps at 75% / 90%)
schedule() {
  SCHED=(train_cfg.max_iters=$1 train_cfg.val_interval=$1
         default_hooks.checkpoint.interval=$1
         param_scheduler.1.end=$1
         "param_scheduler.1.milestones=[$(($1 * 3 / 4)),$(($1 * 9 / 10))]"
         randomness.seed=$SEED)
}

if [ ! -f data/shapes/annotations/instances_train_part1.json ]; then
  locked python tools/dataset_converters/make_shapes_dataset.py \
    --out-dir data/shapes --partial-splits "ring,star;cross,triangle"
fi

# train NAME CONFIG [cfg-options...]: log in WORK_ROOT/NAME.log, wall time
# in WORK_ROOT/NAME/train_seconds
train() {
  local name=$1 cfg=$2; shift 2
  local iters=$ITERS
  [[ $name == teacher_* ]] && iters=$TEACHER_ITERS
  schedule "$iters"
  if [ -f "$W/$name/iter_$iters.pth" ]; then
    echo "[skip] $name: $W/$name/iter_$iters.pth exists"; return
  fi
  echo "[train] $name: $cfg"
  local t0; t0=$(date +%s)
  locked python tools/train.py "$cfg" --work-dir "$W/$name" \
    --cfg-options "${SCHED[@]}" "$@" > "$W/$name.log" 2>&1 \
    || { echo "FAILED: see $W/$name.log"; tail -20 "$W/$name.log"; exit 1; }
  echo $(( $(date +%s) - t0 )) > "$W/$name/train_seconds"
}

# evaluate NAME CONFIG [cfg-options...]: COCO mAP + per-class AP of WORK_ROOT/NAME's last
# checkpoint on the val split; group means in WORK_ROOT/NAME/metrics.json
evaluate() {
  local name=$1 cfg=$2; shift 2
  [ -f "$W/$name/metrics.json" ] && { echo "[skip] eval $name"; return; }
  echo "[test] $name"
  local iters=$ITERS
  [[ $name == teacher_* ]] && iters=$TEACHER_ITERS
  locked python - "$name" "$cfg" "$W/$name/iter_$iters.pth" "$W/$name" "$@" \
    > "$W/$name.test.log" 2>&1 <<'PY' \
    || { echo "FAILED: see $W/$name.test.log"; tail -20 "$W/$name.test.log"; exit 1; }
import json
import os.path as osp
import sys

sys.path.insert(0, '.')
from tools import test  # noqa: E402

name, cfg, ckpt, work = sys.argv[1:5]
metrics = test.main([cfg, ckpt, '--work-dir', osp.join(work, 'test'),
                     '--cfg-options', 'test_evaluator.classwise=True'] +
                    sys.argv[5:])
groups = {'A': ('ring', 'star'), 'B': ('cross', 'triangle')}
row = dict(name=name, config=cfg, checkpoint=ckpt, cfg_options=sys.argv[5:],
           mAP=metrics['coco/bbox_mAP'],
           per_class={k[len('coco/'):-len('_precision')]: v
                      for k, v in metrics.items()
                      if k.endswith('_precision')})
for g, names in groups.items():
    aps = [row['per_class'].get(c) for c in names]
    # COCO mAP over a group = mean of its classes' AP
    row[f'mAP_{g}'] = None if None in aps else round(sum(aps) / len(aps), 4)
secs = osp.join(work, 'train_seconds')
if osp.isfile(secs):
    row['train_seconds'] = int(open(secs).read())
with open(osp.join(work, 'metrics.json'), 'w') as f:
    json.dump(row, f, indent=1)
print(json.dumps(row))
PY
}

# --- teachers (2-class $ARCH_T detectors, one partial part each)
train teacher_a $TEACHER_A
evaluate teacher_a $TEACHER_A
train teacher_b $TEACHER_B
evaluate teacher_b $TEACHER_B
TEACHERS=(model.teachers.0.config=$TEACHER_A
          model.teachers.0.checkpoint=$W/teacher_a/iter_$TEACHER_ITERS.pth
          model.teachers.1.config=$TEACHER_B
          model.teachers.1.checkpoint=$W/teacher_b/iter_$TEACHER_ITERS.pth)
PLAIN=configs/centerx/mt_r18_ignore_unlabelled_shapes.py  # plain R18, 4 cls

# --- baselines
train r18_naive_merge configs/centerx/mt_r18_naive_merge_shapes.py \
  "${STUDENT[@]}"
evaluate r18_naive_merge $PLAIN "${STUDENT[@]}"
train r18_ignore_unlabelled configs/centerx/mt_r18_ignore_unlabelled_shapes.py \
  "${STUDENT[@]}"
evaluate r18_ignore_unlabelled $PLAIN "${STUDENT[@]}"
for i in 0 1; do
  out=$W/pseudo_labels/instances_train_part${i}_pseudo.json
  [ -f "$out" ] && continue
  echo "[pseudo labels] part $i -> $out"
  locked python tools/pseudo_label.py configs/centerx/mt_r18_kd_nolabel_shapes.py \
    --ann-file data/shapes/annotations/instances_train_part$i.json \
    --img-dir data/shapes/train --out "$out" --score-thr 0.3 \
    --cfg-options "${TEACHERS[@]}" 2> "$W/pseudo_label_part$i.log"
done
train r18_pseudo_label configs/centerx/mt_r18_pseudo_label_shapes.py \
  train_dataloader.dataset.datasets.0.ann_file=$W/pseudo_labels/instances_train_part0_pseudo.json \
  train_dataloader.dataset.datasets.1.ann_file=$W/pseudo_labels/instances_train_part1_pseudo.json \
  "${STUDENT[@]}"
evaluate r18_pseudo_label $PLAIN "${STUDENT[@]}"

# --- multi-teacher distillation
train r18_mt_kd_nolabel configs/centerx/mt_r18_kd_nolabel_shapes.py \
  "${TEACHERS[@]}" "${STUDENT[@]}"
evaluate r18_mt_kd_nolabel $PLAIN "${STUDENT[@]}"
if [ "${EXTRA_ROW:-1}" = 1 ]; then  # EXTRA_ROW=0 skips it
  train r18_mt_kd_gt configs/centerx/mt_r18_kd_gt_shapes.py \
    "${TEACHERS[@]}" "${STUDENT[@]}"
  evaluate r18_mt_kd_gt $PLAIN "${STUDENT[@]}"
fi

# --- the table
python - "$W" "$ITERS" "$ARCH_T" "$ARCH_S" "$TEACHER_ITERS" <<'PY' | tee "$W/table.md"
import json
import os.path as osp
import sys

work, iters, t, s, teacher_iters = sys.argv[1:6]
rows = [(f'teacher A: {t}, part 0 (ring, star)', 'teacher_a'),
        (f'teacher B: {t}, part 1 (cross, triangle)', 'teacher_b'),
        (f'{s} naive merge', 'r18_naive_merge'),
        (f'{s} ignore-unlabelled', 'r18_ignore_unlabelled'),
        (f'{s} pseudo labels (thr 0.3)', 'r18_pseudo_label'),
        (f'{s} multi-teacher KD, no labels', 'r18_mt_kd_nolabel'),
        (f'{s} multi-teacher KD + existing labels', 'r18_mt_kd_gt')]


def fmt(v):
    return '-' if v is None else f'{100 * v:.1f}'


print(f'students {iters} iterations, teachers {teacher_iters}, batch 16, '
      'val split (100 images, fully labelled)')
print()
print('| row | mAP ring+star | mAP cross+triangle | mAP all | '
      'train s |')
print('|---|---|---|---|---|')
for title, name in rows:
    path = osp.join(work, name, 'metrics.json')
    if not osp.isfile(path):
        print(f'| {title} | not run | | | |')
        continue
    m = json.load(open(path))
    overall = None if name.startswith('teacher') else m['mAP']
    print(f"| {title} | {fmt(m['mAP_A'])} | {fmt(m['mAP_B'])} | "
          f"{fmt(overall)} | {m.get('train_seconds', '-')} |")
PY
