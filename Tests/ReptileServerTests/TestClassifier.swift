// The classifier the API tests run against: the real meta-learned Omniglot model that ships with
// the tool, adapted per request exactly as `reptile serve` does.

import Foundation
import Reptile
import ReptileExperiments
import ReptileFormats
import ReptileKernels
import ReptileServer

/// `DrawingClassifierModel` behind the server's protocol (the CLI has the same adapter).
struct BuiltInDrawingClassifier: DrawingClassifier {
    let model: DrawingClassifierModel
    var info: [String: String] { model.description }
    func classify(train: [[Float]], input: [Float]) throws -> ClassificationResult {
        let (probabilities, losses) = try model.classify(train: train, input: input)
        return ClassificationResult(probabilities: probabilities, losses: losses)
    }
}

private let builtInModel: Result<DrawingClassifierModel, Error> = Result {
    guard let path = BuiltInModel.omniglotPath else {
        throw ExperimentError("the built-in Omniglot model is missing from Sources/ReptileExperiments/Resources/models")
    }
    return try DrawingClassifierModel(checkpoint: path)
}

/// The classifier instance used by the API tests.
func makeTestClassifier() -> any DrawingClassifier {
    // A missing model is a packaging bug: fail loudly rather than test a stand-in.
    BuiltInDrawingClassifier(model: try! builtInModel.get())
}
