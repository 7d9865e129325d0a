// `reptile serve`: the interactive one-shot drawing demo on a local web server.

import ArgumentParser
import Foundation
import Reptile
import ReptileExperiments
import ReptileFormats
import ReptileKernels
import ReptilePlot
import ReptileServer

/// The meta-learned model behind the demo server's API.
struct MetaLearnedDrawingClassifier: DrawingClassifier {
    let model: DrawingClassifierModel

    var info: [String: String] { model.description }

    func classify(train: [[Float]], input: [Float]) throws -> ClassificationResult {
        let (probabilities, losses) = try model.classify(train: train, input: input)
        return ClassificationResult(probabilities: probabilities, losses: losses)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the one-shot drawing demo: draw one example per class, then an input, and see it classified.",
        discussion: """
        Open http://127.0.0.1:8080/ in a browser. The page and its JSON API (POST /api/classify, \
        GET /api/info) are served by this process; nothing is loaded from elsewhere. Each request adapts \
        a copy of the meta-learned Omniglot weights to the class drawings (5 steps) and classifies the input; \
        the served weights never change.
        """
    )

    @Option(help: "TCP port (0 picks a free one).") var port = 8080
    @Option(help: "Address to bind; 0.0.0.0 makes the demo reachable from other machines.") var host = "127.0.0.1"
    @Option(help: ArgumentHelp("Omniglot checkpoint folder written by `reptile train omniglot` (default: the built-in 5-way 1-shot model).",
                               valueName: "dir"))
    var checkpoint: String?
    @Option(name: .customLong("adaptation-steps"), help: "Adaptation steps per classification.") var adaptationSteps = 5

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535, got \(port)") }
        guard (1...1000).contains(adaptationSteps) else { throw ValidationError("--adaptation-steps must be in 1...1000") }
    }

    func run() async throws {
        guard let directory = checkpoint ?? BuiltInModel.omniglotPath else {
            throw ValidationError("no built-in Omniglot model: " + InstalledResources.installHint + "; or pass --checkpoint DIR")
        }
        let model: DrawingClassifierModel
        do {
            model = try DrawingClassifierModel(checkpoint: directory, steps: adaptationSteps)
        } catch {
            throw ExperimentError("cannot load the demo model: \(error)")
        }
        let server = DemoServer(classifier: MetaLearnedDrawingClassifier(model: model), host: host, port: port)
        let shownHost = host.contains(":") ? "[\(host)]" : host
        try await server.run { boundPort in
            FileHandle.standardError.write(Data("Open http://\(shownHost):\(boundPort)/ (Ctrl-C stops the server)\n".utf8))
        }
    }
}
