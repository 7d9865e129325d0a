// Progress lines on standard error while long work runs.

import Foundation
import Reptile
import ReptileExperiments
import ReptileFormats
import ReptileKernels
import ReptilePlot

/// Prints "what i/n (rate/s, ETA …)" to standard error: rewritten in place on a terminal, one line
/// every 10 % otherwise (so logs stay short).
final class ProgressLine {
    private let label: String
    private let unit: String
    private var start = Date()
    private var lastDone = 0
    private let interactive = isatty(fileno(stderr)) != 0
    private var lastPrinted = Date.distantPast
    private var lastDecile = -1
    /// The count at the first report of a phase: a resumed run starts past 0.
    private var firstDone: Int?

    init(_ label: String, unit: String = "it") {
        self.label = label
        self.unit = unit
    }

    /// Reports `done` of `total`. With `restartable`, a count lower than the last one starts a new
    /// phase (rate and ETA from scratch). `estimatedSeconds`, the phase's expected length, gives
    /// an ETA until the rate is measured.
    func update(_ done: Int, of total: Int, extra: String = "", restartable: Bool = false, estimatedSeconds: Double? = nil) {
        if restartable && done < lastDone {
            start = Date()
            lastDecile = -1
            lastPrinted = .distantPast
            firstDone = nil
        }
        if outputIsQuiet { return }
        if firstDone == nil { firstDone = done; start = Date() }
        lastDone = done
        let now = Date()
        let elapsed = now.timeIntervalSince(start)
        let percent = total > 0 ? 100 * done / total : 100
        // The rate is only meaningful after a little while (the first report would divide by ~0).
        let speed: String
        if elapsed >= 0.5, done > firstDone! {
            let rate = Double(done - firstDone!) / elapsed
            speed = String(format: "%.1f %@/s, elapsed %@, ETA %@", rate, unit, formatDuration(elapsed),
                           formatDuration(Double(total - done) / rate))
        } else if let estimatedSeconds {
            speed = "elapsed \(formatDuration(elapsed)), ETA ~\(formatDuration(max(0, estimatedSeconds - elapsed))) (estimated)"
        } else {
            speed = "elapsed " + formatDuration(elapsed)
        }
        let line = String(format: "%@ %d/%d (%d%%) %@%@", label, done, total, percent, speed, extra.isEmpty ? "" : " " + extra)
        if interactive {
            guard now.timeIntervalSince(lastPrinted) > 0.1 || done == total else { return }
            lastPrinted = now
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + (done == total ? "\n" : "")).utf8))
        } else {
            let decile = percent / 10
            guard decile > lastDecile else { return }
            lastDecile = decile
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}

/// "1h02m", "3m05s", "4.2s".
func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    if seconds < 60 { return String(format: "%.1fs", seconds) }
    let s = Int(seconds.rounded())
    if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
}

/// Writes a line to standard error.
func printError(_ message: String) {
    if outputIsQuiet { return }
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Set on the MPI ranks other than 0, which do the same work silently.
nonisolated(unsafe) var outputIsQuiet = false

/// Prints a JSON object (sorted keys) to standard output.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Writes a JSON object (sorted keys, indented) to `path` atomically.
func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    try AtomicFile.write([UInt8](try encoder.encode(value)) + [10], to: path)
}
