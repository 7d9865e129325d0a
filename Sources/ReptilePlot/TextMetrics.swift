// Text measurement for layout: DejaVu Sans advance widths estimate the extent of SVG text (which
// the viewer draws with its own sans-serif font).

/// The part a piece of text plays in a chart; it decides the font size.
enum TextRole: Hashable, Sendable {
    case tickLabel
    case legendLabel
    case axisLabel
    case title
}

/// How text is measured while laying out a chart: a proportional sans-serif font, as SVG viewers
/// draw it, estimated with DejaVu Sans advance widths.
enum TextMetrics: Sendable {
    case sansSerif

    /// The SVG `font-size` in pixels (also used to derive the sans-serif metrics).
    static func sansSerifFontSize(for role: TextRole) -> Double {
        switch role {
        case .tickLabel, .legendLabel: return 13
        case .axisLabel: return 15
        case .title: return 17
        }
    }

    /// The nominal font size in pixels: the SVG font size.
    func fontSize(_ role: TextRole) -> Double {
        switch self {
        case .sansSerif: return Self.sansSerifFontSize(for: role)
        }
    }

    /// Distance from the baseline up to the top of the line box.
    func ascent(_ role: TextRole) -> Double {
        switch self {
        case .sansSerif: return 0.8 * fontSize(role)
        }
    }

    /// Distance from the baseline down to the bottom of the line box.
    func descent(_ role: TextRole) -> Double {
        switch self {
        case .sansSerif: return 0.22 * fontSize(role)
        }
    }

    /// The height of the line box, ascent plus descent.
    func lineHeight(_ role: TextRole) -> Double { ascent(role) + descent(role) }

    /// The height of capital letters and digits above the baseline, used to center text vertically.
    func capHeight(_ role: TextRole) -> Double {
        switch self {
        case .sansSerif: return 0.73 * fontSize(role)
        }
    }

    /// The advance width of `text` in pixels.
    func width(of text: String, role: TextRole) -> Double {
        switch self {
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
