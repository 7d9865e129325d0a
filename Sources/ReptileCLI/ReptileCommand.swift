// The `reptile` command-line tool: the paper's experiments behind a few subcommands.
//
// This module owns argument parsing, progress output and result printing only; the work is done by
// the library (`import Reptile`).

import ArgumentParser
import Foundation
import Reptile
import ReptileExperiments
import ReptileFormats
import ReptileKernels
import ReptilePlot

@main
struct ReptileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reptile",
        abstract: "Reptile meta-learning (Nichol, Achiam & Schulman, 2018): train, evaluate, benchmark and demo.",
        discussion: """
        Start with `reptile sine` (the blog's sine-wave demo, a few seconds) or \
        `reptile train omniglot --help` (few-shot Omniglot with the paper's flags).
        """,
        version: "0.1.0",
        subcommands: [Sine.self, Train.self, Evaluate.self, Serve.self, Bench.self, Study.self]
    )
}
