#!/usr/bin/env bash
# Builds and runs a throwaway package that depends on this one the standard way, by version
# (`.package(url:…, from: "0.1.0")`), as a user's package would: SwiftPM refuses dependencies whose
# targets carry unsafe build flags, so this fails if any target of the `Reptile` product has one.
# Usage: [REPTILE_BIN=path/to/reptile] scripts/check_versioned_dependency.sh [WORK_DIR]   (clones the committed HEAD;
# with REPTILE_BIN, also times the same benchmark setting with the project's own build)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${1:-$(mktemp -d)}"
rm -rf "$WORK" && mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"  # absolute: it becomes a file:// URL
git clone -q "$REPO" "$WORK/reptile"
git -C "$WORK/reptile" tag -f 0.1.0 >/dev/null
mkdir -p "$WORK/user/Sources/User"
cat > "$WORK/user/Package.swift" <<EOF
// swift-tools-version:6.1
import PackageDescription
let package = Package(
    name: "User",
    dependencies: [.package(url: "file://$WORK/reptile", from: "0.1.0")],
    targets: [.executableTarget(name: "User", dependencies: [.product(name: "Reptile", package: "reptile")])]
)
EOF
cat > "$WORK/user/Sources/User/main.swift" <<'EOF'
import Reptile

// Lines y = a·x + b: meta-learn an initialization that fits a new line in a few steps.
struct Lines: TaskDistribution {
    func sampleTask(using rng: inout RandomGenerator) -> ArrayTask {
        let a: Float = rng.uniform(-2, 2), b: Float = rng.uniform(-1, 1)
        let xs: [[Float]] = (0..<10).map { _ in [rng.uniform(-1, 1)] }
        return ArrayTask(inputs: xs, targets: xs.map { [a * $0[0] + b] })
    }
}
let model = try Sequential(inputShape: [1]) { Linear(1, 16); Tanh(); Linear(16, 1) }
let configuration = MetaTrainingConfiguration(inner: InnerLoopConfiguration(batchSize: 10, iterations: 8),
                                              metaStepSize: 0.5, metaStepSizeFinal: 0, metaIterations: 600)
let trainer = MetaTrainer(model: model, loss: .meanSquaredError, tasks: Lines(),
                          innerOptimizer: SGD(learningRate: 0.05), configuration: configuration)
try trainer.train()
var rng = RandomGenerator(seed: 99)
let task = Lines().sampleTask(using: &rng)
var initRng = RandomGenerator(seed: 5)
let random = model.initialParameters(using: &initRng)
func adaptedLoss(_ start: [Float]) -> Float {
    model.loss(model.adapt(start, to: task, loss: .meanSquaredError, steps: 8, optimizer: SGD(learningRate: 0.05), batchSize: 10),
               on: task, loss: .meanSquaredError)
}
let (learned, baseline) = (adaptedLoss(trainer.parameters), adaptedLoss(random))
print("kernels: \(KernelPath.description)")
print("loss after 8 steps: meta-learned start \(learned), random start \(baseline)")
guard learned < baseline else { fatalError("the meta-learned initialization did not help") }

// The kernels' speed from this package: the paper's Omniglot 5-way setting, as `reptile bench` times it.
let images = try Omniglot.loadBuiltIn()
let (train, test) = try Omniglot.split(images, seed: 0)
let bench = try Benchmark.run(.omniglot5, omniglot: FewShotSplits(train: train, test: test), threads: nil, runs: 5,
                              iterations: 20, evalTasks: 0, peakPerCore: PeakThroughput.measurePerCore())
print("omniglot-5way from the dependent package: \(bench.msPerMetaIteration) ms per meta-iteration")
EOF
cd "$WORK/user"
swift build -c release 2>&1 | tail -3
"$(swift build -c release --show-bin-path)/User"
echo "a package depending on Reptile by version builds and runs"
# The same setting from the project's own release build, for comparison (printed, not asserted:
# timings on a shared machine are not a test).
if [ -n "${REPTILE_BIN:-}" ]; then
    "$REPTILE_BIN" bench --setting omniglot-5way --runs 5 --iterations 20 --eval-tasks 0 --json \
        | python3 -c "import json, sys; print('omniglot-5way from the project build:', json.load(sys.stdin)['results'][0]['ms_per_meta_iteration'], 'ms per meta-iteration')"
fi
