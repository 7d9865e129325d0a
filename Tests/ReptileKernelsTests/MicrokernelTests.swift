// Every instruction set's microkernels that this CPU can run (not only the one chosen) against
// double-precision loops: one binary carries them all, so all must be right.

import Foundation
import Testing
import CReptileKernels

private let instructionSets: [(String, reptile_microkernels)] = ["avx512", "avx2", "neon", "generic"].compactMap { (name: String) in
    reptile_microkernels_named(name).map { (name, $0.pointee) }
}

private let shapes: [(rows: Int, columns: Int)] = [(5, 64), (12, 32), (8, 32), (9, 32), (12, 16)]

private func rowsKernel(_ k: reptile_microkernels, _ shape: Int) -> reptile_rows_kernel {
    [k.rows_5x64, k.rows_12x32, k.rows_8x32, k.rows_9x32, k.rows_12x16][shape]
}

private func outerKernel(_ k: reptile_microkernels, _ shape: Int) -> reptile_outer_kernel {
    [k.outer_5x64, k.outer_12x32, k.outer_8x32, k.outer_9x32, k.outer_12x16][shape]
}

private func random(_ count: Int, seed: inout UInt64) -> [Float] {
    (0..<count).map { _ in
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int(seed >> 40) % 2001 - 1000) / 1000
    }
}

@Test("the generic microkernels are always there, and the chosen set is one this CPU runs")
func chosenMicrokernelsExist() throws {
    #expect(reptile_microkernels_named("generic") != nil)
    let chosen = try #require(reptile_microkernels_selected()).pointee
    #expect(instructionSets.contains { String(cString: chosen.name) == $0.0 })
}

@Test("rows kernels of every instruction set match double-precision sums, with bias and accumulation",
      arguments: shapes.indices, [false, true])
func rowsKernelsMatchTheDefinition(shape: Int, accumulate: Bool) throws {
    let (rows, columns) = shapes[shape]
    let taps = 3, depth = 7, ldb = columns + 16, tapStride = depth * ldb
    var seed: UInt64 = UInt64(shape * 2 + (accumulate ? 1 : 0))
    let aRows = (0..<taps * rows).map { _ in random(depth, seed: &seed) }
    let b = random(taps * tapStride + 64, seed: &seed)
    let bias = random(columns, seed: &seed)
    let start = random(rows * columns, seed: &seed)
    for (name, k) in instructionSets {
        var c = start
        let aPointers = aRows.map { row in UnsafePointer<Float>?(row.withUnsafeBufferPointer { $0.baseAddress! }) }
        withExtendedLifetime(aRows) {
            c.withUnsafeMutableBufferPointer { cb in
                let cPointers = (0..<rows).map { UnsafeMutablePointer<Float>?(cb.baseAddress! + $0 * columns) }
                rowsKernel(k, shape)(aPointers, taps, depth, b, ldb, tapStride, cPointers, accumulate ? 1 : 0, bias)
            }
        }
        for r in 0..<rows {
            for j in 0..<columns {
                var sum = Double(bias[j])
                for t in 0..<taps { for d in 0..<depth { sum += Double(aRows[t * rows + r][d]) * Double(b[t * tapStride + d * ldb + j]) } }
                if accumulate { sum += Double(start[r * columns + j]) }
                #expect(abs(Double(c[r * columns + j]) - sum) < 1e-4, "\(name) \(rows)x\(columns) at (\(r), \(j))")
            }
        }
    }
}

@Test("outer-product kernels of every instruction set match double-precision sums, resumed or not",
      arguments: shapes.indices, [false, true])
func outerKernelsMatchTheDefinition(shape: Int, resume: Bool) throws {
    let (rows, columns) = shapes[shape]
    let count = 11, offset = 2
    var seed: UInt64 = 100 + UInt64(shape * 2 + (resume ? 1 : 0))
    let aRows = (0..<count).map { _ in random(rows + offset, seed: &seed) }
    let bRows = (0..<count).map { _ in random(columns, seed: &seed) }
    let start = random(rows * columns, seed: &seed)
    for (name, k) in instructionSets {
        var c = start
        let aPointers = aRows.map { row in UnsafePointer<Float>?(row.withUnsafeBufferPointer { $0.baseAddress! }) }
        let bPointers = bRows.map { row in UnsafePointer<Float>?(row.withUnsafeBufferPointer { $0.baseAddress! }) }
        withExtendedLifetime((aRows, bRows)) {
            c.withUnsafeMutableBufferPointer { cb in
                let cPointers = (0..<rows).map { UnsafeMutablePointer<Float>?(cb.baseAddress! + $0 * columns) }
                outerKernel(k, shape)(aPointers, offset, bPointers, count, cPointers, 0, resume ? 1 : 0)
            }
        }
        for r in 0..<rows {
            for j in 0..<columns {
                var sum = resume ? Double(start[r * columns + j]) : 0
                for i in 0..<count { sum += Double(aRows[i][offset + r]) * Double(bRows[i][j]) }
                #expect(abs(Double(c[r * columns + j]) - sum) < 1e-4, "\(name) \(rows)x\(columns) at (\(r), \(j))")
            }
        }
    }
}

@Test("the multiply-add peak loop of every instruction set runs and counts its lanes")
func peakLoopsRun() {
    for (name, k) in instructionSets {
        #expect(k.lanes == (name == "avx512" ? 16 : name == "avx2" ? 8 : 4))
        #expect(k.peak_loop(1000).isFinite, "\(name)")
    }
}
