// The paper's models (the reference's models.py).

/// The networks of the paper's few-shot experiments.
///
/// Both cut every batch into two shards (``Sequential/batchShards``), so that a core with no
/// task left can take half of another task's batch.
public enum Models {
    /// The Omniglot model: 4 × [3×3 conv, 64 filters, stride 2, "same" padding, batch norm, ReLU]
    /// on 28×28×1 images (28 → 14 → 7 → 4 → 2), flatten (256), dense to `classes` logits.
    /// Other image sizes and channel counts (a user's own data) keep the layers; the dense layer
    /// takes what four halvings leave (⌈size/16⌉² × 64).
    public static func omniglot(classes: Int, imageSize: Int = 28, channels: Int = 1) throws -> Sequential {
        let side = halved(imageSize, times: 4)
        return try Sequential(inputShape: [imageSize, imageSize, channels], batchShards: 2) {
            for i in 0..<4 {
                Conv2d(inputChannels: i == 0 ? channels : 64, outputChannels: 64, kernelSize: 3, stride: 2, padding: .same)
                BatchNorm(featureCount: 64, eps: 1e-3)
                ReLU()
            }
            Flatten()
            Linear(side * side * 64, classes)
        }
    }

    /// ⌈n/2⌉ applied `times` times: the side after stride-2 layers with "same" padding.
    static func halved(_ n: Int, times: Int) -> Int {
        (0..<times).reduce(n) { side, _ in (side + 1) / 2 }
    }

    /// The Mini-ImageNet model: 4 × [3×3 conv, 32 filters, stride 1, "same" padding, batch norm,
    /// 2×2 max-pool stride 2 ("same"), ReLU] on 84×84×3 images (84 → 42 → 21 → 11 → 6), flatten
    /// (1 152), dense to `classes` logits.
    /// Other image sizes and channel counts keep the layers; the dense layer takes ⌈size/16⌉² × 32.
    public static func miniImageNet(classes: Int, imageSize: Int = 84, channels: Int = 3) throws -> Sequential {
        let side = halved(imageSize, times: 4)
        return try Sequential(inputShape: [imageSize, imageSize, channels], batchShards: 2) {
            for i in 0..<4 {
                Conv2d(inputChannels: i == 0 ? channels : 32, outputChannels: 32, kernelSize: 3, stride: 1, padding: .same)
                BatchNorm(featureCount: 32, eps: 1e-3)
                MaxPool2d(kernelSize: 2, stride: 2, padding: .same)
                ReLU()
            }
            Flatten()
            Linear(side * side * 32, classes)
        }
    }
}
