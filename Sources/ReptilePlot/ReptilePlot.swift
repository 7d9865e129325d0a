// ReptilePlot owns the figures of Reptile for Swift: line charts such as the sine-wave regression demo
// (predictions after k inner steps against the true curve and the training points) and learning curves
// (test accuracy against meta-iteration). A chart is a plain value (`LineChart` with its `Series`,
// `ReferenceLine`s, ranges and legend placement); a layout step turns it into geometry that an SVG 1.1
// writer draws. Figures are SVG only: browsers and code hosts show it at any size, with no graphics
// library at run time, and the same chart always gives the same bytes.

/// The size of a figure in pixels (the SVG `width`, `height` and `viewBox`).
public struct ChartSize: Hashable, Sendable {
    /// The width in pixels.
    public var width: Int
    /// The height in pixels.
    public var height: Int

    /// Creates a size of `width` × `height` pixels.
    ///
    /// - Parameters:
    ///   - width: The width in pixels; sizes below 1 are drawn as 1.
    ///   - height: The height in pixels; sizes below 1 are drawn as 1.
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// 800 × 600 pixels, the default size of a chart.
    public static let standard = ChartSize(width: 800, height: 600)
}

/// The corner of the plot area in which the legend box is placed.
public enum LegendPosition: String, CaseIterable, Hashable, Sendable {
    /// Top right corner of the plot area.
    case upperRight
    /// Top left corner of the plot area.
    case upperLeft
    /// Bottom left corner of the plot area.
    case lowerLeft
    /// Bottom right corner of the plot area.
    case lowerRight
    /// No legend is drawn.
    case none
}

/// A horizontal line across the whole plot area at a fixed y value, such as the chance level of a
/// classification task.
///
/// A reference line with a non-empty label gets a legend entry after the series entries.
public struct ReferenceLine: Hashable, Sendable {
    /// The y value, in data coordinates, at which the line is drawn.
    public var y: Double
    /// The legend label; an empty label leaves the line out of the legend.
    public var label: String
    /// The stroke color.
    public var color: RGB
    /// Whether the line is dashed (otherwise solid).
    public var isDashed: Bool
    /// The stroke width in pixels at scale 1.
    public var width: Double

    /// Creates a horizontal reference line.
    ///
    /// - Parameters:
    ///   - y: The y value, in data coordinates, at which the line is drawn.
    ///   - label: The legend label; an empty label leaves the line out of the legend.
    ///   - color: The stroke color. The default is gray.
    ///   - isDashed: Whether the line is dashed. The default is `true`.
    ///   - width: The stroke width in pixels at scale 1. The default is 1.5.
    public init(y: Double, label: String = "", color: RGB = .gray, isDashed: Bool = true, width: Double = 1.5) {
        self.y = y
        self.label = label
        self.color = color
        self.isDashed = isDashed
        self.width = width
    }
}

/// A line chart: one or more data series on linear x and y axes, with title, axis labels, ticks, an
/// optional grid, optional horizontal reference lines and a legend.
///
/// Build the chart as a value and render it with ``svg()`` or ``write(to:)``:
///
/// ```swift
/// var chart = LineChart(title: "Sine regression", xLabel: "x", yLabel: "y", yRange: -4...4,
///                       legendPosition: .lowerRight)
/// chart.series.append(Series(name: "true", x: xs, y: ys, color: .green))
/// try chart.write(to: "sine.svg")
/// ```
///
/// Axis ranges that are not fixed are computed from the finite data (and the reference lines, for y)
/// with a margin of 5% of the data span on each side, like matplotlib's default.
public struct LineChart: Hashable, Sendable {
    /// The title drawn centered above the plot area; empty for none.
    public var title: String
    /// The label drawn centered below the x axis; empty for none.
    public var xLabel: String
    /// The label drawn rotated 90° left of the y axis; empty for none.
    public var yLabel: String
    /// A fixed x range, or `nil` to fit the data with a 5% margin.
    ///
    /// A range whose bounds are not finite is ignored (the axis is fitted to the data).
    public var xRange: ClosedRange<Double>?
    /// A fixed y range, or `nil` to fit the data with a 5% margin.
    ///
    /// Lines leaving a fixed range are clipped at the plot area's border.
    /// A range whose bounds are not finite is ignored (the axis is fitted to the data).
    public var yRange: ClosedRange<Double>?
    /// The figure size in pixels at scale 1. The default is 800 × 600.
    public var size: ChartSize
    /// The corner of the plot area holding the legend, or `.none`. The default is `.upperRight`.
    public var legendPosition: LegendPosition
    /// Whether light grid lines are drawn at the major ticks. The default is `false`.
    public var showsGrid: Bool
    /// Horizontal reference lines, drawn below the series.
    public var referenceLines: [ReferenceLine]
    /// The data series, drawn in order (later series on top).
    public var series: [Series]

    /// Creates a line chart.
    ///
    /// - Parameters:
    ///   - title: The title above the plot area; empty for none.
    ///   - xLabel: The x-axis label; empty for none.
    ///   - yLabel: The y-axis label; empty for none.
    ///   - xRange: A fixed x range, or `nil` to fit the data.
    ///   - yRange: A fixed y range, or `nil` to fit the data.
    ///   - size: The figure size in pixels at scale 1. The default is 800 × 600.
    ///   - legendPosition: Where the legend goes. The default is `.upperRight`.
    ///   - showsGrid: Whether light grid lines are drawn at the ticks. The default is `false`.
    ///   - referenceLines: Horizontal reference lines.
    ///   - series: The data series.
    public init(
        title: String = "",
        xLabel: String = "",
        yLabel: String = "",
        xRange: ClosedRange<Double>? = nil,
        yRange: ClosedRange<Double>? = nil,
        size: ChartSize = .standard,
        legendPosition: LegendPosition = .upperRight,
        showsGrid: Bool = false,
        referenceLines: [ReferenceLine] = [],
        series: [Series] = []
    ) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xRange = xRange
        self.yRange = yRange
        self.size = size
        self.legendPosition = legendPosition
        self.showsGrid = showsGrid
        self.referenceLines = referenceLines
        self.series = series
    }
}
