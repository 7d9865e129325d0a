// Tests of JPEG decoding (ReptileFormats/JPEG.swift over CJPEG/libjpeg-turbo). Fixtures are in
// Fixtures/jpeg/ (made by scripts/make_jpeg_fixtures.py; reference pixels decoded by Pillow), and the
// miniature Mini-ImageNet tree in ../ReptileDataTests/Fixtures/miniimagenet is checked here too.
import Dispatch
import Foundation
import Testing
import ReptileFormats

// MARK: - Fixture helpers

private enum JPEGFixture {
    /// Fixtures/jpeg inside the test bundle.
    static let directory: String = {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("Fixtures folder missing from the ReptileFormatsTests bundle")
        }
        return url.appendingPathComponent("jpeg").path
    }()

    static func path(_ name: String) -> String { directory + "/" + name }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(name))))
    }

    /// A uint8 .npy array written by numpy (C order).
    static func npy(_ name: String) throws -> (shape: [Int], values: [UInt8]) {
        let data = try bytes(name)
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard data.count > 10, Array(data[0..<6]) == magic else { throw NPYError("\(name): not an .npy file") }
        let major = data[6]
        let headerLength: Int, headerStart: Int
        if major == 1 {
            headerLength = Int(data[8]) | Int(data[9]) << 8
            headerStart = 10
        } else {
            headerLength = Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
            headerStart = 12
        }
        let header = String(decoding: data[headerStart..<headerStart + headerLength], as: UTF8.self)
        guard header.contains("'|u1'") || header.contains("'<u1'") else { throw NPYError("\(name): not uint8: \(header)") }
        guard header.contains("'fortran_order': False") else { throw NPYError("\(name): Fortran order") }
        guard let open = header.range(of: "'shape': ("),
              let close = header[open.upperBound...].firstIndex(of: ")") else { throw NPYError("\(name): no shape") }
        let shape = header[open.upperBound..<close].split(separator: ",")
            .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let values = Array(data[(headerStart + headerLength)...])
        guard values.count == shape.reduce(1, *) else { throw NPYError("\(name): \(values.count) values for shape \(shape)") }
        return (shape, values)
    }

    /// The repository's Tests/ReptileDataTests/Fixtures/miniimagenet (found from this source file).
    static let miniImageNet: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ReptileDataTests/Fixtures/miniimagenet").path
}

private struct NPYError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Largest absolute difference between two equally long byte arrays.
private func maxDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
    precondition(a.count == b.count)
    var worst = 0
    for i in a.indices { worst = max(worst, abs(Int(a[i]) - Int(b[i]))) }
    return worst
}

/// Mean absolute difference between two equally long byte arrays.
private func meanDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
    precondition(a.count == b.count && !a.isEmpty)
    var sum = 0
    for i in a.indices { sum += abs(Int(a[i]) - Int(b[i])) }
    return Double(sum) / Double(a.count)
}

/// The FormatError thrown by `body`, or nil (recorded as a test failure) if it threw none or another error.
private func formatError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> FormatError? {
    do {
        try body()
        Issue.record("expected a FormatError, but decoding succeeded", sourceLocation: sourceLocation)
    } catch let error as FormatError {
        return error
    } catch {
        Issue.record("expected a FormatError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Tolerance against Pillow's decode: both use libjpeg-turbo's accurate integer IDCT, but versions and
/// SIMD paths may round differently by a step or two.
private let pixelTolerance = 2

// MARK: - Decoding

@Suite("JPEG decoding")
struct JPEGDecodingTests {
    @Test("baseline colour JPEG: size, channels and pixels match Pillow's decode")
    func baselineColour() throws {
        let image = try JPEG.decode(path: JPEGFixture.path("color_67x45.jpg"))
        #expect(image.width == 67)
        #expect(image.height == 45)
        #expect(image.channels == 3)
        #expect(image.pixels.count == 67 * 45 * 3)
        let reference = try JPEGFixture.npy("color_67x45.npy")
        #expect(reference.shape == [45, 67, 3])
        #expect(maxDifference(image.pixels, reference.values) <= pixelTolerance)
        #expect(meanDifference(image.pixels, reference.values) < 0.5)
    }

    @Test("progressive JPEG matches Pillow's decode")
    func progressive() throws {
        let image = try JPEG.decode(path: JPEGFixture.path("progressive_48x32.jpg"))
        #expect((image.width, image.height) == (48, 32))
        let reference = try JPEGFixture.npy("progressive_48x32.npy")
        #expect(reference.shape == [32, 48, 3])
        #expect(maxDifference(image.pixels, reference.values) <= pixelTolerance)
    }

    @Test("grayscale JPEG becomes RGB with three equal channels")
    func grayscaleToRGB() throws {
        let image = try JPEG.decode(path: JPEGFixture.path("gray_40x30.jpg"))
        #expect((image.width, image.height, image.channels) == (40, 30, 3))
        #expect(image.pixels.count == 40 * 30 * 3)
        var gray = [UInt8]()
        var allEqual = true
        for p in stride(from: 0, to: image.pixels.count, by: 3) {
            let (r, g, b) = (image.pixels[p], image.pixels[p + 1], image.pixels[p + 2])
            if r != g || g != b { allEqual = false }
            gray.append(r)
        }
        #expect(allEqual)
        let reference = try JPEGFixture.npy("gray_40x30.npy")
        #expect(reference.shape == [30, 40])
        #expect(maxDifference(gray, reference.values) <= pixelTolerance)
    }

    @Test("Adobe CMYK JPEG is converted to RGB like Pillow does")
    func cmykToRGB() throws {
        let image = try JPEG.decode(path: JPEGFixture.path("cmyk_32x24.jpg"))
        #expect((image.width, image.height) == (32, 24))
        let reference = try JPEGFixture.npy("cmyk_32x24.npy")
        #expect(reference.shape == [24, 32, 3])
        // CMYK is stored at full resolution, so only IDCT rounding (amplified by C·K) differs.
        #expect(maxDifference(image.pixels, reference.values) <= pixelTolerance + 1)
    }

    @Test("decoding bytes and decoding the file give the same image; the pixel layout is row-major RGB")
    func bytesAndPathAgree() throws {
        let fromPath = try JPEG.decode(path: JPEGFixture.path("color_67x45.jpg"))
        let fromBytes = try JPEG.decode(try JPEGFixture.bytes("color_67x45.jpg"), source: "color")
        #expect(fromPath == fromBytes)
        // The saturated red block at rows 5..<18, columns 8..<30 of the generated image.
        let p = (10 * 67 + 15) * 3
        #expect(fromPath.pixels[p] > 180 && fromPath.pixels[p + 1] < 90 && fromPath.pixels[p + 2] < 90)
    }

    @Test("bytes after the EOI marker are ignored")
    func trailingBytesAfterEOI() throws {
        let bytes = try JPEGFixture.bytes("color_67x45.jpg")
        let clean = try JPEG.decode(bytes, source: "clean")
        let padded = try JPEG.decode(bytes + [0, 0, 0x12, 0x34], source: "padded")
        #expect(clean == padded)
    }
}

// MARK: - DCT-domain downscaling

/// A requested minimum size and the output libjpeg's scaling should give for it.
struct JPEGScaleCase: Sendable, CustomTestStringConvertible {
    var minimum: (width: Int, height: Int)?
    var expected: (width: Int, height: Int)
    var testDescription: String {
        let requested = minimum.map { "\($0.width)×\($0.height)" } ?? "nil"
        return "minimum \(requested) → \(expected.width)×\(expected.height)"
    }
}

@Suite("JPEG DCT downscaling")
struct JPEGScalingTests {
    /// photo_400x300.jpg: the largest denominator d ∈ {8, 4, 2, 1} with ceil(400/d) ≥ w and ceil(300/d) ≥ h.
    static let photoCases: [JPEGScaleCase] = [
        JPEGScaleCase(minimum: nil, expected: (400, 300)),
        JPEGScaleCase(minimum: (84, 84), expected: (200, 150)),    // 1/4 would give 100×75, too short
        JPEGScaleCase(minimum: (84, 75), expected: (100, 75)),     // 1/4
        JPEGScaleCase(minimum: (100, 75), expected: (100, 75)),    // exactly 1/4
        JPEGScaleCase(minimum: (101, 75), expected: (200, 150)),   // one pixel too wide for 1/4
        JPEGScaleCase(minimum: (84, 0), expected: (100, 75)),      // 0: no constraint on the height
        JPEGScaleCase(minimum: (-5, 84), expected: (200, 150)),    // negative: no constraint on the width
        JPEGScaleCase(minimum: (1, 1), expected: (50, 38)),        // 1/8, 300/8 = 37.5 rounds up
        JPEGScaleCase(minimum: (50, 38), expected: (50, 38)),
        JPEGScaleCase(minimum: (51, 38), expected: (100, 75)),
        JPEGScaleCase(minimum: (200, 150), expected: (200, 150)),  // 1/2
        JPEGScaleCase(minimum: (201, 150), expected: (400, 300)),
        JPEGScaleCase(minimum: (400, 300), expected: (400, 300)),
        JPEGScaleCase(minimum: (5000, 5000), expected: (400, 300)), // smaller than the minimum: full size
        JPEGScaleCase(minimum: (0, 0), expected: (400, 300)),       // no positive side: full size
    ]

    @Test("picks the largest denominator whose output still covers the minimum", arguments: photoCases)
    func photoScale(_ scale: JPEGScaleCase) throws {
        let image = try JPEG.decode(path: JPEGFixture.path("photo_400x300.jpg"), minimumSize: scale.minimum)
        #expect(image.width == scale.expected.width)
        #expect(image.height == scale.expected.height)
        #expect(image.pixels.count == scale.expected.width * scale.expected.height * 3)
    }

    /// color_67x45.jpg: odd sizes, so every scale rounds up.
    static let oddCases: [JPEGScaleCase] = [
        JPEGScaleCase(minimum: (1, 1), expected: (9, 6)),
        JPEGScaleCase(minimum: (17, 12), expected: (17, 12)),
        JPEGScaleCase(minimum: (18, 12), expected: (34, 23)),
        JPEGScaleCase(minimum: (34, 23), expected: (34, 23)),
        JPEGScaleCase(minimum: (34, 24), expected: (67, 45)),
    ]

    @Test("output sizes round up for odd image sizes", arguments: oddCases)
    func oddScale(_ scale: JPEGScaleCase) throws {
        let image = try JPEG.decode(try JPEGFixture.bytes("color_67x45.jpg"), source: "color_67x45.jpg",
                                    minimumSize: scale.minimum)
        #expect((image.width, image.height) == scale.expected)
    }

    @Test("1/4 scaled pixels match Pillow's draft-mode (DCT-scaled) decode")
    func quarterPixels() throws {
        let image = try JPEG.decode(path: JPEGFixture.path("photo_400x300.jpg"), minimumSize: (100, 75))
        let reference = try JPEGFixture.npy("photo_400x300_quarter.npy")
        #expect(reference.shape == [75, 100, 3])
        #expect(maxDifference(image.pixels, reference.values) <= pixelTolerance)
    }

    @Test("a scaled decode approximates box-averaging the full-size decode")
    func scaledApproximatesFull() throws {
        let full = try JPEG.decode(path: JPEGFixture.path("photo_400x300.jpg"))
        let half = try JPEG.decode(path: JPEGFixture.path("photo_400x300.jpg"), minimumSize: (200, 150))
        #expect((half.width, half.height) == (200, 150))
        var averaged = [UInt8](repeating: 0, count: 200 * 150 * 3)
        for y in 0..<150 {
            for x in 0..<200 {
                for c in 0..<3 {
                    var sum = 0
                    for dy in 0..<2 {
                        for dx in 0..<2 { sum += Int(full.pixels[((2 * y + dy) * 400 + 2 * x + dx) * 3 + c]) }
                    }
                    averaged[(y * 200 + x) * 3 + c] = UInt8((sum + 2) / 4)
                }
            }
        }
        #expect(meanDifference(half.pixels, averaged) < 3)
    }
}

// MARK: - Errors

@Suite("JPEG errors")
struct JPEGErrorTests {
    @Test("corrupt entropy-coded data is an error naming the file, not damaged pixels")
    func corruptData() {
        let path = JPEGFixture.path("corrupt.jpg")
        guard let error = formatError({ _ = try JPEG.decode(path: path) }) else { return }
        #expect(error.source == path)
        #expect(error.problem.hasPrefix("corrupt JPEG data"), "\(error)")
    }

    @Test("an invalid Huffman table is libjpeg's fatal error, caught instead of exit()")
    func corruptHeader() {
        let path = JPEGFixture.path("corrupt_header.jpg")
        guard let error = formatError({ _ = try JPEG.decode(path: path) }) else { return }
        #expect(error.source == path)
        #expect(error.problem == "bogus Huffman table definition")
    }

    @Test("a truncated file is an error, not an image padded with gray")
    func truncatedFile() {
        let path = JPEGFixture.path("truncated.jpg")
        guard let error = formatError({ _ = try JPEG.decode(path: path) }) else { return }
        #expect(error.source == path)
        #expect(error.problem == "premature end of JPEG file")
        #expect(error.description == "\(path): premature end of JPEG file")
    }

    @Test("a truncated file is an error at every cut point, also when downscaling")
    func everyTruncation() throws {
        let bytes = try JPEGFixture.bytes("color_67x45.jpg")
        var unexpected: [String] = []
        for length in 1..<bytes.count {
            for minimum in [nil, (width: 1, height: 1)] as [(width: Int, height: Int)?] {
                do {
                    _ = try JPEG.decode(Array(bytes[..<length]), source: "cut", minimumSize: minimum)
                    unexpected.append("\(length): decoded")
                } catch let error as FormatError {
                    if error.problem != "premature end of JPEG file" { unexpected.append("\(length): \(error)") }
                }
            }
        }
        #expect(unexpected.isEmpty, "\(unexpected.prefix(5))")
    }

    @Test("junk before the EOI marker is reported as corrupt data")
    func extraneousBytes() throws {
        var bytes = try JPEGFixture.bytes("color_67x45.jpg")
        #expect(Array(bytes.suffix(2)) == [0xFF, 0xD9])
        bytes.insert(contentsOf: [UInt8](repeating: 0x55, count: 16), at: bytes.count - 2)
        guard let error = formatError({ _ = try JPEG.decode(bytes, source: "junk.jpg") }) else { return }
        // The count depends on how far the Huffman decoder had read ahead, so only the form is checked.
        #expect(error.source == "junk.jpg")
        #expect(error.problem.hasPrefix("corrupt JPEG data: "), "\(error)")
        #expect(error.problem.hasSuffix(" extraneous bytes before marker 0xd9"), "\(error)")
    }

    @Test("a PNG is not a JPEG")
    func notAJPEG() {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
        guard let error = formatError({ _ = try JPEG.decode(png, source: "n02105855_2933.JPEG") }) else { return }
        #expect(error.source == "n02105855_2933.JPEG")
        #expect(error.problem == "not a JPEG file: starts with 0x89 0x50")
    }

    @Test("empty input")
    func emptyInput() {
        guard let error = formatError({ _ = try JPEG.decode([], source: "empty.jpg") }) else { return }
        #expect(error.description == "empty.jpg: empty input file")
    }

    @Test("a missing file throws \"no such file\"")
    func missingFile() {
        let path = JPEGFixture.path("does-not-exist.jpg")
        guard let error = formatError({ _ = try JPEG.decode(path: path) }) else { return }
        #expect(error == FormatError(path, "no such file"))
        #expect(error.description == "\(path): no such file")
    }

    @Test("a directory is not a file")
    func directory() {
        guard let error = formatError({ _ = try JPEG.decode(path: JPEGFixture.directory) }) else { return }
        #expect(error == FormatError(JPEGFixture.directory, "is a directory"))
    }

    @Test("error descriptions are one line")
    func oneLineErrors() throws {
        for name in ["corrupt.jpg", "corrupt_header.jpg", "truncated.jpg", "missing.jpg"] {
            guard let error = formatError({ _ = try JPEG.decode(path: JPEGFixture.path(name)) }) else { continue }
            #expect(!error.description.contains("\n"))
            #expect(error.description.hasPrefix(JPEGFixture.path(name) + ": "))
        }
    }
}

// MARK: - Threads

/// Results written from several threads at once.
private final class ResultSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Int: Result<JPEGImage, FormatError>] = [:]

    func set(_ index: Int, _ result: Result<JPEGImage, FormatError>) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    subscript(index: Int) -> Result<JPEGImage, FormatError>? {
        lock.lock()
        defer { lock.unlock() }
        return slots[index]
    }
}

private func decodeResult(path: String, minimumSize: (width: Int, height: Int)?) -> Result<JPEGImage, FormatError> {
    do {
        return .success(try JPEG.decode(path: path, minimumSize: minimumSize))
    } catch let error as FormatError {
        return .failure(error)
    } catch {
        return .failure(FormatError(path, "unexpected error \(error)"))
    }
}

@Suite("JPEG thread safety")
struct JPEGThreadTests {
    @Test("two threads decoding the same file get identical results")
    func twoThreads() throws {
        let path = JPEGFixture.path("photo_400x300.jpg")
        let expected = try JPEG.decode(path: path)
        let results = ResultSlots()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            results.set(i, decodeResult(path: path, minimumSize: nil))
        }
        for i in 0..<2 {
            #expect(try results[i]?.get() == expected)
        }
    }

    @Test("many concurrent decodes, errors included, equal the serial results")
    func manyThreads() {
        let names = ["color_67x45.jpg", "progressive_48x32.jpg", "gray_40x30.jpg", "cmyk_32x24.jpg",
                     "photo_400x300.jpg", "corrupt.jpg", "corrupt_header.jpg", "truncated.jpg", "missing.jpg"]
        let minimums: [(width: Int, height: Int)?] = [nil, (84, 84), (1, 1)]
        let jobs = (0..<3).flatMap { _ in names.flatMap { name in minimums.map { (name, $0) } } }
        let serial = jobs.map { decodeResult(path: JPEGFixture.path($0.0), minimumSize: $0.1) }
        let results = ResultSlots()
        DispatchQueue.concurrentPerform(iterations: jobs.count) { i in
            results.set(i, decodeResult(path: JPEGFixture.path(jobs[i].0), minimumSize: jobs[i].1))
        }
        var mismatches = 0
        for i in jobs.indices where results[i] != serial[i] { mismatches += 1 }
        #expect(mismatches == 0)
        #expect(serial.contains { if case .failure = $0 { return true } else { return false } })
        #expect(serial.contains { if case .success = $0 { return true } else { return false } })
    }
}

// MARK: - Mini-ImageNet fixture tree

@Suite("Mini-ImageNet fixture tree")
struct MiniImageNetFixtureTests {
    @Test("train/val/test with 5/3/3 synset folders of 4 decodable .JPEG files each")
    func layoutAndDecoding() throws {
        let fm = FileManager.default
        let root = JPEGFixture.miniImageNet
        var totalBytes = 0
        var sizes: [String: Int] = [:]
        var grayscale = 0
        for (split, classCount) in [("train", 5), ("val", 3), ("test", 3)] {
            let classes = try fm.contentsOfDirectory(atPath: root + "/" + split).filter { !$0.hasPrefix(".") }.sorted()
            #expect(classes.count == classCount, "\(split): \(classes)")
            for synset in classes {
                #expect(synset.count == 9 && synset.hasPrefix("n") && Int(synset.dropFirst()) != nil, "\(synset)")
                let directory = root + "/" + split + "/" + synset
                let files = try fm.contentsOfDirectory(atPath: directory).filter { !$0.hasPrefix(".") }.sorted()
                #expect(files.count == 4, "\(directory): \(files)")
                for file in files {
                    #expect(file.hasPrefix(synset + "_") && file.hasSuffix(".JPEG"), "\(file)")
                    let path = directory + "/" + file
                    totalBytes += try fm.attributesOfItem(atPath: path)[.size] as? Int ?? 0
                    let image = try JPEG.decode(path: path)
                    sizes["\(image.width)x\(image.height)", default: 0] += 1
                    var gray = true
                    for p in stride(from: 0, to: image.pixels.count, by: 3)
                    where image.pixels[p] != image.pixels[p + 1] || image.pixels[p + 1] != image.pixels[p + 2] {
                        gray = false
                        break
                    }
                    if gray { grayscale += 1 }
                    // Every image also decodes with the loader's typical downscaling request.
                    let small = try JPEG.decode(path: path, minimumSize: (84, 84))
                    #expect(small.width >= min(84, image.width) && small.height >= min(84, image.height))
                }
            }
        }
        #expect(totalBytes < 200_000)
        #expect(grayscale == 1)
        #expect(sizes["84x84"] ?? 0 >= 30)
        #expect(sizes["100x75"] == 3 && sizes["60x90"] == 3 && sizes["176x172"] == 1, "\(sizes)")
    }
}
