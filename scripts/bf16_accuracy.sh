#!/usr/bin/env bash
# The recorded experiment behind `--precision bf16`: the paper's Omniglot 5-way 1-shot flags for a
# short run (default 2 000 meta-iterations), trained and evaluated once in fp32 and once in bf16
# with the same seed, then a table of both. Needs a CPU with AVX512-BF16.
#   bash scripts/bf16_accuracy.sh [OUT_DIR] [META_ITERS] [EVAL_TASKS]
set -euo pipefail
out=${1:-bf16-accuracy}
iters=${2:-2000}
tasks=${3:-1000}
cd "$(dirname "$0")/.."
reptile=${REPTILE:-.build/release/reptile}
flags=(--shots 1 --train-shots 10 --inner-batch 10 --inner-iters 5 --meta-step 1 --meta-step-final 0 --meta-batch 5
       --eval-batch 5 --eval-iters 50 --learning-rate 0.001 --meta-iters "$iters" --eval-samples "$tasks" --eval-interval 100)
mkdir -p "$out"
for precision in fp32 bf16; do
    dir="$out/$precision"
    if [ ! -f "$dir/results.json" ]; then
        rm -rf "$dir"
        "$reptile" train omniglot "${flags[@]}" --precision "$precision" --checkpoint "$dir" --checkpoint-interval "$iters"
    fi
    [ -f "$dir/evaluation-transductive.json" ] ||
        "$reptile" evaluate omniglot --checkpoint "$dir" --eval-samples "$tasks" --transductive --output "$dir/evaluation-transductive.json"
done
python3 - "$out" <<'PY'
import json, sys, os
out = sys.argv[1]
print("| precision | meta-training | ms per meta-iteration | test accuracy | test accuracy, transductive | train accuracy |")
print("| --- | --- | --- | --- | --- | --- |")
for p in ["fp32", "bf16"]:
    r = json.load(open(os.path.join(out, p, "results.json")))
    t = json.load(open(os.path.join(out, p, "evaluation-transductive.json")))
    print(f"| {p} | {r['meta_iterations']} iterations | {r['ms_per_iteration']:.1f} | "
          f"{100*r['test_accuracy']:.2f} ± {100*r['test_ci95']:.2f} % | {100*t['test_accuracy']:.2f} ± {100*t['test_ci95']:.2f} % | "
          f"{100*r['train_accuracy']:.2f} ± {100*r['train_ci95']:.2f} % |")
PY
