// The software rasterizer: draws a chart layout into RGBA pixels. Lines and markers are anti-aliased
// from per-pixel coverage of their shapes (distance to a segment with round or butt caps, discs, boxes)
// collected in a coverage mask per series and composited once, so joins are not drawn twice. Axis frame,
// ticks and grid are snapped to whole pixels to stay crisp; text uses the embedded bitmap fonts at an
// integer magnification.
import Foundation

extension LineChart {
    /// Draws the chart into an RGBA image with the built-in software rasterizer.
    ///
    /// The image is `size.width × scale` by `size.height × scale` pixels (rounded). Lines, markers and the
    /// legend box are anti-aliased; text uses an embedded bitmap font (X11 misc-fixed) magnified by the
    /// scale rounded to a whole number, so integer scales give the best results.
    ///
    /// - Parameter scale: The number of image pixels per chart pixel; must be positive and finite, and
    ///   the image at most 2^28 pixels. The default is 1.
    /// - Returns: An opaque image with a white background.
    public func rasterize(scale: Double = 1) -> RGBAImage {
        precondition(scale.isFinite && scale > 0, "rasterize(scale:) needs a positive finite scale, got \(scale)")
        let layout = ChartLayout(chart: self, metrics: .raster(scale: scale))
        let width = max(1, (layout.width * scale).rounded()), height = max(1, (layout.height * scale).rounded())
        precondition(width * height <= Double(1 << 28), "a \(width)×\(height) image is too large to rasterize")
        var rasterizer = Rasterizer(width: Int(width), height: Int(height), scale: scale)
        rasterizer.draw(layout)
        let canvas = rasterizer.canvas
        return RGBAImage(width: canvas.width, height: canvas.height, pixels: canvas.pixels)
    }
}

/// A rectangle of whole pixels, `x0..<x1` × `y0..<y1`.
struct PixelBounds: Hashable, Sendable {
    var x0: Int
    var y0: Int
    var x1: Int
    var y1: Int

    var isEmpty: Bool { x0 >= x1 || y0 >= y1 }

    func intersection(_ other: PixelBounds) -> PixelBounds {
        PixelBounds(x0: max(x0, other.x0), y0: max(y0, other.y0), x1: min(x1, other.x1), y1: min(y1, other.y1))
    }

    /// The pixels touched by `minX...maxX` × `minY...maxY` (in pixel units) grown by `margin`.
    static func covering(minX: Double, minY: Double, maxX: Double, maxY: Double, margin: Double) -> PixelBounds {
        func clamp(_ value: Double) -> Int { Int(min(max(value, -1e9), 1e9)) }
        return PixelBounds(x0: clamp((minX - margin).rounded(.down)), y0: clamp((minY - margin).rounded(.down)),
                           x1: clamp((maxX + margin).rounded(.up)), y1: clamp((maxY + margin).rounded(.up)))
    }
}

/// The pixels of an image being drawn; every drawing operation composites "over" the current pixels.
struct Canvas {
    let width: Int
    let height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int, background: RGB) {
        self.width = width
        self.height = height
        pixels = RGBAImage(width: width, height: height, color: background).pixels
    }

    var bounds: PixelBounds { PixelBounds(x0: 0, y0: 0, x1: width, y1: height) }

    /// Blends `color` (components 0...255) over the pixel whose red byte is at `index`, with opacity
    /// `alpha` in `0...1`, and makes the pixel opaque.
    @inline(__always)
    static func blend(_ pixels: UnsafeMutableBufferPointer<UInt8>, index: Int, color: (Double, Double, Double),
                      alpha: Double) {
        if alpha >= 1 {
            pixels[index] = UInt8(color.0)
            pixels[index + 1] = UInt8(color.1)
            pixels[index + 2] = UInt8(color.2)
        } else {
            let keep = 1 - alpha
            pixels[index] = UInt8((Double(pixels[index]) * keep + color.0 * alpha).rounded())
            pixels[index + 1] = UInt8((Double(pixels[index + 1]) * keep + color.1 * alpha).rounded())
            pixels[index + 2] = UInt8((Double(pixels[index + 2]) * keep + color.2 * alpha).rounded())
        }
        pixels[index + 3] = 255
    }

    static func components(_ color: RGB) -> (Double, Double, Double) {
        let (red, green, blue) = color.bytes
        return (Double(red), Double(green), Double(blue))
    }

    /// Fills the rectangle `minX..<maxX` × `minY..<maxY` (pixel units, fractional edges anti-aliased).
    mutating func fillRect(minX: Double, minY: Double, maxX: Double, maxY: Double, color: RGB, opacity: Double = 1,
                           clip: PixelBounds? = nil) {
        let area = PixelBounds.covering(minX: minX, minY: minY, maxX: maxX, maxY: maxY, margin: 0)
            .intersection(clip ?? bounds).intersection(bounds)
        guard !area.isEmpty else { return }
        let rgb = Self.components(color)
        let width = self.width
        pixels.withUnsafeMutableBufferPointer { buffer in
            for y in area.y0..<area.y1 {
                let coverY = min(Double(y + 1), maxY) - max(Double(y), minY)
                guard coverY > 0 else { continue }
                for x in area.x0..<area.x1 {
                    let coverX = min(Double(x + 1), maxX) - max(Double(x), minX)
                    guard coverX > 0 else { continue }
                    Self.blend(buffer, index: (y * width + x) * 4, color: rgb, alpha: min(1, coverX * coverY) * opacity)
                }
            }
        }
    }

    /// Fills and/or strokes a rectangle with rounded corners, anti-aliased from its signed distance.
    ///
    /// The rectangle's edges are the centers of the stroke.
    mutating func drawRoundedRect(minX: Double, minY: Double, maxX: Double, maxY: Double, radius: Double,
                                  fill: RGB?, fillOpacity: Double, stroke: RGB?, strokeWidth: Double) {
        let halfStroke = stroke == nil ? 0 : strokeWidth / 2
        let area = PixelBounds.covering(minX: minX, minY: minY, maxX: maxX, maxY: maxY, margin: halfStroke + 1)
            .intersection(bounds)
        guard !area.isEmpty else { return }
        let centerX = (minX + maxX) / 2, centerY = (minY + maxY) / 2
        let halfWidth = (maxX - minX) / 2, halfHeight = (maxY - minY) / 2
        let r = max(0, min(radius, halfWidth, halfHeight))
        let fillRGB = fill.map(Self.components), strokeRGB = stroke.map(Self.components)
        let width = self.width
        pixels.withUnsafeMutableBufferPointer { buffer in
            for y in area.y0..<area.y1 {
                for x in area.x0..<area.x1 {
                    let qx = abs(Double(x) + 0.5 - centerX) - (halfWidth - r)
                    let qy = abs(Double(y) + 0.5 - centerY) - (halfHeight - r)
                    let outside = (max(qx, 0) * max(qx, 0) + max(qy, 0) * max(qy, 0)).squareRoot()
                    let distance = outside + min(max(qx, qy), 0) - r
                    let index = (y * width + x) * 4
                    if let fillRGB {
                        let coverage = min(max(0.5 - distance, 0), 1)
                        if coverage > 0 {
                            Self.blend(buffer, index: index, color: fillRGB, alpha: coverage * fillOpacity)
                        }
                    }
                    if let strokeRGB {
                        let coverage = min(max(halfStroke + 0.5 - abs(distance), 0), 1)
                        if coverage > 0 { Self.blend(buffer, index: index, color: strokeRGB, alpha: coverage) }
                    }
                }
            }
        }
    }
}

/// Coverage (0...1) of the shapes drawn so far over a rectangle of pixels; overlapping shapes take the
/// larger coverage, so a polyline's joins and a series' overlapping markers blend only once.
struct CoverageMask {
    let area: PixelBounds
    private(set) var coverage: [Float]

    init(area: PixelBounds) {
        self.area = area
        coverage = [Float](repeating: 0, count: area.isEmpty ? 0 : (area.x1 - area.x0) * (area.y1 - area.y0))
    }

    /// Adds a segment of half width `halfWidth` from `a` to `b`; each end has a round cap (a half disc)
    /// or a butt cap (cut square at the end point).
    mutating func addSegment(from a: Point, to b: Point, halfWidth: Double, roundStart: Bool, roundEnd: Bool) {
        let reach = halfWidth + 1
        let region = PixelBounds.covering(minX: min(a.x, b.x), minY: min(a.y, b.y), maxX: max(a.x, b.x),
                                          maxY: max(a.y, b.y), margin: reach).intersection(area)
        guard !region.isEmpty else { return }
        let dx = b.x - a.x, dy = b.y - a.y
        let length = (dx * dx + dy * dy).squareRoot()
        if length < 1e-9 {
            if roundStart || roundEnd { addDisc(center: a, radius: halfWidth) }
            return
        }
        let ux = dx / length, uy = dy / length
        let edge = halfWidth + 0.5
        let maskWidth = area.x1 - area.x0
        coverage.withUnsafeMutableBufferPointer { buffer in
            for y in region.y0..<region.y1 {
                let py = Double(y) + 0.5 - a.y
                let rowStart = (y - area.y0) * maskWidth - area.x0
                for x in region.x0..<region.x1 {
                    let px = Double(x) + 0.5 - a.x
                    let along = px * ux + py * uy
                    var value: Double
                    if along < 0 && roundStart {
                        value = edge - (px * px + py * py).squareRoot()
                    } else if along > length && roundEnd {
                        let ex = px - dx, ey = py - dy
                        value = edge - (ex * ex + ey * ey).squareRoot()
                    } else {
                        value = edge - abs(px * uy - py * ux)
                        if value <= 0 { continue }
                        value = min(value, 1)
                        if !roundStart { value *= min(max(along + 0.5, 0), 1) }
                        if !roundEnd { value *= min(max(length - along + 0.5, 0), 1) }
                    }
                    if value <= 0 { continue }
                    let index = rowStart + x
                    let clamped = Float(min(value, 1))
                    if clamped > buffer[index] { buffer[index] = clamped }
                }
            }
        }
    }

    /// Adds a filled disc.
    mutating func addDisc(center: Point, radius: Double) {
        let region = PixelBounds.covering(minX: center.x, minY: center.y, maxX: center.x, maxY: center.y,
                                          margin: radius + 1).intersection(area)
        guard !region.isEmpty else { return }
        let maskWidth = area.x1 - area.x0
        coverage.withUnsafeMutableBufferPointer { buffer in
            for y in region.y0..<region.y1 {
                let py = Double(y) + 0.5 - center.y
                for x in region.x0..<region.x1 {
                    let px = Double(x) + 0.5 - center.x
                    let value = Float(min(max(radius + 0.5 - (px * px + py * py).squareRoot(), 0), 1))
                    let index = (y - area.y0) * maskWidth + (x - area.x0)
                    if value > buffer[index] { buffer[index] = value }
                }
            }
        }
    }

    /// Adds a filled axis-aligned box, with exact area coverage at its edges.
    mutating func addBox(minX: Double, minY: Double, maxX: Double, maxY: Double) {
        let region = PixelBounds.covering(minX: minX, minY: minY, maxX: maxX, maxY: maxY, margin: 0).intersection(area)
        guard !region.isEmpty else { return }
        let maskWidth = area.x1 - area.x0
        coverage.withUnsafeMutableBufferPointer { buffer in
            for y in region.y0..<region.y1 {
                let coverY = min(Double(y + 1), maxY) - max(Double(y), minY)
                guard coverY > 0 else { continue }
                for x in region.x0..<region.x1 {
                    let coverX = min(Double(x + 1), maxX) - max(Double(x), minX)
                    guard coverX > 0 else { continue }
                    let value = Float(min(coverX * coverY, 1))
                    let index = (y - area.y0) * maskWidth + (x - area.x0)
                    if value > buffer[index] { buffer[index] = value }
                }
            }
        }
    }

    /// Blends `color` into `canvas` with the collected coverage as opacity.
    func composite(onto canvas: inout Canvas, color: RGB, opacity: Double = 1) {
        guard !area.isEmpty else { return }
        let rgb = Canvas.components(color)
        let maskWidth = area.x1 - area.x0
        let canvasWidth = canvas.width
        coverage.withUnsafeBufferPointer { mask in
            canvas.pixels.withUnsafeMutableBufferPointer { pixels in
                for y in area.y0..<area.y1 {
                    for x in area.x0..<area.x1 {
                        let value = mask[(y - area.y0) * maskWidth + (x - area.x0)]
                        if value > 0 {
                            Canvas.blend(pixels, index: (y * canvasWidth + x) * 4, color: rgb,
                                         alpha: Double(value) * opacity)
                        }
                    }
                }
            }
        }
    }
}

/// Draws a `ChartLayout` (in chart pixels) onto a canvas at a scale.
struct Rasterizer {
    var canvas: Canvas
    let scale: Double

    init(width: Int, height: Int, scale: Double) {
        canvas = Canvas(width: width, height: height, background: .white)
        self.scale = scale
    }

    /// Magnification of the bitmap font: the scale rounded to a whole number, at least 1.
    var glyphScale: Int { TextMetrics.glyphMagnification(forScale: scale) }

    mutating func draw(_ layout: ChartLayout) {
        let plot = layout.plotArea
        let plotPixels = PixelBounds(x0: Int((plot.minX * scale).rounded()), y0: Int((plot.minY * scale).rounded()),
                                     x1: Int((plot.maxX * scale).rounded()), y1: Int((plot.maxY * scale).rounded()))
            .intersection(canvas.bounds)

        if layout.showsGrid {
            for tick in layout.xTicks {
                crispVertical(x: tick.position, from: plot.minY, to: plot.maxY, width: ChartLayout.gridWidth,
                              color: ChartLayout.gridColor)
            }
            for tick in layout.yTicks {
                crispHorizontal(y: tick.position, from: plot.minX, to: plot.maxX, width: ChartLayout.gridWidth,
                                color: ChartLayout.gridColor)
            }
        }

        for reference in layout.referenceLines {
            strokePolyline([Point(x: plot.minX, y: reference.y), Point(x: plot.maxX, y: reference.y)],
                           stroke: reference.stroke, clip: plotPixels)
        }
        for series in layout.series {
            if let stroke = series.stroke {
                for run in series.runs { strokePolyline(run, stroke: stroke, clip: plotPixels) }
            }
            if let marker = series.marker { drawMarkers(marker, at: series.markerCenters, clip: plotPixels) }
        }

        drawFrameAndTicks(layout)
        for tick in layout.xTicks { drawText(tick.label) }
        for tick in layout.yTicks { drawText(tick.label) }
        for text in [layout.title, layout.xLabel, layout.yLabel].compactMap({ $0 }) { drawText(text) }
        if let legend = layout.legend { drawLegend(legend) }
    }

    // MARK: Crisp axis lines

    /// The pixel-space center of a crisp line of `pixelWidth` whole pixels near `coordinate` (pixel units):
    /// a pixel center for odd widths, a pixel edge for even ones.
    static func snap(_ coordinate: Double, pixelWidth: Int) -> Double {
        pixelWidth % 2 == 1 ? coordinate.rounded(.down) + 0.5 : coordinate.rounded()
    }

    private func crispWidth(_ width: Double) -> Int { max(1, Int((width * scale).rounded())) }

    /// A vertical line at chart x `x` from chart y `from` to `to`, snapped to whole pixels.
    private mutating func crispVertical(x: Double, from top: Double, to bottom: Double, width: Double, color: RGB) {
        let pixelWidth = crispWidth(width)
        let center = Self.snap(x * scale, pixelWidth: pixelWidth)
        let half = Double(pixelWidth) / 2
        canvas.fillRect(minX: center - half, minY: (top * scale).rounded(), maxX: center + half,
                        maxY: (bottom * scale).rounded(), color: color)
    }

    /// A horizontal line at chart y `y` from chart x `from` to `to`, snapped to whole pixels.
    private mutating func crispHorizontal(y: Double, from left: Double, to right: Double, width: Double, color: RGB) {
        let pixelWidth = crispWidth(width)
        let center = Self.snap(y * scale, pixelWidth: pixelWidth)
        let half = Double(pixelWidth) / 2
        canvas.fillRect(minX: (left * scale).rounded(), minY: center - half, maxX: (right * scale).rounded(),
                        maxY: center + half, color: color)
    }

    private mutating func drawFrameAndTicks(_ layout: ChartLayout) {
        let plot = layout.plotArea
        let pixelWidth = crispWidth(ChartLayout.frameWidth)
        let half = Double(pixelWidth) / 2
        let left = Self.snap(plot.minX * scale, pixelWidth: pixelWidth)
        let right = Self.snap(plot.maxX * scale, pixelWidth: pixelWidth)
        let top = Self.snap(plot.minY * scale, pixelWidth: pixelWidth)
        let bottom = Self.snap(plot.maxY * scale, pixelWidth: pixelWidth)
        let color = ChartLayout.frameColor
        canvas.fillRect(minX: left - half, minY: top - half, maxX: right + half, maxY: top + half, color: color)
        canvas.fillRect(minX: left - half, minY: bottom - half, maxX: right + half, maxY: bottom + half, color: color)
        canvas.fillRect(minX: left - half, minY: top - half, maxX: left + half, maxY: bottom + half, color: color)
        canvas.fillRect(minX: right - half, minY: top - half, maxX: right + half, maxY: bottom + half, color: color)

        let tickLength = (ChartLayout.tickLength * scale).rounded()
        for tick in layout.xTicks {
            let x = Self.snap(tick.position * scale, pixelWidth: pixelWidth)
            canvas.fillRect(minX: x - half, minY: bottom + half, maxX: x + half, maxY: bottom + half + tickLength,
                            color: color)
        }
        for tick in layout.yTicks {
            let y = Self.snap(tick.position * scale, pixelWidth: pixelWidth)
            canvas.fillRect(minX: left - half - tickLength, minY: y - half, maxX: left - half, maxY: y + half,
                            color: color)
        }
    }

    // MARK: Lines and markers

    /// Strokes a polyline given in chart pixels: solid lines get round caps and joins; dashed lines are cut
    /// into dashes with butt ends.
    mutating func strokePolyline(_ points: [Point], stroke: StrokeStyle, clip: PixelBounds) {
        guard points.count > 1, stroke.width > 0 else { return }
        let scaled = points.map { Point(x: $0.x * scale, y: $0.y * scale) }
        let halfWidth = stroke.width * scale / 2
        let xs = scaled.map(\.x), ys = scaled.map(\.y)
        let area = PixelBounds.covering(minX: xs.min()!, minY: ys.min()!, maxX: xs.max()!, maxY: ys.max()!,
                                        margin: halfWidth + 1).intersection(clip).intersection(canvas.bounds)
        guard !area.isEmpty else { return }
        var mask = CoverageMask(area: area)
        if stroke.dashPattern.isEmpty {
            for (a, b) in zip(scaled, scaled.dropFirst()) {
                mask.addSegment(from: a, to: b, halfWidth: halfWidth, roundStart: true, roundEnd: true)
            }
        } else {
            let pattern = stroke.dashPattern.map { max($0 * scale, 0.5) }
            for dash in Self.dashes(along: scaled, pattern: pattern) {
                let last = dash.count - 2
                for (index, (a, b)) in zip(dash, dash.dropFirst()).enumerated() {
                    mask.addSegment(from: a, to: b, halfWidth: halfWidth, roundStart: index > 0, roundEnd: index < last)
                }
            }
        }
        mask.composite(onto: &canvas, color: stroke.color)
    }

    /// The "on" pieces of a dash pattern (alternating on and off lengths, starting with on) laid along
    /// a polyline; each piece is a polyline of at least two points.
    static func dashes(along points: [Point], pattern: [Double]) -> [[Point]] {
        guard points.count > 1, !pattern.isEmpty, pattern.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            return points.count > 1 ? [points] : []
        }
        var pieces: [[Point]] = []
        var patternIndex = 0
        var remaining = pattern[0]
        var isOn = true
        var current: [Point] = [points[0]]
        for (a, b) in zip(points, points.dropFirst()) {
            let dx = b.x - a.x, dy = b.y - a.y
            let length = (dx * dx + dy * dy).squareRoot()
            var travelled = 0.0
            while length - travelled > remaining {
                travelled += remaining
                let split = Point(x: a.x + dx * travelled / length, y: a.y + dy * travelled / length)
                if isOn {
                    current.append(split)
                    if current.count > 1 { pieces.append(current) }
                    current = []
                } else {
                    current = [split]
                }
                isOn.toggle()
                patternIndex = (patternIndex + 1) % pattern.count
                remaining = pattern[patternIndex]
            }
            remaining -= length - travelled
            if isOn { current.append(b) }
        }
        if isOn && current.count > 1 { pieces.append(current) }
        return pieces
    }

    /// Draws one series' markers (centers in chart pixels).
    mutating func drawMarkers(_ marker: MarkerStyle, at centers: [Point], clip: PixelBounds) {
        guard !centers.isEmpty, marker.size > 0 else { return }
        let half = marker.size * scale / 2
        let strokeHalf = marker.strokeWidth * scale / 2
        let scaled = centers.map { Point(x: $0.x * scale, y: $0.y * scale) }
        let xs = scaled.map(\.x), ys = scaled.map(\.y)
        let area = PixelBounds.covering(minX: xs.min()!, minY: ys.min()!, maxX: xs.max()!, maxY: ys.max()!,
                                        margin: half + strokeHalf + 1).intersection(clip).intersection(canvas.bounds)
        guard !area.isEmpty else { return }
        var mask = CoverageMask(area: area)
        for center in scaled {
            let x = center.x, y = center.y
            switch marker.shape {
            case .circle:
                mask.addDisc(center: center, radius: half)
            case .square:
                let side = SVGWriter.squareSide(marker.size) * scale / 2
                mask.addBox(minX: x - side, minY: y - side, maxX: x + side, maxY: y + side)
            case .cross:
                mask.addSegment(from: Point(x: x - half, y: y - half), to: Point(x: x + half, y: y + half),
                                halfWidth: strokeHalf, roundStart: false, roundEnd: false)
                mask.addSegment(from: Point(x: x - half, y: y + half), to: Point(x: x + half, y: y - half),
                                halfWidth: strokeHalf, roundStart: false, roundEnd: false)
            case .plus:
                mask.addSegment(from: Point(x: x - half, y: y), to: Point(x: x + half, y: y),
                                halfWidth: strokeHalf, roundStart: false, roundEnd: false)
                mask.addSegment(from: Point(x: x, y: y - half), to: Point(x: x, y: y + half),
                                halfWidth: strokeHalf, roundStart: false, roundEnd: false)
            }
        }
        mask.composite(onto: &canvas, color: marker.color)
    }

    // MARK: Legend

    private mutating func drawLegend(_ legend: PlacedLegend) {
        let box = legend.box
        let strokePixels = crispWidth(1)
        canvas.drawRoundedRect(
            minX: Self.snap(box.minX * scale, pixelWidth: strokePixels),
            minY: Self.snap(box.minY * scale, pixelWidth: strokePixels),
            maxX: Self.snap(box.maxX * scale, pixelWidth: strokePixels),
            maxY: Self.snap(box.maxY * scale, pixelWidth: strokePixels),
            radius: ChartLayout.legendCornerRadius * scale,
            fill: .white, fillOpacity: ChartLayout.legendFillOpacity,
            stroke: ChartLayout.legendEdgeColor, strokeWidth: Double(strokePixels))
        for entry in legend.entries {
            if let stroke = entry.stroke {
                strokePolyline([entry.lineStart, entry.lineEnd], stroke: stroke, clip: canvas.bounds)
            }
            if let marker = entry.marker {
                drawMarkers(marker, at: [entry.markerCenter], clip: canvas.bounds)
            }
            drawText(entry.label)
        }
    }

    // MARK: Text

    /// Draws text with the role's bitmap font, magnified by `glyphScale`, horizontal or rotated 90°
    /// counterclockwise.
    mutating func drawText(_ text: PlacedText, color: RGB = ChartLayout.textColor) {
        let font = TextMetrics.bitmapFont(for: text.role)
        let magnification = glyphScale
        let characters = Array(text.string)
        guard !characters.isEmpty else { return }
        let advance = font.glyphWidth * magnification
        let totalWidth = characters.count * advance
        let start: Int
        switch text.alignment {
        case .start: start = 0
        case .middle: start = -totalWidth / 2
        case .end: start = -totalWidth
        }
        let originX = Int((text.origin.x * scale).rounded())
        let originY = Int((text.origin.y * scale).rounded())
        let rgb = Canvas.components(color)
        let width = canvas.width, height = canvas.height
        let rows = font.rows
        canvas.pixels.withUnsafeMutableBufferPointer { buffer in
            for (position, character) in characters.enumerated() {
                let glyphStart = BitmapFont.glyphIndex(for: character) * font.glyphHeight
                for row in 0..<font.glyphHeight {
                    let bits = rows[glyphStart + row]
                    guard bits != 0 else { continue }
                    let across = (row - font.ascent) * magnification
                    for column in 0..<font.glyphWidth where bits & (0x8000 >> UInt16(column)) != 0 {
                        let along = start + position * advance + column * magnification
                        for i in 0..<magnification {
                            for j in 0..<magnification {
                                let x: Int, y: Int
                                if text.isVertical {
                                    x = originX + across + j
                                    y = originY - (along + i) - 1
                                } else {
                                    x = originX + along + i
                                    y = originY + across + j
                                }
                                guard x >= 0, x < width, y >= 0, y < height else { continue }
                                Canvas.blend(buffer, index: (y * width + x) * 4, color: rgb, alpha: 1)
                            }
                        }
                    }
                }
            }
        }
    }
}
