// Runs the real DemoServer on a loopback port for a test and talks HTTP to it.

import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ReptileServer
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct ServerStartupFailed: Error, CustomStringConvertible {
    var description: String
}

/// Runs the server under test and its test clients on a thread of their own (a serial queue gets
/// one), not on Swift's cooperative pool: other suites' long synchronous tests hold the pool's
/// threads (one per core) while they run, and these tests time the server's answers.
final class ServerTestExecutor: TaskExecutor {
    static let shared = ServerTestExecutor()
    private let queue = DispatchQueue(label: "reptile.server-tests")
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Starts a `DemoServer` on 127.0.0.1 with port 0, runs `body` with the bound port, then cancels the
/// server and waits for it to stop (all on ``ServerTestExecutor``).
func withDemoServer<T: Sendable>(
    classifier: any DrawingClassifier = makeTestClassifier(),
    maxBodyBytes: Int = 256 * 1024,
    maxConcurrentClassifications: Int = ProcessInfo.processInfo.activeProcessorCount,
    maxQueuedClassifications: Int = 1024,
    idleTimeout: Duration = .seconds(30),
    readTimeout: Duration = .seconds(30),
    _ body: @Sendable (Int) async throws -> T
) async throws -> T {
    try await withTaskExecutorPreference(ServerTestExecutor.shared) {
        try await runDemoServer(classifier: classifier, maxBodyBytes: maxBodyBytes,
                                maxConcurrentClassifications: maxConcurrentClassifications,
                                maxQueuedClassifications: maxQueuedClassifications, idleTimeout: idleTimeout,
                                readTimeout: readTimeout, body)
    }
}

private func runDemoServer<T: Sendable>(
    classifier: any DrawingClassifier, maxBodyBytes: Int, maxConcurrentClassifications: Int, maxQueuedClassifications: Int,
    idleTimeout: Duration, readTimeout: Duration, _ body: @Sendable (Int) async throws -> T
) async throws -> T {
    var logger = Logger(label: "reptile.server.tests")
    logger.logLevel = ProcessInfo.processInfo.environment["REPTILE_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    let server = DemoServer(
        classifier: classifier,
        host: "127.0.0.1",
        port: 0,
        maxBodyBytes: maxBodyBytes,
        logger: logger,
        maxConcurrentClassifications: maxConcurrentClassifications,
        maxQueuedClassifications: maxQueuedClassifications,
        idleTimeout: idleTimeout,
        readTimeout: readTimeout
    )
    let (ports, portContinuation) = AsyncStream<Int>.makeStream()
    let serverTask = Task(executorPreference: ServerTestExecutor.shared) {
        defer { portContinuation.finish() }
        try await server.run(onReady: { port in portContinuation.yield(port) })
    }
    let timeout = Task(executorPreference: ServerTestExecutor.shared) {
        try await Task.sleep(for: .seconds(30))
        portContinuation.finish()
    }
    var iterator = ports.makeAsyncIterator()
    let port = await iterator.next()
    timeout.cancel()
    guard let port else {
        serverTask.cancel()
        try await serverTask.value  // rethrows the bind error, if that is why
        throw ServerStartupFailed(description: "the server did not report a port within 30 s")
    }
    do {
        let result = try await body(port)
        serverTask.cancel()
        _ = await serverTask.result
        return result
    } catch {
        serverTask.cancel()
        _ = await serverTask.result
        throw error
    }
}

/// An HTTP answer, with helpers for the JSON bodies.
struct HTTPAnswer: Sendable {
    var status: Int
    var headers: HTTPFields
    var bodyBytes: [UInt8]

    var body: String { String(decoding: bodyBytes, as: UTF8.self) }
    var contentType: String? { headers[.contentType] }
    var cacheControl: String? { headers[.cacheControl] }
    var isJSON: Bool { contentType?.hasPrefix("application/json") == true }

    /// The body as a JSON object, if it is one.
    var jsonObject: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(bodyBytes))) as? [String: Any]
    }

    /// The `error` string of a JSON error body.
    var errorMessage: String? { jsonObject?["error"] as? String }

    /// The decoded `ClassificationResult` of a 200 answer.
    var result: ClassificationResult? { try? JSONDecoder().decode(ClassificationResult.self, from: Data(bodyBytes)) }
}

/// One HTTP/1.1 connection to the server under test.
struct HTTPConnection: Sendable {
    let client: TestClient

    func send(_ method: HTTPRequest.Method, _ path: String, body: [UInt8]? = nil, headers: HTTPFields = [:]) async throws -> HTTPAnswer {
        var headers = headers
        if body != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        let request = TestClient.Request(path, method: method, authority: "127.0.0.1", headers: headers, body: body.map { ByteBuffer(bytes: $0) })
        let response = try await client.execute(request)
        return HTTPAnswer(status: Int(response.status.code), headers: response.headers, bodyBytes: response.body.map { Array($0.readableBytesView) } ?? [])
    }

    func send(_ method: HTTPRequest.Method, _ path: String, json: String) async throws -> HTTPAnswer {
        try await send(method, path, body: Array(json.utf8))
    }
}

/// Opens a connection to 127.0.0.1:`port` for `body`.
func withConnection<T: Sendable>(port: Int, _ body: @escaping @Sendable (HTTPConnection) async throws -> T) async throws -> T {
    try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(30))) { client in
        try await body(HTTPConnection(client: client))
    }
}

/// One request on a fresh connection.
func request(port: Int, _ method: HTTPRequest.Method, _ path: String, body: [UInt8]? = nil) async throws -> HTTPAnswer {
    try await withConnection(port: port) { try await $0.send(method, path, body: body) }
}

// MARK: Request bodies

/// A JSON number list as the page writes it.
func jsonArray(_ values: [Float]) -> String {
    "[" + values.map { value in value == value.rounded() ? String(Int(value)) : String(value) }.joined(separator: ",") + "]"
}

/// `{"train": [...], "input": [...]}`.
func classifyBody(train: [[Float]], input: [Float]) -> String {
    "{\"train\":[" + train.map(jsonArray).joined(separator: ",") + "],\"input\":" + jsonArray(input) + "}"
}

/// The demo's three classes (circle, cross, triangle) and a moved, smaller cross as input.
func demoBody(inputClass: Int = 1) -> String {
    classifyBody(train: Array(TestDrawings.classes.prefix(3)), input: TestDrawings.variants[inputClass])
}

// MARK: Instrumented classifiers

/// The name of the calling thread (NIO names its event-loop threads "NIO-ELT-…").
func currentThreadName() -> String {
    #if os(Linux)
    let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
    return name.trimmingCharacters(in: .whitespacesAndNewlines)
    #else
    var buffer = [CChar](repeating: 0, count: 64)
    _ = pthread_getname_np(pthread_self(), &buffer, buffer.count)
    return String(cString: buffer)
    #endif
}

/// Wraps a classifier, counting calls and concurrent calls, noting calls made on an event-loop
/// thread, and optionally blocking each call for `delay` (as a slow model would).
final class InstrumentedClassifier: DrawingClassifier, @unchecked Sendable {
    let base: any DrawingClassifier
    let delay: TimeInterval
    private let lock = NSLock()
    private var _current = 0
    private var _maxConcurrent = 0
    private var _calls = 0
    private var _eventLoopThreadCalls = 0

    init(base: any DrawingClassifier = makeTestClassifier(), delay: TimeInterval = 0) {
        self.base = base
        self.delay = delay
    }

    var info: [String: String] { base.info }
    var maxConcurrent: Int { lock.withLock { _maxConcurrent } }
    var calls: Int { lock.withLock { _calls } }
    var running: Int { lock.withLock { _current } }
    var eventLoopThreadCalls: Int { lock.withLock { _eventLoopThreadCalls } }

    func classify(train: [[Float]], input: [Float]) throws -> ClassificationResult {
        let onEventLoop = currentThreadName().hasPrefix("NIO-ELT")
        lock.withLock {
            _calls += 1
            _current += 1
            _maxConcurrent = max(_maxConcurrent, _current)
            if onEventLoop { _eventLoopThreadCalls += 1 }
        }
        defer { lock.withLock { _current -= 1 } }
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        return try base.classify(train: train, input: input)
    }
}

/// A classifier that always fails.
struct FailingClassifier: DrawingClassifier {
    struct ModelFailure: Error, CustomStringConvertible {
        var description: String { "model exploded (test)" }
    }

    var info: [String: String] { ["model": "failing"] }

    func classify(train: [[Float]], input: [Float]) throws -> ClassificationResult {
        throw ModelFailure()
    }
}

/// A classifier that answers a fixed (possibly invalid) result.
struct FixedClassifier: DrawingClassifier {
    var answer: ClassificationResult
    var info: [String: String] { ["model": "fixed"] }

    func classify(train: [[Float]], input: [Float]) throws -> ClassificationResult { answer }
}

/// Waits (at most `timeout`) until `condition` holds. The bound is generous: while the rest of the
/// suite trains models on every core, a request can take more than 10 s to reach the classifier.
func waitUntil(timeout: Duration = .seconds(60), _ condition: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try await Task.sleep(for: .milliseconds(10))
    }
    return true
}
