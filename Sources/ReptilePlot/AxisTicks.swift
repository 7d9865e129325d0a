// AxisTicks: "nice" major tick positions (1, 2 or 5 × 10^k apart) and their labels, and the automatic
// axis ranges fitted to the data.
import Foundation

/// One major tick of an axis: its value and the label printed next to it.
public struct AxisTick: Hashable, Sendable {
    /// The tick's position in data coordinates.
    public var value: Double
    /// The tick label, for example `"0.2"`, `"-4"`, `"40000"` or `"2.5e6"`.
    public var label: String

    /// Creates a tick at `value` labeled `label`.
    public init(value: Double, label: String) {
        self.value = value
        self.label = label
    }
}

/// Computes "nice" major ticks for a linear axis, the way matplotlib's `MaxNLocator` does.
///
/// Ticks are the multiples of a step of 1, 2 or 5 × 10^k that lie in the range. The step is the smallest
/// such value of at least span / `maxIntervals`, so there are at most `maxIntervals` + 1 ticks. Tick
/// values are computed as exact decimal multiples (so 0.3 and not 0.30000000000000004), and all labels of
/// one axis have the same number of decimals (`0.0, 0.2, …, 1.0`). Numbers are printed in full up to 999999
/// (`40000`); axes reaching 10^6 or needing more than five decimals use a per-label exponent
/// (`1.5e6`, `2e-7`).
public enum AxisTicks {
    /// The ticks for an axis showing `range`.
    ///
    /// - Parameters:
    ///   - range: The axis range in data coordinates.
    ///   - maxIntervals: The most intervals between ticks; values below 1 count as 1. The default, 9,
    ///     is matplotlib's.
    /// - Returns: The ticks inside `range` in increasing order; a single tick when the range is a single
    ///   value, and none when a bound is not finite.
    public static func ticks(in range: ClosedRange<Double>, maxIntervals: Int = 9) -> [AxisTick] {
        let lower = range.lowerBound, upper = range.upperBound
        guard lower.isFinite, upper.isFinite else { return [] }
        let span = upper - lower
        guard span.isFinite else { return [] }
        let intervals = Double(max(1, maxIntervals))
        let rawStep = span / intervals
        guard rawStep.isNormal, rawStep > 1e-290 else {
            return [AxisTick(value: lower, label: String(format: "%g", lower))]
        }

        // The smallest nice step of at least span / maxIntervals; if that leaves fewer than two ticks in
        // the range, a smaller step that still keeps within maxIntervals.
        let firstExponent = Int(floor(log10(rawStep))) - 1
        let candidates = (firstExponent...(firstExponent + 2)).flatMap { exponent in
            [1, 2, 5].map { NiceStep(mantissa: $0, exponent: exponent) }
        }
        let smallestLargeEnough = candidates.firstIndex { $0.value >= rawStep * (1 - 1e-9) } ?? candidates.count - 1
        var chosen = candidates[smallestLargeEnough]
        if tickCount(in: range, step: chosen.value) < 2 {
            for candidate in candidates[..<smallestLargeEnough].reversed() {
                let count = tickCount(in: range, step: candidate.value)
                if count > Int(intervals) + 1 { break }
                if count >= 2 {
                    chosen = candidate
                    break
                }
            }
        }

        let (firstIndex, lastIndex) = tickIndexBounds(in: range, step: chosen.value)
        // Beyond 2^53 / 10 the multiples are no longer exact integers: label just the range's ends.
        guard abs(firstIndex) < 1e15, abs(lastIndex) < 1e15, firstIndex <= lastIndex else {
            return [AxisTick(value: lower, label: String(format: "%g", lower)),
                    AxisTick(value: upper, label: String(format: "%g", upper))]
        }
        let multiples = (Int(firstIndex)...Int(lastIndex)).map { $0 * chosen.mantissa }
        let labels = labels(forMultiples: multiples, exponent: chosen.exponent)
        return zip(multiples, labels).map { AxisTick(value: decimalValue($0, exponent: chosen.exponent), label: $1) }
    }

    /// The first and last multiple of `step` inside `range`, allowing for rounding in the division.
    static func tickIndexBounds(in range: ClosedRange<Double>, step: Double) -> (first: Double, last: Double) {
        let tolerance = 1e-9
        return ((range.lowerBound / step - tolerance).rounded(.up),
                (range.upperBound / step + tolerance).rounded(.down))
    }

    /// The number of multiples of `step` inside `range` (at most 10^9).
    static func tickCount(in range: ClosedRange<Double>, step: Double) -> Int {
        let (first, last) = tickIndexBounds(in: range, step: step)
        return first <= last ? Int(min(last - first + 1, 1e9)) : 0
    }

    /// A step of `mantissa` × 10^`exponent`.
    struct NiceStep {
        var mantissa: Int
        var exponent: Int
        var value: Double { AxisTicks.decimalValue(mantissa, exponent: exponent) }
    }

    /// `integer` × 10^`exponent` rounded once (so `3 × 10^-1` is the double nearest 0.3).
    static func decimalValue(_ integer: Int, exponent: Int) -> Double {
        exponent >= 0 ? Double(integer) * powerOfTen(exponent) : Double(integer) / powerOfTen(-exponent)
    }

    /// 10^`exponent` for `exponent >= 0`; exact up to 10^22.
    static func powerOfTen(_ exponent: Int) -> Double {
        guard exponent <= 22 else { return pow(10, Double(exponent)) }
        var result = 1.0
        for _ in 0..<exponent { result *= 10 }
        return result
    }

    /// Labels for the tick values `multiples[i]` × 10^`exponent`, all with the same number of decimals.
    static func labels(forMultiples multiples: [Int], exponent: Int) -> [String] {
        let largest = multiples.map { abs($0) }.max() ?? 0
        let decimals = max(0, -exponent)
        let largestValue = decimalValue(largest, exponent: exponent)
        guard largest != 0, largestValue >= 1e6 || decimals > 5 else {
            return multiples.map { String(format: "%.\(decimals)f", decimalValue($0, exponent: exponent)) }
        }
        // Scientific: the exponent of the largest tick, the same decimals for every label.
        var magnitude = Int(floor(log10(largestValue)))
        while decimalValue(1, exponent: magnitude + 1) <= largestValue { magnitude += 1 }
        while decimalValue(1, exponent: magnitude) > largestValue { magnitude -= 1 }
        let scientificDecimals = max(0, magnitude - exponent)
        return multiples.map { multiple in
            if multiple == 0 { return "0" }
            let coefficient = decimalValue(multiple, exponent: exponent - magnitude)
            return String(format: "%.\(scientificDecimals)fe%d", coefficient, magnitude)
        }
    }

    /// The range shown for data spanning `minimum...maximum`: widened by `margin` × span on each side;
    /// a single value is widened by 10% of its magnitude (±1 around 0), and no data gives `0...1`.
    static func fittedRange(minimum: Double?, maximum: Double?, margin: Double = 0.05) -> ClosedRange<Double> {
        guard let minimum, let maximum, minimum.isFinite, maximum.isFinite, minimum <= maximum else {
            return 0...1
        }
        let span = maximum - minimum
        guard span.isFinite else { return minimum...maximum }
        if span == 0 {
            let pad = minimum == 0 ? 1 : abs(minimum) * 0.1
            return (minimum - pad)...(maximum + pad)
        }
        let lower = minimum - span * margin, upper = maximum + span * margin
        return lower.isFinite && upper.isFinite ? lower...upper : minimum...maximum
    }
}
