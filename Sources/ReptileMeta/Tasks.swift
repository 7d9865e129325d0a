// What the meta-learner trains on: tasks, distributions of tasks, and the inner mini-batches.

import ReptileKernels

/// One learning problem for the inner loop: a small labeled data set.
///
/// Implement this (and ``TaskDistribution``) to meta-train on your own problems, or give the
/// examples as arrays with ``ArrayTask``. Examples are written straight into the learner's batch
/// buffers, so a task can reference shared storage (images of a data set) instead of copying it.
public protocol SupervisedTask {
    /// Number of examples in the task.
    var exampleCount: Int { get }

    /// Writes example `index`: the model's `inputCount` floats to `input` and the loss's
    /// `targetCount` floats to `target` (a class index as a float for cross-entropy).
    func writeExample(_ index: Int, input: FloatView, target: FloatView)

    /// The class of example `index`, for tasks made of classes (needed by FOMAML's tail shots).
    func classLabel(of index: Int) -> Int?
}

extension SupervisedTask {
    public func classLabel(of index: Int) -> Int? { nil }
}

/// A distribution of tasks to meta-train on.
public protocol TaskDistribution {
    associatedtype Task: SupervisedTask
    /// Draws one task. Everything random must come from `rng`, so that a run is reproducible from
    /// its seed whatever the number of threads.
    func sampleTask(using rng: inout RandomGenerator) -> Task
}

/// A task drawn from a task distribution: a convenient type-erased view.
public struct AnyTaskDistribution<Task: SupervisedTask>: TaskDistribution {
    private let sample: (inout RandomGenerator) -> Task
    public init<D: TaskDistribution>(_ base: D) where D.Task == Task { sample = base.sampleTask }
    public func sampleTask(using rng: inout RandomGenerator) -> Task { sample(&rng) }
}

/// How the inner loop cuts a task's examples into mini-batches (the reference's `_mini_batches`).
package enum MiniBatches {
    /// `count` batches of `size` example indices out of `exampleCount`.
    ///
    /// Without replacement: shuffle the examples and cut consecutive batches; when the list runs
    /// out, reshuffle and continue, so a batch may straddle a reshuffle. With replacement: each
    /// batch is an independent random subset of distinct examples.
    public static func indices(exampleCount: Int, size: Int, count: Int, replacement: Bool,
                               using rng: inout RandomGenerator) -> [[Int]] {
        precondition(exampleCount > 0 && size > 0, "mini-batches need examples and a positive size")
        if replacement {
            precondition(size <= exampleCount, "a batch of \(size) distinct examples needs at least that many examples")
            return (0..<count).map { _ in rng.sample(size, from: exampleCount) }
        }
        var batches: [[Int]] = []
        batches.reserveCapacity(count)
        var order = Array(0..<exampleCount)
        var current: [Int] = []
        current.reserveCapacity(size)
        while batches.count < count {
            rng.shuffle(&order)
            for index in order {
                current.append(index)
                if current.count == size {
                    batches.append(current)
                    current.removeAll(keepingCapacity: true)
                    if batches.count == count { break }
                }
            }
        }
        return batches
    }

    /// FOMAML's tail split (the reference's `_split_train_test` with `test_shots = shots`): takes
    /// `shots` examples of each class, round-robin over the classes in label order, each time the
    /// first remaining example of that class in index order. Returns (rest, tail).
    public static func splitTail<T: SupervisedTask>(_ task: T, shots: Int) -> (rest: [Int], tail: [Int]) {
        var rest = Array(0..<task.exampleCount)
        var tail: [Int] = []
        let labels = rest.map { task.classLabel(of: $0) }
        precondition(labels.allSatisfy { $0 != nil }, "tail shots need a task whose examples have class labels")
        let classCount = (labels.compactMap { $0 }.max() ?? -1) + 1
        for _ in 0..<shots {
            for label in 0..<classCount {
                if let position = rest.firstIndex(where: { labels[$0] == label }) {
                    tail.append(rest.remove(at: position))
                }
            }
        }
        return (rest, tail)
    }
}
