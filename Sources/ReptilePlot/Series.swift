// Series: the data of one curve or point cloud in a `LineChart`, with its color and drawing style.

/// The shape of the markers drawn at data points.
public enum MarkerShape: String, CaseIterable, Hashable, Sendable {
    /// A diagonal cross (matplotlib's `x`), stroked.
    case cross
    /// An upright plus sign (matplotlib's `+`), stroked.
    case plus
    /// A filled circle (matplotlib's `o`).
    case circle
    /// A filled square (matplotlib's `s`).
    case square
}

/// How a series is drawn: as a solid or dashed line through its points, as markers at its points, or both.
///
/// Widths and sizes are in pixels at scale 1. Every associated value has a default, so `.line()`,
/// `.dashed()`, `.markers(.cross)` and `.lineAndMarkers()` are complete styles.
public enum SeriesStyle: Hashable, Sendable {
    /// A solid line of the given width with round joins.
    case line(width: Double = 2)
    /// A dashed line of the given width; the dash pattern scales with the width, like matplotlib's `--`.
    case dashed(width: Double = 2)
    /// Markers only, no line; `size` is the marker's full width.
    case markers(MarkerShape = .circle, size: Double = 8)
    /// A solid line with a marker at every point.
    case lineAndMarkers(width: Double = 2, marker: MarkerShape = .circle, size: Double = 8)

    /// The line width, or `nil` when the style draws no line.
    var lineWidth: Double? {
        switch self {
        case .line(let width), .dashed(let width), .lineAndMarkers(let width, _, _): return max(0, width)
        case .markers: return nil
        }
    }

    /// Whether the line (if any) is dashed.
    var isDashed: Bool {
        if case .dashed = self { return true }
        return false
    }

    /// The marker shape and size, or `nil` when the style draws no markers.
    var marker: (shape: MarkerShape, size: Double)? {
        switch self {
        case .markers(let shape, let size), .lineAndMarkers(_, let shape, let size): return (shape, max(0, size))
        case .line, .dashed: return nil
        }
    }
}

/// One named data series of a ``LineChart``.
///
/// The x and y values are stored as two parallel arrays. Points whose x or y is NaN or infinite are
/// skipped: a line is broken there (a gap), and no marker is drawn. Points need not be sorted; a line
/// connects them in the order given.
public struct Series: Hashable, Sendable {
    /// The name shown in the legend; an empty name leaves the series out of the legend.
    public var name: String
    /// The x values, parallel to ``yValues``.
    public var xValues: [Double]
    /// The y values, parallel to ``xValues``.
    public var yValues: [Double]
    /// The color, or `nil` for the categorical palette color of the series' index in the chart
    /// (`RGB.palette(index)`).
    public var color: RGB?
    /// How the series is drawn.
    public var style: SeriesStyle

    /// Creates a series from parallel arrays of x and y values.
    ///
    /// - Parameters:
    ///   - name: The legend name; empty to leave the series out of the legend.
    ///   - x: The x values.
    ///   - y: The y values; must have as many elements as `x`.
    ///   - color: The color, or `nil` for the palette color of the series' index.
    ///   - style: How the series is drawn. The default is a solid line of width 2.
    public init(name: String, x: [Double], y: [Double], color: RGB? = nil, style: SeriesStyle = .line()) {
        precondition(x.count == y.count, "Series '\(name)': \(x.count) x values but \(y.count) y values")
        self.name = name
        self.xValues = x
        self.yValues = y
        self.color = color
        self.style = style
    }

    /// Creates a series from (x, y) points.
    ///
    /// - Parameters:
    ///   - name: The legend name; empty to leave the series out of the legend.
    ///   - points: The data points.
    ///   - color: The color, or `nil` for the palette color of the series' index.
    ///   - style: How the series is drawn. The default is a solid line of width 2.
    public init(name: String, points: [(x: Double, y: Double)], color: RGB? = nil, style: SeriesStyle = .line()) {
        self.init(name: name, x: points.map(\.x), y: points.map(\.y), color: color, style: style)
    }

    /// The data points, pairing ``xValues`` and ``yValues`` (up to the shorter of the two).
    public var points: [(x: Double, y: Double)] {
        get { zip(xValues, yValues).map { (x: $0, y: $1) } }
        set {
            xValues = newValue.map(\.x)
            yValues = newValue.map(\.y)
        }
    }
}
