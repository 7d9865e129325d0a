import Foundation
import Testing
@testable import ReptilePlot

@Suite("Axis ticks and ranges")
struct AxisTicksTests {
    func values(_ range: ClosedRange<Double>, _ maxIntervals: Int = 9) -> [Double] {
        AxisTicks.ticks(in: range, maxIntervals: maxIntervals).map(\.value)
    }

    func labels(_ range: ClosedRange<Double>, _ maxIntervals: Int = 9) -> [String] {
        AxisTicks.ticks(in: range, maxIntervals: maxIntervals).map(\.label)
    }

    @Test func unitRangeUsesStepsOfTwoTenths() {
        #expect(values(0...1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0])
        #expect(labels(0...1) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    }

    @Test func symmetricRangesWithMargins() {
        #expect(labels(-5.5...5.5) == ["-4", "-2", "0", "2", "4"])
        #expect(labels(-4...4) == ["-4", "-3", "-2", "-1", "0", "1", "2", "3", "4"])
    }

    @Test func iterationCountsArePrintedInFull() {
        #expect(values(-2000...42000) == [0, 5000, 10000, 15000, 20000, 25000, 30000, 35000, 40000])
        #expect(labels(-2000...42000).last == "40000")
        #expect(labels(0...40000, 4) == ["0", "10000", "20000", "30000", "40000"])
    }

    @Test func decimalTicksHaveNoRoundingNoise() {
        let ticks = AxisTicks.ticks(in: 0...0.9, maxIntervals: 9)
        #expect(ticks.map(\.label) == ["0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"])
        #expect(ticks[3].value == 0.3)
        #expect(labels(0.1...0.3) == ["0.10", "0.15", "0.20", "0.25", "0.30"])
        // A step of 0.005 would need ten intervals: 0.01 it is.
        #expect(labels(-0.035...0.012) == ["-0.03", "-0.02", "-0.01", "0.00", "0.01"])
        #expect(labels(-0.035...0.012, 10).count == 10)
    }

    @Test func stepsAreOneTwoOrFiveTimesAPowerOfTen() {
        let cases: [(ClosedRange<Double>, Int)] = [(0.0...7.3, 9), (-13.0...1e4, 6), (3e-4...9e-4, 5),
                                                   (1.0...1.0001, 9), (-1e5...3e5, 3)]
        for (range, intervals) in cases {
            let ticks = values(range, intervals)
            #expect(ticks.count >= 2)
            let step = ticks[1] - ticks[0]
            let exponent = log10(step * (1 + 1e-9)).rounded(.down)
            let mantissa = (step / pow(10, exponent) * 1000).rounded() / 1000
            #expect([1, 2, 5].contains(mantissa), "step \(step) for \(range)")
            #expect(ticks.count - 1 <= intervals)
            #expect(ticks.allSatisfy { range.contains($0) })
        }
    }

    @Test func largeAndTinyValuesUseExponents() {
        #expect(labels(0...4e6, 4) == ["0", "1e6", "2e6", "3e6", "4e6"])
        #expect(labels(0...1.5e6, 3) == ["0", "0.5e6", "1.0e6", "1.5e6"])
        #expect(labels(0...3e-7, 3) == ["0", "1e-7", "2e-7", "3e-7"])
        #expect(labels(0...999_999, 3) == ["0", "500000"])
    }

    @Test func degenerateRanges() {
        #expect(AxisTicks.ticks(in: 2...2).map(\.label) == ["2"])
        #expect(AxisTicks.ticks(in: 0...Double.infinity).isEmpty)
        #expect(AxisTicks.ticks(in: -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude).isEmpty)
        #expect(values(0...1, 0) == values(0...1, 1))
        #expect(!values(1e20...(1e20 + 1e5)).isEmpty)
    }

    @Test func fittedRangesHaveFivePercentMargins() {
        #expect(AxisTicks.fittedRange(minimum: 0, maximum: 40000) == -2000...42000)
        #expect(close(AxisTicks.fittedRange(minimum: 3, maximum: 3), 2.7...3.3))
        #expect(AxisTicks.fittedRange(minimum: 0, maximum: 0) == -1...1)
        #expect(AxisTicks.fittedRange(minimum: nil, maximum: nil) == 0...1)
    }

    @Test func layoutUsesFixedRangesAndFitsTheRest() {
        var chart = LineChart(yRange: -4...4)
        chart.series.append(Series(name: "a", x: [-5, 5, 0], y: [100, 3, .nan]))
        chart.referenceLines = [ReferenceLine(y: 7)]
        let layout = ChartLayout(chart: chart, metrics: .sansSerif)
        #expect(layout.xRange == -5.5...5.5)
        #expect(layout.yRange == -4...4)
        #expect(layout.referenceLines.isEmpty)  // outside the fixed y range

        chart.yRange = nil
        chart.series[0].yValues = [0, 2, 1]
        let fitted = ChartLayout(chart: chart, metrics: .sansSerif)
        #expect(close(fitted.yRange, -0.35...7.35))  // the reference line at 7 is included
        chart.xRange = 1...(.infinity)
        #expect(ChartLayout(chart: chart, metrics: .sansSerif).xRange == -5.5...5.5)
        chart.xRange = 2...2
        #expect(close(ChartLayout(chart: chart, metrics: .sansSerif).xRange, 1.8...2.2))
    }

    private func close(_ a: ClosedRange<Double>, _ b: ClosedRange<Double>) -> Bool {
        abs(a.lowerBound - b.lowerBound) < 1e-12 && abs(a.upperBound - b.upperBound) < 1e-12
    }
}

@Suite("Colors and series")
struct ModelTests {
    @Test func paletteCyclesThroughTab10() {
        #expect(RGB.palette(0).hexString == "#1f77b4")
        #expect(RGB.palette(1).hexString == "#ff7f0e")
        #expect(RGB.palette(10) == RGB.palette(0))
        #expect(RGB.palette(-1) == RGB.palette(9))
        #expect(Set((0..<10).map(RGB.palette)).count == 10)
    }

    @Test func colorsInterpolateAndClamp() {
        #expect(RGB.interpolate(from: .blue, to: .red, fraction: 0.25) == RGB(0.25, 0, 0.75))
        #expect(RGB(2, -1, .nan).hexString == "#ff0000")
        #expect(RGB(hex: 0x17BECF).hexString == "#17becf")
        #expect(RGB.green.hexString == "#00ff00")
    }

    @Test func seriesPointsMirrorTheArrays() {
        var series = Series(name: "s", points: [(x: 1, y: 2), (x: 3, y: 4)])
        #expect(series.xValues == [1, 3])
        #expect(series.yValues == [2, 4])
        series.points = [(x: 5, y: 6)]
        #expect(series.points.map(\.x) == [5])
        #expect(series.points.map(\.y) == [6])
        #expect(series.style == .line(width: 2))
        #expect(series.color == nil)
    }

    @Test func seriesWithoutColorUseThePaletteByIndex() {
        var chart = LineChart()
        chart.series = [Series(name: "a", x: [0, 1], y: [0, 1]), Series(name: "b", x: [0, 1], y: [1, 0]),
                        Series(name: "c", x: [0, 1], y: [1, 1], color: .black)]
        let layout = ChartLayout(chart: chart, metrics: .sansSerif)
        #expect(layout.series.map { $0.stroke?.color } == [RGB.palette(0), RGB.palette(1), .black])
    }

    @Test func legendSitsInTheRequestedCorner() throws {
        var chart = LineChart(xRange: 0...1, yRange: 0...1)
        chart.series = [Series(name: "a", x: [0, 1], y: [0, 1])]
        for position in LegendPosition.allCases where position != .none {
            chart.legendPosition = position
            let layout = ChartLayout(chart: chart, metrics: .sansSerif)
            let legend = try #require(layout.legend)
            let plot = layout.plotArea
            #expect(legend.box.minX >= plot.minX && legend.box.maxX <= plot.maxX)
            #expect(legend.box.minY >= plot.minY && legend.box.maxY <= plot.maxY)
            let right = legend.box.midX > plot.midX, lower = legend.box.midY > plot.midY
            switch position {
            case .upperRight: #expect(right && !lower)
            case .upperLeft: #expect(!right && !lower)
            case .lowerLeft: #expect(!right && lower)
            case .lowerRight: #expect(right && lower)
            case .none: break
            }
        }
    }
}
