// Text measurement for layout: the embedded bitmap fonts for raster output, and DejaVu Sans advance
// widths for estimating the extent of SVG text (which the viewer draws with its own sans-serif font).

/// The part a piece of text plays in a chart; it decides the font size.
enum TextRole: Hashable, Sendable {
    case tickLabel
    case legendLabel
    case axisLabel
    case title
}

/// A monospaced bitmap font holding the printable ASCII characters 32...126.
struct BitmapFont: Sendable {
    /// The advance and cell width in pixels (at most 16).
    let glyphWidth: Int
    /// The cell height in pixels: ascent plus descent.
    let glyphHeight: Int
    /// Pixels from the top of the cell to the baseline.
    let ascent: Int
    /// `glyphHeight` rows per glyph for characters 32...126; bit 15 of a row is the leftmost pixel.
    let rows: [UInt16]

    init(glyphWidth: Int, glyphHeight: Int, ascent: Int, rows: [UInt16]) {
        precondition(glyphWidth <= 16 && rows.count == 95 * glyphHeight, "malformed bitmap font")
        self.glyphWidth = glyphWidth
        self.glyphHeight = glyphHeight
        self.ascent = ascent
        self.rows = rows
    }

    /// Pixels from the baseline to the bottom of the cell.
    var descent: Int { glyphHeight - ascent }

    /// The height of capital letters: the rows of `H` above the baseline that have ink.
    var capHeight: Int {
        let start = Int(Character("H").asciiValue! - 32) * glyphHeight
        var firstInked = 0
        while firstInked < ascent && rows[start + firstInked] == 0 { firstInked += 1 }
        return ascent - firstInked
    }

    /// The index of the glyph drawn for `character`: its own for printable ASCII, `?` otherwise.
    static func glyphIndex(for character: Character) -> Int {
        if let ascii = character.asciiValue, ascii >= 32, ascii <= 126 { return Int(ascii) - 32 }
        return Int(Character("?").asciiValue!) - 32
    }
}

/// How text is measured while laying out a chart, matching the back end that will draw it.
enum TextMetrics: Sendable {
    /// The embedded X11 misc-fixed bitmap fonts drawn by the rasterizer, where one glyph pixel covers
    /// `chartUnitsPerGlyphPixel` chart pixels (1 at integer scales).
    case bitmapFont(chartUnitsPerGlyphPixel: Double)
    /// A proportional sans-serif font, as drawn by SVG viewers; estimated with DejaVu Sans widths.
    case sansSerif

    /// The bitmap-font metrics for rasterizing at `scale`: glyphs are magnified by a whole number, so at
    /// other scales text takes a little more or less room than at scale 1, and the layout makes room for it.
    static func raster(scale: Double) -> TextMetrics {
        .bitmapFont(chartUnitsPerGlyphPixel: Double(glyphMagnification(forScale: scale)) / scale)
    }

    /// How many image pixels wide and high one glyph pixel is drawn at `scale`: the scale rounded, at least 1.
    static func glyphMagnification(forScale scale: Double) -> Int {
        max(1, Int(min(scale, 1e6).rounded()))
    }

    /// The bitmap font used for `role`.
    static func bitmapFont(for role: TextRole) -> BitmapFont {
        switch role {
        case .tickLabel, .legendLabel: return .fixed7x13
        case .axisLabel: return .fixed9x15
        case .title: return .fixed10x20
        }
    }

    /// The SVG `font-size` in pixels (also used to derive the sans-serif metrics).
    static func sansSerifFontSize(for role: TextRole) -> Double {
        switch role {
        case .tickLabel, .legendLabel: return 13
        case .axisLabel: return 15
        case .title: return 17
        }
    }

    /// The nominal font size in pixels: the line height of the bitmap font, or the SVG font size.
    func fontSize(_ role: TextRole) -> Double {
        switch self {
        case .bitmapFont(let unit): return Double(Self.bitmapFont(for: role).glyphHeight) * unit
        case .sansSerif: return Self.sansSerifFontSize(for: role)
        }
    }

    /// Distance from the baseline up to the top of the line box.
    func ascent(_ role: TextRole) -> Double {
        switch self {
        case .bitmapFont(let unit): return Double(Self.bitmapFont(for: role).ascent) * unit
        case .sansSerif: return 0.8 * fontSize(role)
        }
    }

    /// Distance from the baseline down to the bottom of the line box.
    func descent(_ role: TextRole) -> Double {
        switch self {
        case .bitmapFont(let unit): return Double(Self.bitmapFont(for: role).descent) * unit
        case .sansSerif: return 0.22 * fontSize(role)
        }
    }

    /// The height of the line box, ascent plus descent.
    func lineHeight(_ role: TextRole) -> Double { ascent(role) + descent(role) }

    /// The height of capital letters and digits above the baseline, used to center text vertically.
    func capHeight(_ role: TextRole) -> Double {
        switch self {
        case .bitmapFont(let unit): return Double(Self.bitmapFont(for: role).capHeight) * unit
        case .sansSerif: return 0.73 * fontSize(role)
        }
    }

    /// The advance width of `text` in pixels.
    func width(of text: String, role: TextRole) -> Double {
        switch self {
        case .bitmapFont(let unit):
            return Double(text.count * Self.bitmapFont(for: role).glyphWidth) * unit
        case .sansSerif:
            var thousandths = 0
            for scalar in text.unicodeScalars {
                let value = Int(scalar.value)
                if value >= 32 && value <= 126 {
                    thousandths += Int(Self.dejaVuSansAdvances[value - 32])
                } else if value >= 0x2E80 {
                    thousandths += 1000  // CJK and other full-width scripts
                } else if value >= 0x300 && value < 0x370 {
                    continue  // combining marks
                } else {
                    thousandths += 650
                }
            }
            return Double(thousandths) / 1000 * fontSize(role)
        }
    }

    /// Advance widths of DejaVu Sans (matplotlib's default font) for ASCII 32...126, in 1/1000 em.
    /// Wider than Helvetica and Arial, so estimates made with them leave room for either.
    static let dejaVuSansAdvances: [UInt16] = [
        318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337,  //  !"#$%&'()*+,-./
        636, 636, 636, 636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531,  // 0-9 :;<=>?
        1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748, 787,  // @A-O
        603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500,  // P-Z [\]^_
        500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612,  // `a-o
        635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,  // p-z {|}~
    ]
}
