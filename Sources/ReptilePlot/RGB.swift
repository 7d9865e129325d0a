// RGB: opaque colors for series, reference lines and text, with a few named colors and matplotlib's
// "tab10" categorical palette.

/// An opaque color with red, green and blue components in `0...1`.
///
/// Components outside `0...1` are clamped when drawn; NaN draws as 0.
public struct RGB: Hashable, Sendable {
    /// The red component in `0...1`.
    public var red: Double
    /// The green component in `0...1`.
    public var green: Double
    /// The blue component in `0...1`.
    public var blue: Double

    /// Creates a color from red, green and blue components in `0...1`.
    public init(red: Double, green: Double, blue: Double) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// Creates a color from red, green and blue components in `0...1`, like matplotlib's `(r, g, b)` tuples.
    public init(_ red: Double, _ green: Double, _ blue: Double) {
        self.init(red: red, green: green, blue: blue)
    }

    /// Creates a color from a 24-bit `0xRRGGBB` value.
    public init(hex: UInt32) {
        self.init(red: Double((hex >> 16) & 0xFF) / 255,
                  green: Double((hex >> 8) & 0xFF) / 255,
                  blue: Double(hex & 0xFF) / 255)
    }

    /// Black.
    public static let black = RGB(0, 0, 0)
    /// White.
    public static let white = RGB(1, 1, 1)
    /// Pure red, `(1, 0, 0)`.
    public static let red = RGB(1, 0, 0)
    /// Pure green, `(0, 1, 0)`.
    public static let green = RGB(0, 1, 0)
    /// Pure blue, `(0, 0, 1)`.
    public static let blue = RGB(0, 0, 1)
    /// Middle gray, `(0.5, 0.5, 0.5)`.
    public static let gray = RGB(0.5, 0.5, 0.5)
    /// Light gray, `(0.8, 0.8, 0.8)`, matplotlib's legend frame color.
    public static let lightGray = RGB(0.8, 0.8, 0.8)
    /// Orange, `(1, 0.5, 0)`.
    public static let orange = RGB(1, 0.5, 0)

    /// matplotlib's "tab10" categorical palette (its default color cycle): blue, orange, green, red,
    /// purple, brown, pink, gray, olive, cyan.
    public static let tab10: [RGB] = [
        RGB(hex: 0x1F77B4), RGB(hex: 0xFF7F0E), RGB(hex: 0x2CA02C), RGB(hex: 0xD62728), RGB(hex: 0x9467BD),
        RGB(hex: 0x8C564B), RGB(hex: 0xE377C2), RGB(hex: 0x7F7F7F), RGB(hex: 0xBCBD22), RGB(hex: 0x17BECF),
    ]

    /// The `index`-th color of the categorical ``tab10`` palette, cycling after ten colors.
    ///
    /// - Parameter index: Any integer; negative indices count back from the end of the cycle.
    public static func palette(_ index: Int) -> RGB {
        let count = tab10.count
        return tab10[((index % count) + count) % count]
    }

    /// The color a `fraction` of the way from `start` to `end`, interpolating each component linearly.
    ///
    /// `interpolate(from: .blue, to: .red, fraction: f)` is `RGB(f, 0, 1 - f)`.
    ///
    /// - Parameters:
    ///   - start: The color at fraction 0.
    ///   - end: The color at fraction 1.
    ///   - fraction: The position between the two; values outside `0...1` extrapolate.
    public static func interpolate(from start: RGB, to end: RGB, fraction: Double) -> RGB {
        RGB(start.red + (end.red - start.red) * fraction,
            start.green + (end.green - start.green) * fraction,
            start.blue + (end.blue - start.blue) * fraction)
    }

    /// The color as `#rrggbb` with lowercase hexadecimal digits.
    public var hexString: String {
        let (r, g, b) = bytes
        let digits = Array("0123456789abcdef")
        var text = "#"
        for byte in [r, g, b] {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text
    }

    /// The components as bytes, clamped to `0...255` and rounded.
    var bytes: (UInt8, UInt8, UInt8) {
        (Self.byte(red), Self.byte(green), Self.byte(blue))
    }

    private static func byte(_ component: Double) -> UInt8 {
        guard !component.isNaN else { return 0 }
        return UInt8((min(max(component, 0), 1) * 255).rounded())
    }
}
