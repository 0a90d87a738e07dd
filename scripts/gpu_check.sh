#!/usr/bin/env bash
# One prepared run on a lent GPU machine (see README "GPU"): versions, the GPU tests (every adapter family:
# fine-tuning steps and prompted constrained generation on CUDA; the autoregressive baseline), then the default
# model and its same-size autoregressive baseline trained on CUDA with bf16 (configs/default.json and
# configs/autoregressive.json: the same data, shape, steps and optimiser), sampling speed on CUDA.
# Needs runs/default-corpus.jsonl carried. TESTS=0 skips the tests; MINUTES caps each training run.
set -uo pipefail
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
MINUTES=${MINUTES:-4}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, lightning, transformers, tokenizers; print('torch', torch.__version__, 'lightning', lightning.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"
if [ "${TESTS:-1}" != 0 ]; then python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tail -5; fi
for cfg in default autoregressive; do
  python3 -m ctrlgen.cli train --config configs/$cfg.json --out runs/gpu-$cfg --accelerator gpu --devices 1 \
    --precision bf16-mixed --batch-size 128 --lr 2e-3 --max-steps ${STEPS:-8000} --max-minutes "$MINUTES" \
    --val-every 500 --no-progress 2>&1 | grep -v -E "Warning|warn" | tail -25
  cp runs/gpu-$cfg/logs/version_0/metrics.csv "$OUT/metrics-$cfg.csv" 2>/dev/null
  tar -C runs -cf - --exclude checkpoints --exclude logs gpu-$cfg | split -b 15M - "$OUT/gpu-$cfg.tar.part-"
done
python3 -m ctrlgen.cli generate --model runs/gpu-default --device cuda -n 4 --seed 0 --sampler confidence \
  --prompt 'Describe this restaurant: {"name": "Aromi", "eatType": "coffee shop", "area": "riverside"}'
python3 -m ctrlgen.cli generate --model runs/gpu-autoregressive --device cuda -n 2 --seed 0 --temperature 0 \
  --prompt 'Describe this restaurant: {"name": "Aromi", "eatType": "coffee shop", "area": "riverside"}'
python3 benchmarks/sampling_speed.py --model runs/gpu-default --device cuda --out "$OUT/sampling_speed-cuda.json" --repeats 3
ls -la "$OUT"
