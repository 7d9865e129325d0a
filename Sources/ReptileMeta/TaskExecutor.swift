// Where the tasks of a meta-batch run: worker threads, per-worker learners and weights, per-task
// optimizer copies, idle workers helping busy ones, and the exchange between processes. The
// meta-trainer says what to do with each task; this decides where and when, and nothing here
// changes the floats.

import Foundation
import ReptileKernels
import ReptileNN

/// Runs the tasks of each meta-batch on the machine's cores (and, with a process group, on every
/// process of the group), leaving each task's meta-gradient and loss in task order.
final class TaskExecutor<InnerOptimizer: Optimizer> {
    /// Threads that run tasks.
    let threadCount: Int
    /// Tasks per meta-batch.
    let taskCount: Int
    let serial: Bool
    private let model: Sequential
    private let learners: [Learner]
    private let taskWeights: [FloatBuffer]
    /// Task t's meta-gradient (the inner loop writes it), reduced in task order.
    let metaGradients: [FloatBuffer]
    /// Task t's mean inner loss.
    let taskLosses: FloatBuffer
    /// Per-task copies of the inner optimizer (parallel execution), reused every meta-iteration.
    private var optimizerCopies: [InnerOptimizer]
    /// With several workers, worker w leads team w while it trains a task; a worker with no task
    /// left joins a team that has no helper yet and computes half of each of its batches.
    private let teams: [ShardTeam]
    /// Whether other threads (another process's) competed for the cores in the last meta-batch: its workers then
    /// waited for a core a tenth of their time or more. Helping then stops, since a team's two
    /// members meet many times per step and each wait for the one who lost its core costs both.
    private(set) var coresContended = false
    /// How many times a worker joined another's team in the last meta-batch.
    private(set) var helperJoins = 0
    /// Per worker, in the last meta-batch: nanoseconds waited for a core, nanoseconds spent, and
    /// teams joined (each worker writes its own three slots).
    private let workerRecords: UnsafeMutablePointer<Int>
    /// Hands the tasks to the workers; its event is the teams' too, so that an idle worker sleeps
    /// until a team opens or the last task ends.
    private let dispenser = TaskDispenser()
    let group: ProcessGroup?
    /// With a group of several processes: each task's meta-gradient, optimizer state and loss,
    /// `exchangeStride` floats per task in task order, gathered from the process that ran it.
    private let exchange: FloatBuffer?
    private let exchangeStride: Int
    /// Floats each process contributes to the exchange (its block of tasks), in rank order.
    private let exchangeCounts: [Int]

    init(model: Sequential, loss: Loss, optimizer: InnerOptimizer, tasks n: Int, serial: Bool, maxBatch: Int,
         threads: Int?, group: ProcessGroup?) {
        self.model = model
        taskCount = n
        self.serial = serial
        self.group = group
        let ownTasks = group.map { $0.block(of: n, rank: 0).count } ?? n
        let workers = serial ? 1 : max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, ownTasks))
        threadCount = workers
        learners = (0..<workers).map { _ in Learner(model: model, loss: loss, maxBatch: maxBatch) }
        taskWeights = (0..<workers).map { _ in FloatBuffer(count: model.parameterCount) }
        metaGradients = (0..<n).map { _ in FloatBuffer(count: model.parameterCount) }
        taskLosses = FloatBuffer(count: n)
        optimizerCopies = serial ? [] : [InnerOptimizer](repeating: optimizer, count: n)
        // Sharing a task's batches only pays when every worker has a core of its own.
        let sharing = workers > 1 && workers <= ProcessInfo.processInfo.activeProcessorCount && model.batchShards > 1
        let event = dispenser.event
        teams = !sharing ? [] : (0..<workers).map { _ in ShardTeam(event: event) }
        workerRecords = .allocate(capacity: 3 * workers)
        workerRecords.initialize(repeating: 0, count: 3 * workers)
        for (learner, team) in zip(learners, teams) { learner.team = team }
        if let group, group.size > 1 {
            let stride = model.parameterCount + optimizer.taskStateCount + 1
            exchangeStride = stride
            exchange = FloatBuffer(count: n * stride)
            exchangeCounts = (0..<group.size).map { group.block(of: n, rank: $0).count * stride }
        } else {
            exchangeStride = 0
            exchange = nil
            exchangeCounts = []
        }
    }

    deinit { workerRecords.deallocate() }

    /// What a task runs with: its worker's learner and weight buffer, and where its meta-gradient goes.
    struct Slot {
        let learner: Learner
        let weights: UnsafeMutablePointer<Float>
        let metaGradient: UnsafeMutablePointer<Float>
    }

    /// Runs `body(t, slot, &optimizer)` for every task t of the meta-batch and leaves `optimizer`
    /// as the reference leaves it: serially, each task continues the previous one's state; in
    /// parallel, each starts from `optimizer` and the copies, `stepsEach` updates each, are merged
    /// in task order.
    func forEachTask(optimizer: inout InnerOptimizer, stepsEach: Int, _ body: (Int, Slot, inout InnerOptimizer) -> Void) {
        let n = taskCount
        if serial {
            for t in 0..<n { body(t, slot(task: t, worker: 0), &optimizer) }
            return
        }
        do {  // `start` ends here, so that the merge below writes into unshared buffers.
            let start = optimizer
            let workers = threadCount
            // Workers take tasks in order from a shared counter; one that finds none left computes
            // half of the batches of a task still running (see `ShardTeam`). Which worker runs (or
            // helps) a task changes nothing in its result.
            let tasks = dispenser, teams = teams, helping = !coresContended
            let records = UnsafeSendable(workerRecords)
            let own = group?.block(of: n) ?? 0..<n
            tasks.reset(count: own.count, first: own.lowerBound)
            optimizerCopies.withUnsafeMutableBufferPointer { copiesBuffer in
                let box = UnsafeSendable(copiesBuffer)
                withoutActuallyEscaping(body) { body in
                    let work = UnsafeSendable(body)
                    DispatchQueue.concurrentPerform(iterations: workers) { w in
                        let scratch = learners[w].workspace.scratch
                        let team = teams.isEmpty ? nil : teams[w]
                        let record = records.value + 3 * w
                        let waited = team == nil ? nil : ThreadSchedule.nanosecondsWaitingForCore()
                        let started = DispatchTime.now().uptimeNanoseconds
                        record[2] = 0
                        defer {
                            if let waited, let now = ThreadSchedule.nanosecondsWaitingForCore() {
                                record[0] = now - waited
                                record[1] = Int(DispatchTime.now().uptimeNanoseconds - started)
                            } else {
                                (record[0], record[1]) = (0, 0)
                            }
                        }
                        while let t = tasks.take() {
                            team?.open()
                            box.value[t].assign(from: start)
                            work.value(t, slot(task: t, worker: w), &box.value[t])
                            team?.close()
                            tasks.finish()
                        }
                        guard !teams.isEmpty, helping else { return }
                        while !tasks.allFinished {
                            for v in 0..<workers where v != w {
                                if teams[v].help(scratch: scratch) { record[2] += 1 }
                            }
                            tasks.event.wait { tasks.allFinished || (0..<workers).contains { $0 != w && teams[$0].isJoinable } }
                        }
                    }
                }
            }
        }
        if !teams.isEmpty {
            let waits = (0..<threadCount).reduce(0) { $0 + workerRecords[3 * $1] }
            let spent = (0..<threadCount).reduce(0) { $0 + workerRecords[3 * $1 + 1] }
            helperJoins = (0..<threadCount).reduce(0) { $0 + workerRecords[3 * $1 + 2] }
            coresContended = spent > 0 && waits * 10 >= spent
        }
        if exchange != nil { exchangeTaskResults() }
        optimizer.merge(optimizerCopies, stepsEach: stepsEach)
    }

    private func slot(task t: Int, worker w: Int) -> Slot {
        Slot(learner: learners[w], weights: taskWeights[w].pointer, metaGradient: metaGradients[t].pointer)
    }

    /// The tasks' mean meta-gradient, summed in task order (the same floats whatever the thread
    /// count), in the first task's buffer.
    func meanMetaGradient() -> UnsafeMutablePointer<Float> {
        let n = taskCount, count = model.parameterCount
        let mean = metaGradients[0].pointer
        for t in 1..<max(n, 1) { Vector.add(metaGradients[t].pointer, into: mean, count: count) }
        if n > 1 { Vector.scale(mean, by: 1 / Float(n), count: count) }
        return mean
    }

    /// The tasks' mean inner loss.
    var meanLoss: Float { taskLosses.buffer.reduce(0, +) / Float(taskCount) }

    /// Gives every process of the group the meta-gradients, optimizer states and losses of the
    /// tasks the others ran, so that all reduce the same values in the same order.
    private func exchangeTaskResults() {
        guard let group, let exchange else { return }
        let n = taskCount, count = model.parameterCount, stride = exchangeStride
        let all = exchange.pointer
        let own = group.block(of: n)
        for t in own {
            let slot = all + t * stride
            slot.update(from: metaGradients[t].pointer, count: count)
            optimizerCopies[t].copyTaskState(to: FloatView(slot + count, count: stride - count - 1))
            slot[stride - 1] = taskLosses.pointer[t]
        }
        group.allGather(FloatView(all, count: n * stride), counts: exchangeCounts)
        for t in 0..<n where !own.contains(t) {
            let slot = all + t * stride
            metaGradients[t].pointer.update(from: slot, count: count)
            optimizerCopies[t].loadTaskState(from: FloatView(slot + count, count: stride - count - 1))
            taskLosses.pointer[t] = slot[stride - 1]
        }
    }
}

/// Moves a non-Sendable value into a concurrently executed closure whose accesses are disjoint.
struct UnsafeSendable<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
