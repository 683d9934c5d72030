#!/usr/bin/env bash
# Run the commands of a job file one after another, each behind the CPU lock
# (so that two trainings never share the 2 cores), logging each to
# work_dirs/logs/<name>.log. Job file lines: "NAME<TAB>COMMAND"; '#' lines
# and blank lines are skipped; a job whose log ends with "[queue] done" is
# not rerun.
#   bash tools/experiments/queue.sh jobs.txt          # THREADS=1 by default
set -uo pipefail
cd "$(dirname "$0")/../.."
LOCK=${CENTERX_CPU_LOCK:-${TMPDIR:-/tmp}/centerx_cpu.lock}
mkdir -p work_dirs/logs
while IFS=$'\t' read -r name cmd; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  log=work_dirs/logs/$name.log
  if [[ -f $log ]] && tail -n 1 "$log" | grep -q '^\[queue\] done'; then
    continue
  fi
  echo "[queue] $(date +%T) start $name"
  start=$(date +%s)
  flock "$LOCK" env OMP_NUM_THREADS=${THREADS:-1} bash -c "$cmd" > "$log" 2>&1
  rc=$?
  echo "[queue] rc=$rc wall=$(( $(date +%s) - start ))s" >> "$log"
  [[ $rc == 0 ]] && echo "[queue] done" >> "$log"
  echo "[queue] $(date +%T) end $name rc=$rc"
done < "$1"
