import Foundation
import ReptileFormats
import Testing
@testable import ReptilePlot

/// Counts pixels in a rectangle (half-open) that satisfy `predicate`.
func countPixels(_ image: RGBAImage, x: Range<Int>, y: Range<Int>,
                 where predicate: ((red: UInt8, green: UInt8, blue: UInt8, alpha: UInt8)) -> Bool) -> Int {
    var count = 0
    for row in y.clamped(to: 0..<image.height) {
        for column in x.clamped(to: 0..<image.width) where predicate(image.pixel(x: column, y: row)) {
            count += 1
        }
    }
    return count
}

func isRedDominant(_ p: (red: UInt8, green: UInt8, blue: UInt8, alpha: UInt8)) -> Bool {
    Int(p.red) > 200 && Int(p.green) < 80 && Int(p.blue) < 80
}

func isDark(_ p: (red: UInt8, green: UInt8, blue: UInt8, alpha: UInt8)) -> Bool {
    Int(p.red) + Int(p.green) + Int(p.blue) < 300
}

func isWhite(_ p: (red: UInt8, green: UInt8, blue: UInt8, alpha: UInt8)) -> Bool {
    p.red == 255 && p.green == 255 && p.blue == 255 && p.alpha == 255
}

/// A 200 × 150 chart with a red horizontal line of width 2 at y = 5 of 0...10, and no text or legend.
func redLineChart() -> LineChart {
    LineChart(xRange: 0...10, yRange: 0...10, size: ChartSize(width: 200, height: 150), legendPosition: .none,
              series: [Series(name: "red", x: [0, 10], y: [5, 5], color: .red, style: .line(width: 2))])
}

@Suite("Rasterizer")
struct RasterTests {
    @Test func backgroundIsWhiteAndOpaque() {
        let image = LineChart(size: ChartSize(width: 120, height: 90)).rasterize()
        #expect(image.width == 120 && image.height == 90)
        #expect(image.pixels.count == 120 * 90 * 4)
        #expect(isWhite(image.pixel(x: 0, y: 0)))
        #expect(isWhite(image.pixel(x: 119, y: 89)))
        #expect(stride(from: 3, to: image.pixels.count, by: 4).allSatisfy { image.pixels[$0] == 255 })
    }

    @Test func horizontalRedLineCoversItsRowsOnly() throws {
        let chart = redLineChart()
        let layout = ChartLayout(chart: chart, metrics: .raster(scale: 1))
        let plot = layout.plotArea
        let lineY = plot.maxY - 0.5 * plot.height  // chart y of the data value 5
        let image = chart.rasterize()
        let columns = Int(plot.minX) + 3..<Int(plot.maxX) - 3
        // The two pixel rows the width-2 line covers.
        let rows = Int((lineY - 1).rounded(.down))..<Int((lineY + 1).rounded(.up))
        let red = countPixels(image, x: columns, y: rows, where: isRedDominant)
        #expect(red >= columns.count)  // at least one full row of red
        for row in rows {
            #expect(countPixels(image, x: columns, y: row..<row + 1, where: isRedDominant) == columns.count)
        }
        // Nothing red more than 3 pixels away from the line.
        let reddish = { (p: (red: UInt8, green: UInt8, blue: UInt8, alpha: UInt8)) in Int(p.red) > Int(p.blue) + 20 }
        let above = countPixels(image, x: 0..<image.width, y: 0..<Int(lineY) - 3, where: reddish)
        let below = countPixels(image, x: 0..<image.width, y: Int(lineY) + 4..<image.height, where: reddish)
        #expect(above == 0 && below == 0)
        // The line stops at the plot area's frame.
        #expect(countPixels(image, x: 0..<Int(plot.minX) - 1, y: rows, where: isRedDominant) == 0)
    }

    @Test func scaleMultipliesThePixelSize() {
        let image = redLineChart().rasterize(scale: 2)
        #expect(image.width == 400 && image.height == 300)
        let layout = ChartLayout(chart: redLineChart(), metrics: .raster(scale: 1))
        let lineY = Int(((layout.plotArea.maxY - 0.5 * layout.plotArea.height) * 2).rounded())
        let columns = Int(layout.plotArea.minX * 2) + 6..<Int(layout.plotArea.maxX * 2) - 6
        #expect(countPixels(image, x: columns, y: lineY - 2..<lineY + 2, where: isRedDominant) == 4 * columns.count)
        #expect(LineChart(size: ChartSize(width: 10, height: 10)).rasterize(scale: 0.25).width == 3)
    }

    @Test func linesAreAntiAliased() {
        var chart = redLineChart()
        chart.series[0].yValues = [0, 10]  // a diagonal
        let image = chart.rasterize()
        let partial = countPixels(image, x: 0..<image.width, y: 0..<image.height) {
            $0.red == 255 && $0.green > 40 && $0.green < 215 && $0.green == $0.blue
        }
        #expect(partial > 50)
    }

    @Test func textRendersDarkPixelsInsideItsBox() throws {
        let chart = LineChart(title: "HELLO", yLabel: "accuracy", size: ChartSize(width: 240, height: 180))
        let layout = ChartLayout(chart: chart, metrics: .raster(scale: 1))
        let image = chart.rasterize()

        let title = try #require(layout.title)
        let font = TextMetrics.bitmapFont(for: .title)
        let width = 5 * font.glyphWidth
        let left = Int(title.origin.x) - width / 2, baseline = Int(title.origin.y)
        let inside = countPixels(image, x: left..<left + width, y: baseline - font.ascent..<baseline + font.descent,
                                 where: isDark)
        #expect(inside > 20)
        // Nothing dark between the title and the left edge on those rows.
        #expect(countPixels(image, x: 0..<left - 1, y: baseline - font.ascent..<baseline, where: isDark) == 0)

        // The rotated y label: a tall, narrow box left of the tick labels.
        let yLabel = try #require(layout.yLabel)
        let labelFont = TextMetrics.bitmapFont(for: .axisLabel)
        let length = 8 * labelFont.glyphWidth
        let x = Int(yLabel.origin.x), y = Int(yLabel.origin.y)
        let vertical = countPixels(image, x: x - labelFont.ascent..<x + labelFont.descent,
                                   y: y - length / 2..<y + length / 2, where: isDark)
        #expect(vertical > 30)
        #expect(countPixels(image, x: x - labelFont.ascent..<x + labelFont.descent, y: 0..<y - length / 2 - 2,
                            where: isDark) == 0)
    }

    @Test func markersAreDrawnAtTheirPoints() {
        let chart = LineChart(xRange: 0...10, yRange: 0...10, size: ChartSize(width: 200, height: 150),
                              legendPosition: .none,
                              series: [Series(name: "m", x: [5], y: [5], color: .blue,
                                              style: .markers(.circle, size: 10))])
        let layout = ChartLayout(chart: chart, metrics: .raster(scale: 1))
        let center = layout.series[0].markerCenters[0]
        let image = chart.rasterize()
        let x = Int(center.x), y = Int(center.y)
        let blue = countPixels(image, x: x - 6..<x + 7, y: y - 6..<y + 7) {
            $0.blue > 200 && $0.red < 60
        }
        #expect(blue > 50 && blue < 100)  // about π · 5²
        let pixel = image.pixel(x: x, y: y)
        #expect(pixel.blue == 255 && pixel.red == 0)
    }

    @Test func legendBoxAndEntriesAreDrawn() throws {
        var chart = redLineChart()
        chart.legendPosition = .upperLeft
        let layout = ChartLayout(chart: chart, metrics: .raster(scale: 1))
        let box = try #require(layout.legend?.box)
        let image = chart.rasterize()
        let region = (x: Int(box.minX)..<Int(box.maxX), y: Int(box.minY)..<Int(box.maxY))
        #expect(countPixels(image, x: region.x, y: region.y, where: isRedDominant) > 20)  // the line sample
        #expect(countPixels(image, x: region.x, y: region.y, where: isDark) > 10)  // the label
        #expect(countPixels(image, x: region.x, y: region.y) { $0.red == 204 && $0.green == 204 } > 20)  // the frame
    }

    @Test func dashesFollowThePattern() {
        let points = [Point(x: 0, y: 0), Point(x: 10, y: 0), Point(x: 10, y: 10)]
        let dashes = Rasterizer.dashes(along: points, pattern: [4, 2])
        // On 0-4, 6-10 (ending at the corner), 12-16, 18-20 along the path.
        #expect(dashes.count == 4)
        #expect(dashes[0] == [Point(x: 0, y: 0), Point(x: 4, y: 0)])
        #expect(dashes[1] == [Point(x: 6, y: 0), Point(x: 10, y: 0), Point(x: 10, y: 0)])
        #expect(dashes[2] == [Point(x: 10, y: 2), Point(x: 10, y: 6)])
        #expect(dashes[3] == [Point(x: 10, y: 8), Point(x: 10, y: 10)])
        #expect(Rasterizer.dashes(along: points, pattern: []) == [points])
    }

    @Test func dashedLinesLeaveGaps() {
        var chart = redLineChart()
        chart.series[0].style = .dashed(width: 2)
        let layout = ChartLayout(chart: chart, metrics: .raster(scale: 1))
        let lineY = Int(layout.plotArea.maxY - 0.5 * layout.plotArea.height)
        let image = chart.rasterize()
        let columns = Int(layout.plotArea.minX) + 1..<Int(layout.plotArea.maxX) - 1
        let red = countPixels(image, x: columns, y: lineY - 1..<lineY + 1, where: isRedDominant)
        // 7.4 on, 3.2 off: about 70% of the pixels.
        #expect(Double(red) > 0.55 * Double(2 * columns.count))
        #expect(Double(red) < 0.8 * Double(2 * columns.count))
    }

    @Test func rasterOutputIsDeterministic() {
        #expect(redLineChart().rasterize() == redLineChart().rasterize())
    }

    @Test func nonASCIITextDrawsPlaceholderGlyphs() {
        #expect(BitmapFont.glyphIndex(for: "A") == 33)
        #expect(BitmapFont.glyphIndex(for: "é") == BitmapFont.glyphIndex(for: "?"))
        #expect(TextMetrics.raster(scale: 1).width(of: "αβγ", role: .tickLabel) == 21)
        #expect(BitmapFont.fixed7x13.capHeight == 9)
        #expect(BitmapFont.fixed9x15.capHeight == 10)
    }
}

@Suite("PNG and files")
struct FileTests {
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "ReptilePlotTests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func pngDataStartsWithTheSignatureAndHeader() {
        let bytes = redLineChart().pngData(scale: 2)
        #expect(Array(bytes.prefix(8)) == Self.pngSignature)
        #expect(Array(bytes[12..<16]) == Array("IHDR".utf8))
        let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
        let height = bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(width == 400 && height == 300)
    }

    @Test func writeChoosesTheFormatByExtension() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let chart = redLineChart()
        try chart.write(to: directory + "/chart.svg")
        try chart.write(to: directory + "/chart.PNG")
        let svg = try #require(FileManager.default.contents(atPath: directory + "/chart.svg"))
        let png = try #require(FileManager.default.contents(atPath: directory + "/chart.PNG"))
        #expect(String(decoding: svg, as: UTF8.self) == chart.svg())
        #expect([UInt8](png) == chart.pngData())
    }

    @Test func unsupportedExtensionsThrow() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in ["chart.jpg", "chart", "chart.svg.txt", ".png", "dir.png/chart"] {
            let path = directory + "/" + name
            #expect(throws: FormatError.self) { try redLineChart().write(to: path) }
            #expect(!FileManager.default.fileExists(atPath: path))
        }
        do {
            try redLineChart().write(to: directory + "/chart.jpeg")
            Issue.record("expected an error")
        } catch let error as FormatError {
            let message = String(describing: error)
            #expect(message.contains(".svg") && message.contains(".png") && message.contains(".jpeg"))
        }
        #expect(throws: FormatError.self) { try redLineChart().write(to: directory + "/chart.png", scale: 0) }
    }

    @Test func fileExtensionParsing() {
        #expect(LineChart.fileExtension(of: "/a/b/figure.SVG") == "svg")
        #expect(LineChart.fileExtension(of: "figure.tar.png") == "png")
        #expect(LineChart.fileExtension(of: "/a.png/figure") == "")
        #expect(LineChart.fileExtension(of: "/tmp/.png") == "")
        #expect(LineChart.supportedFileExtensions == ["svg", "png"])
    }
}
