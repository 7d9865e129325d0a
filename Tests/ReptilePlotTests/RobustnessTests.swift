import Testing
@testable import ReptilePlot

@Suite("Degenerate input")
struct RobustnessTests {
    static let charts: [(String, LineChart)] = [
        ("empty", LineChart()),
        ("one pixel", LineChart(title: "T", xLabel: "x", yLabel: "y", size: ChartSize(width: 1, height: 1),
                                series: [Series(name: "s", x: [0, 1], y: [0, 1])])),
        ("negative size", LineChart(size: ChartSize(width: -5, height: 0))),
        ("all NaN", LineChart(series: [Series(name: "nan", x: [.nan, 1, .infinity], y: [0, .nan, 1])])),
        ("single point", LineChart(series: [Series(name: "p", x: [3], y: [3], style: .lineAndMarkers())])),
        ("constant", LineChart(series: [Series(name: "c", x: [0, 1, 2], y: [0.2, 0.2, 0.2])])),
        ("whole double range", LineChart(series: [
            Series(name: "huge", x: [-.greatestFiniteMagnitude, .greatestFiniteMagnitude],
                   y: [.greatestFiniteMagnitude, -.greatestFiniteMagnitude], style: .lineAndMarkers(marker: .cross)),
        ])),
        ("zero widths", LineChart(referenceLines: [ReferenceLine(y: 0.5, label: "r", width: 0)], series: [
            Series(name: "w0", x: [0, 1], y: [0, 1], style: .line(width: 0)),
            Series(name: "d0", x: [0, 1], y: [1, 0], style: .dashed(width: -1)),
            Series(name: "m0", x: [0, 1], y: [1, 0], style: .markers(.plus, size: 0)),
        ])),
        ("empty range", LineChart(xRange: 5...5, yRange: -.infinity...0)),
        ("long labels", LineChart(title: String(repeating: "title ", count: 40),
                                  yLabel: String(repeating: "y", count: 200),
                                  size: ChartSize(width: 120, height: 80),
                                  series: [Series(name: String(repeating: "n", count: 100), x: [0, 1], y: [0, 1])])),
    ]

    @Test(arguments: charts.indices)
    func rendersWellFormedOutput(_ index: Int) {
        var (name, chart) = Self.charts[index]
        if chart.size == .standard { chart.size = ChartSize(width: 160, height: 120) }  // keeps the test fast
        let document = SVGDocument(chart.svg())
        #expect(document.parseError == nil, "\(name)")
    }

    @Test func zeroWidthStrokesDrawNothing() {
        let chart = Self.charts.first { $0.0 == "zero widths" }!.1
        let document = SVGDocument(chart.svg())
        #expect(document.all("polyline").isEmpty)
        #expect(document.all("path", inside: "series").isEmpty)
    }

    @Test func wholeDoubleRangeStaysInsideThePlotArea() {
        let chart = Self.charts.first { $0.0 == "whole double range" }!.1
        let layout = ChartLayout(chart: chart, metrics: .sansSerif)
        let plot = layout.plotArea
        for point in layout.series[0].runs.joined() + layout.series[0].markerCenters {
            #expect(point.x.isFinite && point.y.isFinite)
            #expect(plot.contains(point))
        }
        #expect(layout.series[0].markerCenters.count == 2)
        #expect(layout.series[0].runs.count == 1)
    }
}
