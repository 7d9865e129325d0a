import Testing
@testable import ReptileKernels

/// `C = A·B` in double precision from explicit element accessors.
private func naiveProduct(m: Int, n: Int, k: Int, a: (Int, Int) -> Float, b: (Int, Int) -> Float) -> [Double] {
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += Double(a(i, p)) * Double(b(p, j)) }
            c[i * n + j] = s
        }
    }
    return c
}

/// Largest |x − y| relative to the largest |y| (at least 1).
private func relativeError(_ x: UnsafePointer<Float>, _ y: [Double]) -> Double {
    let scale = max(1, y.map(abs).max() ?? 0)
    var worst = 0.0
    for i in 0..<y.count { worst = max(worst, abs(Double(x[i]) - y[i])) }
    return worst / scale
}

/// Shapes covering every microkernel (64-, 32- and 16-wide blocks, 5 leftover columns), short
/// sums (dense layers) and long ones that run in several L2-sized chunks.
private let productShapes: [(m: Int, n: Int, k: Int)] = [
    (7, 64, 9), (13, 32, 27), (20, 85, 33), (27, 32, 9000), (9, 64, 5000), (5, 16, 3000),
]

@Test("matrix products match double-precision loops", arguments: productShapes.indices)
func productsMatchNaiveLoops(index: Int) {
    let (m, n, k) = productShapes[index]
    let scratch = KernelScratch()
    // A·B: A is m×k, B is k×n.
    let a = randomBuffer(m * k, seed: 11), b = randomBuffer(k * n, seed: 12)
    let c = FloatBuffer(count: m * n)
    Matmul.multiply(m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: n, c: c.pointer, ldc: n, scratch: scratch)
    let ab = naiveProduct(m: m, n: n, k: k, a: { a.pointer[$0 * k + $1] }, b: { b.pointer[$0 * n + $1] })
    #expect(relativeError(c.pointer, ab) < 1e-5, "A·B \(m)×\(n)×\(k)")

    // Aᵀ·B: A is k×m, B is k×n; then accumulate a second time onto the result.
    let at = randomBuffer(k * m, seed: 13)
    Matmul.multiplyTransposingA(m: m, n: n, k: k, a: at.pointer, lda: m, b: b.pointer, ldb: n, c: c.pointer, ldc: n, scratch: scratch)
    let atb = naiveProduct(m: m, n: n, k: k, a: { at.pointer[$1 * m + $0] }, b: { b.pointer[$0 * n + $1] })
    #expect(relativeError(c.pointer, atb) < 1e-5, "Aᵀ·B \(m)×\(n)×\(k)")
    Matmul.multiplyTransposingA(m: m, n: n, k: k, a: at.pointer, lda: m, b: b.pointer, ldb: n, c: c.pointer, ldc: n,
                                accumulate: true, scratch: scratch)
    #expect(relativeError(c.pointer, atb.map { 2 * $0 }) < 1e-5, "C + Aᵀ·B \(m)×\(n)×\(k)")

    // A·Bᵀ: B is n×k.
    let bt = randomBuffer(n * k, seed: 14)
    Matmul.multiplyTransposingB(m: m, n: n, k: k, a: a.pointer, lda: k, b: bt.pointer, ldb: k, c: c.pointer, ldc: n, scratch: scratch)
    let abt = naiveProduct(m: m, n: n, k: k, a: { a.pointer[$0 * k + $1] }, b: { bt.pointer[$1 * k + $0] })
    #expect(relativeError(c.pointer, abt) < 1e-5, "A·Bᵀ \(m)×\(n)×\(k)")
}

@Test("transpose moves every element, in 16×16 register blocks and at ragged edges",
      arguments: [(16, 16), (64, 64), (64, 32), (37, 50), (3, 20), (20, 3), (1, 1)])
func transposeMatchesDefinition(rows: Int, columns: Int) {
    let a = FloatBuffer(count: rows * columns)
    for i in 0..<rows * columns { a.pointer[i] = Float(i) }
    let out = FloatBuffer(count: rows * columns)
    Vector.transpose(a.pointer, rows: rows, columns: columns, into: out.pointer)
    var wrong = 0
    for r in 0..<rows {
        for c in 0..<columns where out.pointer[c * rows + r] != Float(r * columns + c) { wrong += 1 }
    }
    #expect(wrong == 0)
}

/// The leftover columns (past the last multiple of 16: a 5- or 20-way classifier, a single
/// output) round each product and add them in k order, on the vector path as in a plain loop, so
/// their floats are exactly these.
@Test("leftover columns equal the plain loop's floats, with bias and accumulation",
      arguments: [(1, 5, 256), (10, 5, 256), (21, 20, 33), (7, 1, 64), (4, 3, 0), (3, 37, 9)])
func leftoverColumnsEqualThePlainLoop(m: Int, n: Int, k: Int) {
    let scratch = KernelScratch()
    let fast = n - n % 16
    let a = randomBuffer(max(m * k, 1), seed: 21), b = randomBuffer(max(k * n, 1), seed: 22)
    let bias = randomBuffer(n, seed: 23), start = randomBuffer(m * n, seed: 24)
    func plain(_ i: Int, _ j: Int, a: (Int, Int) -> Float) -> Float {
        var s: Float = 0
        for p in 0..<k { s += a(i, p) * b.pointer[p * n + j] }
        return s
    }
    let c = FloatBuffer(count: m * n)
    Matmul.multiply(m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: n, c: c.pointer, ldc: n,
                    bias: bias.pointer, scratch: scratch)
    var wrong = 0
    for i in 0..<m {
        for j in fast..<n where c.pointer[i * n + j] != plain(i, j, a: { a.pointer[$0 * k + $1] }) + bias.pointer[j] { wrong += 1 }
    }
    #expect(wrong == 0, "A·B + bias")

    // Accumulating onto C.
    c.pointer.update(from: start.pointer, count: m * n)
    Matmul.multiply(m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: n, c: c.pointer, ldc: n,
                    accumulate: true, scratch: scratch)
    wrong = 0
    for i in 0..<m {
        for j in fast..<n where c.pointer[i * n + j] != start.pointer[i * n + j] + plain(i, j, a: { a.pointer[$0 * k + $1] }) { wrong += 1 }
    }
    #expect(wrong == 0, "C + A·B")

    // Aᵀ·B (A stored k×m), then accumulated once more.
    Matmul.multiplyTransposingA(m: m, n: n, k: k, a: a.pointer, lda: m, b: b.pointer, ldb: n, c: c.pointer, ldc: n, scratch: scratch)
    let once = (0..<m * n).map { c.pointer[$0] }
    Matmul.multiplyTransposingA(m: m, n: n, k: k, a: a.pointer, lda: m, b: b.pointer, ldb: n, c: c.pointer, ldc: n,
                                accumulate: true, scratch: scratch)
    wrong = 0
    for i in 0..<m {
        for j in fast..<n {
            let s = plain(i, j, a: { a.pointer[$1 * m + $0] })
            if once[i * n + j] != s || c.pointer[i * n + j] != s + s { wrong += 1 }
        }
    }
    #expect(wrong == 0, "Aᵀ·B")
}
