// API tests of the drawing demo's server: the real DemoServer on a loopback port, real HTTP.

import Foundation
import Hummingbird
import ReptileServer
import Testing

@Suite("Demo server API", .timeLimit(.minutes(3)))
struct DemoServerAPITests {
    // MARK: Page

    @Test("GET / serves the page, its script and style sheet, with no external assets")
    func page() async throws {
        try await withDemoServer { port in
            try await withConnection(port: port) { connection in
                let page = try await connection.send(.get, "/")
                #expect(page.status == 200)
                #expect(page.contentType == "text/html; charset=utf-8")
                #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
                for fragment in ["<canvas id=\"cell-0\"", "id=\"cell-1\"", "id=\"cell-2\"", "id=\"cell-input\"",
                                 ">Edit All</button>", ">Edit</button>", "src=\"/app.js\"", "href=\"/style.css\""] {
                    #expect(page.body.contains(fragment), "page lacks \(fragment)")
                }

                let script = try await connection.send(.get, "/app.js")
                #expect(script.status == 200)
                #expect(script.contentType == "text/javascript; charset=utf-8")
                #expect(script.body.contains("/api/classify"))
                #expect(script.body.contains("setPointerCapture"))

                let style = try await connection.send(.get, "/style.css")
                #expect(style.status == 200)
                #expect(style.contentType == "text/css; charset=utf-8")
                #expect(style.body.contains("touch-action: none"))

                for asset in [page, script, style] {
                    #expect(!asset.body.contains("http://") && !asset.body.contains("https://"), "an asset refers to another site")
                }

                let head = try await connection.send(.head, "/")
                #expect(head.status == 200)
                #expect(head.bodyBytes.isEmpty)
                #expect(head.headers[.contentLength] == String(page.bodyBytes.count))
            }
        }
    }

    // MARK: Info

    @Test("GET /api/info answers the classifier's info as JSON")
    func info() async throws {
        let classifier = makeTestClassifier()
        try await withDemoServer(classifier: classifier) { port in
            let answer = try await request(port: port, .get, "/api/info")
            #expect(answer.status == 200)
            #expect(answer.isJSON)
            #expect(answer.cacheControl == "no-store")
            let object = try #require(answer.jsonObject as? [String: String])
            #expect(object == classifier.info)

            let head = try await request(port: port, .head, "/api/info")
            #expect(head.status == 200)
            #expect(head.bodyBytes.isEmpty)
        }
    }

    // MARK: Classification

    @Test("POST /api/classify: the demo's three classes, each class's variant is recognised")
    func classifyDemoClasses() async throws {
        try await withDemoServer { port in
            try await withConnection(port: port) { connection in
                for inputClass in 0..<3 {
                    let answer = try await connection.send(.post, "/api/classify", json: demoBody(inputClass: inputClass))
                    #expect(answer.status == 200, "\(answer.body)")
                    #expect(answer.isJSON)
                    #expect(answer.cacheControl == "no-store")
                    #expect(answer.headers[HTTPFields.Element.Name("Server-Timing")!]?.hasPrefix("classify;dur=") == true)
                    let result = try #require(answer.result, "not a classification: \(answer.body)")
                    try checkValid(result, classes: 3)
                    let predicted = result.probabilities.indices.max { result.probabilities[$0] < result.probabilities[$1] }
                    #expect(predicted == inputClass, "input like class \(inputClass + 1) classified as \(predicted.map { $0 + 1 } ?? -1): \(result.probabilities)")
                }
            }
        }
    }

    @Test("POST /api/classify accepts 2 to 5 classes", arguments: 2...5)
    func classifyClassCounts(classes: Int) async throws {
        try await withDemoServer { port in
            let body = classifyBody(train: Array(TestDrawings.classes.prefix(classes)), input: TestDrawings.variants[0])
            let answer = try await request(port: port, .post, "/api/classify", body: Array(body.utf8))
            #expect(answer.status == 200, "\(answer.body)")
            try checkValid(try #require(answer.result), classes: classes)
        }
    }

    @Test("POST /api/classify accepts every JSON number syntax, whitespace and unknown keys")
    func classifyNumberSyntax() async throws {
        try await withDemoServer { port in
            // The same drawings, with numbers written as 1, 1.0, 1e0, 10E-1, 0, -0, 0.0, 0e5, …
            let ones = ["1", "1.0", "1e0", "10E-1", "0.1e1", "1E+0"]
            let zeros = ["0", "-0", "0.0", "0e5", "-0.0E-2", "1e-400"]
            func spelled(_ drawing: [Float]) -> String {
                "[\n " + drawing.enumerated().map { index, value -> String in
                    if value == 1 { return ones[index % ones.count] }
                    if value == 0 { return zeros[index % zeros.count] }
                    return String(value)
                }.joined(separator: " ,\t") + "\r\n]"
            }
            let train = TestDrawings.classes.prefix(3).map(spelled).joined(separator: ",")
            let body = "  {\"comment\": \"caf\\u00e9 \\ud83d\\ude00\", \"train\" : [\(train)], \"input\":\(spelled(TestDrawings.variants[2])), \"extra\": [null, true, {}]}\n"
            let spelledAnswer = try await request(port: port, .post, "/api/classify", body: Array(body.utf8))
            #expect(spelledAnswer.status == 200, "\(spelledAnswer.body)")
            let plainAnswer = try await request(port: port, .post, "/api/classify", body: Array(demoBody(inputClass: 2).utf8))
            let spelledResult = try #require(spelledAnswer.result)
            let plainResult = try #require(plainAnswer.result)
            for (a, b) in zip(spelledResult.probabilities, plainResult.probabilities) {
                #expect(abs(a - b) < 1e-5, "\(spelledResult.probabilities) vs \(plainResult.probabilities)")
            }
        }
    }

    // MARK: Bad input

    struct BadCase: Sendable, CustomTestStringConvertible {
        var name: String
        var body: String
        var status: Int
        var mentions: [String]
        var testDescription: String { name }
    }

    static let badCases: [BadCase] = {
        let drawing = jsonArray(TestDrawings.classes[0])
        let three = [drawing, jsonArray(TestDrawings.classes[1]), jsonArray(TestDrawings.classes[2])].joined(separator: ",")
        let input = jsonArray(TestDrawings.variants[1])
        func pixels(_ count: Int, replacing index: Int? = nil, with literal: String = "0") -> String {
            "[" + (0..<count).map { $0 == index ? literal : "0" }.joined(separator: ",") + "]"
        }
        func body(train: String = "[\(three)]", input: String = input) -> String { "{\"train\":\(train),\"input\":\(input)}" }
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        return [
            BadCase(name: "truncated JSON", body: "{\"train\": [[0, 1,", status: 400, mentions: ["malformed JSON", "end of input"]),
            BadCase(name: "empty body", body: "", status: 400, mentions: ["malformed JSON", "empty"]),
            BadCase(name: "not JSON at all", body: "train=1&input=2", status: 400, mentions: ["malformed JSON", "expected true", "at byte 0"]),
            BadCase(name: "data after the JSON value", body: body() + " {}", status: 400, mentions: ["malformed JSON", "after the JSON value"]),
            BadCase(name: "single quotes", body: "{'train': []}", status: 400, mentions: ["malformed JSON"]),
            BadCase(name: "trailing comma", body: "{\"train\": [\(three)], \"input\": \(input),}", status: 400, mentions: ["malformed JSON"]),
            BadCase(name: "bare NaN literal", body: body(input: pixels(784, replacing: 3, with: "NaN")), status: 400, mentions: ["malformed JSON", "'N'"]),
            BadCase(name: "bare Infinity literal", body: body(input: pixels(784, replacing: 3, with: "-Infinity")), status: 400, mentions: ["malformed JSON"]),
            BadCase(name: "leading zero", body: body(input: pixels(784, replacing: 3, with: "01")), status: 400, mentions: ["malformed JSON", "leading zero"]),
            BadCase(name: "duplicate key", body: "{\"train\":[\(three)],\"input\":\(input),\"input\":\(input)}", status: 400, mentions: ["duplicate key \"input\""]),
            BadCase(name: "nesting too deep", body: deep, status: 400, mentions: ["malformed JSON", "nesting"]),
            BadCase(name: "top level is an array", body: "[\(three)]", status: 400, mentions: ["JSON object", "an array"]),
            BadCase(name: "missing train", body: "{\"input\":\(input)}", status: 400, mentions: ["missing key \"train\""]),
            BadCase(name: "missing input", body: "{\"train\":[\(three)]}", status: 400, mentions: ["missing key \"input\""]),
            BadCase(name: "train is a string", body: body(train: "\"circle\""), status: 400, mentions: ["\"train\" must be an array", "a string"]),
            BadCase(name: "input is an object", body: body(input: "{}"), status: 400, mentions: ["\"input\" must be an array", "an object"]),
            BadCase(name: "a drawing is a number", body: body(train: "[\(drawing), 5]"), status: 400, mentions: ["train[1] must be an array", "a number"]),
            BadCase(name: "a drawing has 700 values", body: body(train: "[\(drawing),\(pixels(700))]"), status: 400, mentions: ["train[1]", "700", "784"]),
            BadCase(name: "a drawing is empty", body: body(train: "[\(drawing),[]]"), status: 400, mentions: ["train[1]", "has 0 values", "784"]),
            BadCase(name: "input has 785 values", body: body(input: pixels(785)), status: 400, mentions: ["input has 785 values", "784"]),
            BadCase(name: "nested arrays as pixels", body: body(input: "[" + String(repeating: "[0],", count: 783) + "[0]]"), status: 400, mentions: ["input[0] must be a number", "an array"]),
            BadCase(name: "\"NaN\" as a string", body: body(train: "[\(drawing),\(pixels(784, replacing: 3, with: "\"NaN\""))]"), status: 400, mentions: ["train[1][3] must be a number", "\"NaN\""]),
            BadCase(name: "\"Infinity\" as a string", body: body(input: pixels(784, replacing: 9, with: "\"Infinity\"")), status: 400, mentions: ["input[9] must be a number", "\"Infinity\""]),
            BadCase(name: "1e999", body: body(input: pixels(784, replacing: 10, with: "1e999")), status: 400, mentions: ["input[10]", "not a finite number"]),
            BadCase(name: "-1e999", body: body(train: "[\(drawing),\(pixels(784, replacing: 0, with: "-1e999"))]"), status: 400, mentions: ["train[1][0]", "not a finite number"]),
            BadCase(name: "value above 1", body: body(train: "[\(drawing),\(drawing),\(pixels(784, replacing: 0, with: "1.5"))]"), status: 400, mentions: ["train[2][0] is 1.5", "outside [0, 1]"]),
            BadCase(name: "negative value", body: body(input: pixels(784, replacing: 783, with: "-0.25")), status: 400, mentions: ["input[783] is -0.25", "outside [0, 1]"]),
            BadCase(name: "null pixel", body: body(input: pixels(784, replacing: 0, with: "null")), status: 400, mentions: ["input[0] must be a number", "null"]),
            BadCase(name: "boolean pixel", body: body(input: pixels(784, replacing: 1, with: "true")), status: 400, mentions: ["input[1] must be a number", "a boolean"]),
            BadCase(name: "no classes", body: body(train: "[]"), status: 422, mentions: ["\"train\" has 0 drawings", "at least 2"]),
            BadCase(name: "one class", body: body(train: "[\(drawing)]"), status: 422, mentions: ["\"train\" has 1 drawing;", "at least 2"]),
            BadCase(name: "six classes", body: body(train: "[" + Array(repeating: drawing, count: 6).joined(separator: ",") + "]"), status: 422, mentions: ["\"train\" has 6 drawings", "at most 5"]),
        ]
    }()

    @Test("POST /api/classify rejects bad input with a 4xx and a JSON error naming the problem", arguments: badCases)
    func rejectsBadInput(_ badCase: BadCase) async throws {
        try await withDemoServer { port in
            let answer = try await request(port: port, .post, "/api/classify", body: Array(badCase.body.utf8))
            try expectError(answer, status: badCase.status, mentions: badCase.mentions)
        }
    }

    @Test("The server keeps serving, on the same connection too, after every kind of bad request")
    func keepsServingAfterBadRequests() async throws {
        try await withDemoServer(maxBodyBytes: 64 * 1024) { port in
            try await withConnection(port: port) { connection in
                for badCase in Self.badCases {
                    let answer = try await connection.send(.post, "/api/classify", body: Array(badCase.body.utf8))
                    #expect(answer.status == badCase.status, "\(badCase.name): \(answer.body)")
                }
                let tooLarge = try await connection.send(.post, "/api/classify", body: Array(repeating: UInt8(ascii: " "), count: 100_000))
                #expect(tooLarge.status == 413)
                #expect(try await connection.send(.get, "/api/classify").status == 405)
                #expect(try await connection.send(.get, "/api/missing").status == 404)
                let good = try await connection.send(.post, "/api/classify", json: demoBody())
                #expect(good.status == 200, "\(good.body)")
                #expect(good.result != nil)
            }
            // and on a new connection
            let good = try await request(port: port, .post, "/api/classify", body: Array(demoBody().utf8))
            #expect(good.status == 200)
        }
    }

    // MARK: Size limit

    @Test("Bodies over the size limit get 413; a body of exactly the limit is accepted")
    func bodySizeLimit() async throws {
        let body = Array(demoBody().utf8)
        let limit = body.count + 1000
        try await withDemoServer(maxBodyBytes: limit) { port in
            let padded = body + Array(repeating: UInt8(ascii: " "), count: limit - body.count)
            let atLimit = try await request(port: port, .post, "/api/classify", body: padded)
            #expect(atLimit.status == 200, "\(atLimit.body)")

            let over = try await request(port: port, .post, "/api/classify", body: padded + [UInt8(ascii: " ")])
            try expectError(over, status: 413, mentions: ["larger than \(limit) bytes"])

            let huge = try await request(port: port, .post, "/api/classify", body: Array(repeating: UInt8(ascii: "["), count: 2_000_000))
            try expectError(huge, status: 413, mentions: ["larger than"])

            #expect(try await request(port: port, .post, "/api/classify", body: body).status == 200)
        }
    }

    @Test("The default size limit (256 KiB) accepts five classes written at full precision")
    func defaultLimitFitsFiveClasses() async throws {
        try await withDemoServer { port in
            // 0.123456789-style numbers: the longest a client may reasonably write.
            let noisy: [[Float]] = (0..<6).map { seed in (0..<784).map { Float(($0 * 7919 + seed * 104_729) % 1_000_003) / 1_000_003 } }
            let body = classifyBody(train: Array(noisy.prefix(5)), input: noisy[5])
            #expect(body.utf8.count < 256 * 1024)
            let answer = try await request(port: port, .post, "/api/classify", body: Array(body.utf8))
            #expect(answer.status == 200, "\(answer.body)")
            let over = try await request(port: port, .post, "/api/classify", body: Array(repeating: UInt8(ascii: " "), count: 256 * 1024 + 1))
            #expect(over.status == 413)
        }
    }

    // MARK: Methods and paths

    @Test("Wrong methods get 405 with Allow")
    func wrongMethods() async throws {
        try await withDemoServer { port in
            for method in [HTTPRequest.Method.get, .put, .delete, .patch] {
                let answer = try await request(port: port, method, "/api/classify", body: method == .get ? nil : Array(demoBody().utf8))
                try expectError(answer, status: 405, mentions: ["\(method.rawValue) not allowed", "POST"])
                #expect(answer.headers[.allow] == "POST")
            }
            let info = try await request(port: port, .post, "/api/info", body: Array("{}".utf8))
            try expectError(info, status: 405, mentions: ["POST not allowed", "GET"])
            #expect(info.headers[.allow] == "GET, HEAD")

            let page = try await request(port: port, .post, "/", body: Array("{}".utf8))
            #expect(page.status == 405)
            #expect(page.contentType?.hasPrefix("text/plain") == true)
            #expect(page.headers[.allow] == "GET, HEAD")
        }
    }

    @Test("Unknown paths get 404: JSON under /api/, plain text elsewhere")
    func unknownPaths() async throws {
        try await withDemoServer { port in
            for path in ["/api/nope", "/api", "/api/classify/extra", "/api/", "/api/info/"] {
                let answer = try await request(port: port, .get, path)
                try expectError(answer, status: 404, mentions: ["no API endpoint"])
            }
            let post = try await request(port: port, .post, "/api/classifier", body: Array(demoBody().utf8))
            try expectError(post, status: 404, mentions: ["POST /api/classifier"])
            for path in ["/nope", "/index.htm", "/favicon.ico", "/app.js/x"] {
                let answer = try await request(port: port, .get, path)
                #expect(answer.status == 404, "\(path)")
                #expect(answer.contentType == "text/plain; charset=utf-8", "\(path)")
                #expect(answer.jsonObject == nil)
            }
            // A query string does not change the route.
            #expect(try await request(port: port, .get, "/api/info?x=1").status == 200)
        }
    }

    // MARK: Classifier failures

    @Test("A classifier that throws gives 500 with a JSON error, and the server keeps serving")
    func classifierThrows() async throws {
        try await withDemoServer(classifier: FailingClassifier()) { port in
            for _ in 0..<3 {
                let answer = try await request(port: port, .post, "/api/classify", body: Array(demoBody().utf8))
                try expectError(answer, status: 500, mentions: ["classifier failed", "model exploded (test)"])
            }
            #expect(try await request(port: port, .get, "/api/info").status == 200)
        }
    }

    @Test("A classifier answer that does not fit the request gives 500", arguments: [
        ClassificationResult(probabilities: [0.5, 0.5], losses: []),
        ClassificationResult(probabilities: [0.5, 0.5, .nan], losses: []),
        ClassificationResult(probabilities: [0.2, 0.2, 0.2], losses: []),
        ClassificationResult(probabilities: [0.2, 0.3, 0.5], losses: [1, .infinity]),
    ])
    func classifierAnswersNonsense(_ answer: ClassificationResult) async throws {
        try await withDemoServer(classifier: FixedClassifier(answer: answer)) { port in
            let response = try await request(port: port, .post, "/api/classify", body: Array(demoBody().utf8))
            try expectError(response, status: 500, mentions: ["the classifier returned"])
        }
    }

    // MARK: Concurrency

    @Test("50 concurrent clients are all served, at most one classification per core at a time, off the event loops")
    func concurrentClients() async throws {
        let classifier = InstrumentedClassifier()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        try await withDemoServer(classifier: classifier) { port in
            let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                for client in 0..<50 {
                    group.addTask {
                        try await withConnection(port: port) { connection in
                            var statuses: [Int] = []
                            for request in 0..<2 {
                                let answer = try await connection.send(.post, "/api/classify", json: demoBody(inputClass: (client + request) % 3))
                                if answer.status == 200 { #expect(answer.result?.probabilities.count == 3) }
                                statuses.append(answer.status)
                            }
                            return statuses
                        }
                    }
                }
                return try await group.reduce(into: [Int]()) { $0 += $1 }
            }
            #expect(statuses.count == 100)
            #expect(statuses.allSatisfy { $0 == 200 }, "statuses: \(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))")
        }
        #expect(classifier.calls == 100)
        #expect(classifier.maxConcurrent <= cores)
        #expect(classifier.eventLoopThreadCalls == 0)
    }

    @Test("Requests beyond the concurrency limit queue, and slow classifications block neither event loops nor other requests")
    func slowClassificationsQueue() async throws {
        let delay = 2.0
        let classifier = InstrumentedClassifier(delay: delay)
        try await withDemoServer(classifier: classifier, maxConcurrentClassifications: 2) { port in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await request(port: port, .post, "/api/classify", body: Array(demoBody().utf8)).status }
                }
                #expect(try await waitUntil { classifier.running == 2 }, "two classifications should be running")
                // Both permits are held by blocking work; other requests must still be answered at once,
                // not after the classifications (≥ 2 s).
                let start = ContinuousClock.now
                let info = try await request(port: port, .get, "/api/info")
                let page = try await request(port: port, .get, "/")
                let elapsed = ContinuousClock.now - start
                #expect(info.status == 200 && page.status == 200)
                #expect(elapsed < .seconds(1.5), "GET requests took \(elapsed) while classifications ran")
                let statuses = try await group.reduce(into: [Int]()) { $0.append($1) }
                #expect(statuses == Array(repeating: 200, count: 4))
            }
        }
        #expect(classifier.maxConcurrent == 2)
        #expect(classifier.calls == 4)
    }

    @Test("When the waiting queue is full, new classifications get 503 with Retry-After")
    func queueFull() async throws {
        let classifier = InstrumentedClassifier(delay: 3.0)
        try await withDemoServer(classifier: classifier, maxConcurrentClassifications: 1, maxQueuedClassifications: 1) { port in
            let answers = try await withThrowingTaskGroup(of: HTTPAnswer.self) { group in
                group.addTask { try await request(port: port, .post, "/api/classify", body: Array(demoBody().utf8)) }
                #expect(try await waitUntil { classifier.running == 1 })
                // One slot is busy; of the next two requests one waits in the queue, the other is refused.
                for _ in 0..<2 {
                    group.addTask { try await request(port: port, .post, "/api/classify", body: Array(demoBody().utf8)) }
                }
                return try await group.reduce(into: [HTTPAnswer]()) { $0.append($1) }
            }
            #expect(answers.map { $0.status }.sorted() == [200, 200, 503])
            let refused = try #require(answers.first { $0.status == 503 })
            try expectError(refused, status: 503, mentions: ["busy"])
            #expect(refused.headers[.retryAfter] == "1")
        }
        #expect(classifier.calls == 2)
    }

    // MARK: Lifecycle

    @Test("Cancelling run() stops the server and frees the port")
    func stopsWhenCancelled() async throws {
        let port = try await withDemoServer { port in
            let answer = try await request(port: port, .get, "/api/info")
            #expect(answer.status == 200)
            return port
        }
        await #expect(throws: (any Error).self) {
            _ = try await request(port: port, .get, "/api/info")
        }
    }

    @Test("Binding a port in use fails with an error")
    func portInUse() async throws {
        try await withDemoServer { port in
            let second = DemoServer(classifier: makeTestClassifier(), port: port)
            await #expect(throws: (any Error).self) {
                try await second.run(onReady: { _ in Issue.record("a second server bound port \(port)") })
            }
        }
    }
}

// MARK: - Helpers

/// A valid classification result for `classes` classes.
func checkValid(_ result: ClassificationResult, classes: Int) throws {
    #expect(result.probabilities.count == classes)
    #expect(result.probabilities.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 }, "\(result.probabilities)")
    #expect(abs(result.probabilities.reduce(0, +) - 1) < 1e-3, "\(result.probabilities)")
    #expect(result.losses.allSatisfy { $0.isFinite }, "\(result.losses)")
}

/// A JSON error answer: the status, `Content-Type: application/json`, `Cache-Control: no-store`, a
/// one-line body `{"error": "…"}` whose message contains every string of `mentions`.
func expectError(_ answer: HTTPAnswer, status: Int, mentions: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(answer.status == status, "body: \(answer.body)", sourceLocation: sourceLocation)
    #expect(answer.isJSON, "content type \(answer.contentType ?? "none")", sourceLocation: sourceLocation)
    #expect(answer.cacheControl == "no-store", sourceLocation: sourceLocation)
    #expect(!answer.body.contains("\n"), "the error body is not one line", sourceLocation: sourceLocation)
    let message = try #require(answer.errorMessage, "no JSON error in \(answer.body)", sourceLocation: sourceLocation)
    #expect(answer.jsonObject?.count == 1, "the error object has other keys: \(answer.body)", sourceLocation: sourceLocation)
    for fragment in mentions {
        #expect(message.contains(fragment), "\"\(message)\" does not mention \(fragment)", sourceLocation: sourceLocation)
    }
}
