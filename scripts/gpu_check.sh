#!/usr/bin/env bash
# The GPU checks in one prepared run (an H200 session): the CUDA tests, then the training and sampling
# benchmarks on the GPU configs. Installs nothing; results land in $OUT (at most 8 files come back):
#   summary.txt      one line per stage: exit status and seconds
#   env.txt          GPU, driver, torch/CUDA/transformers/accelerate versions
#   tests.log        pytest -m cuda (every CUDA test of the suite)
#   training.log     the benchmark tables;  training.jsonl  their --output_json lines
#   sampling.log     the sampling table;    sampling.json
#
# From the session (the device tool's run):  command "bash scripts/gpu_check.sh", timeout_s 540.
# Stages get what is left of GPU_CHECK_BUDGET seconds (default 450), most important first, so the whole run ends
# inside the call's limit even if a compilation is slow.
# The device image lacks `datasets` (imported at the top of tests/causal_lm/test_causal_lm_text.py): pytest runs with
# --continue-on-collection-errors, so the other CUDA tests run regardless. To collect everything, carry wheels
# (about 0.9 MB), fetched here in the checkout's root before the call, with `.whl` named in carry:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
# They are installed into /tmp/site only when .whl/ holds any.
set -u
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
BUDGET=${GPU_CHECK_BUDGET:-450}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TQDM_DISABLE=1 TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if compgen -G ".whl/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "wheel install failed" | tee "$OUT/summary.txt"; exit 1; }
  export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  "$PY" -c "import torch, transformers as t, accelerate as a; print('torch', torch.__version__, 'cuda',
    torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'transformers', t.__version__, 'accelerate',
    a.__version__, 'gpu', torch.cuda.is_available() and torch.cuda.get_device_name())"
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

# stage NAME LOG LIMIT COMMAND...: run with min(LIMIT, what is left of the budget) seconds; append its output to LOG.
stage() {
  local name=$1 log=$2 limit=$3 left
  shift 3
  left=$((BUDGET - SECONDS - 5))
  if ((left < 20)); then
    echo "$name skipped: budget spent" | tee -a "$OUT/summary.txt"
    return
  fi
  ((limit > left)) && limit=$left
  echo "== $name (limit ${limit}s): $*" | tee -a "$OUT/$log"
  local start=$SECONDS
  timeout --kill-after=5 "$limit" "$@" >/tmp/gpu_check_stage.log 2>&1
  local rc=$?
  cat /tmp/gpu_check_stage.log >>"$OUT/$log"
  tail -n 15 /tmp/gpu_check_stage.log
  echo "$name rc=$rc $((SECONDS - start))s" | tee -a "$OUT/summary.txt"
}

TRAIN="$PY benchmarks/benchmark_training.py --device cuda"  # defaults: the MNIST GPU config, batch 128, bf16
JSON=/tmp/gpu_check_json
rm -rf "$JSON" && mkdir -p "$JSON"

stage tests tests.log 150 "$PY" -m pytest -m cuda -q -rs -p no:cacheprovider --continue-on-collection-errors tests
stage train_eager training.log 45 $TRAIN --torch_compile false --output_json "$JSON/1.json"
stage train_compile training.log 120 $TRAIN --output_json "$JSON/2.json"  # --torch_compile auto: on for CUDA
stage sampling sampling.log 120 "$PY" benchmarks/benchmark_sampling.py --device cuda --batch_sizes 1 256 \
  --naive_budget 10 --naive_steps 5 --output_json "$OUT/sampling.json"
stage train_compile_channels_last training.log 100 $TRAIN --channels_last --output_json "$JSON/3.json"
stage train_eager_channels_last training.log 40 $TRAIN --torch_compile false --channels_last \
  --output_json "$JSON/4.json"
stage train_compile_batch512 training.log 100 $TRAIN --batch_size 512 --output_json "$JSON/5.json"
cat "$JSON"/*.json >"$OUT/training.jsonl" 2>/dev/null || true
echo "total ${SECONDS}s" | tee -a "$OUT/summary.txt"
