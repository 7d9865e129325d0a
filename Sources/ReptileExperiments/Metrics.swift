// Training metrics: `metrics.jsonl` (one JSON object per logged evaluation) and the learning curve.

import Foundation
import ReptileFormats
import ReptilePlot

/// One logged evaluation during training.
public struct MetricsLine: Codable, Sendable, Equatable {
    public var iteration: Int
    public var trainAccuracy: Double
    public var testAccuracy: Double
    public var metaStep: Double
    public var innerLoss: Double
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case iteration, seconds
        case trainAccuracy = "train_accuracy"
        case testAccuracy = "test_accuracy"
        case metaStep = "meta_step"
        case innerLoss = "inner_loss"
    }
}

/// Appends metrics to `DIR/metrics.jsonl` and draws `DIR/curve.svg`.
struct Metrics {
    static let file = "metrics.jsonl"
    static let curveFile = "curve.svg"
    let directory: String?
    let chance: Double
    private(set) var lines: [MetricsLine] = []

    init(directory: String?, chance: Double) {
        self.directory = directory
        self.chance = chance
    }

    /// Reads the lines already logged (when resuming).
    mutating func load(from directory: String) {
        guard let data = FileManager.default.contents(atPath: (directory as NSString).appendingPathComponent(Metrics.file)) else { return }
        let decoder = JSONDecoder()
        lines = String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            try? decoder.decode(MetricsLine.self, from: Data($0.utf8))
        }
    }

    /// Drops lines at or after `iteration`: a resumed run logs them again.
    static func truncate(in directory: String, before iteration: Int) throws {
        let path = (directory as NSString).appendingPathComponent(file)
        guard let data = FileManager.default.contents(atPath: path) else { return }
        let decoder = JSONDecoder()
        let kept = String(decoding: data, as: UTF8.self).split(separator: "\n").filter { line in
            guard let m = try? decoder.decode(MetricsLine.self, from: Data(line.utf8)) else { return false }
            return m.iteration < iteration
        }
        try AtomicFile.writeString(kept.map { $0 + "\n" }.joined(), to: path)
    }

    mutating func append(_ line: MetricsLine) throws {
        lines.append(line)
        guard let directory else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: try encoder.encode(line), as: UTF8.self) + "\n"
        let path = (directory as NSString).appendingPathComponent(Metrics.file)
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw FormatError(path, "cannot open for appending") }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
    }

    /// The learning curve: single-task accuracies are 0, 1/N, …, 1, so they are smoothed with a
    /// moving average over a window of about 2 % of the points (at least 1).
    func chart() -> LineChart {
        let window = max(1, lines.count / 50)
        func smoothed(_ values: [Double]) -> [Double] { movingAverage(values, window: window) }
        let xs = lines.map { Double($0.iteration) }
        return LineChart(title: "Meta-training: accuracy on one task per evaluation (moving average of \(window))",
                         xLabel: "meta-iteration", yLabel: "accuracy", yRange: 0...1, legendPosition: .lowerRight,
                         showsGrid: true, referenceLines: [ReferenceLine(y: chance, label: "chance")],
                         series: [Series(name: "train classes", x: xs, y: smoothed(lines.map(\.trainAccuracy)), color: RGB.palette(0)),
                                  Series(name: "test classes", x: xs, y: smoothed(lines.map(\.testAccuracy)), color: RGB.palette(1))])
    }

    func writeCurve() throws {
        guard let directory, !lines.isEmpty else { return }
        try chart().write(to: (directory as NSString).appendingPathComponent(Metrics.curveFile))
    }
}

/// The mean of each value and the `window − 1` before it (fewer at the start).
func movingAverage(_ values: [Double], window: Int) -> [Double] {
    var result: [Double] = []
    result.reserveCapacity(values.count)
    var sum = 0.0
    for (i, v) in values.enumerated() {
        sum += v
        if i >= window { sum -= values[i - window] }
        result.append(sum / Double(min(i + 1, window)))
    }
    return result
}

/// The moving average of `values` over `window` (see `movingAverage`) at no more than about
/// `maxPoints` evenly spaced indices, the last one included: a curve averaged over hundreds of
/// points changes little from one index to the next, and its figure stays small.
func smoothedSamples(_ values: [Double], window: Int, maxPoints: Int) -> (indices: [Int], values: [Double]) {
    let smoothed = movingAverage(values, window: window)
    let step = max(1, values.count / max(1, maxPoints))
    var indices = Array(stride(from: values.count - 1, through: 0, by: -step).reversed())
    if values.count > 1, indices.first != 0 { indices.insert(0, at: 0) }
    return (indices, indices.map { smoothed[$0] })
}
