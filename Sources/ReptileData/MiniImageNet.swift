// Mini-ImageNet: folders of JPEG photos, a folder benchmark with its own layout and 84×84 RGB images.

import Foundation
import ReptileFormats
import ReptileKernels

/// The Mini-ImageNet benchmark (Vinyals et al.; Ravi & Larochelle's split): `train/`, `val/` and
/// `test/` folders (64/16/20 classes), each holding one folder of JPEG images per class.
///
/// Every image is decoded once (in parallel, with libjpeg's DCT scaling when a photo is much larger
/// than needed), reduced to 84×84 RGB by area averaging and kept as bytes (value = byte/255): the
/// whole benchmark takes about 1.3 GB instead of 5 GB as floats, in memory and in its cache file.
public enum MiniImageNet {
    /// Side of the images the model sees.
    public static let imageSize = 84
    /// The split folders, in the order train, val, test.
    public static let splitNames = ["train", "val", "test"]

    /// The layout this loader expects, for error messages.
    public static let expectedLayout = "a folder with train/, val/ and test/, each holding one folder of JPEG (or PNG) images per class (e.g. train/n01532829/n0153282900000005.jpg)"

    /// Loads the three splits from `path`: a folder benchmark (``ImageFolder``) with Mini-ImageNet's
    /// layout and geometry, cached in `path/.reptile-cache/` after the first load. `progress` is
    /// called with (images decoded, total).
    public static func load(path: String, progress: ((Int, Int) -> Void)? = nil) throws -> FewShotSplits {
        try ImageFolder.load(path: path, imageSize: imageSize, channels: 3, requiredSplits: ("Mini-ImageNet", expectedLayout),
                             progress: progress).splits
    }
}

/// Counts finished items from several threads and reports now and then.
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    private let total: Int
    private let report: ((Int, Int) -> Void)?
    private let every: Int

    init(total: Int, report: ((Int, Int) -> Void)?) {
        self.total = total
        self.report = report
        every = max(total / 200, 1)
    }

    func increment() {
        lock.lock()
        done += 1
        let d = done
        lock.unlock()
        if d % every == 0 { report?(d, total) }
    }
}
