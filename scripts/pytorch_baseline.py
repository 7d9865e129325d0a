#!/usr/bin/env python3
"""PyTorch baseline for `reptile bench`: the same models, settings and meta-iteration, timed the same way.

Reptile's meta-iteration as in supervised-reptile (reptile.py): for each task of the meta-batch, restore the
weights, take `inner_iters` Adam steps (beta1 = 0, beta2 = 0.999, one Adam state shared by all tasks, as
the reference does), then move the weights towards the mean of the tasks' results. The models are the
paper's: Omniglot's 4 x [conv 3x3/64 stride 2 "same", batch norm on the batch's statistics
(eps 1e-3), ReLU] -> dense; Mini-ImageNet's 4 x [conv 3x3/32 "same", batch norm, max-pool 2x2 "same",
ReLU] -> dense. The sine setting is the seeds' listing (an MLP 1-64-64-1 with tanh, 5 SGD steps of 10
points, the interpolation through state dicts). Images are random (the time does not depend on the
pixels) and made before the timed runs, so the data pipeline is not counted: this is a lower bound on
the reference program's time.

    python3 -m pip install torch numpy
    python3 scripts/pytorch_baseline.py [--threads 2] [--runs 5] [--json]

Prints the median milliseconds per meta-iteration of each setting, after a warm-up.
"""
import argparse
import copy
import json
import platform
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def same_padding(size, kernel, stride):
    """TensorFlow's "same" padding (before, after) for one side: the extra pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


class OmniglotBlock(nn.Module):
    def __init__(self, cin, size):
        super().__init__()
        self.conv = nn.Conv2d(cin, 64, 3, stride=2)
        self.bn = nn.BatchNorm2d(64, eps=1e-3, track_running_stats=False)
        before, after, self.out = same_padding(size, 3, 2)
        self.pad = (before, after, before, after)

    def forward(self, x):
        return F.relu(self.bn(self.conv(F.pad(x, self.pad))))


class MiniImageNetBlock(nn.Module):
    def __init__(self, cin, size):
        super().__init__()
        self.conv = nn.Conv2d(cin, 32, 3, padding=1)
        self.bn = nn.BatchNorm2d(32, eps=1e-3, track_running_stats=False)
        before, after, self.out = same_padding(size, 2, 2)
        self.pad = (before, after, before, after)

    def forward(self, x):
        x = self.bn(self.conv(x))
        x = F.max_pool2d(F.pad(x, self.pad, value=float("-inf")), 2, 2)
        return F.relu(x)


def few_shot_model(block, channels, size, width, ways):
    layers = []
    for _ in range(4):
        layer = block(channels, size)
        layers.append(layer)
        channels, size = width, layer.out
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(width * size * size, ways))


SETTINGS = {
    # name: (model, image shape, ways, train shots, inner batch, inner iterations, meta-batch)
    "omniglot-5way": (lambda: few_shot_model(OmniglotBlock, 1, 28, 64, 5), (1, 28, 28), 5, 10, 10, 5, 5),
    "omniglot-20way": (lambda: few_shot_model(OmniglotBlock, 1, 28, 64, 20), (1, 28, 28), 20, 10, 20, 10, 5),
    "miniimagenet-5way": (lambda: few_shot_model(MiniImageNetBlock, 3, 84, 32, 5), (3, 84, 84), 5, 15, 10, 8, 5),
}


def time_few_shot(name, runs, iterations):
    make_model, shape, ways, shots, inner_batch, inner_iters, meta_batch = SETTINGS[name]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = make_model()
    params = list(model.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3, betas=(0.0, 0.999), eps=1e-8)
    count = ways * shots
    pool = [(torch.rand(count, *shape), torch.arange(ways).repeat_interleave(shots)) for _ in range(8)]

    def meta_iteration(step):
        with torch.no_grad():
            start = [p.detach().clone() for p in params]
            total = [torch.zeros_like(p) for p in params]
        for task in range(meta_batch):
            images, labels = pool[(step * meta_batch + task) % len(pool)]
            with torch.no_grad():
                for p, s in zip(params, start):
                    p.copy_(s)
            # Batches without replacement, reshuffling when the examples run out (a batch may straddle).
            rounds = -(-inner_iters * inner_batch // count)
            order = torch.as_tensor(np.concatenate([rng.permutation(count) for _ in range(rounds)]))
            for i in range(inner_iters):
                index = order[i * inner_batch:(i + 1) * inner_batch]
                loss = F.cross_entropy(model(images[index]), labels[index])
                optimizer.zero_grad(set_to_none=False)
                loss.backward()
                optimizer.step()
            with torch.no_grad():
                for t, p in zip(total, params):
                    t.add_(p)
        with torch.no_grad():
            for p, s, t in zip(params, start, total):  # meta-step 1: theta <- mean of the tasks' weights
                p.copy_(s + 1.0 * (t / meta_batch - s))

    for step in range(3):
        meta_iteration(step)
    times = []
    for run in range(runs):
        begin = time.perf_counter()
        for step in range(iterations):
            meta_iteration(step)
        times.append((time.perf_counter() - begin) * 1000 / iterations)
    return statistics.median(times), times


def time_sine(runs, iterations):
    """The seeds' listing without the plotting: 5 SGD steps of 10 points, then interpolation."""
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    x_all = np.linspace(-5, 5, 50)[:, None]
    model = nn.Sequential(nn.Linear(1, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))

    def train_on_batch(x, y):
        x, y = torch.Tensor(x), torch.Tensor(y)
        model.zero_grad()
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        for param in model.parameters():
            param.data -= 0.02 * param.grad.data

    def iteration(i, n):
        weights_before = copy.deepcopy(model.state_dict())
        phase, ampl = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 5)
        y_all = np.sin(x_all + phase) * ampl
        inds = rng.permutation(len(x_all))
        for start in range(0, len(x_all), 10):
            mb = inds[start:start + 10]
            train_on_batch(x_all[mb], y_all[mb])
        weights_after = model.state_dict()
        step = 0.1 * (1 - i / n)
        model.load_state_dict({name: weights_before[name] + (weights_after[name] - weights_before[name]) * step
                               for name in weights_before})

    for i in range(100):
        iteration(i, 30000)
    times = []
    for run in range(runs):
        begin = time.perf_counter()
        for i in range(iterations):
            iteration(i, 30000)
        times.append((time.perf_counter() - begin) * 1000 / iterations)
    return statistics.median(times), times


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", action="append", choices=list(SETTINGS) + ["sine"],
                        help="settings to time (default: all)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per setting; the median is reported")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = args.setting or list(SETTINGS) + ["sine"]
    iterations = {"omniglot-5way": 10, "omniglot-20way": 5, "miniimagenet-5way": 2, "sine": 1000}
    results = []
    for name in settings:
        if name == "sine":
            median, times = time_sine(args.runs, iterations[name])
        else:
            median, times = time_few_shot(name, args.runs, iterations[name])
        results.append({"setting": name, "ms_per_meta_iteration": median, "runs_ms": times})
        if not args.json:
            print(f"{name:20s} {median:10.3f} ms per meta-iteration", flush=True)
    report = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": cpu_name(),
              "results": results}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
