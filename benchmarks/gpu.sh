#!/usr/bin/env bash
# The accelerator path in one run (issue 14 item 3): the gpu-marked tests, then the benchmark
# table (synthesis fps, train it/s + samples/s, peak memory; bf16 and fp32; tiny, pose-256,
# face-256). Results go to OUT (default benchmarks/results-gpu): tests.txt, gpu.md, gpu.json.
#
#   benchmarks/gpu.sh                    # on a CUDA machine (~5-8 min on one H200, untested)
#   benchmarks/gpu.sh --dry-run          # on a CPU: shrunken models, checks the script itself
#   benchmarks/gpu.sh --out DIR --budget 500   # soft limit in seconds for the whole run
#
# Exit status: 0 when the tests and every benchmark job passed, 1 otherwise (the table is
# written either way, with the reason for every missing number).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/results-gpu
DRY=0
BUDGET=500
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --out) OUT="$2"; shift ;;
    --budget) BUDGET="$2"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$OUT"
PY=${PYTHON:-python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-$HOME/.cache/v2vtool/inductor}
start=$(date +%s)
{
  echo "# benchmarks/gpu.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) dry-run=$DRY"
  $PY - <<'PYEOF'
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(0), "bf16", torch.cuda.is_bf16_supported())
PYEOF
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
} | tee "$OUT/env.txt"

status=0
if [ "$DRY" = 1 ]; then
  # no CUDA here: the gpu tests collect and skip; run them anyway so a broken import shows
  $PY -m pytest -q -m gpu -p no:cacheprovider tests/test_gpu.py 2>&1 | tee "$OUT/tests.txt"
  test_rc=${PIPESTATUS[0]}
  [ "$test_rc" = 0 ] || [ "$test_rc" = 5 ] || status=1
  $PY benchmarks/gpu.py --dry-run --out "$OUT" --budget "$BUDGET" || status=1
else
  timeout 200 $PY -m pytest -q -m gpu -p no:cacheprovider tests/test_gpu.py 2>&1 \
    | tee "$OUT/tests.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
  left=$(( BUDGET - ($(date +%s) - start) ))
  [ "$left" -gt 120 ] || left=120
  $PY benchmarks/gpu.py --out "$OUT" --budget "$left" || status=1
fi
echo "gpu.sh: $(( $(date +%s) - start )) s, status $status; results in $OUT" | tee -a "$OUT/env.txt"
exit $status
