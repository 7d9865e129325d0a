// N-way K-shot tasks drawn from the classes of an image set.

import ReptileFormats
import ReptileKernels
import ReptileMeta

/// A class of a few-shot data set: a class of an ``ImageSet``, possibly turned by quarter turns
/// (Omniglot's training classes are augmented with rotations by 0°, 90°, 180° and 270°).
public struct FewShotClass: Sendable, Hashable, Codable {
    /// The class in the image set.
    public var index: Int
    /// Counter-clockwise quarter turns applied to its images.
    public var quarterTurns: Int

    public init(index: Int, quarterTurns: Int = 0) {
        self.index = index
        self.quarterTurns = quarterTurns
    }
}

/// A set of classes to draw few-shot tasks from (e.g. Omniglot's training characters).
public struct FewShotDataset: FewShotTaskSampler, Sendable {
    public let images: ImageSet
    public let classes: [FewShotClass]

    public init(images: ImageSet, classes: [FewShotClass]) {
        self.images = images
        self.classes = classes
    }

    public var classCount: Int { classes.count }
    public var examplesPerClass: Int { classes.map { images.imageCount(ofClass: $0.index) }.min() ?? 0 }

    /// Shuffles the classes and takes `ways` of them (labels 0..<ways in that order), then `shots`
    /// distinct random images of each (the reference's `_sample_mini_dataset`).
    public func sampleTask(ways: Int, shots: Int, using rng: inout RandomGenerator) -> FewShotTask {
        precondition(ways <= classes.count, "a \(ways)-way task needs at least \(ways) classes, the data set has \(classes.count)")
        let chosen = rng.sample(ways, from: classes.count)
        var examples: [FewShotTask.Example] = []
        examples.reserveCapacity(ways * shots)
        for (label, c) in chosen.enumerated() {
            let cls = classes[c]
            let available = images.imageCount(ofClass: cls.index)
            precondition(shots <= available, "\(shots) shots need \(shots) images per class, class \(cls.index) has \(available)")
            for image in rng.sample(shots, from: available) {
                examples.append(FewShotTask.Example(cls: cls, image: image, label: label))
            }
        }
        return FewShotTask(images: images, examples: examples)
    }
}

/// One N-way K-shot classification task: images of a few classes, labelled 0..<N.
public struct FewShotTask: SupervisedTask, Sendable {
    public struct Example: Sendable, Hashable {
        public var cls: FewShotClass
        public var image: Int
        public var label: Int
    }
    public let images: ImageSet
    public let examples: [Example]

    public var exampleCount: Int { examples.count }

    public func writeExample(_ index: Int, input: FloatView, target: FloatView) {
        let e = examples[index]
        images.write(class: e.cls.index, image: e.image, quarterTurns: e.cls.quarterTurns, into: input.base)
        target[0] = Float(e.label)
    }

    public func classLabel(of index: Int) -> Int? { examples[index].label }
}

/// The classes a few-shot run trains and evaluates on.
public struct FewShotSplits: Sendable {
    /// Meta-training classes (for Omniglot augmented with rotations).
    public var train: FewShotDataset
    /// Classes reported as "test".
    public var test: FewShotDataset
    /// Classes reported as "val" (Mini-ImageNet), if any.
    public var validation: FewShotDataset?

    public init(train: FewShotDataset, test: FewShotDataset, validation: FewShotDataset? = nil) {
        self.train = train
        self.test = test
        self.validation = validation
    }

    /// Images every class of every split has at least.
    public var imagesPerClass: Int {
        ([train, test] + (validation.map { [$0] } ?? [])).map(\.examplesPerClass).min() ?? 0
    }

    /// A checksum of what each split holds, class by class in order (rotation and pixels): other
    /// data, or the same files in another order (another split), give another digest. Stored in
    /// `run.json` so that `--resume` can refuse to continue a run on different data.
    public var contentDigest: String {
        var crc: UInt32 = 0
        for split in [train, test] + (validation.map { [$0] } ?? []) {
            let images = split.images
            var header = [UInt8]("\(split.classCount) \(images.height)x\(images.width)x\(images.channels);".utf8)
            crc = Zlib.crc32(header, initial: crc)
            images.pixels.withUnsafeBytes { all in
                for cls in split.classes {
                    header = [UInt8(truncatingIfNeeded: cls.quarterTurns)]
                    crc = Zlib.crc32(header, initial: crc)
                    let start = images.classStarts[cls.index] * images.imageSize
                    let end = images.classStarts[cls.index + 1] * images.imageSize
                    crc = Zlib.crc32(UnsafeRawBufferPointer(rebasing: all[start..<end]), initial: crc)
                }
            }
        }
        return "crc32:" + String(crc, radix: 16).leftPadded(to: 8)
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
