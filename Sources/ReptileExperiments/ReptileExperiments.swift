// ReptileExperiments — the paper's experiments as reusable drivers.
//
// This module owns the end-to-end runs that the command-line tool exposes: the sine-wave demo, few-
// shot training and evaluation with logging, metrics, learning curves and checkpoints, the
// benchmark, the gradient-combination study, and the one-shot drawing classifier behind the demo
// server. Each driver reports progress through a callback so that the CLI, the tests and other
// programs can use them alike.
