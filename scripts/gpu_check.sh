#!/usr/bin/env bash
# One prepared check of the evaluation and training engine on a CUDA GPU, offline.
#
#   scripts/gpu_check.sh [--smoke] [--out DIR]
#
# Prints forward-only and end-to-end throughput of ViT-B/16, bf16-vs-fp32 and GPU-vs-CPU
# decode agreement, bf16 fine-tuning steps (ft, lora, ewc, lwf), WiSE-FT after a GPU
# baseline in one benchmark run, and the projected time of a full 4.0 M-image row (see
# scripts/gpu_check.py). --smoke: tiny sizes on any device, CPU included (the test suite
# runs it). PYTHON selects the interpreter (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_EVALUATE_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
# the whole check must fit in 8 minutes of a machine lent for a few
exec timeout 470 "${PYTHON:-python3}" scripts/gpu_check.py "$@"
