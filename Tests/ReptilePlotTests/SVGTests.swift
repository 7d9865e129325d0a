import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import ReptilePlot

/// One parsed SVG element with the `id`s of its ancestor groups.
struct SVGElement {
    var name: String
    var attributes: [String: String]
    var text: String
    var ancestorIDs: [String]
}

/// Parses an SVG document with Foundation's XMLParser, failing the test if it is not well-formed.
final class SVGDocument: NSObject, XMLParserDelegate {
    private(set) var elements: [SVGElement] = []
    private var stack: [Int] = []
    private(set) var parseError: Error?

    init(_ svg: String) {
        super.init()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = self
        let ok = parser.parse()
        if !ok { parseError = parser.parserError ?? NSError(domain: "SVGDocument", code: 1) }
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        let ancestors = stack.compactMap { elements[$0].attributes["id"] }
        elements.append(SVGElement(name: elementName, attributes: attributeDict, text: "", ancestorIDs: ancestors))
        stack.append(elements.count - 1)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?) {
        stack.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let current = stack.last { elements[current].text += string }
    }

    func all(_ name: String, inside id: String? = nil) -> [SVGElement] {
        elements.filter { $0.name == name && (id == nil || $0.ancestorIDs.contains(id!)) }
    }

    func element(id: String) -> SVGElement? { elements.first { $0.attributes["id"] == id } }
}

/// The numbers of a polyline's `points` attribute as (x, y) pairs.
func polylinePoints(_ element: SVGElement) -> [(Double, Double)] {
    (element.attributes["points"] ?? "").split(separator: " ").map { pair in
        let parts = pair.split(separator: ",").map { Double($0)! }
        return (parts[0], parts[1])
    }
}

/// The plot area from the SVG's clip path rectangle.
func clipRect(_ document: SVGDocument) -> (minX: Double, minY: Double, maxX: Double, maxY: Double) {
    let rect = document.all("rect", inside: "plot-area")[0].attributes
    let x = Double(rect["x"]!)!, y = Double(rect["y"]!)!
    return (x, y, x + Double(rect["width"]!)!, y + Double(rect["height"]!)!)
}

func sampleChart() -> LineChart {
    let xs = stride(from: -5.0, through: 5.0, by: 0.25).map { $0 }
    var chart = LineChart(title: "Sine", xLabel: "x", yLabel: "y", yRange: -4...4, legendPosition: .lowerRight)
    chart.series.append(Series(name: "pred after 0", x: xs, y: xs.map { 0.5 * $0 }, color: RGB(0, 0, 1)))
    chart.series.append(Series(name: "true", x: xs, y: xs.map { 3 * sin($0 + 1) }, color: .green))
    chart.series.append(Series(name: "dashed", x: xs, y: xs.map { cos($0) }, style: .dashed()))
    chart.series.append(Series(name: "train", x: [-2, 0, 2], y: [1, 2, 3], color: .black, style: .markers(.cross)))
    return chart
}

@Suite("SVG output")
struct SVGTests {
    @Test func documentIsWellFormedWithSizeAndViewBox() throws {
        let svg = sampleChart().svg()
        #expect(svg.hasPrefix("<?xml version=\"1.0\""))
        let document = SVGDocument(svg)
        #expect(document.parseError == nil)
        let root = try #require(document.elements.first)
        #expect(root.name == "svg")
        #expect(root.attributes["xmlns"] == "http://www.w3.org/2000/svg")
        #expect(root.attributes["version"] == "1.1")
        #expect(root.attributes["width"] == "800")
        #expect(root.attributes["height"] == "600")
        #expect(root.attributes["viewBox"] == "0 0 800 600")
        #expect(root.attributes["font-family"]?.hasSuffix("sans-serif") == true)
        #expect(document.all("clipPath").count == 1)
        #expect(document.element(id: "series")?.attributes["clip-path"] == "url(#plot-area)")
    }

    @Test func onePolylinePerLineSeriesAndOnePathPerMarkerSeries() {
        let document = SVGDocument(sampleChart().svg())
        let seriesGroups = document.all("g").filter { $0.attributes["class"] == "series" }
        #expect(seriesGroups.count == 4)
        for index in 0..<3 {
            #expect(document.all("polyline", inside: "series-\(index)").count == 1)
            #expect(document.all("path", inside: "series-\(index)").isEmpty)
        }
        #expect(document.all("polyline", inside: "series-3").isEmpty)
        let markers = document.all("path", inside: "series-3")
        #expect(markers.count == 1)
        #expect(markers.first?.attributes["stroke"] == "#000000")
        let dashed = document.all("polyline", inside: "series-2")[0]
        #expect(dashed.attributes["stroke-dasharray"] == "7.4 3.2")
        #expect(document.all("polyline", inside: "series-0")[0].attributes["stroke-dasharray"] == nil)
    }

    @Test func legendHasATextPerNamedSeriesAndLabeledReferenceLine() {
        var chart = sampleChart()
        chart.series.append(Series(name: "", x: [0, 1], y: [0, 1]))
        chart.referenceLines = [ReferenceLine(y: 0.5, label: "chance"), ReferenceLine(y: 0.7)]
        let document = SVGDocument(chart.svg())
        let texts = document.all("text", inside: "legend").map(\.text)
        #expect(texts == ["pred after 0", "true", "dashed", "train", "chance"])
        #expect(document.all("line", inside: "legend").count == 4)  // three line series and the chance line
        #expect(document.all("path", inside: "legend").count == 1)  // the train marker
        #expect(document.all("polyline", inside: "reference-lines").count == 2)
    }

    @Test func noLegendWhenPositionIsNone() {
        var chart = sampleChart()
        chart.legendPosition = .none
        #expect(SVGDocument(chart.svg()).element(id: "legend") == nil)
    }

    @Test func titleAndAxisLabelsAreTextElements() {
        let document = SVGDocument(sampleChart().svg())
        #expect(document.element(id: "title")?.text == "Sine")
        #expect(document.element(id: "x-label")?.text == "x")
        let yLabel = document.element(id: "y-label")
        #expect(yLabel?.text == "y")
        #expect(yLabel?.attributes["transform"]?.hasPrefix("rotate(-90 ") == true)
        let xTicks = document.all("text", inside: "x-tick-labels").map(\.text)
        #expect(xTicks == ["-4", "-2", "0", "2", "4"])
        let yTicks = document.all("text", inside: "y-tick-labels").map(\.text)
        #expect(yTicks == ["-4", "-3", "-2", "-1", "0", "1", "2", "3", "4"])
    }

    @Test func specialCharactersAreEscaped() {
        var chart = LineChart(title: "A <b> & \"c\" 'd'", xLabel: "x < 5", yLabel: "y > 0")
        chart.series.append(Series(name: "loss<&>", x: [0, 1], y: [1, 0]))
        chart.series.append(Series(name: "bell\u{7}", x: [0, 1], y: [0, 1]))
        let svg = chart.svg()
        #expect(svg.contains("loss&lt;&amp;&gt;"))
        #expect(!svg.contains("loss<"))
        #expect(svg.contains("A &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;"))
        let document = SVGDocument(svg)
        #expect(document.parseError == nil)
        #expect(document.element(id: "title")?.text == "A <b> & \"c\" 'd'")
        #expect(document.all("title", inside: "series-0").map(\.text) == ["loss<&>"])
        let legend = document.all("text", inside: "legend").map(\.text)
        #expect(legend == ["loss<&>", "bell\u{FFFD}"])
    }

    @Test func outputIsDeterministic() {
        #expect(sampleChart().svg() == sampleChart().svg())
    }

    @Test func numbersArePrintedCompactly() {
        #expect(SVGWriter.number(12) == "12")
        #expect(SVGWriter.number(-3.5) == "-3.5")
        #expect(SVGWriter.number(0.25) == "0.25")
        #expect(SVGWriter.number(0.304) == "0.3")
        #expect(SVGWriter.number(-0.001) == "0")
        #expect(SVGWriter.number(1.05) == "1.05")
        #expect(SVGWriter.number(99.999) == "100")
        #expect(SVGWriter.number(.nan) == "0")
        let svg = sampleChart().svg()
        #expect(svg.range(of: #"\d\.\d{3}"#, options: .regularExpression) == nil)  // no long fractions anywhere
    }
}

@Suite("Clipping and gaps")
struct ClippingTests {
    @Test func pointsFarOutsideTheYRangeStayInsideThePlotArea() {
        var chart = LineChart(xRange: 0...10, yRange: -4...4, legendPosition: .none)
        chart.series.append(Series(name: "wild", x: [0, 2, 4, 6, 8, 10], y: [0, 1e6, 0, -1e300, 2, 3]))
        let document = SVGDocument(chart.svg())
        let clip = clipRect(document)
        let polylines = document.all("polyline", inside: "series-0")
        // Leaves and re-enters twice: three pieces.
        #expect(polylines.count == 3)
        for polyline in polylines {
            for (x, y) in polylinePoints(polyline) {
                #expect(x >= clip.minX && x <= clip.maxX)
                #expect(y >= clip.minY && y <= clip.maxY)
            }
        }
    }

    @Test func segmentsCrossingTheWholePlotAreAClippedToBothBorders() {
        var chart = LineChart(xRange: 0...1, yRange: 0...1, legendPosition: .none)
        chart.series.append(Series(name: "steep", x: [0.5, 0.5], y: [-100, 100]))
        let document = SVGDocument(chart.svg())
        let clip = clipRect(document)
        let points = polylinePoints(document.all("polyline", inside: "series-0")[0])
        #expect(points.count == 2)
        #expect(points.map(\.1).sorted() == [clip.minY, clip.maxY])
    }

    @Test func markersOutsideTheRangesAreDropped() {
        var chart = LineChart(xRange: 0...1, yRange: 0...1, legendPosition: .none)
        chart.series.append(Series(name: "m", x: [0.5, 0.5, 2], y: [0.5, 5, 0.5], style: .markers(.square)))
        let layout = ChartLayout(chart: chart, metrics: .sansSerif)
        #expect(layout.series[0].markerCenters.count == 1)
        let d = SVGDocument(chart.svg()).all("path", inside: "series-0")[0].attributes["d"] ?? ""
        #expect(d.filter { $0 == "M" }.count == 1)
    }

    @Test func nanAndInfinityBreakTheLine() {
        var chart = LineChart(legendPosition: .none)
        chart.series.append(Series(name: "gap", x: [0, 1, 2, 3, 4, 5, 6], y: [0, 1, .nan, 3, 4, .infinity, 6]))
        chart.series.append(Series(name: "leading", x: [0, 1, 2, 3], y: [.nan, 1, 2, 3]))
        chart.series.append(Series(name: "isolated", x: [0, 1, 2], y: [.nan, 1, .nan]))
        chart.series.append(Series(name: "bad x", x: [0, .nan, 2, 3], y: [1, 1, 1, 1]))
        let document = SVGDocument(chart.svg())
        #expect(document.all("polyline", inside: "series-0").count == 2)  // 0-1 and 3-4; 6 is alone
        #expect(polylinePoints(document.all("polyline", inside: "series-0")[0]).count == 2)
        #expect(document.all("polyline", inside: "series-1").count == 1)
        #expect(document.all("polyline", inside: "series-2").isEmpty)
        #expect(document.all("polyline", inside: "series-3").count == 1)
    }

    @Test func liangBarskyReportsMovedEnds() throws {
        let transform = DataTransform(xRange: 0...10, yRange: 0...10,
                                      plotArea: Rect(minX: 0, minY: 0, width: 100, height: 100))
        let inside = try #require(transform.clip(from: (1, 1), to: (9, 9)))
        #expect(!inside.startMoved && !inside.endMoved)
        let leaving = try #require(transform.clip(from: (5, 5), to: (5, 20)))
        #expect(!leaving.startMoved && leaving.endMoved)
        #expect(leaving.end.1 == 10)
        #expect(transform.clip(from: (-5, -5), to: (-1, 20)) == nil)
        let through = try #require(transform.clip(from: (-10, 5), to: (20, 5)))
        #expect(through.start.0 == 0 && through.end.0 == 10)
        #expect(transform.point((10, 0)) == Point(x: 100, y: 100))
    }
}
