// swift-tools-version:6.1
// Reptile for Swift: first-order meta-learning (Nichol, Achiam & Schulman, 2018) as a library,
// a command-line tool and an interactive demo.
import PackageDescription
import Foundation

// MARK: - Build settings for the numeric core
//
// The hot path is small convolutions and matrix products written with SIMD16<Float>. Two settings
// decide their speed: `-Ounchecked` (no bounds/overflow checks in the kernels) and a target CPU with
// fused multiply-add, without which `addingProduct` becomes a libm call per lane. The CPU is chosen
// from the build machine's /proc/cpuinfo; set REPTILE_TARGET_CPU to override it (for example
// `REPTILE_TARGET_CPU=generic` for a portable binary, or `skylake-avx512`, `haswell`, `apple-m1`).
func detectTargetCPU() -> String? {
    if let forced = ProcessInfo.processInfo.environment["REPTILE_TARGET_CPU"], !forced.isEmpty {
        return forced == "generic" ? nil : forced
    }
    #if arch(x86_64)
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
    let flags = Set(flagsLine.split(separator: " ").map(String.init))
    // Also on Sapphire Rapids: `sapphirerapids` made the 64-wide microkernels 2–3 % faster
    // in-process but the first Mini-ImageNet convolution's forward pass 25 % slower.
    if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl", "fma"]) { return "skylake-avx512" }
    if flags.isSuperset(of: ["avx2", "fma"]) { return "haswell" }
    return nil
    #else
    return nil  // arm64 always has FMA (NEON fmla); the default target is fine.
    #endif
}

let targetCPU = detectTargetCPU()
let cpuFlags: [String] = targetCPU.map { ["-target-cpu", $0] } ?? []
/// The same CPU for the few C loops (clang's spelling).
let cFlags: [String] = targetCPU.map { ["-march=\($0)"] } ?? []
#if arch(arm64)
let hasFMA = true
#else
let hasFMA = targetCPU != nil
#endif

/// Kernels are always optimized, also in debug builds, so that `swift test` trains real models quickly.
/// The instruction set the kernels are compiled for, so that `reptile bench` can say which path runs.
let instructionDefines: [SwiftSetting] = targetCPU == "skylake-avx512" ? [.define("REPTILE_BUILT_AVX512")]
    : targetCPU == "haswell" ? [.define("REPTILE_BUILT_AVX2")] : []
let kernelSettings: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"] + cpuFlags)] + (hasFMA ? [.define("REPTILE_FMA")] : [])
    + instructionDefines
/// Everything else is optimized in debug builds too: loaders and codecs loop over millions of
/// pixels, and the layer and meta-learning code runs every step, so `swift test` can train real
/// models in seconds. (`@testable import` still works: SwiftPM adds `-enable-testing`.)
let optimizedSettings: [SwiftSetting] = [.unsafeFlags(["-O"] + cpuFlags)]

let package = Package(
    name: "Reptile",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Reptile", targets: ["Reptile"]),
        .executable(name: "reptile", targets: ["ReptileCLI"]),
    ],
    traits: [
        // Off by default so that the package builds without Open MPI installed.
        .trait(name: "MPI", description: "Spread meta-batches over the processes of an MPI job (needs Open MPI: libopenmpi-dev)."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"]), .brew(["open-mpi"])]),
        .target(name: "CJPEG", path: "Sources/CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "CReptileKernels", cSettings: [.unsafeFlags(["-O3", "-fno-math-errno", "-ffp-contract=off"] + cFlags)]),
        .target(name: "ReptileKernels", dependencies: ["CReptileKernels"], swiftSettings: kernelSettings),
        .target(name: "ReptileFormats", dependencies: ["CZlib", "CJPEG"], swiftSettings: optimizedSettings),
        .target(name: "ReptileNN", dependencies: ["ReptileKernels"], swiftSettings: optimizedSettings),
        .target(name: "ReptileMeta", dependencies: ["ReptileNN", "ReptileKernels"], swiftSettings: optimizedSettings),
        .target(name: "ReptileData", dependencies: ["ReptileFormats", "ReptileKernels", "ReptileMeta"],
                resources: [.copy("Resources/omniglot")], swiftSettings: optimizedSettings),
        .target(name: "ReptileCheckpoint", dependencies: ["ReptileFormats", "ReptileNN"], swiftSettings: optimizedSettings),
        .target(name: "ReptilePlot", dependencies: ["ReptileFormats"], swiftSettings: optimizedSettings),
        .target(name: "ReptileExperiments",
                dependencies: ["ReptileKernels", "ReptileNN", "ReptileMeta", "ReptileData", "ReptileCheckpoint", "ReptilePlot"],
                resources: [.copy("Resources/models")], swiftSettings: optimizedSettings),
        .target(name: "ReptileMPI", dependencies: ["ReptileMeta", .target(name: "CMPI", condition: .when(traits: ["MPI"]))],
                swiftSettings: optimizedSettings),
        .target(name: "Reptile",
                dependencies: ["ReptileKernels", "ReptileNN", "ReptileMeta", "ReptileData", "ReptileFormats",
                               "ReptileCheckpoint", "ReptilePlot", "ReptileExperiments", "ReptileMPI"]),
        .target(name: "ReptileServer", dependencies: ["ReptileFormats", .product(name: "Hummingbird", package: "hummingbird")],
                swiftSettings: optimizedSettings),
        .executableTarget(name: "ReptileCLI",
                          dependencies: ["Reptile", "ReptileServer",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "ReptileKernelsTests", dependencies: ["ReptileKernels", "CReptileKernels"]),
        .testTarget(name: "ReptileNNTests", dependencies: ["ReptileNN", "ReptileKernels"]),
        .testTarget(name: "ReptileMetaTests", dependencies: ["ReptileMeta", "ReptileNN", "ReptileKernels"]),
        .testTarget(name: "ReptileFormatsTests", dependencies: ["ReptileFormats"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ReptilePlotTests", dependencies: ["ReptilePlot", "ReptileFormats"]),
        .testTarget(name: "ReptileDataTests", dependencies: ["ReptileData", "ReptileFormats", "ReptileMeta", "ReptileKernels"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ReptileExperimentsTests", dependencies: ["Reptile"]),
        .testTarget(name: "ReptileServerTests",
                    dependencies: ["ReptileServer", "Reptile",
                                   .product(name: "Hummingbird", package: "hummingbird"),
                                   .product(name: "HummingbirdTesting", package: "hummingbird")]),
    ],
    swiftLanguageModes: [.v5]
)
