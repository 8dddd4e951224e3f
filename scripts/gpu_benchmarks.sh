#!/usr/bin/env bash
# The GPU checks and benchmarks of issue 10 in one command (needs only torch, numpy, safetensors):
#
#     bash scripts/gpu_benchmarks.sh [OUT_DIR] [QUICK]
#
# Writes OUT_DIR/*.txt (default gpu-bench/).  QUICK=1 runs the smallest version of each step (for a
# device budget of a few minutes): the core tests, epochs at K = 128 and 4096, train_many R = 1 and
# 30 at K = 4096, pruning 4096 → 16 × 10, the relaxed generator; the full schedule only without QUICK.
# Each step has its own timeout, so one slow step does not eat the others' time.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-bench}
quick=${2:-0}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python3 - <<'PY' | tee "$out/device.txt"
import torch
assert torch.cuda.is_available(), "no CUDA device: these are the GPU benchmarks"
print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))
PY
step() {  # step NAME TIMEOUT_S COMMAND...
    local name=$1 limit=$2
    shift 2
    echo "== $name: $*" | tee "$out/$name.txt"
    local t0=$SECONDS
    timeout "$limit" "$@" >>"$out/$name.txt" 2>&1
    local rc=$?
    echo "== $name: rc $rc, $((SECONDS - t0)) s" | tee -a "$out/$name.txt"
    tail -n 12 "$out/$name.txt"
}
# 1. the core and data tests where device="auto" picks CUDA (item 5 of the issue)
step tests 240 python3 -m pytest -q -x -p no:cacheprovider tests/core tests/data/test_potential_device.py
# 2. epochs, eager vs graph (vs graph + compiled step), K = 128 ... 4096
if [ "$quick" = 1 ]; then ks="128 4096"; else ks="128 1024 4096"; fi
step epochs 300 python3 benchmarks/train.py epoch --device cuda --k $ks --epochs 3 --modes eager graph graph+compile
# 3. train_many, R = 1, 10, 30 at K = 4096 (target: R = 30 under 2x one network)
if [ "$quick" = 1 ]; then rs="1 30"; else rs="1 10 30"; fi
step many 300 python3 benchmarks/train.py many --device cuda --k 4096 --n 100000 --epochs 2 --repeats 1 --r $rs
# 4. pruning 4096 → 16 with 10 restarts (a random K = 4096 network; target under 2 s)
step prune 200 python3 benchmarks/prune.py --device cuda --sizes 4096 --skip-adam --skip-toy --threads 4
# 5. the relaxed generator (target over 1M rows/s), chunks large enough for a GPU
step generator 200 python3 benchmarks/generator.py --device cuda --surfaces 100 --modes relaxed unrelaxed \
    --sizes 200000 --chunk-size 131072 --compile never
# 6. the full schedule at K = 4096 on 100k generated {100} rows (target under 15 s)
if [ "$quick" != 1 ]; then
    step schedule 400 python3 benchmarks/train.py schedule --device cuda --k 4096 --data "$out/cu100-120k.26d"
fi
