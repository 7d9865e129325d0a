#!/bin/bash
# Compares reptile binaries on one bench setting, alternating them so that the host's drift hits
# all alike; prints each binary's ms/meta-iteration over the rounds, sorted (best first).
#
#   [PRECISION=bf16] scripts/ab_bench.sh SETTING THREADS ROUNDS BINARY...
#   e.g. cp .build/release/reptile /tmp/old; (change, rebuild); \
#        scripts/ab_bench.sh omniglot-20way 2 4 /tmp/old .build/release/reptile
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 SETTING THREADS ROUNDS BINARY..." >&2
  exit 2
fi
setting=$1; threads=$2; rounds=$3; shift 3
precision=${PRECISION:-fp32}
declare -A times
for _ in $(seq "$rounds"); do
  for binary in "$@"; do
    ms=$("$binary" bench --setting "$setting" --runs 3 --threads "$threads" --eval-tasks 0 --precision "$precision" --json |
         python3 -c "import json, sys; print(round(json.load(sys.stdin)['results'][0]['ms_per_meta_iteration'], 1))")
    times[$binary]="${times[$binary]:-} $ms"
  done
done
for binary in "$@"; do
  echo "$binary: $(echo ${times[$binary]} | tr ' ' '\n' | sort -n | tr '\n' ' ')"
done
