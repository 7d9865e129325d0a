// ReptileServer owns the interactive one-shot drawing demo: a Hummingbird HTTP server that serves
// a self-contained web page (HTML, CSS and JavaScript embedded in this module, no external assets)
// on which a person draws one example per class and an input, and a JSON API (`GET /api/info`,
// `POST /api/classify`) that validates the drawings strictly, runs the model's adaptation and
// classification off the event loop with bounded concurrency, and answers the class
// probabilities. The model itself is abstracted as `DrawingClassifier`; this module knows
// nothing about Reptile's networks or checkpoints.

import Foundation
import Hummingbird
import Logging

/// What the server needs from the model: adapt on 2...5 class drawings and classify the input.
public protocol DrawingClassifier: Sendable {
    /// - train: one drawing per class, each 784 floats (28×28 row-major, strokes 1, background 0, in [0, 1])
    /// - input: 784 floats
    /// Returns one probability per class (summing to 1) and the adaptation loss after each step.
    func classify(train: [[Float]], input: [Float]) throws -> ClassificationResult
    /// Short description for GET /api/info (e.g. the checkpoint and its training command).
    var info: [String: String] { get }
}

/// The answer of a `DrawingClassifier`, and the JSON body of a successful `POST /api/classify`.
public struct ClassificationResult: Sendable, Codable, Equatable {
    /// One probability per class drawing, in the order of `train`, summing to 1.
    public var probabilities: [Float]
    /// The adaptation loss after each step (may be empty for models that do not adapt).
    public var losses: [Float]

    public init(probabilities: [Float], losses: [Float]) {
        self.probabilities = probabilities
        self.losses = losses
    }
}

/// The demo's HTTP server.
///
/// Routes:
/// - `GET /`, `GET /app.js`, `GET /style.css`: the page (also answers `HEAD`).
/// - `GET /api/info`: the classifier's `info` as a JSON object.
/// - `POST /api/classify`: `{"train": [[784 numbers], …], "input": [784 numbers]}` →
///   `{"probabilities": [...], "losses": [...]}`.
///
/// Bad requests get a 4xx status with a one-line `{"error": "…"}` body; classifier failures get a 500.
/// `POST /api/classify` must be `Content-Type: application/json` (else 415): a web page elsewhere
/// cannot send that to this server without the browser asking it first (CORS preflight), which it
/// never grants. A connection idle for `idleTimeout` (also one that stopped in the middle of a
/// request) is closed, and a body that has not fully arrived within `readTimeout` gets 408.
/// Classifications run on threads outside Swift's cooperative pool and outside the event loops, at most
/// `maxConcurrentClassifications` at once; further requests wait in a FIFO queue of at most
/// `maxQueuedClassifications` (beyond that: 503 with `Retry-After`).
public struct DemoServer: Sendable {
    public let classifier: any DrawingClassifier
    public let host: String
    public let port: Int
    public let maxBodyBytes: Int
    public let logger: Logger
    public let maxConcurrentClassifications: Int
    public let maxQueuedClassifications: Int
    public let idleTimeout: Duration
    public let readTimeout: Duration

    /// - Parameters:
    ///   - classifier: the model.
    ///   - host: the address to bind; keep the default loopback address unless the demo must be reachable
    ///     from other machines.
    ///   - port: the TCP port; 0 picks a free one (reported to `run`'s `onReady`).
    ///   - maxBodyBytes: the largest accepted request body; larger ones get 413. A request with five class
    ///     drawings written with full float precision is about 60 KiB.
    ///   - logger: where requests' problems and the server's start are logged.
    ///   - maxConcurrentClassifications: how many classifications may run at once (default: the number of
    ///     active processor cores).
    ///   - maxQueuedClassifications: how many classification requests may wait for a free slot before new
    ///     ones are refused with 503.
    ///   - idleTimeout: how long a connection may send nothing (between requests or within one) before
    ///     it is closed.
    ///   - readTimeout: how long a request body may take to arrive in full (else 408 and the
    ///     connection is closed).
    public init(
        classifier: any DrawingClassifier,
        host: String = "127.0.0.1",
        port: Int = 8080,
        maxBodyBytes: Int = 256 * 1024,
        logger: Logger = Logger(label: "reptile.server"),
        maxConcurrentClassifications: Int = ProcessInfo.processInfo.activeProcessorCount,
        maxQueuedClassifications: Int = 1024,
        idleTimeout: Duration = .seconds(30),
        readTimeout: Duration = .seconds(30)
    ) {
        precondition((0...65535).contains(port), "port must be in 0...65535")
        precondition(maxBodyBytes > 0, "maxBodyBytes must be positive")
        self.classifier = classifier
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.logger = logger
        self.maxConcurrentClassifications = max(1, maxConcurrentClassifications)
        self.maxQueuedClassifications = max(0, maxQueuedClassifications)
        self.idleTimeout = idleTimeout
        self.readTimeout = readTimeout
    }

    /// Runs until cancelled; `onReady` is called with the bound port (port 0 = pick a free one).
    ///
    /// Throws if the address cannot be bound. Cancelling the calling task shuts the server down gracefully.
    public func run(onReady: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let responder = DemoResponder(
            classifier: classifier,
            maxBodyBytes: maxBodyBytes,
            readTimeout: readTimeout,
            limiter: ConcurrencyLimiter(limit: maxConcurrentClassifications, maxWaiting: maxQueuedClassifications)
        )
        let requestedPort = port
        let host = host
        let logger = logger
        let app = Application(
            responder: responder,
            server: .http1(configuration: .init(idleTimeout: .nanoseconds(Int64(idleTimeout.components.seconds) * 1_000_000_000
                                                                          + idleTimeout.components.attoseconds / 1_000_000_000))),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "reptile-demo"),
            onServerRunning: { channel in
                let boundPort = channel.localAddress?.port ?? requestedPort
                let shownHost = host.contains(":") ? "[\(host)]" : host
                logger.info("Reptile demo serving on http://\(shownHost):\(boundPort)/")
                onReady(boundPort)
            },
            logger: logger
        )
        try await app.run()
    }
}
