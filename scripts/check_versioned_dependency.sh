#!/usr/bin/env bash
# Builds and runs a throwaway package that depends on this one the standard way, by version
# (`.package(url:…, from: "0.1.0")`), as a user's package would: SwiftPM refuses dependencies whose
# targets carry unsafe build flags, so this fails if any target of the `Reptile` product has one.
# Usage: scripts/check_versioned_dependency.sh [WORK_DIR]   (clones the committed HEAD)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${1:-$(mktemp -d)}"
rm -rf "$WORK" && mkdir -p "$WORK"
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
EOF
cd "$WORK/user"
swift build -c release 2>&1 | tail -3
"$(swift build -c release --show-bin-path)/User"
echo "a package depending on Reptile by version builds and runs"
