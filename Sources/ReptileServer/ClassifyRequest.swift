// Validation of `POST /api/classify` bodies: every way a body can be wrong maps to one status and
// one message that names the offending key or element (for example `train[1][17]`).

import Hummingbird
import ReptileFormats

/// A validated classification request.
struct ClassifyRequest: Sendable, Equatable {
    /// Drawings are 28×28.
    static let side = 28
    static let pixelCount = side * side
    /// How many class drawings the demo accepts.
    static let classRange = 2...5

    var train: [[Float]]
    var input: [Float]

    /// Parses and validates a body.
    static func decode(_ body: [UInt8]) throws(APIError) -> ClassifyRequest {
        let json: JSONValue
        do {
            json = try JSONParser.parse(body)
        } catch {
            throw APIError(.badRequest, "malformed JSON: \(error)")
        }
        guard case .object = json else {
            throw APIError(.badRequest, "the body must be a JSON object with keys \"train\" and \"input\", got \(json.kind)")
        }
        guard let trainValue = json["train"] else {
            throw APIError(.badRequest, "missing key \"train\" (an array of 2 to 5 drawings, one per class, each 784 numbers)")
        }
        guard let inputValue = json["input"] else {
            throw APIError(.badRequest, "missing key \"input\" (an array of 784 numbers)")
        }
        guard case .array(let drawings) = trainValue else {
            throw APIError(.badRequest, "\"train\" must be an array of drawings (arrays of 784 numbers), got \(trainValue.kind)")
        }
        guard case .array = inputValue else {
            throw APIError(.badRequest, "\"input\" must be an array of 784 numbers, got \(inputValue.kind)")
        }
        guard classRange.contains(drawings.count) else {
            let noun = drawings.count == 1 ? "drawing" : "drawings"
            let limit = drawings.count < classRange.lowerBound
                ? "at least \(classRange.lowerBound) classes are needed" : "at most \(classRange.upperBound) classes are supported"
            throw APIError(.unprocessableContent,
                           "\"train\" has \(drawings.count) \(noun); \(limit) (one drawing per class, 2 to 5)")
        }
        var train: [[Float]] = []
        train.reserveCapacity(drawings.count)
        for (index, drawing) in drawings.enumerated() {
            train.append(try pixels(drawing, name: "train[\(index)]"))
        }
        return ClassifyRequest(train: train, input: try pixels(inputValue, name: "input"))
    }

    /// A drawing: an array of exactly 784 finite numbers in [0, 1].
    private static func pixels(_ value: JSONValue, name: String) throws(APIError) -> [Float] {
        guard case .array(let elements) = value else {
            throw APIError(.badRequest, "\(name) must be an array of \(pixelCount) numbers, got \(value.kind)")
        }
        guard elements.count == pixelCount else {
            throw APIError(.badRequest,
                           "\(name) has \(elements.count) values; a drawing must have \(pixelCount) (28×28, row-major)")
        }
        var result = [Float](repeating: 0, count: pixelCount)
        for (index, element) in elements.enumerated() {
            guard let number = element.doubleValue else {
                var got = element.kind
                if case .string(let string) = element {
                    got += " (\"\(string.count > 20 ? String(string.prefix(20)) + "…" : string)\")"
                }
                throw APIError(.badRequest, "\(name)[\(index)] must be a number in [0, 1], got \(got)")
            }
            guard number.isFinite else {
                throw APIError(.badRequest, "\(name)[\(index)] is not a finite number (it overflows a double)")
            }
            guard number >= 0 && number <= 1 else {
                throw APIError(.badRequest, "\(name)[\(index)] is \(number), outside [0, 1]")
            }
            result[index] = Float(number)
        }
        return result
    }
}

/// An error answered to the client as `{"error": message}` with `status`.
struct APIError: Error, Sendable, Equatable {
    var status: HTTPResponse.Status
    var message: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }
}
