// A checkpoint: weights, optimizer state and the run's position, in safetensors + JSON.

import Foundation
import ReptileFormats
import ReptileNN

/// A saved training run: the model's parameters and the optimizers' state as named tensors in
/// `model.safetensors` (PyTorch's and NumPy's `safetensors.load_file` read it), and the run's
/// settings and position in `run.json`.
///
/// Tensor names: every parameter under its layout name (`conv0.weight`, shape
/// `[3, 3, 1, 64]`, HWIO); the inner optimizer's per-parameter state under
/// `inner_optimizer.<state>.<parameter>` (e.g. `inner_optimizer.second_moment.conv0.weight`) and
/// its scalars under `inner_optimizer.<state>` (e.g. `inner_optimizer.step`, int64); the outer
/// optimizer's likewise under `outer_optimizer.…`. The safetensors metadata repeats the position
/// (`iteration`), so the weights file alone is always self-consistent: it is written atomically
/// and is the authority when resuming.
public struct Checkpoint: Sendable {
    /// File holding the tensors.
    public static let tensorsFile = "model.safetensors"
    /// File holding the run's settings and position.
    public static let runFile = "run.json"

    /// The parameters and where each tensor lives.
    public var layout: ParameterLayout
    public var parameters: [Float]
    /// The inner optimizer's state tensors (see ``Optimizer/stateTensors``).
    public var innerOptimizerState: [StateTensor]
    /// The outer optimizer's state tensors, if it has one (outer Adam).
    public var outerOptimizerState: [StateTensor]
    /// Free-form string metadata stored in the safetensors header (architecture, iteration…).
    public var metadata: [String: String]

    public init(layout: ParameterLayout, parameters: [Float], innerOptimizerState: [StateTensor] = [],
                outerOptimizerState: [StateTensor] = [], metadata: [String: String] = [:]) {
        precondition(parameters.count == layout.count, "parameters do not match the layout")
        self.layout = layout
        self.parameters = parameters
        self.innerOptimizerState = innerOptimizerState
        self.outerOptimizerState = outerOptimizerState
        self.metadata = metadata
    }

    // MARK: Encoding

    /// The safetensors tensors of this checkpoint.
    public func tensors() -> [SafeTensors.Tensor] {
        var result: [SafeTensors.Tensor] = []
        for entry in layout.entries {
            result.append(SafeTensors.Tensor(name: entry.name, floats: Array(parameters[entry.range]), shape: entry.shape))
        }
        func add(_ state: [StateTensor], prefix: String) {
            for tensor in state {
                let stateName = tensor.name.split(separator: ".").last.map(String.init) ?? tensor.name
                switch tensor.values {
                case .float(let values) where values.count == layout.count:
                    // Per-parameter slices, shaped like the parameters.
                    for entry in layout.entries {
                        result.append(SafeTensors.Tensor(name: "\(prefix).\(stateName).\(entry.name)",
                                                         floats: Array(values[entry.range]), shape: entry.shape))
                    }
                case .float(let values):
                    result.append(SafeTensors.Tensor(name: "\(prefix).\(stateName)", floats: values, shape: [values.count]))
                case .int64(let values):
                    result.append(SafeTensors.Tensor(name: "\(prefix).\(stateName)", int64s: values,
                                                     shape: values.count == 1 ? [] : [values.count]))
                }
            }
        }
        add(innerOptimizerState, prefix: "inner_optimizer")
        add(outerOptimizerState, prefix: "outer_optimizer")
        return result
    }

    /// Writes `model.safetensors` atomically into `directory` (created if needed).
    public func write(to directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw FormatError(directory, "cannot create the checkpoint folder (\(error.localizedDescription))")
        }
        let path = (directory as NSString).appendingPathComponent(Checkpoint.tensorsFile)
        try AtomicFile.write(SafeTensors.encode(tensors(), metadata: metadata), to: path)
    }

    /// Whether `directory` holds a checkpoint.
    public static func exists(in directory: String) -> Bool {
        FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(tensorsFile))
    }

    // MARK: Decoding

    /// Reads the checkpoint in `directory` for a model with `layout`.
    ///
    /// - Parameters:
    ///   - innerOptimizer, outerOptimizer: templates of the optimizers whose state to read (their
    ///     ``Optimizer/stateTensors`` say which tensors to expect).
    /// - Throws: ``CheckpointError`` naming the problem: no checkpoint, a corrupt file, or
    ///   tensors that do not match the model (another architecture or number of classes).
    public static func read(from directory: String, layout: ParameterLayout,
                            innerOptimizer: [StateTensor] = [], outerOptimizer: [StateTensor] = []) throws -> Checkpoint {
        let path = (directory as NSString).appendingPathComponent(tensorsFile)
        guard FileManager.default.fileExists(atPath: path) else {
            throw CheckpointError("\(directory): no checkpoint here (missing \(tensorsFile))")
        }
        let file: SafeTensors.File
        do { file = try SafeTensors.File(path: path) } catch let error as FormatError {
            throw CheckpointError("\(error.source): corrupt checkpoint: \(error.problem)")
        } catch {
            throw CheckpointError("\(path): corrupt checkpoint: \(error)")
        }
        var parameters = [Float](repeating: 0, count: layout.count)
        for entry in layout.entries {
            guard let tensor = file.tensor(named: entry.name) else {
                throw CheckpointError("\(path): no tensor '\(entry.name)': the checkpoint was made for another model (\(describe(file)))")
            }
            guard tensor.shape == entry.shape, tensor.dtype == .F32 else {
                throw CheckpointError("\(path): tensor '\(entry.name)' has shape \(tensor.shape) (\(tensor.dtype.rawValue)), this model needs \(entry.shape) (F32): the checkpoint was made for another architecture or number of classes")
            }
            let values = try tensor.floats()
            try requireFinite(values, name: entry.name, path: path)
            parameters.replaceSubrange(entry.range, with: values)
        }
        func state(_ template: [StateTensor], prefix: String) throws -> [StateTensor] {
            try template.map { t in
                let stateName = t.name.split(separator: ".").last.map(String.init) ?? t.name
                switch t.values {
                case .float(let values) where values.count == layout.count:
                    var all = [Float](repeating: 0, count: layout.count)
                    for entry in layout.entries {
                        let name = "\(prefix).\(stateName).\(entry.name)"
                        guard let tensor = file.tensor(named: name), tensor.shape == entry.shape, tensor.dtype == .F32 else {
                            throw CheckpointError("\(path): optimizer state '\(name)' is missing or has the wrong shape (was it saved with --sgd?)")
                        }
                        let values = try tensor.floats()
                        try requireFinite(values, name: name, path: path)
                        all.replaceSubrange(entry.range, with: values)
                    }
                    return StateTensor(name: t.name, values: .float(all))
                case .float(let values):
                    let name = "\(prefix).\(stateName)"
                    guard let tensor = file.tensor(named: name), tensor.count == values.count, tensor.dtype == .F32 else {
                        throw CheckpointError("\(path): optimizer state '\(name)' is missing or has the wrong size")
                    }
                    let values = try tensor.floats()
                    try requireFinite(values, name: name, path: path)
                    return StateTensor(name: t.name, values: .float(values))
                case .int64(let values):
                    let name = "\(prefix).\(stateName)"
                    guard let tensor = file.tensor(named: name), tensor.count == values.count, tensor.dtype == .I64 else {
                        throw CheckpointError("\(path): optimizer state '\(name)' is missing or has the wrong size")
                    }
                    return StateTensor(name: t.name, values: .int64(try tensor.int64s()))
                }
            }
        }
        return Checkpoint(layout: layout, parameters: parameters,
                          innerOptimizerState: try state(innerOptimizer, prefix: "inner_optimizer"),
                          outerOptimizerState: try state(outerOptimizer, prefix: "outer_optimizer"),
                          metadata: file.metadata)
    }

    /// Training stops before it saves a NaN, so one here means a damaged or foreign file.
    private static func requireFinite(_ values: [Float], name: String, path: String) throws {
        guard let bad = values.firstIndex(where: { !$0.isFinite }) else { return }
        throw CheckpointError("\(path): tensor '\(name)' holds \(values[bad].isNaN ? "NaN" : "infinite") values (element \(bad)): the checkpoint is damaged")
    }

    private static func describe(_ file: SafeTensors.File) -> String {
        let params = file.tensors.filter { !$0.name.contains("optimizer") }
        let shown = params.prefix(3).map { "\($0.name) \($0.shape)" }.joined(separator: ", ")
        return "it holds \(params.count) parameter tensors: \(shown)\(params.count > 3 ? ", …" : "")"
    }
}

/// A checkpoint that cannot be used: one line naming the file and the problem.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Dictionary where Key == String, Value == StateTensor.Values {
    /// State tensors by name, as ``Optimizer/restoreState(_:)`` takes them.
    public init(_ tensors: [StateTensor]) {
        self.init(uniqueKeysWithValues: tensors.map { ($0.name, $0.values) })
    }
}
