// Routing and responses of the demo server. A hand-written responder rather than Hummingbird's
// Router, so that every path/method combination has exactly the answer the API promises
// (404 as JSON under /api/, plain elsewhere; 405 with Allow; errors as one-line JSON).

import Foundation
import Hummingbird
import Logging

struct DemoResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let classifier: any DrawingClassifier
    let maxBodyBytes: Int
    let readTimeout: Duration
    let limiter: ConcurrencyLimiter

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        let isAPI = path == "/api" || path.hasPrefix("/api/")
        do {
            switch path {
            case "/", "/index.html":
                return try asset(PageAssets.html, contentType: "text/html; charset=utf-8", request: request, isAPI: false)
            case "/app.js":
                return try asset(PageAssets.script, contentType: "text/javascript; charset=utf-8", request: request, isAPI: false)
            case "/style.css":
                return try asset(PageAssets.style, contentType: "text/css; charset=utf-8", request: request, isAPI: false)
            case "/api/info":
                try allow([.get, .head], for: request, isAPI: true)
                let response = jsonResponse(.ok, try Self.encoder.encode(classifier.info))
                return request.method == .head ? response.createHeadResponse() : response
            case "/api/classify":
                try allow([.post], for: request, isAPI: true)
                return try await classify(request: request, context: context)
            default:
                if isAPI { throw APIError(.notFound, "no API endpoint \(request.method.rawValue) \(path); see GET /api/info and POST /api/classify") }
                return plainResponse(.notFound, "404 Not Found: \(path)\n")
            }
        } catch let error as APIError {
            if error.status.code >= 500 {
                context.logger.error("\(request.method.rawValue) \(path) → \(error.status.code): \(error.message)")
            } else {
                context.logger.info("\(request.method.rawValue) \(path) → \(error.status.code): \(error.message)")
            }
            var response = isAPI ? errorResponse(error) : plainResponse(error.status, "\(error.status.code) \(error.status.reasonPhrase): \(error.message)\n")
            for field in error.headers { response.headers.append(field) }
            return request.method == .head ? response.createHeadResponse() : response
        }
    }

    // MARK: Classification

    private func classify(request: Request, context: Context) async throws -> Response {
        let mediaType = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "application/json" else {
            throw APIError(.unsupportedMediaType, "the body must be JSON sent as Content-Type: application/json (got \(mediaType.map { "'\($0)'" } ?? "none"))")
        }
        let body = try await readBody(request)
        let parsed = try ClassifyRequest.decode(body)
        let classifier = self.classifier
        let start = ContinuousClock.now
        let result: ClassificationResult
        do {
            result = try await limiter.withPermit {
                try await runOffCooperativePool { try classifier.classify(train: parsed.train, input: parsed.input) }
            }
        } catch is LimiterQueueFull {
            throw APIError(.serviceUnavailable, "the server is busy (\(limiter.maxWaiting) classifications already waiting); retry shortly",
                           headers: [.retryAfter: "1"])
        } catch is CancellationError {
            throw APIError(.serviceUnavailable, "the request was cancelled while waiting (server shutting down?)")
        } catch {
            throw APIError(.internalServerError, "the classifier failed: \(error)")
        }
        let elapsed = ContinuousClock.now - start
        try check(result, classes: parsed.train.count)
        var response = jsonResponse(.ok, try Self.encoder.encode(result))
        let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        response.headers[.serverTiming] = "classify;dur=\(String(format: "%.1f", milliseconds))"
        context.logger.debug("classified \(parsed.train.count) classes in \(String(format: "%.1f", milliseconds)) ms")
        return response
    }

    /// The body, at most `maxBodyBytes` long (else 413).
    private func readBody(_ request: Request) async throws -> [UInt8] {
        let tooLarge = APIError(.contentTooLarge, "request body larger than \(maxBodyBytes) bytes")
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBodyBytes { throw tooLarge }
        let (limit, timeout) = (maxBodyBytes, readTimeout)
        do {
            return try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
                group.addTask { Array(try await request.body.collect(upTo: limit).readableBytesView) }
                group.addTask { try await Task.sleep(for: timeout); return nil }
                let first = try await group.next()!
                group.cancelAll()
                guard let bytes = first else {
                    throw APIError(.requestTimeout, "the request body did not arrive within \(timeout)", headers: [.connection: "close"])
                }
                return bytes
            }
        } catch let error as HTTPResponseError where error.status == .contentTooLarge {
            throw tooLarge  // NIO's "too many bytes" error
        }
    }

    /// A classifier's answer must have one finite probability per class (summing to about 1) and finite losses.
    private func check(_ result: ClassificationResult, classes: Int) throws {
        guard result.probabilities.count == classes else {
            throw APIError(.internalServerError, "the classifier returned \(result.probabilities.count) probabilities for \(classes) classes")
        }
        guard result.probabilities.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 1 }),
              abs(result.probabilities.reduce(0, +) - 1) < 1e-3 else {
            throw APIError(.internalServerError, "the classifier returned invalid probabilities \(result.probabilities)")
        }
        guard result.losses.allSatisfy(\.isFinite) else {
            throw APIError(.internalServerError, "the classifier returned non-finite adaptation losses \(result.losses)")
        }
    }

    // MARK: Responses

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private func allow(_ methods: [HTTPRequest.Method], for request: Request, isAPI: Bool) throws {
        guard !methods.contains(request.method) else { return }
        let list = methods.map(\.rawValue).joined(separator: ", ")
        throw APIError(.methodNotAllowed, "method \(request.method.rawValue) not allowed on \(request.uri.path); use \(list)",
                       headers: [.allow: list])
    }

    private func asset(_ text: String, contentType: String, request: Request, isAPI: Bool) throws -> Response {
        try allow([.get, .head], for: request, isAPI: isAPI)
        var headers: HTTPFields = [
            .contentType: contentType,
            .cacheControl: "no-cache",
            .xContentTypeOptions: "nosniff",
            .referrerPolicy: "no-referrer",
        ]
        if contentType.hasPrefix("text/html") {
            headers[.contentSecurityPolicy] = PageAssets.contentSecurityPolicy
            headers[.xFrameOptions] = "DENY"
        }
        let response = Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        return request.method == .head ? response.createHeadResponse() : response
    }

    private func jsonResponse(_ status: HTTPResponse.Status, _ data: Data) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "application/json; charset=utf-8",
                .cacheControl: "no-store",
                .xContentTypeOptions: "nosniff",
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    private func errorResponse(_ error: APIError) -> Response {
        // JSONEncoder escapes control characters, so the body is always one line.
        let data = (try? Self.encoder.encode(["error": error.message])) ?? Data(#"{"error":"internal error"}"#.utf8)
        return jsonResponse(error.status, data)
    }

    private func plainResponse(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/plain; charset=utf-8", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }
}

/// `HTTPField` itself is not re-exported by Hummingbird.
extension HTTPFields.Element.Name {
    static let serverTiming = Self("Server-Timing")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
}
