// Chart files: PNG bytes and writing a chart to an .svg or .png file, atomically.
import ReptileFormats

extension LineChart {
    /// The file formats ``write(to:scale:)`` can produce, by lowercase file extension.
    public static let supportedFileExtensions = ["svg", "png"]

    /// The chart rasterized at `scale` and encoded as the bytes of a PNG file (8-bit RGBA).
    ///
    /// - Parameter scale: The number of image pixels per chart pixel; must be positive and finite.
    ///   The default is 1.
    public func pngData(scale: Double = 1) -> [UInt8] {
        rasterize(scale: scale).pngData()
    }

    /// Writes the chart to `path` as SVG or PNG, chosen by the file extension (`.svg` or `.png`, in any
    /// letter case).
    ///
    /// The file is replaced atomically: readers see either the old file or the complete new one.
    ///
    /// - Parameters:
    ///   - path: The destination file path, ending in `.svg` or `.png`.
    ///   - scale: The PNG's pixels per chart pixel; must be positive and finite. Ignored for SVG.
    ///     The default is 1.
    /// - Throws: `FormatError` if the extension is not supported or the file cannot be written.
    public func write(to path: String, scale: Double = 1) throws {
        let fileExtension = Self.fileExtension(of: path)
        let bytes: [UInt8]
        switch fileExtension {
        case "svg":
            bytes = Array(svg().utf8)
        case "png":
            guard scale.isFinite, scale > 0 else {
                throw FormatError(path, "chart scale must be positive and finite, got \(scale)")
            }
            bytes = pngData(scale: scale)
        default:
            let found = fileExtension.isEmpty ? "no file extension" : "unsupported file extension '.\(fileExtension)'"
            throw FormatError(path, "cannot write a chart with \(found); supported extensions are .svg and .png")
        }
        try AtomicFile.write(bytes, to: path)
    }

    /// The lowercase extension of the last path component, without the dot; empty if there is none.
    static func fileExtension(of path: String) -> String {
        let name = path.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return name[name.index(after: dot)...].lowercased()
    }
}
