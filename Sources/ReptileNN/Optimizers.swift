// Inner-loop optimizers: plain SGD and Adam, with state that is a value (snapshot = copy).

import Foundation
import ReptileKernels

/// An optimizer of a flat parameter vector.
///
/// Optimizers are values: copying one snapshots its state, assigning it back restores it. That is
/// how meta-training keeps the optimizer's state from task to task while restoring the weights,
/// and how evaluation restores both after each task.
public protocol Optimizer: Sendable {
    /// Applies one update to `parameters` given the gradient of the loss (`gradients`, as many floats).
    mutating func update(_ parameters: FloatView, gradients: FloatView)

    /// The same update, its element-wise work handed to `parts`: `parts` gets a function that
    /// updates the parameters of a range (and their state), which it may call from several
    /// threads at once on disjoint ranges, and must cover every parameter once. Two threads
    /// that share a task split Adam's update so. By default the update runs whole and `parts` is
    /// not called.
    mutating func update(_ parameters: FloatView, gradients: FloatView, inParts parts: ((Range<Int>) -> Void) -> Void)

    /// Combines the states of copies of `self` that each ran `stepsEach` updates in parallel
    /// (tasks of one meta-batch), in their given order, into `self`.
    mutating func merge(_ copies: [Self], stepsEach: Int)

    /// Makes `self` equal to `other`, reusing `self`'s storage where it can, so that a training
    /// step can reset per-task copies without allocating.
    mutating func assign(from other: Self)

    /// Floats of state that a task changes (Adam's moments; 0 for stateless optimizers): what
    /// processes that split a meta-batch exchange so that each can ``merge(_:stepsEach:)`` all the
    /// tasks' copies.
    var taskStateCount: Int { get }

    /// Writes the ``taskStateCount`` floats of task state to `destination`.
    func copyTaskState(to destination: FloatView)

    /// Reads task state written by ``copyTaskState(to:)`` of an optimizer with the same settings.
    mutating func loadTaskState(from source: FloatView)

    /// The optimizer's state as named tensors (for checkpoints); empty when it has none.
    var stateTensors: [StateTensor] { get }

    /// Restores the state from ``stateTensors``; throws ``ModelError`` when a tensor is missing or
    /// of the wrong size.
    mutating func restoreState(_ tensors: [String: StateTensor.Values]) throws
}

/// A named tensor of optimizer state, for checkpoints.
public struct StateTensor: Sendable, Equatable {
    public enum Values: Sendable, Equatable {
        case float([Float])
        case int64([Int64])
    }
    public var name: String
    public var values: Values
    public init(name: String, values: Values) { self.name = name; self.values = values }
}

extension Optimizer {
    public mutating func assign(from other: Self) { self = other }

    public mutating func update(_ parameters: FloatView, gradients: FloatView, inParts parts: ((Range<Int>) -> Void) -> Void) {
        update(parameters, gradients: gradients)
    }

    /// Stateless optimizers have no task state.
    public var taskStateCount: Int { 0 }
    public func copyTaskState(to destination: FloatView) {}
    public mutating func loadTaskState(from source: FloatView) {}

    /// Convenience for arrays.
    public mutating func update(_ parameters: inout [Float], gradients: [Float]) {
        precondition(parameters.count == gradients.count, "parameters and gradients differ in size")
        parameters.withUnsafeMutableBufferPointer { p in
            gradients.withUnsafeBufferPointer { g in
                update(FloatView(p), gradients: FloatView(g.baseAddress!, count: g.count))
            }
        }
    }
}

/// Stochastic gradient descent: `θ ← θ − lr · g`. Stateless.
public struct SGD: Optimizer, Equatable {
    public var learningRate: Float

    public init(learningRate: Float) { self.learningRate = learningRate }

    public mutating func update(_ view: FloatView, gradients gradientView: FloatView) {
        precondition(view.count == gradientView.count, "\(view.count) parameters but \(gradientView.count) gradients")
        let (parameters, gradients, count) = (view.base, UnsafePointer(gradientView.base), view.count)
        OptimizerKernels.sgd(parameters: parameters, gradients: gradients, learningRate: learningRate, count: count)
    }

    public mutating func merge(_ copies: [SGD], stepsEach: Int) {}
    public var stateTensors: [StateTensor] { [] }
    public mutating func restoreState(_ tensors: [String: StateTensor.Values]) throws {}
}

/// Gradient descent with a fixed step size per parameter: `θᵢ ← θᵢ − sᵢ · gᵢ`. Stateless. The demo
/// adapts with it, each weight's step taken from the meta-trained Adam's second moment.
public struct PerParameterSGD: Optimizer, Equatable {
    public var stepSizes: [Float]

    public init(stepSizes: [Float]) { self.stepSizes = stepSizes }

    public mutating func update(_ view: FloatView, gradients gradientView: FloatView) {
        precondition(view.count == gradientView.count, "\(view.count) parameters but \(gradientView.count) gradients")
        let (parameters, gradients, count) = (view.base, UnsafePointer(gradientView.base), view.count)
        precondition(count == stepSizes.count, "made for \(stepSizes.count) parameters, got \(count)")
        stepSizes.withUnsafeBufferPointer { s in
            for i in 0..<count { parameters[i] -= s[i] * gradients[i] }
        }
    }

    public mutating func merge(_ copies: [PerParameterSGD], stepsEach: Int) {}
    public var stateTensors: [StateTensor] { [] }
    public mutating func restoreState(_ tensors: [String: StateTensor.Values]) throws {}
}

/// Adam (Kingma & Ba), in TensorFlow's formulation — the reference implementation's — with the
/// bias correction folded into the step: `θ ← θ − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε)`.
///
/// The paper's inner optimizer is Adam with `beta1: 0`; then the first moment is the gradient
/// itself and is not stored.
public struct Adam: Optimizer, Equatable {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float

    /// The optimizer's state: moments and step count. Copy it to snapshot, assign it to restore.
    public struct State: Equatable, Sendable {
        /// First moment (empty when `beta1 == 0`).
        public var firstMoment: [Float]
        /// Second moment v: a running average of squared gradients.
        public var secondMoment: [Float]
        /// Number of updates so far (t in the bias correction).
        public var step: Int
    }

    /// The moments and step count.
    public var state: State

    /// Adam for `parameterCount` floats, all moments zero.
    public init(parameterCount: Int, learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        state = State(firstMoment: beta1 == 0 ? [] : [Float](repeating: 0, count: parameterCount),
                      secondMoment: [Float](repeating: 0, count: parameterCount), step: 0)
    }

    public mutating func update(_ view: FloatView, gradients gradientView: FloatView) {
        update(view, gradients: gradientView) { update in update(0..<view.count) }
    }

    /// Element-wise: each range's parameters and moments are updated on their own.
    public mutating func update(_ view: FloatView, gradients gradientView: FloatView,
                                inParts parts: ((Range<Int>) -> Void) -> Void) {
        precondition(view.count == gradientView.count, "\(view.count) parameters but \(gradientView.count) gradients")
        let (parameters, gradients, count) = (view.base, UnsafePointer(gradientView.base), view.count)
        precondition(count == state.secondMoment.count, "Adam was made for \(state.secondMoment.count) parameters, got \(count)")
        state.step += 1
        let t = Double(state.step)
        let corrected = Float(Double(learningRate) * (1 - Foundation.pow(Double(beta2), t)).squareRoot()
            / (1 - Foundation.pow(Double(beta1), t)))
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        state.secondMoment.withUnsafeMutableBufferPointer { v in
            let v = v.baseAddress!
            state.firstMoment.withUnsafeMutableBufferPointer { m in
                let m = b1 == 0 ? nil : m.baseAddress
                parts { r in
                    let i = r.lowerBound
                    OptimizerKernels.adam(parameters: parameters + i, gradients: gradients + i, firstMoment: m.map { $0 + i },
                                          secondMoment: v + i, correctedStep: corrected, beta1: b1, beta2: b2, epsilon: eps,
                                          count: r.count)
                }
            }
        }
    }

    /// Averages the copies' moments (in order) and advances the step count by `stepsEach`, so the
    /// bias correction matches the moments' actual weight: each copy's v received `stepsEach`
    /// updates from the common starting point.
    public mutating func merge(_ copies: [Adam], stepsEach: Int) {
        guard let first = copies.first else { return }
        let scale = 1 / Float(copies.count)
        // Into `self`'s own buffers (first copy, then the others added in order, then scaled).
        func average(_ target: inout [Float], _ moment: (Adam) -> [Float]) {
            target.withUnsafeMutableBufferPointer { tb in
                moment(first).withUnsafeBufferPointer { tb.baseAddress!.update(from: $0.baseAddress!, count: tb.count) }
                for copy in copies.dropFirst() {
                    moment(copy).withUnsafeBufferPointer { Vector.add($0.baseAddress!, into: tb.baseAddress!, count: tb.count) }
                }
                Vector.scale(tb.baseAddress!, by: scale, count: tb.count)
            }
        }
        average(&state.secondMoment) { $0.state.secondMoment }
        if !state.firstMoment.isEmpty { average(&state.firstMoment) { $0.state.firstMoment } }
        state.step += stepsEach
    }

    public mutating func assign(from other: Adam) {
        learningRate = other.learningRate
        beta1 = other.beta1
        beta2 = other.beta2
        epsilon = other.epsilon
        func copy(_ target: inout [Float], _ source: [Float]) {
            guard target.count == source.count else { target = source; return }
            target.withUnsafeMutableBufferPointer { t in
                source.withUnsafeBufferPointer { t.baseAddress!.update(from: $0.baseAddress!, count: t.count) }
            }
        }
        copy(&state.secondMoment, other.state.secondMoment)
        copy(&state.firstMoment, other.state.firstMoment)
        state.step = other.state.step
    }

    /// The second moment, then the first (when kept); the step count is the same in every copy.
    public var taskStateCount: Int { state.secondMoment.count + state.firstMoment.count }

    public func copyTaskState(to view: FloatView) {
        let destination = UnsafeMutableBufferPointer(start: view.base, count: view.count)
        precondition(destination.count == taskStateCount, "expected room for \(taskStateCount) floats, got \(destination.count)")
        let v = state.secondMoment.count
        _ = UnsafeMutableBufferPointer(rebasing: destination[..<v]).update(fromContentsOf: state.secondMoment)
        _ = UnsafeMutableBufferPointer(rebasing: destination[v...]).update(fromContentsOf: state.firstMoment)
    }

    public mutating func loadTaskState(from view: FloatView) {
        let source = UnsafeBufferPointer(start: view.base, count: view.count)
        precondition(source.count == taskStateCount, "expected \(taskStateCount) floats, got \(source.count)")
        let v = state.secondMoment.count
        state.secondMoment.withUnsafeMutableBufferPointer { _ = $0.update(fromContentsOf: source[..<v]) }
        state.firstMoment.withUnsafeMutableBufferPointer { _ = $0.update(fromContentsOf: source[v...]) }
    }

    public var stateTensors: [StateTensor] {
        var tensors = [StateTensor(name: "adam.second_moment", values: .float(state.secondMoment)),
                       StateTensor(name: "adam.step", values: .int64([Int64(state.step)]))]
        if !state.firstMoment.isEmpty { tensors.append(StateTensor(name: "adam.first_moment", values: .float(state.firstMoment))) }
        return tensors
    }

    public mutating func restoreState(_ tensors: [String: StateTensor.Values]) throws {
        guard case .float(let v)? = tensors["adam.second_moment"], v.count == state.secondMoment.count else {
            throw ModelError("optimizer state: adam.second_moment is missing or does not hold \(state.secondMoment.count) floats")
        }
        guard case .int64(let step)? = tensors["adam.step"], step.count == 1, step[0] >= 0 else {
            throw ModelError("optimizer state: adam.step is missing or invalid")
        }
        var m: [Float] = []
        if beta1 != 0 {
            guard case .float(let first)? = tensors["adam.first_moment"], first.count == v.count else {
                throw ModelError("optimizer state: adam.first_moment is missing or does not hold \(v.count) floats")
            }
            m = first
        }
        state = State(firstMoment: m, secondMoment: v, step: Int(step[0]))
    }
}

