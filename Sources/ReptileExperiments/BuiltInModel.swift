// The meta-trained models shipped with the tool.

import Foundation
import ReptileCheckpoint
import ReptileData

/// Checkpoints that ship with the tool, in the same format `reptile train` writes.
public enum BuiltInModel {
    /// The Omniglot 5-way 1-shot model, if this installation has it.
    public static var omniglotPath: String? {
        guard let root = InstalledResources.path(
            bundle: "Reptile_ReptileExperiments", resource: "models",
            sourceFolder: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources").path)
        else { return nil }
        let path = (root as NSString).appendingPathComponent("omniglot-5way-1shot")
        return Checkpoint.exists(in: path) ? path : nil
    }
}
