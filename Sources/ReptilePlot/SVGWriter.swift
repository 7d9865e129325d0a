// SVG output: a standalone SVG 1.1 document drawn from the chart layout, with text as <text> elements in
// a sans-serif font, lines as <polyline>s, markers as <path>s and the series clipped to the plot area.

import Foundation

extension LineChart {
    /// The chart as a standalone SVG 1.1 document.
    ///
    /// The document has `width`, `height` and a `viewBox` of the chart's ``size``, draws text as `<text>`
    /// elements in a sans-serif font family, and each series as a group (`<g id="series-N">` with the
    /// series name as its `<title>`) holding a `<polyline>` per connected piece of its line and one
    /// `<path>` for its markers, all inside a group clipped to the plot area (the coordinates themselves
    /// are also clipped). Strings are XML-escaped and numbers printed with at most two decimals, so the
    /// same chart always gives the same text.
    ///
    /// - Returns: The SVG document, starting with an XML declaration.
    public func svg() -> String {
        SVGWriter(layout: ChartLayout(chart: self, metrics: .sansSerif)).document()
    }
}

/// Writes one chart layout as SVG text.
struct SVGWriter {
    let layout: ChartLayout
    private var output = ""

    init(layout: ChartLayout) {
        self.layout = layout
    }

    static let fontFamily = "DejaVu Sans, Bitstream Vera Sans, Helvetica, Arial, sans-serif"
    static let clipPathID = "plot-area"

    func document() -> String {
        var writer = self
        writer.writeDocument()
        return writer.output
    }

    private mutating func writeDocument() {
        let width = Self.number(layout.width), height = Self.number(layout.height)
        let plot = layout.plotArea
        line(#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>"#)
        line(#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\#(width)" height="\#(height)" "#
             + #"viewBox="0 0 \#(width) \#(height)" font-family="\#(Self.fontFamily)">"#)
        line("<defs>")
        line(#"<clipPath id="\#(Self.clipPathID)">\#(rect(plot))</clipPath>"#)
        line("</defs>")
        line(#"<rect id="background" x="0" y="0" width="\#(width)" height="\#(height)" "#
             + #"fill="\#(RGB.white.hexString)"/>"#)

        if layout.showsGrid { writeGrid() }
        writeReferenceLines()
        writeSeries()
        writeAxes()
        writeLegend()
        line("</svg>")
    }

    private mutating func writeGrid() {
        let plot = layout.plotArea
        var path = ""
        for tick in layout.xTicks {
            path += "M\(Self.number(tick.position)) \(Self.number(plot.minY))V\(Self.number(plot.maxY))"
        }
        for tick in layout.yTicks {
            path += "M\(Self.number(plot.minX)) \(Self.number(tick.position))H\(Self.number(plot.maxX))"
        }
        guard !path.isEmpty else { return }
        line(#"<path id="grid" d="\#(path)" fill="none" stroke="\#(ChartLayout.gridColor.hexString)" "#
             + #"stroke-width="\#(Self.number(ChartLayout.gridWidth))" shape-rendering="crispEdges"/>"#)
    }

    private mutating func writeReferenceLines() {
        guard !layout.referenceLines.isEmpty else { return }
        let plot = layout.plotArea
        line(#"<g id="reference-lines" clip-path="url(#\#(Self.clipPathID))" fill="none">"#)
        for reference in layout.referenceLines where reference.stroke.width > 0 {
            let points = [Point(x: plot.minX, y: reference.y), Point(x: plot.maxX, y: reference.y)]
            line(#"<polyline points="\#(Self.points(points))"\#(strokeAttributes(reference.stroke, cap: "butt"))/>"#)
        }
        line("</g>")
    }

    private mutating func writeSeries() {
        line(#"<g id="series" clip-path="url(#\#(Self.clipPathID))">"#)
        for (index, series) in layout.series.enumerated() {
            line(#"<g id="series-\#(index)" class="series">"#)
            if !series.name.isEmpty { line("<title>\(Self.escaped(series.name))</title>") }
            if let stroke = series.stroke, stroke.width > 0 {
                let cap = stroke.dashPattern.isEmpty ? "round" : "butt"
                for run in series.runs {
                    line(#"<polyline points="\#(Self.points(run))" fill="none""#
                         + #"\#(strokeAttributes(stroke, cap: cap))/>"#)
                }
            }
            if let marker = series.marker, !series.markerCenters.isEmpty, marker.size > 0 {
                line(markerPath(marker, centers: series.markerCenters))
            }
            line("</g>")
        }
        line("</g>")
    }

    private mutating func writeAxes() {
        let plot = layout.plotArea
        let black = ChartLayout.frameColor.hexString
        line(#"<g id="axes">"#)
        line(#"<rect id="frame" x="\#(Self.number(plot.minX))" y="\#(Self.number(plot.minY))" "#
             + #"width="\#(Self.number(plot.width))" height="\#(Self.number(plot.height))" fill="none" "#
             + #"stroke="\#(black)" stroke-width="\#(Self.number(ChartLayout.frameWidth))" "#
             + #"shape-rendering="crispEdges"/>"#)
        var ticks = ""
        for tick in layout.xTicks {
            ticks += "M\(Self.number(tick.position)) \(Self.number(plot.maxY))v\(Self.number(ChartLayout.tickLength))"
        }
        for tick in layout.yTicks {
            ticks += "M\(Self.number(plot.minX)) \(Self.number(tick.position))h\(Self.number(-ChartLayout.tickLength))"
        }
        if !ticks.isEmpty {
            line(#"<path id="ticks" d="\#(ticks)" fill="none" stroke="\#(black)" "#
                 + #"stroke-width="\#(Self.number(ChartLayout.frameWidth))" shape-rendering="crispEdges"/>"#)
        }
        if !layout.xTicks.isEmpty {
            line(#"<g id="x-tick-labels">"#)
            for tick in layout.xTicks { line(text(tick.label)) }
            line("</g>")
        }
        if !layout.yTicks.isEmpty {
            line(#"<g id="y-tick-labels">"#)
            for tick in layout.yTicks { line(text(tick.label)) }
            line("</g>")
        }
        line("</g>")
        if let title = layout.title { line(text(title, id: "title")) }
        if let xLabel = layout.xLabel { line(text(xLabel, id: "x-label")) }
        if let yLabel = layout.yLabel { line(text(yLabel, id: "y-label")) }
    }

    private mutating func writeLegend() {
        guard let legend = layout.legend else { return }
        let box = legend.box
        line(#"<g id="legend">"#)
        line(#"<rect x="\#(Self.number(box.minX))" y="\#(Self.number(box.minY))" width="\#(Self.number(box.width))" "#
             + #"height="\#(Self.number(box.height))" rx="\#(Self.number(ChartLayout.legendCornerRadius))" "#
             + #"fill="\#(RGB.white.hexString)" fill-opacity="\#(Self.number(ChartLayout.legendFillOpacity))" "#
             + #"stroke="\#(ChartLayout.legendEdgeColor.hexString)" stroke-width="1"/>"#)
        for entry in legend.entries {
            if let stroke = entry.stroke, stroke.width > 0 {
                let cap = stroke.dashPattern.isEmpty ? "round" : "butt"
                line(#"<line x1="\#(Self.number(entry.lineStart.x))" y1="\#(Self.number(entry.lineStart.y))" "#
                     + #"x2="\#(Self.number(entry.lineEnd.x))" y2="\#(Self.number(entry.lineEnd.y))""#
                     + #"\#(strokeAttributes(stroke, cap: cap))/>"#)
            }
            if let marker = entry.marker, marker.size > 0 {
                line(markerPath(marker, centers: [entry.markerCenter]))
            }
            line(text(entry.label))
        }
        line("</g>")
    }

    // MARK: Elements

    private func rect(_ rect: Rect) -> String {
        #"<rect x="\#(Self.number(rect.minX))" y="\#(Self.number(rect.minY))" "#
            + #"width="\#(Self.number(rect.width))" height="\#(Self.number(rect.height))"/>"#
    }

    private func strokeAttributes(_ stroke: StrokeStyle, cap: String) -> String {
        var attributes = #" stroke="\#(stroke.color.hexString)" stroke-width="\#(Self.number(stroke.width))""#
            + #" stroke-linecap="\#(cap)" stroke-linejoin="round""#
        if !stroke.dashPattern.isEmpty {
            attributes += #" stroke-dasharray="\#(stroke.dashPattern.map(Self.number).joined(separator: " "))""#
        }
        return attributes
    }

    private func markerPath(_ marker: MarkerStyle, centers: [Point]) -> String {
        let half = marker.size / 2
        var d = ""
        for center in centers {
            let x = center.x, y = center.y
            switch marker.shape {
            case .circle:
                let r = Self.number(half)
                d += "M\(Self.number(x - half)) \(Self.number(y))a\(r) \(r) 0 1 0 \(Self.number(marker.size)) 0"
                    + "a\(r) \(r) 0 1 0 \(Self.number(-marker.size)) 0Z"
            case .square:
                let side = Self.squareSide(marker.size)
                d += "M\(Self.number(x - side / 2)) \(Self.number(y - side / 2))h\(Self.number(side))"
                    + "v\(Self.number(side))h\(Self.number(-side))Z"
            case .cross:
                let arm = half
                d += "M\(Self.number(x - arm)) \(Self.number(y - arm))L\(Self.number(x + arm)) \(Self.number(y + arm))"
                    + "M\(Self.number(x - arm)) \(Self.number(y + arm))L\(Self.number(x + arm)) \(Self.number(y - arm))"
            case .plus:
                d += "M\(Self.number(x - half)) \(Self.number(y))H\(Self.number(x + half))"
                    + "M\(Self.number(x)) \(Self.number(y - half))V\(Self.number(y + half))"
            }
        }
        let color = marker.color.hexString
        switch marker.shape {
        case .circle, .square:
            return #"<path class="markers" d="\#(d)" fill="\#(color)" stroke="none"/>"#
        case .cross, .plus:
            return #"<path class="markers" d="\#(d)" fill="none" stroke="\#(color)" "#
                + #"stroke-width="\#(Self.number(marker.strokeWidth))" stroke-linecap="butt"/>"#
        }
    }

    /// The side of a square marker of nominal size `size`: a little smaller, so that squares and
    /// circles of the same size look equally heavy (as in matplotlib).
    static func squareSide(_ size: Double) -> Double { size * 0.85 }

    private func text(_ text: PlacedText, id: String? = nil) -> String {
        let anchor: String
        switch text.alignment {
        case .start: anchor = "start"
        case .middle: anchor = "middle"
        case .end: anchor = "end"
        }
        let x = Self.number(text.origin.x), y = Self.number(text.origin.y)
        var attributes = id.map { #" id="\#($0)""# } ?? ""
        let fontSize = Self.number(TextMetrics.sansSerifFontSize(for: text.role))
        attributes += #" x="\#(x)" y="\#(y)" font-size="\#(fontSize)""#
        attributes += #" text-anchor="\#(anchor)" fill="\#(ChartLayout.textColor.hexString)""#
        if text.isVertical { attributes += #" transform="rotate(-90 \#(x) \#(y))""# }
        return "<text\(attributes)>\(Self.escaped(text.string))</text>"
    }

    private mutating func line(_ text: String) {
        output += text
        output += "\n"
    }

    // MARK: Formatting

    /// `value` rounded to two decimals without trailing zeros (`12`, `-3.5`, `0.25`); 0 for non-finite values.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let hundredths = (value * 100).rounded()
        guard abs(hundredths) < 9e15 else { return String(format: "%.0f", value) }
        let scaled = Int64(hundredths)
        if scaled == 0 { return "0" }
        let magnitude = scaled.magnitude
        var text = scaled < 0 ? "-" : ""
        text += String(magnitude / 100)
        let fraction = magnitude % 100
        if fraction != 0 {
            text += fraction % 10 == 0 ? ".\(fraction / 10)" : (fraction < 10 ? ".0\(fraction)" : ".\(fraction)")
        }
        return text
    }

    /// Points as `x,y x,y …`, leaving out points that print the same as the one before.
    static func points(_ points: [Point]) -> String {
        var text = ""
        var previous = ""
        for point in points {
            let pair = number(point.x) + "," + number(point.y)
            if pair == previous { continue }
            if !text.isEmpty { text += " " }
            text += pair
            previous = pair
        }
        return text
    }

    /// `text` with `&`, `<`, `>`, `"` and `'` escaped, and characters XML 1.0 forbids replaced by U+FFFD.
    static func escaped(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            case "\t", "\n", "\r": result.unicodeScalars.append(scalar)
            default:
                let value = scalar.value
                let allowed = value >= 0x20 && !(0xFFFE...0xFFFF).contains(value)
                result.unicodeScalars.append(allowed ? scalar : "\u{FFFD}")
            }
        }
        return result
    }
}
