#!/usr/bin/env bash
# Builds and runs a throwaway package that depends on this one the standard way, by version
# (`.package(url:…, from: "0.1.0")`), as a user's package would, with the README's library example,
# unchanged, as its program: SwiftPM refuses dependencies whose targets carry unsafe build flags, so
# this fails if any target of the `Reptile` product has one.
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
    targets: [.executableTarget(name: "User", dependencies: [.product(name: "Reptile", package: "reptile"),
                                                             .product(name: "ReptileExperiments", package: "reptile")])]
)
EOF
# The README's library example, verbatim, then the kernels' speed from this package.
python3 - "$WORK/reptile/README.md" > "$WORK/user/Sources/User/main.swift" <<'PY'
import sys
readme = open(sys.argv[1]).read()
start = readme.index("```swift\nimport Reptile") + len("```swift\n")
print(readme[start:readme.index("```", start)])
PY
cat >> "$WORK/user/Sources/User/main.swift" <<'EOF'

// The kernels' speed from this package: the paper's Omniglot 5-way setting, as `reptile bench` times it.
import ReptileExperiments
print("kernels: \(KernelPath.description)")
let images = try Omniglot.loadBuiltIn()
let (train, test) = try Omniglot.split(images, seed: 0)
let bench = try Benchmark.run(.omniglot5, omniglot: FewShotSplits(train: train, test: test), threads: nil, runs: 5,
                              iterations: 20, evalTasks: 0)
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
