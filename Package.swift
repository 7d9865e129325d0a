// swift-tools-version:6.1
// Reptile for Swift: first-order meta-learning (Nichol, Achiam & Schulman, 2018) as a library,
// a command-line tool and an interactive demo.
import PackageDescription
import Foundation

// MARK: - Build settings
//
// No unsafe flags: the package builds as a versioned dependency, and one release binary runs on
// every CPU of its architecture. The kernels that need the machine's best vector instructions are
// C functions compiled once per instruction set (`target` attributes) and chosen at run time.
//
// REPTILE_NATIVE=1 is for this project's own development: it also compiles the Swift parts of the
// kernels (the convolutions' drivers, batch norm's per-channel values) for the build machine's CPU,
// which gained about 5 % on Mini-ImageNet (before its first layer's AVX-512 kernels moved to C) and
// nothing measurable on Omniglot (docs/PERFORMANCE.md), and optimizes debug builds. Such a binary needs that CPU, and its results are the same floats as
// the portable build's on it.
func nativeTargetCPU() -> String? {
    guard ProcessInfo.processInfo.environment["REPTILE_NATIVE"] == "1" else { return nil }
    #if arch(x86_64)
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
    let flags = Set(flagsLine.split(separator: " ").map(String.init))
    if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl", "fma"]) { return "skylake-avx512" }
    if flags.isSuperset(of: ["avx2", "fma"]) { return "haswell" }
    return nil
    #else
    return nil
    #endif
}
let native = ProcessInfo.processInfo.environment["REPTILE_NATIVE"] == "1"
let cpuFlags: [String] = nativeTargetCPU().map { ["-target-cpu", $0] } ?? []
let optimizedSettings: [SwiftSetting] = native ? [.unsafeFlags(["-O"] + cpuFlags)] : []
let kernelSettings: [SwiftSetting] = native ? [.unsafeFlags(["-Ounchecked"] + cpuFlags), .define("REPTILE_NATIVE")] : []
let kernelCSettings: [CSetting] = native ? [.unsafeFlags(["-O2"])] : []

let package = Package(
    name: "Reptile",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Reptile", targets: ["Reptile"]),
        // The paper's experiments, built-in models and `reptile bench`'s timings, for tools built on Reptile.
        .library(name: "ReptileExperiments", targets: ["ReptileExperiments"]),
        .executable(name: "reptile", targets: ["ReptileCLI"]),
    ],
    traits: [
        // Off by default so that the package builds without Open MPI installed.
        .trait(name: "MPI", description: "Spread meta-batches over the processes of an MPI job (needs Open MPI: libopenmpi-dev)."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // `swift package generate-documentation` (DocC); a plugin only, nothing is linked.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"]), .brew(["open-mpi"])]),
        .target(name: "CJPEG", path: "Sources/CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "CPNG", path: "Sources/CPNG", linkerSettings: [.linkedLibrary("png")]),
        .target(name: "CReptileKernels", cSettings: kernelCSettings),
        .target(name: "ReptileKernels", dependencies: ["CReptileKernels"], swiftSettings: kernelSettings),
        .target(name: "ReptileFormats", dependencies: ["CZlib", "CJPEG", "CPNG"], swiftSettings: optimizedSettings),
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
                               "ReptileCheckpoint", "ReptileMPI"]),
        .target(name: "ReptileServer", dependencies: ["ReptileFormats", .product(name: "Hummingbird", package: "hummingbird")],
                swiftSettings: optimizedSettings),
        .executableTarget(name: "ReptileCLI",
                          dependencies: ["Reptile", "ReptileExperiments", "ReptileKernels", "ReptileFormats", "ReptilePlot", "ReptileServer",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "ReptileKernelsTests", dependencies: ["ReptileKernels", "CReptileKernels"]),
        .testTarget(name: "ReptileNNTests", dependencies: ["ReptileNN", "ReptileKernels"]),
        .testTarget(name: "ReptileMetaTests", dependencies: ["ReptileMeta", "ReptileNN", "ReptileKernels", "CReptileKernels"]),
        .testTarget(name: "ReptileFormatsTests", dependencies: ["ReptileFormats"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ReptilePlotTests", dependencies: ["ReptilePlot", "ReptileFormats"]),
        .testTarget(name: "ReptileDataTests", dependencies: ["ReptileData", "ReptileFormats", "ReptileMeta", "ReptileKernels"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ReptileExperimentsTests",
                    dependencies: ["Reptile", "ReptileExperiments", "ReptileKernels", "ReptileFormats", "ReptilePlot"]),
        .testTarget(name: "ReptileServerTests",
                    dependencies: ["ReptileServer", "Reptile", "ReptileExperiments", "ReptileKernels", "ReptileFormats",
                                   .product(name: "Hummingbird", package: "hummingbird"),
                                   .product(name: "HummingbirdTesting", package: "hummingbird")]),
    ],
    swiftLanguageModes: [.v5]
)
