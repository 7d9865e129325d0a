#!/usr/bin/env bash
# Checks meta-training under MPI with a reptile built with `--traits MPI`:
#  1. the model trained by `mpirun -np 1, 2, 3` is byte-identical to the single-process run, and so
#     are the final evaluation's figures (its tasks are divided among the ranks too);
#  2. a rank killed mid-run ends the whole job within seconds with an error, the last checkpoint
#     stays intact, and `--resume` under mpirun completes it to the same bytes as a run never stopped;
#  3. ranks started with different flags, binaries or kernel instruction sets, and --task-execution serial,
#     are refused at start;
#  4. `reptile evaluate` under mpirun -np 2 and 3 gives the single process's figures, a rank that cannot
#     read the model ends the job with one line naming it, and different evaluation flags are refused.
# Usage: scripts/test_mpi.sh PATH/TO/reptile [WORK_DIR]
set -euo pipefail
BIN="$(realpath "$1")"
WORK="${2:-$(mktemp -d)}"  # emptied first: the runs need fresh folders
rm -rf "$WORK" && mkdir -p "$WORK"
# Containers often forbid the cross-process memory copies Open MPI's shared-memory transport tries.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
MPIRUN=(mpirun --allow-run-as-root --oversubscribe)
FLAGS=(train omniglot --shots 1 --train-shots 3 --inner-batch 5 --inner-iters 2 --meta-step 1 --meta-step-final 0
       --meta-batch 5 --eval-batch 5 --eval-iters 3 --learning-rate 0.001 --eval-interval 4 --eval-samples 30 --threads 1)
fail() { echo "FAIL: $*"; exit 1; }

echo "--- 1. byte-identical to one process for N = 1, 2, 3"
"$BIN" "${FLAGS[@]}" --meta-iters 12 --checkpoint-interval 4 --checkpoint "$WORK/single" --json > "$WORK/single.json"
for n in 1 2 3; do
    "${MPIRUN[@]}" -np $n "$BIN" "${FLAGS[@]}" --meta-iters 12 --checkpoint-interval 4 --checkpoint "$WORK/np$n" --json > "$WORK/np$n.json"
    cmp "$WORK/single/model.safetensors" "$WORK/np$n/model.safetensors" || fail "np $n: model.safetensors differs"
    python3 - "$WORK/single.json" "$WORK/np$n.json" "$WORK/np$n/run.json" $n <<'EOF' || fail "np $n: results differ"
import json, sys
single, multi, run, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), int(sys.argv[4])
for key in ["train_accuracy", "test_accuracy", "train_ci95", "test_ci95", "meta_iterations"]:
    assert single[key] == multi[key], (key, single[key], multi[key])
expected = n
assert multi.get("ranks") == expected and run.get("ranks") == expected, (multi.get("ranks"), run.get("ranks"), n)
print(f"np {n}: same model bytes, test accuracy {multi['test_accuracy']:.4f} as one process; ranks recorded: {multi.get('ranks')}")
EOF
done

echo "--- 2. a rank killed mid-run; --resume completes it to the same bytes"
LONG=(--meta-iters 400 --checkpoint-interval 20)
"$BIN" "${FLAGS[@]}" "${LONG[@]}" --checkpoint "$WORK/long-single" > /dev/null
"${MPIRUN[@]}" -np 2 "$BIN" "${FLAGS[@]}" "${LONG[@]}" --checkpoint "$WORK/long-np2" > "$WORK/killed.log" 2>&1 &
job=$!
iteration() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['iteration'])" "$WORK/long-np2/run.json" 2>/dev/null || echo 0; }
for _ in $(seq 600); do [ "$(iteration)" -ge 60 ] && break; sleep 0.1; done
victim=""
for pid in $(pgrep -f "$BIN train omniglot"); do
    if tr '\0' '\n' < /proc/$pid/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then victim=$pid; fi
done
[ -n "$victim" ] || fail "no rank 1 process found"
[ "$(iteration)" -lt 400 ] || fail "the run ended before a rank could be killed"
kill -9 "$victim"
killed_at=$(date +%s.%N)
if wait $job; then fail "the job succeeded although rank 1 was killed"; fi
ended=$(python3 -c "print(round($(date +%s.%N) - $killed_at, 1))")
echo "rank 1 killed at meta-iteration ~$(iteration); the job ended ${ended} s later; mpirun said:"
grep -iE "rank|signal|killed|abort" "$WORK/killed.log" | head -5
python3 -c "import sys; sys.exit(0 if float('$ended') < 30 else 1)" || fail "the job took ${ended} s to end"
stopped=$(iteration)
"${MPIRUN[@]}" -np 2 "$BIN" train omniglot --resume --checkpoint "$WORK/long-np2" --threads 1 > /dev/null 2> "$WORK/resume.log" \
    || { cat "$WORK/resume.log"; fail "--resume under mpirun failed"; }
cmp "$WORK/long-single/model.safetensors" "$WORK/long-np2/model.safetensors" || fail "resumed model differs from the uninterrupted one"
echo "resumed from meta-iteration $stopped under mpirun -np 2: same bytes as the uninterrupted single-process run"

echo "--- 3. mismatched ranks are refused at start"
expect_refusal() {  # expect_refusal NAME PATTERN COMMAND...
    local name=$1 pattern=$2; shift 2
    if "$@" > "$WORK/$name.log" 2>&1; then fail "$name: accepted"; fi
    grep -q "$pattern" "$WORK/$name.log" || { cat "$WORK/$name.log"; fail "$name: no clear message"; }
    echo "$name: $(grep -m1 "$pattern" "$WORK/$name.log")"
}
SHORT=(--meta-iters 4 --checkpoint-interval 4)
expect_refusal flags "different set of flags" "${MPIRUN[@]}" \
    -np 1 "$BIN" "${FLAGS[@]}" "${SHORT[@]}" --checkpoint "$WORK/mismatch-flags" --seed 0 : \
    -np 1 "$BIN" "${FLAGS[@]}" "${SHORT[@]}" --checkpoint "$WORK/mismatch-flags" --seed 1
OTHER="$WORK/other-binary/reptile"
mkdir -p "$WORK/other-binary"
cp "$BIN" "$OTHER"
cp -R "$(dirname "$BIN")"/*.resources "$WORK/other-binary/"
printf 'x' >> "$OTHER"  # a different build: the same program with one more byte at the end
expect_refusal binary "different binary" "${MPIRUN[@]}" \
    -np 1 "$BIN" "${FLAGS[@]}" "${SHORT[@]}" --checkpoint "$WORK/mismatch-binary" : \
    -np 1 "$OTHER" "${FLAGS[@]}" "${SHORT[@]}" --checkpoint "$WORK/mismatch-binary"
expect_refusal kernels "different kernel instruction set" "${MPIRUN[@]}" \
    -np 1 "$BIN" "${FLAGS[@]}" "${SHORT[@]}" --checkpoint "$WORK/mismatch-kernels" : \
    -np 1 env REPTILE_KERNELS=generic "$BIN" "${FLAGS[@]}" "${SHORT[@]}" --checkpoint "$WORK/mismatch-kernels"
expect_refusal serial "task-execution serial" "${MPIRUN[@]}" -np 2 "$BIN" "${FLAGS[@]}" "${SHORT[@]}" \
    --task-execution serial --checkpoint "$WORK/serial"

echo "--- 4. evaluate: the tasks divided among the ranks, the same figures"
EVAL=(evaluate omniglot --checkpoint "$WORK/single" --eval-samples 25 --seed 7 --threads 1)
"$BIN" "${EVAL[@]}" --json > "$WORK/eval-single.json" 2> "$WORK/eval-single.log"
for n in 2 3; do
    "${MPIRUN[@]}" -np $n "$BIN" "${EVAL[@]}" --json --output "$WORK/eval-np$n-file.json" > "$WORK/eval-np$n.json" 2> "$WORK/eval-np$n.log"
    python3 - "$WORK/eval-single.json" "$WORK/eval-np$n.json" "$WORK/eval-np$n-file.json" $n <<'EOF' || fail "evaluate np $n: results differ"
import json, sys
single, printed, written = (json.load(open(p)) for p in sys.argv[1:4])
n = int(sys.argv[4])
assert printed == written, "the printed and the written results differ"
for key in ["train_accuracy", "test_accuracy", "train_ci95", "test_ci95", "eval_samples", "meta_iterations"]:
    assert single[key] == printed[key], (key, single[key], printed[key])
assert single.get("ranks") == 1 and printed.get("ranks") == n, (single.get("ranks"), printed.get("ranks"), n)
print(f"evaluate np {n}: test accuracy {printed['test_accuracy']:.4f} ± {printed['test_ci95']:.4f}, as one process; ranks recorded: {n}")
EOF
done
# One rank's --checkpoint lacks the model: the job ends with one line naming that rank and the file.
mkdir -p "$WORK/no-model" && cp "$WORK/single/run.json" "$WORK/no-model/"
expect_refusal eval-missing "rank 1" "${MPIRUN[@]}" \
    -np 1 "$BIN" evaluate omniglot --checkpoint "$WORK/single" --eval-samples 5 --threads 1 : \
    -np 1 "$BIN" evaluate omniglot --checkpoint "$WORK/no-model" --eval-samples 5 --threads 1
grep -q "model.safetensors" "$WORK/eval-missing.log" || { cat "$WORK/eval-missing.log"; fail "eval-missing: the file is not named"; }
expect_refusal eval-flags "different set of evaluation flags" "${MPIRUN[@]}" \
    -np 1 "$BIN" evaluate omniglot --checkpoint "$WORK/single" --eval-samples 5 --threads 1 --seed 1 : \
    -np 1 "$BIN" evaluate omniglot --checkpoint "$WORK/single" --eval-samples 5 --threads 1 --seed 2
echo "MPI checks passed"
