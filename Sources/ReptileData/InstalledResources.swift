// Finding the resources that ship with the tool (the built-in Omniglot data and models) wherever
// the binary was installed, without SwiftPM's `Bundle.module`, which stops the process when its
// build folder is gone.

import Foundation

/// Resource folders of this package's targets, looked up where an installation keeps them.
package enum InstalledResources {
    /// The folder `resource` of the resource bundle `bundle` (e.g. `Reptile_ReptileData`), looked
    /// for beside the running executable (a copy made with `swift build`'s output, symlinks
    /// resolved), in `../share/reptile/` from it (an installed prefix), and in the source tree
    /// the package was built from (`sourceFolder`, for tests and `swift run`). Nil when none has it.
    public static func path(bundle: String, resource: String, sourceFolder: String) -> String? {
        let executable = URL(fileURLWithPath: CommandLine.arguments.first.flatMap(executablePath) ?? "").resolvingSymlinksInPath()
        let directory = executable.deletingLastPathComponent()
        var candidates = [directory.appendingPathComponent("\(bundle).resources"),
                          directory.deletingLastPathComponent().appendingPathComponent("share/reptile/\(bundle).resources"),
                          Bundle.main.bundleURL.appendingPathComponent("\(bundle).resources")]
        candidates = candidates.map { $0.appendingPathComponent(resource) }
        candidates.append(URL(fileURLWithPath: sourceFolder).appendingPathComponent(resource))
        return candidates.map(\.path).first { FileManager.default.fileExists(atPath: $0) }
    }

    /// Where the running executable is (Linux: /proc/self/exe; elsewhere: argv[0] made absolute).
    private static func executablePath(_ argument0: String) -> String? {
        #if os(Linux)
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        #endif
        return URL(fileURLWithPath: argument0, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).path
    }

    /// What to tell a user whose installation lacks them.
    public static let installHint = "this installation of reptile lacks its resource folders (Reptile_ReptileData.resources, Reptile_ReptileExperiments.resources): copy them beside the binary or into ../share/reptile/ from it, as the README's install step does"
}
