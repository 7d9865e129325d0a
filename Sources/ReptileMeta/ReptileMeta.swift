// ReptileMeta — the meta-learning algorithms.
//
// This module owns the Reptile family, independent of any data set: the `TaskDistribution` and
// `SupervisedTask` protocols a user implements for their own tasks, the inner loop (k optimizer
// steps on mini-batches of one task), the meta-gradient choice (Reptile's W − θ, FOMAML's last
// step, or any subset of the inner steps' updates), the linear ε schedule, the outer update
// (interpolation or Adam), parallel execution of a meta-batch's tasks with a fixed reduction
// order (on threads, and across processes through the `ProcessGroup` protocol), and few-shot
// evaluation (transductive and non-transductive).
