#!/usr/bin/env bash
# Issue 12: the AdaptiveLossHook ("共产主义loss", docs/adaptive_loss.md)
# against the failure it exists for, 3 seeds per row (randomness.seed=S),
# every run with --amp (bf16 on a CPU with bf16 instructions, fp16 on a GPU).
#
#   bash tools/experiments/run_adaptive_loss_seeds.sh [--print-jobs] \
#       BASE_CONFIG GROUP [GROUP ...]
#
# BASE_CONFIG: the plain training recipe (no AdaptiveLossHook; one in it is
# removed), e.g. configs/centerx/centerx_r18w32_1k_cosine_shapes.py. Every
# row is a config derived from it in WORK_ROOT/configs/<row>.py: logged
# every LOG_INTERVAL iterations without smoothing, validated every
# VAL_INTERVAL iterations (a mid-run collapse shows in the mAP curve).
#
# GROUPs (rows; each row x SEEDS):
#   base      the base recipe as is, hook off (base_plain) / on (base_hook).
#             Goal: |hook - plain| <= 0.5 mAP.
#   sweep     SGD momentum 0.9, no gradient clipping, one plain run per LR
#             of SGD_LRS (SWEEP_SEEDS, default "0"): find an LR where plain
#             training collapses mid-run or ends <= 50% of base_plain.
#   collapse  at COLLAPSE_LR (from the sweep; SGD m0.9): collapse_plain
#             (no clipping), collapse_hook, and the design notes' failed
#             remedies collapse_clip (clip_grad max_norm=CLIP) and
#             collapse_jump (LossJumpSkipHook, ratio JUMP_RATIO).
#             Goal: plain collapses / ends <= 50%, hook ends >= 90% of
#             base_plain's mAP.
#   fault     if no LR collapses: an INJECTED fault (FaultInjectionHook:
#             FAULT=lr_burst, LR x FAULT_LR_FACTOR, or FAULT=corrupt_boxes,
#             random GT boxes) for FAULT_ITERS iterations from FAULT_BEGIN
#             (default 40% of the run), SGD m0.9 at FAULT_LR (an LR that
#             trains, from the sweep); rows fault_plain, fault_hook,
#             fault_clip, fault_jump as in collapse. Report it as injected.
#   kd        KD_CONFIG (CenterXDistiller; teacher TEACHER_CKPT) with its
#             hand-tuned KDLoss weights (kd_hand) against the same config
#             with every KDLoss weight 1.0 and the hook with KD_TARGETS
#             (kd_hook). Goal: kd_hook >= kd_hand - 0.5 mAP. The teacher
#             is set by model.teachers.0.checkpoint (CenterXDistiller).
#   report    for every group with finished runs: WORK_ROOT/<group>.md
#             (plot_loss_curves.py --summary: per run and mean +- std per
#             row, collapses) and WORK_ROOT/<group>.png (loss, raw loss for
#             hook runs, LR, mAP; injected faults shaded).
#
# Modes: without --print-jobs each run is trained here in turn (under
# `flock $LOCK`; LOCK= disables it), a finished run (WORK_ROOT/<run>/done)
# is skipped and an interrupted one resumes. With --print-jobs, the derived
# configs are written and the runs printed as "NAME<TAB>COMMAND" job lines
# for tools/experiments/queue.sh (which takes the CPU lock itself):
#   bash tools/experiments/run_adaptive_loss_seeds.sh --print-jobs \
#       configs/centerx/centerx_r18w32_1k_cosine_shapes.py base sweep \
#       > work_dirs/jobs_adaptive.txt
#   bash tools/experiments/queue.sh work_dirs/jobs_adaptive.txt
#
# Environment (defaults):
#   WORK_ROOT=work_dirs/adaptive_seeds  SEEDS="0 1 2"  SWEEP_SEEDS="0"
#   LOG_INTERVAL=5  VAL_INTERVAL=100  AMP=1 (0: no --amp)
#   TARGETS="{'loss_heatmap': 1.0, 'loss_*': 0.2}" (the shipped adaptive
#     configs' targets for wh/offset; loss_bbox of the TTF head too)
#   SGD_LRS="0.01 0.02 0.05 0.1 0.2 0.5"  COLLAPSE_LR= (needed by collapse)
#   OPTIM=sgd (SGD momentum 0.9) or adamw (AdamW, weight decay 1e-4): the
#     optimizer of the sweep / collapse / fault rows (their LRs); adamw rows
#     are named sweep_adamw_*, collapse_adamw_*, fault_adamw_*
#   FAULT=lr_burst  FAULT_LR= (needed by fault)  FAULT_BEGIN= (40% of the
#   run)  FAULT_ITERS=20  FAULT_LR_FACTOR=10  CLIP=35  JUMP_RATIO=1.1
#   KD_CONFIG=configs/distill/kd_r50-r18_shapes.py  TEACHER_CKPT= (needed by kd)
#   KD_TARGETS="{'loss_heatmap': 1.0, 'loss_kd_heatmap': 1.0, 'loss_*': 0.2}"
#   ITERS= (smoke runs only: train_cfg.max_iters; the schedule is cut)
#   CFG_OPTIONS= (extra --cfg-options of every run, e.g. a data_root)
#   LOCK=/tmp/centerx_cpu.lock
set -euo pipefail
cd "$(dirname "$0")/../.."

PRINT_JOBS=0
if [ "${1:-}" = --print-jobs ]; then PRINT_JOBS=1; shift; fi
if [ $# -lt 2 ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
BASE=$1; shift
[ -f "$BASE" ] || { echo "BASE_CONFIG not found: $BASE" >&2; exit 2; }
BASE_ABS=$(cd "$(dirname "$BASE")" && pwd)/$(basename "$BASE")

W=${WORK_ROOT:-work_dirs/adaptive_seeds}
SEEDS=${SEEDS:-0 1 2}
SWEEP_SEEDS=${SWEEP_SEEDS:-0}
LOG_INTERVAL=${LOG_INTERVAL:-5}
VAL_INTERVAL=${VAL_INTERVAL:-100}
AMP=${AMP:-1}
TARGETS=${TARGETS:-"{'loss_heatmap': 1.0, 'loss_*': 0.2}"}
KD_TARGETS=${KD_TARGETS:-"{'loss_heatmap': 1.0, 'loss_kd_heatmap': 1.0, 'loss_*': 0.2}"}
SGD_LRS=${SGD_LRS:-0.01 0.02 0.05 0.1 0.2 0.5}
OPTIM=${OPTIM:-sgd}
case $OPTIM in sgd) TAG="" ;; adamw) TAG=_adamw ;;
  *) echo "OPTIM must be sgd or adamw, got $OPTIM" >&2; exit 2 ;; esac
FAULT=${FAULT:-lr_burst}
FAULT_ITERS=${FAULT_ITERS:-20}
FAULT_LR_FACTOR=${FAULT_LR_FACTOR:-10}
CLIP=${CLIP:-35}
JUMP_RATIO=${JUMP_RATIO:-1.1}
KD_CONFIG=${KD_CONFIG:-configs/distill/kd_r50-r18_shapes.py}
ITERS=${ITERS:-}
CFG_OPTIONS=${CFG_OPTIONS:-}
LOCK=${LOCK-/tmp/centerx_cpu.lock}
mkdir -p "$W/configs"

# max_iters of a config (ITERS when set)
max_iters() {
  if [ -n "$ITERS" ]; then echo "$ITERS"; return; fi
  python3 - "$1" <<'PY'
import sys
from mmengine.config import Config
print(Config.fromfile(sys.argv[1]).train_cfg.max_iters)
PY
}

# derive ROW BASE_ABS [python lines...]: WORK_ROOT/configs/ROW.py
derive() {
  local row=$1 base=$2; shift 2
  local out=$W/configs/$row.py
  {
    echo "# derived by tools/experiments/run_adaptive_loss_seeds.sh ($row)"
    echo "_base_ = ['$base']"
    echo "default_hooks = dict(logger=dict(interval=$LOG_INTERVAL))"
    echo "log_processor = dict(window_size=1)"
    if [ -n "$ITERS" ]; then
      echo "train_cfg = dict(max_iters=$ITERS, val_interval=$VAL_INTERVAL)"
    else
      echo "train_cfg = dict(val_interval=$VAL_INTERVAL)"
    fi
    echo "extra_hooks = []"
    for line in "$@"; do echo "$line"; done
    echo "custom_hooks = [h for h in _base_.custom_hooks if h['type'] not in ("
    echo "    'AdaptiveLossHook', 'LossJumpSkipHook', 'FaultInjectionHook')"
    echo "] + extra_hooks"
  } > "$out"
  echo "$out"
}

sgd() {  # sgd LR [CLIP]: OPTIM at LR, clipping only when CLIP given
  local clip=None
  [ -n "${2:-}" ] && clip="dict(max_norm=$2, norm_type=2)"
  case $OPTIM in
    sgd) echo "optim_wrapper = dict(optimizer=dict(_delete_=True, type='SGD', lr=$1, momentum=0.9, weight_decay=1e-4), clip_grad=$clip)" ;;
    adamw) echo "optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=$1, weight_decay=1e-4), clip_grad=$clip)" ;;
    *) echo "OPTIM must be sgd or adamw, got $OPTIM" >&2; exit 2 ;;
  esac
}
HOOK="extra_hooks = [dict(type='AdaptiveLossHook', targets=$TARGETS)]"
JUMP="extra_hooks = [dict(type='LossJumpSkipHook', ratio=$JUMP_RATIO)]"

locked() {
  if [ -n "$LOCK" ]; then flock "$LOCK" "$@"; else "$@"; fi
}

# run NAME CONFIG SEED [cfg-options...]
run() {
  local name=$1 cfg=$2 seed=$3; shift 3
  local cmd=(python3 tools/train.py "$cfg" --work-dir "$W/$name")
  [ "$AMP" = 1 ] && cmd+=(--amp)
  # shellcheck disable=SC2206
  cmd+=(--cfg-options randomness.seed=$seed "$@" $CFG_OPTIONS)
  if [ "$PRINT_JOBS" = 1 ]; then
    printf '%s\t%s && touch %q\n' "$name" "$(printf '%q ' "${cmd[@]}")" \
      "$W/$name/done"
    return
  fi
  if [ -f "$W/$name/done" ]; then echo "[skip] $name"; return; fi
  local resume=()
  ls "$W/$name"/iter_*.pth > /dev/null 2>&1 && resume=(--resume)
  echo "[train] $name"
  mkdir -p "$W/$name"
  locked "${cmd[@]}" "${resume[@]}" > "$W/$name.log" 2>&1 \
    || { echo "FAILED: see $W/$name.log"; tail -20 "$W/$name.log"; exit 1; }
  touch "$W/$name/done"
}

# rows ROW CONFIG [cfg-options...]: ROW_s<seed> for every seed
rows() {
  local row=$1 cfg=$2; shift 2
  for s in $SEEDS; do run "${row}_s$s" "$cfg" "$s" "$@"; done
}

need() {
  if [ -z "${!1:-}" ]; then echo "group $2 needs $1=... ($3)" >&2; exit 2; fi
}

report() {
  local group runs labels d name row
  for group in base sweep collapse collapse_adamw fault fault_adamw kd; do
    runs=(); labels=()
    case $group in  # rows in table order
      base) rows_of=(base_plain base_hook) ;;
      sweep) rows_of=(sweep_) ;;
      kd) rows_of=(kd_hand kd_hook) ;;
      *) rows_of=("${group}_plain" "${group}_hook" "${group}_clip"
                  "${group}_jump") ;;
    esac
    for row in "${rows_of[@]}"; do
      for d in "$W"/"$row"*; do
        [ -f "$d/done" ] || continue
        name=$(basename "$d")
        runs+=("$d"); labels+=("${name%_s[0-9]*}")
      done
    done
    [ ${#runs[@]} = 0 ] && continue
    echo "[report] $group: ${#runs[@]} runs -> $W/$group.md, $W/$group.png"
    python3 tools/analysis_tools/plot_loss_curves.py "${runs[@]}" \
      --labels "${labels[@]}" --keys loss lr --raw \
      --metric coco/bbox_mAP --summary --out "$W/$group.png" \
      --title "issue 12, $group: $(basename "$BASE") (hook runs: raw loss)" \
      > "$W/$group.md"
  done
}

for group in "$@"; do
  case $group in
    base)
      rows base_plain "$(derive base_plain "$BASE_ABS")"
      rows base_hook "$(derive base_hook "$BASE_ABS" "$HOOK")"
      ;;
    sweep)
      for lr in $SGD_LRS; do
        cfg=$(derive "sweep_${OPTIM}_lr$lr" "$BASE_ABS" "$(sgd "$lr")")
        for s in $SWEEP_SEEDS; do run "sweep_${OPTIM}_lr${lr}_plain_s$s" "$cfg" "$s"; done
      done
      ;;
    collapse|fault)
      extra=()
      if [ "$group" = collapse ]; then
        need COLLAPSE_LR collapse 'an SGD LR where plain runs collapse, from the sweep group'
        lr=$COLLAPSE_LR
      else
        need FAULT_LR fault 'an SGD LR that trains without a collapse, from the sweep group'
        lr=$FAULT_LR
        iters=$(max_iters "$BASE_ABS")
        begin=${FAULT_BEGIN:-$((iters * 2 / 5))}
        extra=("extra_hooks += [dict(type='FaultInjectionHook', fault='$FAULT', begin=$begin, iters=$FAULT_ITERS, lr_factor=$FAULT_LR_FACTOR)]")
      fi
      g=$group$TAG
      rows "${g}_plain" "$(derive "${g}_plain" "$BASE_ABS" "$(sgd "$lr")" "${extra[@]}")"
      rows "${g}_hook" "$(derive "${g}_hook" "$BASE_ABS" "$(sgd "$lr")" "$HOOK" "${extra[@]}")"
      rows "${g}_clip" "$(derive "${g}_clip" "$BASE_ABS" "$(sgd "$lr" "$CLIP")" "${extra[@]}")"
      rows "${g}_jump" "$(derive "${g}_jump" "$BASE_ABS" "$(sgd "$lr")" "$JUMP" "${extra[@]}")"
      ;;
    kd)
      need TEACHER_CKPT kd 'the teacher checkpoint of KD_CONFIG'
      [ -f "$KD_CONFIG" ] || { echo "KD_CONFIG not found: $KD_CONFIG" >&2; exit 2; }
      kd_abs=$(cd "$(dirname "$KD_CONFIG")" && pwd)/$(basename "$KD_CONFIG")
      rows kd_hand "$(derive kd_hand "$kd_abs")" "model.teachers.0.checkpoint=$TEACHER_CKPT"
      rows kd_hook "$(derive kd_hook "$kd_abs" \
        "model = dict(distill_loss=dict(loss_heatmap_weight=1.0, loss_wh_weight=1.0, loss_offset_weight=1.0, loss_ltrb_weight=1.0))" \
        "extra_hooks = [dict(type='AdaptiveLossHook', targets=$KD_TARGETS)]")" \
        "model.teachers.0.checkpoint=$TEACHER_CKPT"
      ;;
    report)
      [ "$PRINT_JOBS" = 1 ] || report
      ;;
    *)
      echo "unknown group $group (base sweep collapse fault kd report)" >&2
      exit 2
      ;;
  esac
done
