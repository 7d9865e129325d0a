#!/usr/bin/env python3
"""Compares reptile binaries layer by layer (`reptile bench --layers`), alternating them so that
the host's drift hits all alike; prints, per layer, each binary's best forward and backward time
over the rounds (one thread, one inner batch) and the new/old ratio of the last binary to the first.

    scripts/ab_layers.py SETTING ROUNDS BINARY...
    e.g. cp .build/release/reptile /tmp/old; (change, rebuild);
         scripts/ab_layers.py miniimagenet-5way 4 /tmp/old .build/release/reptile
"""
import json, subprocess, sys

if len(sys.argv) < 4:
    sys.exit(__doc__)
setting, rounds, binaries = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
best = {b: {} for b in binaries}
order = []
for round_index in range(rounds):
    # Reverse the order every other round: on this host the run right after another is often
    # slower, which would otherwise always penalize the same binary.
    for b in (binaries if round_index % 2 == 0 else binaries[::-1]):
        out = subprocess.run([b, "bench", "--setting", setting, "--runs", "1", "--iterations", "1",
                              "--threads", "1", "--eval-tasks", "0", "--layers", "--json"],
                             check=True, capture_output=True, text=True).stdout
        for stage in json.loads(out)["results"][0]["layers"]:
            name = stage["name"]
            if name not in order:
                order.append(name)
            old = best[b].get(name, (float("inf"), float("inf")))
            best[b][name] = (min(old[0], stage["forward_ms"]), min(old[1], stage["backward_ms"]))
first, last = binaries[0], binaries[-1]
print(f"{'layer':16}" + "".join(f"{'fwd':>9}{'bwd':>9}" for _ in binaries) + f"{'fwd×':>8}{'bwd×':>8}")
totals = {b: [0.0, 0.0] for b in binaries}
for name in order:
    cells = ""
    for b in binaries:
        f, w = best[b][name]
        totals[b][0] += f; totals[b][1] += w
        cells += f"{f:9.3f}{w:9.3f}"
    f0, w0 = best[first][name]; f1, w1 = best[last][name]
    print(f"{name:16}{cells}{f1 / f0:8.2f}{w1 / w0:8.2f}")
cells = "".join(f"{totals[b][0]:9.3f}{totals[b][1]:9.3f}" for b in binaries)
print(f"{'total':16}{cells}{totals[last][0] / totals[first][0]:8.2f}{totals[last][1] / totals[first][1]:8.2f}")
