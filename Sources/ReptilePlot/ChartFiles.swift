// Writing a chart to an .svg file, atomically.
import ReptileFormats

extension LineChart {
    /// The file formats ``write(to:)`` can produce, by lowercase file extension. Charts are SVG
    /// only: every browser and code host shows SVG, at any size, and a hand-made rasterizer's
    /// pictures looked dated beside them (a real one, cairo, would be a system dependency).
    public static let supportedFileExtensions = ["svg"]

    /// Writes the chart to `path` as SVG (the extension must be `.svg`, in any letter case).
    ///
    /// The file is replaced atomically: readers see either the old file or the complete new one.
    ///
    /// - Throws: `FormatError` if the extension is not `.svg` or the file cannot be written.
    public func write(to path: String) throws {
        let fileExtension = Self.fileExtension(of: path)
        guard fileExtension == "svg" else {
            let found = fileExtension.isEmpty ? "no file extension" : "unsupported file extension '.\(fileExtension)'"
            throw FormatError(path, "cannot write a chart with \(found); charts are written as .svg")
        }
        try AtomicFile.write(Array(svg().utf8), to: path)
    }

    /// The lowercase extension of the last path component, without the dot; empty if there is none.
    static func fileExtension(of path: String) -> String {
        let name = path.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return name[name.index(after: dot)...].lowercased()
    }
}
