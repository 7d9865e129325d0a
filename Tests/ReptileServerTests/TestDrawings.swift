// Drawings for the API tests, rasterized the way the page reduces them: strokes about 2.5 px wide
// at 28×28, ink coverage averaged over 10×10 sub-pixels, strokes 1 and background 0.

import Foundation

enum TestDrawings {
    typealias Point = (x: Double, y: Double)

    static let side = 28
    static let strokeWidth = 0.09  // as a fraction of the side, like the page's pen

    /// Rasterizes polylines given in [0, 1]² coordinates to 784 floats.
    static func render(_ strokes: [[Point]], width: Double = strokeWidth) -> [Float] {
        let supersample = 10
        let n = side * supersample
        var covered = [Bool](repeating: false, count: n * n)
        let radius = width / 2
        for stroke in strokes {
            let segments = stroke.count == 1 ? [(stroke[0], stroke[0])] : Array(zip(stroke, stroke.dropFirst()))
            for (a, b) in segments {
                let minX = max(0, Int(((min(a.x, b.x) - radius) * Double(n)).rounded(.down)))
                let maxX = min(n - 1, Int(((max(a.x, b.x) + radius) * Double(n)).rounded(.up)))
                let minY = max(0, Int(((min(a.y, b.y) - radius) * Double(n)).rounded(.down)))
                let maxY = min(n - 1, Int(((max(a.y, b.y) + radius) * Double(n)).rounded(.up)))
                guard minX <= maxX, minY <= maxY else { continue }
                for sy in minY...maxY {
                    for sx in minX...maxX where !covered[sy * n + sx] {
                        let p = (x: (Double(sx) + 0.5) / Double(n), y: (Double(sy) + 0.5) / Double(n))
                        if distance(p, a, b) <= radius { covered[sy * n + sx] = true }
                    }
                }
            }
        }
        var pixels = [Float](repeating: 0, count: side * side)
        for sy in 0..<n {
            for sx in 0..<n where covered[sy * n + sx] {
                pixels[(sy / supersample) * side + sx / supersample] += 1
            }
        }
        return pixels.map { $0 / Float(supersample * supersample) }
    }

    static func circle(center: Point = (0.5, 0.5), radius: Double = 0.3) -> [Float] {
        render([(0...48).map { i in
            let angle = Double(i) / 48 * 2 * Double.pi
            return (center.x + radius * cos(angle), center.y + radius * sin(angle))
        }])
    }

    static func cross(center: Point = (0.5, 0.5), half: Double = 0.26) -> [Float] {
        render([
            [(center.x - half, center.y - half), (center.x + half, center.y + half)],
            [(center.x + half, center.y - half), (center.x - half, center.y + half)],
        ])
    }

    static func triangle(center: Point = (0.5, 0.56), radius: Double = 0.34) -> [Float] {
        let corners = [-Double.pi / 2, Double.pi / 6, 5 * Double.pi / 6, -Double.pi / 2].map { angle in
            (x: center.x + radius * cos(angle), y: center.y + radius * sin(angle))
        }
        return render([corners])
    }

    static func plus(center: Point = (0.5, 0.5), half: Double = 0.3) -> [Float] {
        render([
            [(center.x - half, center.y), (center.x + half, center.y)],
            [(center.x, center.y - half), (center.x, center.y + half)],
        ])
    }

    static func square(center: Point = (0.5, 0.5), half: Double = 0.27) -> [Float] {
        let (x0, x1, y0, y1) = (center.x - half, center.x + half, center.y - half, center.y + half)
        return render([[(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]])
    }

    /// Five clearly different class drawings; the tests take the first 2...5.
    static let classes: [[Float]] = [circle(), cross(), triangle(), plus(), square()]

    /// Variants of the class drawings (moved and resized) to classify.
    static let variants: [[Float]] = [
        circle(center: (0.53, 0.47), radius: 0.26),
        cross(center: (0.47, 0.53), half: 0.22),
        triangle(center: (0.52, 0.54), radius: 0.29),
        plus(center: (0.52, 0.48), half: 0.26),
        square(center: (0.48, 0.51), half: 0.23),
    ]

    private static func distance(_ p: Point, _ a: Point, _ b: Point) -> Double {
        let (dx, dy) = (b.x - a.x, b.y - a.y)
        let lengthSquared = dx * dx + dy * dy
        let t = lengthSquared == 0 ? 0 : max(0, min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / lengthSquared))
        let (cx, cy) = (a.x + t * dx - p.x, a.y + t * dy - p.y)
        return (cx * cx + cy * cy).squareRoot()
    }
}
