#!/usr/bin/env bash
# One prepared run on a lent GPU machine (see README "GPU"): versions, the GPU tests (every adapter family:
# fine-tuning steps and prompted constrained generation on CUDA), a training run of the default configuration
# on CUDA with bf16, sampling speed on CUDA. Needs runs/default-corpus.jsonl carried.
set -uo pipefail
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
MINUTES=${MINUTES:-5}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, lightning, transformers, tokenizers; print('torch', torch.__version__, 'lightning', lightning.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"
python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tail -5
python3 -m ctrlgen.cli train --config configs/default.json --out runs/gpu --accelerator gpu --devices 1 \
  --precision bf16-mixed --batch-size 128 --lr 2e-3 --max-steps ${STEPS:-8000} --max-minutes "$MINUTES" \
  --val-every 500 --no-progress 2>&1 | grep -v -E "Warning|warn" | tail -40
cp runs/gpu/logs/version_0/metrics.csv "$OUT/metrics.csv" 2>/dev/null
python3 -m ctrlgen.cli generate --model runs/gpu --device cuda -n 8 --length 64 --seed 0 --sampler confidence --top-p 0.9
python3 benchmarks/sampling_speed.py --model runs/gpu --device cuda --out "$OUT/sampling_speed-cuda.json" --repeats 3
tar -C runs -cf - --exclude checkpoints --exclude logs gpu | split -b 15M - "$OUT/gpu-model.tar.part-"
ls -la "$OUT"
