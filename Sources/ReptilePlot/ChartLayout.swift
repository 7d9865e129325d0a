// ChartLayout: turns a LineChart into positioned geometry in chart pixels (scale 1, origin top left):
// the plot area, ticks and their labels, title and axis labels, series clipped to the plot area, and the
// legend. The SVG writer draws from this description.
import Foundation

/// A point in chart pixels (x to the right, y down).
struct Point: Hashable, Sendable {
    var x: Double
    var y: Double
}

/// An axis-aligned rectangle in chart pixels.
struct Rect: Hashable, Sendable {
    var minX: Double
    var minY: Double
    var width: Double
    var height: Double

    var maxX: Double { minX + width }
    var maxY: Double { minY + height }
    var midX: Double { minX + width / 2 }
    var midY: Double { minY + height / 2 }

    func contains(_ point: Point) -> Bool {
        point.x >= minX && point.x <= maxX && point.y >= minY && point.y <= maxY
    }
}

/// Where a text's origin lies along its baseline.
enum TextAlignment: Hashable, Sendable {
    case start
    case middle
    case end
}

/// A string placed in the chart.
struct PlacedText: Hashable, Sendable {
    var string: String
    /// A point on the baseline: its start, middle or end according to `alignment`.
    var origin: Point
    var alignment: TextAlignment
    var role: TextRole
    /// Rotated 90° counterclockwise about `origin`, reading upward (y-axis label).
    var isVertical: Bool = false
}

/// A major tick: its position along the axis in chart pixels and its label.
struct PlacedTick: Hashable, Sendable {
    var position: Double
    var label: PlacedText
}

/// How a line is stroked.
struct StrokeStyle: Hashable, Sendable {
    var color: RGB
    var width: Double
    /// Alternating on and off lengths in chart pixels, or empty for a solid line.
    var dashPattern: [Double]

    /// matplotlib's `--` pattern: 3.7 on, 1.6 off, in units of the line width.
    static func dashes(forWidth width: Double) -> [Double] {
        let unit = max(width, 1)
        return [3.7 * unit, 1.6 * unit]
    }
}

/// Markers of one shape, size and color at some points.
struct MarkerStyle: Hashable, Sendable {
    var shape: MarkerShape
    var size: Double
    var color: RGB

    /// The stroke width of the stroked shapes (cross and plus).
    var strokeWidth: Double { max(1, size / 6) }
}

/// One series after clipping, in chart pixels.
struct PlacedSeries: Hashable, Sendable {
    var name: String
    /// The line, if the style draws one.
    var stroke: StrokeStyle?
    /// Connected pieces of the line inside the plot area; broken at NaN/infinite points and where the
    /// line leaves the plot area. Each has at least two points.
    var runs: [[Point]]
    /// The markers, if the style draws them.
    var marker: MarkerStyle?
    /// Marker centers: the finite data points inside the axis ranges.
    var markerCenters: [Point]
}

/// A horizontal reference line at chart y `y`, spanning the plot area.
struct PlacedReferenceLine: Hashable, Sendable {
    var y: Double
    var stroke: StrokeStyle
}

/// One legend row: a sample of the line and/or marker, and the label.
struct PlacedLegendEntry: Hashable, Sendable {
    var lineStart: Point
    var lineEnd: Point
    var stroke: StrokeStyle?
    var marker: MarkerStyle?
    var markerCenter: Point
    var label: PlacedText
}

/// The legend box and its rows.
struct PlacedLegend: Hashable, Sendable {
    var box: Rect
    var entries: [PlacedLegendEntry]
}

/// Everything a back end draws, in chart pixels at scale 1.
struct ChartLayout: Sendable {
    // Spacing in chart pixels, after matplotlib's defaults scaled to an 800 × 600 figure.
    static let edgePadding = 10.0
    static let tickLength = 5.0
    static let tickLabelPadding = 4.0
    static let titlePadding = 8.0
    static let axisLabelPadding = 6.0
    static let frameWidth = 1.0
    static let gridWidth = 1.0
    static let frameColor = RGB.black
    static let textColor = RGB.black
    static let gridColor = RGB(0.87, 0.87, 0.87)
    static let legendBorderPadding = 5.0
    static let legendHandleLength = 28.0
    static let legendHandleTextPadding = 9.0
    static let legendRowSpacing = 6.0
    static let legendAxesPadding = 8.0
    static let legendCornerRadius = 3.0
    static let legendFillOpacity = 0.8
    static let legendEdgeColor = RGB.lightGray

    let width: Double
    let height: Double
    let plotArea: Rect
    let xRange: ClosedRange<Double>
    let yRange: ClosedRange<Double>
    let xTicks: [PlacedTick]
    let yTicks: [PlacedTick]
    let showsGrid: Bool
    let title: PlacedText?
    let xLabel: PlacedText?
    let yLabel: PlacedText?
    let referenceLines: [PlacedReferenceLine]
    let series: [PlacedSeries]
    let legend: PlacedLegend?

    init(chart: LineChart, metrics: TextMetrics) {
        width = Double(max(1, chart.size.width))
        height = Double(max(1, chart.size.height))
        showsGrid = chart.showsGrid

        // Axis ranges: fixed ones as given, others fitted to the finite data.
        var xExtent: (Double, Double)?
        var yExtent: (Double, Double)?
        for series in chart.series {
            for (x, y) in zip(series.xValues, series.yValues) where x.isFinite && y.isFinite {
                xExtent = xExtent.map { (min($0.0, x), max($0.1, x)) } ?? (x, x)
                yExtent = yExtent.map { (min($0.0, y), max($0.1, y)) } ?? (y, y)
            }
        }
        for line in chart.referenceLines where line.y.isFinite {
            yExtent = yExtent.map { (min($0.0, line.y), max($0.1, line.y)) } ?? (line.y, line.y)
        }
        let xRange = Self.resolve(fixed: chart.xRange, extent: xExtent)
        let yRange = Self.resolve(fixed: chart.yRange, extent: yExtent)
        self.xRange = xRange
        self.yRange = yRange

        // Vertical margins: title above, tick labels and x label below.
        let edge = Self.edgePadding
        let topMargin = edge + (chart.title.isEmpty ? 4 : metrics.lineHeight(.title) + Self.titlePadding)
        let xTickBlock = Self.tickLength + Self.tickLabelPadding + metrics.lineHeight(.tickLabel)
        let xLabelBlock = chart.xLabel.isEmpty ? 0 : Self.axisLabelPadding + metrics.lineHeight(.axisLabel)
        let bottomMargin = edge + xTickBlock + xLabelBlock
        let plotTop = min(topMargin.rounded(.up), height - 1)
        let plotBottom = max(plotTop + 1, (height - bottomMargin).rounded(.down))
        let plotHeight = plotBottom - plotTop

        // y ticks first: their label widths decide the left margin.
        let yIntervals = Self.clampIntervals(plotHeight / (2 * metrics.fontSize(.tickLabel)))
        let yTickValues = AxisTicks.ticks(in: yRange, maxIntervals: yIntervals)
        let yTickWidth = yTickValues.map { metrics.width(of: $0.label, role: .tickLabel) }.max() ?? 0
        let yLabelBlock = chart.yLabel.isEmpty ? 0 : metrics.lineHeight(.axisLabel) + Self.axisLabelPadding
        let leftMargin = edge + yLabelBlock + yTickWidth + Self.tickLabelPadding + Self.tickLength
        let plotLeft = min(leftMargin.rounded(.up), width - 1)
        var plotRight = max(plotLeft + 1, (width - edge - 6).rounded(.down))

        // x ticks: as many as fit without labels touching.
        var xIntervals = Self.clampIntervals((plotRight - plotLeft) / (3 * metrics.fontSize(.tickLabel)))
        var xTickValues = AxisTicks.ticks(in: xRange, maxIntervals: xIntervals)
        let minimumGap = metrics.fontSize(.tickLabel)
        func xPosition(_ x: Double, right: Double) -> Double {
            plotLeft + DataTransform.fraction(x, in: xRange) * (right - plotLeft)
        }
        while xIntervals > 1 {
            let crowded = zip(xTickValues, xTickValues.dropFirst()).contains { a, b in
                let distance = xPosition(b.value, right: plotRight) - xPosition(a.value, right: plotRight)
                let halfWidths = (metrics.width(of: a.label, role: .tickLabel)
                                  + metrics.width(of: b.label, role: .tickLabel)) / 2
                return distance < halfWidths + minimumGap
            }
            guard crowded else { break }
            xIntervals -= 1
            xTickValues = AxisTicks.ticks(in: xRange, maxIntervals: xIntervals)
        }
        // Keep the last x tick label inside the figure.
        if let last = xTickValues.last {
            let overhang = xPosition(last.value, right: plotRight) + metrics.width(of: last.label, role: .tickLabel) / 2
                - (width - edge / 2)
            if overhang > 0 { plotRight = max(plotLeft + 1, (plotRight - overhang).rounded(.down)) }
        }

        let plotArea = Rect(minX: plotLeft, minY: plotTop, width: plotRight - plotLeft, height: plotHeight)
        self.plotArea = plotArea
        let transform = DataTransform(xRange: xRange, yRange: yRange, plotArea: plotArea)

        let tickLabelOffset = Self.tickLength + Self.tickLabelPadding
        xTicks = xTickValues.map { tick in
            let x = transform.x(tick.value)
            let origin = Point(x: x, y: plotArea.maxY + tickLabelOffset + metrics.ascent(.tickLabel))
            return PlacedTick(position: x, label: PlacedText(string: tick.label, origin: origin,
                                                             alignment: .middle, role: .tickLabel))
        }
        yTicks = yTickValues.map { tick in
            let y = transform.y(tick.value)
            let origin = Point(x: plotArea.minX - tickLabelOffset, y: y + metrics.capHeight(.tickLabel) / 2)
            return PlacedTick(position: y, label: PlacedText(string: tick.label, origin: origin,
                                                             alignment: .end, role: .tickLabel))
        }

        title = chart.title.isEmpty ? nil : PlacedText(
            string: chart.title,
            origin: Point(x: plotArea.midX, y: plotArea.minY - Self.titlePadding - metrics.descent(.title)),
            alignment: .middle, role: .title)
        xLabel = chart.xLabel.isEmpty ? nil : PlacedText(
            string: chart.xLabel,
            origin: Point(x: plotArea.midX,
                          y: plotArea.maxY + xTickBlock + Self.axisLabelPadding + metrics.ascent(.axisLabel)),
            alignment: .middle, role: .axisLabel)
        yLabel = chart.yLabel.isEmpty ? nil : PlacedText(
            string: chart.yLabel,
            origin: Point(x: edge + metrics.ascent(.axisLabel), y: plotArea.midY),
            alignment: .middle, role: .axisLabel, isVertical: true)

        // Reference lines and series, clipped to the axis ranges.
        referenceLines = chart.referenceLines.compactMap { line in
            guard line.y.isFinite, yRange.contains(line.y) else { return nil }
            let width = max(0, line.width)
            return PlacedReferenceLine(
                y: transform.y(line.y),
                stroke: StrokeStyle(color: line.color, width: width,
                                    dashPattern: line.isDashed ? StrokeStyle.dashes(forWidth: width) : []))
        }
        series = chart.series.enumerated().map { index, series in
            Self.place(series, color: series.color ?? RGB.palette(index), transform: transform)
        }

        legend = chart.legendPosition == .none ? nil : Self.placeLegend(
            chart: chart, series: series, position: chart.legendPosition, plotArea: plotArea, metrics: metrics)
    }

    /// The fixed range if usable (a single value is widened), otherwise the range fitted to `extent`.
    static func resolve(fixed: ClosedRange<Double>?, extent: (Double, Double)?) -> ClosedRange<Double> {
        if let fixed, fixed.lowerBound.isFinite, fixed.upperBound.isFinite,
           (fixed.upperBound - fixed.lowerBound).isFinite {
            if fixed.lowerBound < fixed.upperBound { return fixed }
            return AxisTicks.fittedRange(minimum: fixed.lowerBound, maximum: fixed.upperBound)
        }
        return AxisTicks.fittedRange(minimum: extent?.0, maximum: extent?.1)
    }

    /// matplotlib's tick density: at most 9 intervals, fewer on short axes.
    static func clampIntervals(_ raw: Double) -> Int {
        guard raw.isFinite else { return 1 }
        return Int(min(9, max(1, raw.rounded(.down))))
    }

    /// Clips the series to the axis ranges and maps it to chart pixels.
    static func place(_ series: Series, color: RGB, transform: DataTransform) -> PlacedSeries {
        let style = series.style
        let stroke = style.lineWidth.map { width in
            StrokeStyle(color: color, width: width,
                        dashPattern: style.isDashed ? StrokeStyle.dashes(forWidth: width) : [])
        }
        let marker = style.marker.map { MarkerStyle(shape: $0.shape, size: $0.size, color: color) }
        let xs = series.xValues, ys = series.yValues
        let count = min(xs.count, ys.count)

        var runs: [[Point]] = []
        if stroke != nil && count > 1 {
            var run: [Point] = []
            func finishRun() {
                if run.count > 1 { runs.append(run) }
                run = []
            }
            for index in 1..<count {
                let start = (xs[index - 1], ys[index - 1]), end = (xs[index], ys[index])
                guard start.0.isFinite, start.1.isFinite, end.0.isFinite, end.1.isFinite,
                      let clipped = transform.clip(from: start, to: end) else {
                    finishRun()
                    continue
                }
                if run.isEmpty || clipped.startMoved {
                    finishRun()
                    run.append(transform.point(clipped.start))
                }
                run.append(transform.point(clipped.end))
                if clipped.endMoved { finishRun() }
            }
            finishRun()
        }

        var markerCenters: [Point] = []
        if marker != nil {
            for index in 0..<count where transform.contains(xs[index], ys[index]) {
                markerCenters.append(transform.point((xs[index], ys[index])))
            }
        }
        return PlacedSeries(name: series.name, stroke: stroke, runs: runs, marker: marker, markerCenters: markerCenters)
    }

    /// The legend box in the requested corner, with one row per named series and labeled reference line.
    static func placeLegend(chart: LineChart, series: [PlacedSeries], position: LegendPosition,
                            plotArea: Rect, metrics: TextMetrics) -> PlacedLegend? {
        var rows: [(label: String, stroke: StrokeStyle?, marker: MarkerStyle?)] = []
        for placed in series where !placed.name.isEmpty {
            rows.append((placed.name, placed.stroke, placed.marker))
        }
        for line in chart.referenceLines where !line.label.isEmpty {
            let width = max(0, line.width)
            rows.append((line.label, StrokeStyle(color: line.color, width: width,
                                                 dashPattern: line.isDashed ? StrokeStyle.dashes(forWidth: width) : []),
                         nil))
        }
        guard !rows.isEmpty else { return nil }

        let markerHeight = rows.compactMap { $0.marker?.size }.max() ?? 0
        let rowHeight = max(metrics.lineHeight(.legendLabel), markerHeight)
        let textWidth = rows.map { metrics.width(of: $0.label, role: .legendLabel) }.max() ?? 0
        let padding = legendBorderPadding
        let boxWidth = 2 * padding + legendHandleLength + legendHandleTextPadding + textWidth
        let boxHeight = 2 * padding + Double(rows.count) * rowHeight + Double(rows.count - 1) * legendRowSpacing

        let left = plotArea.minX + legendAxesPadding
        let right = plotArea.maxX - legendAxesPadding - boxWidth
        let top = plotArea.minY + legendAxesPadding
        let bottom = plotArea.maxY - legendAxesPadding - boxHeight
        let origin: Point
        switch position {
        case .upperRight: origin = Point(x: right, y: top)
        case .upperLeft: origin = Point(x: left, y: top)
        case .lowerLeft: origin = Point(x: left, y: bottom)
        case .lowerRight: origin = Point(x: right, y: bottom)
        case .none: return nil
        }
        let box = Rect(minX: origin.x.rounded(), minY: origin.y.rounded(), width: boxWidth.rounded(.up),
                       height: boxHeight.rounded(.up))

        let entries = rows.enumerated().map { index, row -> PlacedLegendEntry in
            let centerY = box.minY + padding + rowHeight / 2 + Double(index) * (rowHeight + legendRowSpacing)
            let handleStart = box.minX + padding
            let handleEnd = handleStart + legendHandleLength
            let label = PlacedText(
                string: row.label,
                origin: Point(x: handleEnd + legendHandleTextPadding, y: centerY + metrics.capHeight(.legendLabel) / 2),
                alignment: .start, role: .legendLabel)
            return PlacedLegendEntry(lineStart: Point(x: handleStart, y: centerY),
                                     lineEnd: Point(x: handleEnd, y: centerY),
                                     stroke: row.stroke, marker: row.marker,
                                     markerCenter: Point(x: (handleStart + handleEnd) / 2, y: centerY), label: label)
        }
        return PlacedLegend(box: box, entries: entries)
    }
}

/// Maps data coordinates to chart pixels and clips segments to the axis ranges.
struct DataTransform: Sendable {
    let xRange: ClosedRange<Double>
    let yRange: ClosedRange<Double>
    let plotArea: Rect

    /// Where `value` lies in `range`, as a fraction (0 at the lower bound); halving first keeps ranges as
    /// wide as the whole Double range finite.
    static func fraction(_ value: Double, in range: ClosedRange<Double>) -> Double {
        let fraction = (value / 2 - range.lowerBound / 2) / (range.upperBound / 2 - range.lowerBound / 2)
        return fraction.isFinite ? fraction : 0
    }

    func x(_ value: Double) -> Double {
        plotArea.minX + Self.fraction(value, in: xRange) * plotArea.width
    }

    func y(_ value: Double) -> Double {
        plotArea.maxY - Self.fraction(value, in: yRange) * plotArea.height
    }

    /// The chart position of a data point inside the ranges, kept inside the plot area against rounding.
    func point(_ data: (Double, Double)) -> Point {
        Point(x: min(max(x(data.0), plotArea.minX), plotArea.maxX),
              y: min(max(y(data.1), plotArea.minY), plotArea.maxY))
    }

    /// Whether a data point is finite and inside both ranges.
    func contains(_ x: Double, _ y: Double) -> Bool {
        x.isFinite && y.isFinite && xRange.contains(x) && yRange.contains(y)
    }

    /// The part of the data segment `start`–`end` inside the axis ranges (Liang–Barsky), and whether
    /// each end was moved onto the border; `nil` if the segment lies outside. Works on halved coordinates
    /// so that segments spanning the whole Double range do not overflow.
    func clip(from start: (Double, Double), to end: (Double, Double))
        -> (start: (Double, Double), end: (Double, Double), startMoved: Bool, endMoved: Bool)? {
        let x0 = start.0 / 2, y0 = start.1 / 2
        let dx = end.0 / 2 - x0, dy = end.1 / 2 - y0
        guard x0.isFinite, y0.isFinite, dx.isFinite, dy.isFinite else { return nil }
        var t0 = 0.0, t1 = 1.0
        let boundaries = [(-dx, x0 - xRange.lowerBound / 2), (dx, xRange.upperBound / 2 - x0),
                          (-dy, y0 - yRange.lowerBound / 2), (dy, yRange.upperBound / 2 - y0)]
        for (p, q) in boundaries {
            if p == 0 {
                if q < 0 { return nil }
                continue
            }
            let r = q / p
            if p < 0 {
                if r > t1 { return nil }
                if r > t0 { t0 = r }
            } else {
                if r < t0 { return nil }
                if r < t1 { t1 = r }
            }
        }
        let clippedStart = t0 > 0 ? (2 * (x0 + t0 * dx), 2 * (y0 + t0 * dy)) : start
        let clippedEnd = t1 < 1 ? (2 * (x0 + t1 * dx), 2 * (y0 + t1 * dy)) : end
        return (clippedStart, clippedEnd, t0 > 0, t1 < 1)
    }
}
