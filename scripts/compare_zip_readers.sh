#!/usr/bin/env bash
# Times ReptileFormats' ZipArchive against ZIPFoundation on the built-in Omniglot archives (358 MB
# inflated): a throwaway package compiles a copy of the project's reader beside ZIPFoundation and
# extracts every entry to memory with each, alternating, 5 rounds; prints the medians.
#   bash scripts/compare_zip_readers.sh [WORK_DIR]
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${1:-$(mktemp -d)}"
rm -rf "$WORK" && mkdir -p "$WORK/Sources/Bench" "$WORK/Sources/CZlibReptile"
cp "$REPO"/Sources/ReptileFormats/{ZipArchive,Zlib,FormatError,ReptileFormats,AtomicFile}.swift "$WORK/Sources/Bench/"
cp "$REPO"/Sources/CZlib/shim.h "$WORK/Sources/CZlibReptile/"
# ZIPFoundation has a module called CZlib too: the copy's is renamed.
printf 'module CZlibReptile [system] {\n    header "shim.h"\n    link "z"\n    export *\n}\n' > "$WORK/Sources/CZlibReptile/module.modulemap"
sed -i 's/^import CZlib$/import CZlibReptile/; s/\bCZlib\./CZlibReptile./g' "$WORK"/Sources/Bench/*.swift
cat > "$WORK/Package.swift" <<'SWIFT'
// swift-tools-version:6.1
import PackageDescription
let package = Package(
    name: "ZipBench",
    dependencies: [.package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20")],
    targets: [
        .systemLibrary(name: "CZlibReptile", path: "Sources/CZlibReptile"),
        .executableTarget(name: "Bench", dependencies: ["CZlibReptile", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
    ],
    swiftLanguageModes: [.v5]
)
SWIFT
cat > "$WORK/Sources/Bench/main.swift" <<SWIFT
import Foundation
import ZIPFoundation

let paths = ["background", "evaluation"].map { "$REPO/Sources/ReptileData/Resources/omniglot/images_\(\$0).npz" }
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func reptileFormats() throws -> Int {
    var total = 0
    for path in paths {
        let archive = try ZipArchive(path: path)
        for entry in archive.entries { total += try archive.extract(entry).count }
    }
    return total
}

func zipFoundation() throws -> Int {
    var total = 0
    for path in paths {
        let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        for entry in archive {
            var bytes = [UInt8]()
            bytes.reserveCapacity(Int(entry.uncompressedSize))
            _ = try archive.extract(entry, bufferSize: 1 << 20, skipCRC32: false) { bytes.append(contentsOf: \$0) }
            total += bytes.count
        }
    }
    return total
}

var times: [String: [Double]] = [:]
var sizes: [String: Int] = [:]
for _ in 0..<5 {
    for (name, run) in [("ReptileFormats.ZipArchive", reptileFormats), ("ZIPFoundation", zipFoundation)] {
        let start = now()
        sizes[name] = try run()
        times[name, default: []].append(now() - start)
    }
}
precondition(Set(sizes.values).count == 1, "the readers disagree on the sizes")
for (name, t) in times.sorted(by: { \$0.key < \$1.key }) {
    print(name, String(format: "median %.3f s of 5 (%d bytes)", t.sorted()[2], sizes[name]!))
}
SWIFT
cd "$WORK"
swift build -c release 2>&1 | grep -E "error|warning: unre" || true
"$(swift build -c release --show-bin-path)/Bench"
