#!/usr/bin/env bash
# One task of a Slurm job array running lacgpu over one big file (docs/SCALE.md):
#   sbatch --array=1-N scripts/lacgpu-slurm.sh -c FILE OUTDIR [LACGPU OPTIONS...]
#   sbatch --array=1-N scripts/lacgpu-slurm.sh -d FILE.lacz OUTDIR [LACGPU OPTIONS...]
# Task K of the N tasks writes OUTDIR/NAME.K.lacz (-c) or OUTDIR/NAME.K (-d), K zero-padded so
# that `cat OUTDIR/NAME.*` is in order. Every task finds its piece from the file alone
# (lacgpu --chunk K/N): the tasks share nothing but the file system.
# LACGPU names the binary (default: lacgpu on PATH).
#SBATCH --job-name=lacgpu
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=4
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 -c|-d FILE OUTDIR [LACGPU OPTIONS...]" >&2; exit 2; }
mode=$1 in=$2 outdir=$3
shift 3
id=${SLURM_ARRAY_TASK_ID:?not a Slurm array task (sbatch --array=1-N)}
count=${SLURM_ARRAY_TASK_COUNT:?not a Slurm array task}
min=${SLURM_ARRAY_TASK_MIN:-1}
k=$((id - min + 1)) # --array=0-3 works too
name=$(basename "$in")
pad=${#count}
case $mode in
  -c) out=$(printf '%s/%s.%0*d.lacz' "$outdir" "$name" "$pad" "$k") ;;
  -d) out=$(printf '%s/%s.%0*d' "$outdir" "${name%.lacz}" "$pad" "$k") ;;
  *) echo "$0: mode must be -c or -d" >&2; exit 2 ;;
esac
mkdir -p "$outdir"
exec "${LACGPU:-lacgpu}" "$mode" --chunk "$k/$count" -f -o "$out" "$@" "$in"
