// The meta-trained models shipped with the tool.

import Foundation
import ReptileCheckpoint

/// Checkpoints that ship with the tool, in the same format `reptile train` writes.
public enum BuiltInModel {
    /// The Omniglot 5-way 1-shot model, if this installation has it.
    public static var omniglotPath: String? {
        guard let root = Bundle.module.path(forResource: "models", ofType: nil) else { return nil }
        let path = (root as NSString).appendingPathComponent("omniglot-5way-1shot")
        return Checkpoint.exists(in: path) ? path : nil
    }
}
