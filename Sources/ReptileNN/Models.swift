// The paper's models (the reference's models.py).

/// The networks of the paper's few-shot experiments.
///
/// Both cut every batch into two shards (``Sequential/batchShards``), so that a core with no
/// task left can take half of another task's batch.
public enum Models {
    /// The Omniglot model: 4 × [3×3 conv, 64 filters, stride 2, "same" padding, batch norm, ReLU]
    /// on 28×28×1 images (28 → 14 → 7 → 4 → 2), flatten (256), dense to `classes` logits.
    public static func omniglot(classes: Int) throws -> Sequential {
        try Sequential(inputShape: [28, 28, 1], batchShards: 2) {
            for i in 0..<4 {
                Conv2d(inputChannels: i == 0 ? 1 : 64, outputChannels: 64, kernelSize: 3, stride: 2, padding: .same)
                BatchNorm(featureCount: 64, eps: 1e-3)
                ReLU()
            }
            Flatten()
            Linear(256, classes)
        }
    }

    /// The Mini-ImageNet model: 4 × [3×3 conv, 32 filters, stride 1, "same" padding, batch norm,
    /// 2×2 max-pool stride 2 ("same"), ReLU] on 84×84×3 images (84 → 42 → 21 → 11 → 6), flatten
    /// (1 152), dense to `classes` logits.
    public static func miniImageNet(classes: Int) throws -> Sequential {
        try Sequential(inputShape: [84, 84, 3], batchShards: 2) {
            for i in 0..<4 {
                Conv2d(inputChannels: i == 0 ? 3 : 32, outputChannels: 32, kernelSize: 3, stride: 1, padding: .same)
                BatchNorm(featureCount: 32, eps: 1e-3)
                MaxPool2d(kernelSize: 2, stride: 2, padding: .same)
                ReLU()
            }
            Flatten()
            Linear(1152, classes)
        }
    }
}
