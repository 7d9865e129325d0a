// The meta-trained models shipped with the tool, chosen by name.

import Foundation
import ReptileCheckpoint
import ReptileData

/// Checkpoints that ship with the tool, in the same format `reptile train` writes: one folder per
/// model under the `models` resource, named after the paper's setting it reproduces.
public enum BuiltInModel {
    /// The models this project meta-trains with the paper's flags, by name.
    public static let catalogue: [(name: String, setting: String)] = [
        ("omniglot-5way-1shot", "Omniglot 5-way 1-shot"),
        ("omniglot-5way-5shot", "Omniglot 5-way 5-shot"),
        ("omniglot-20way-1shot", "Omniglot 20-way 1-shot"),
        ("omniglot-20way-5shot", "Omniglot 20-way 5-shot"),
        ("omniglot-alphabets-20way-1shot", "Omniglot 20-way 1-shot on the background alphabets (for the one-shot runs)"),
    ]

    /// The model used when none is named (the demo's, and `reptile evaluate omniglot`'s).
    public static let defaultName = "omniglot-5way-1shot"

    /// The folder holding the shipped models, if this installation has it.
    static var root: String? {
        InstalledResources.path(
            bundle: "Reptile_ReptileExperiments", resource: "models",
            sourceFolder: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources").path)
    }

    /// The names of the catalogue's models present in this installation.
    public static var installed: [String] {
        catalogue.map(\.name).filter { path(named: $0) != nil }
    }

    /// The checkpoint folder of the model `name`, or nil when this installation lacks it.
    public static func path(named name: String) -> String? {
        guard let root else { return nil }
        let path = (root as NSString).appendingPathComponent(name)
        return Checkpoint.exists(in: path) ? path : nil
    }

    /// The checkpoint folder of `name`; throws ``ExperimentError`` naming the choices when there is none.
    public static func require(_ name: String) throws -> String {
        if let path = path(named: name) { return path }
        let names = catalogue.map(\.name)
        guard names.contains(name) else {
            throw ExperimentError("no model '\(name)': the shipped models are \(names.joined(separator: ", "))")
        }
        let present = installed
        throw ExperimentError("the model '\(name)' is not in this installation (it has \(present.isEmpty ? "none" : present.joined(separator: ", "))); "
                              + (root == nil ? InstalledResources.installHint : "its meta-training run has not been shipped yet"))
    }

    /// The Omniglot 5-way 1-shot model, if this installation has it.
    public static var omniglotPath: String? { path(named: defaultName) }
}
