// The one error type of ReptileFormats: a single line that names the file (or source) and the problem.
import Foundation

/// A malformed, truncated or unsupported file. `description` is one line naming the file and the
/// problem, suitable for printing to a user as is.
public struct FormatError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file or source the error is about (a path, an archive entry such as `a.npz:images.npy`, or a label).
    public var source: String
    /// What is wrong, in words.
    public var problem: String

    /// Creates an error about `source` (a path, entry or label) saying what is wrong with it.
    public init(_ source: String, _ problem: String) {
        self.source = source
        self.problem = problem
    }

    /// The one-line message, `source: problem`.
    public var description: String { "\(source): \(problem)" }
}
