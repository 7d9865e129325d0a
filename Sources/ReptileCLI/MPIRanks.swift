// Running a command on every rank of an MPI job (`mpirun`, `srun`): rank 0 alone prints and writes,
// and an error on one rank ends the whole job with one clear line instead of leaving the others waiting.

import ArgumentParser
import Foundation
import Reptile

/// Runs `body` once per process: with the job's ranks when launched by an MPI launcher with more
/// than one process, else with nil (MPI untouched).
func runOnRanks(_ body: (MPIProcessGroup?) throws -> Void) throws {
    guard let group = try MPIProcessGroup.world() else { return try body(nil) }
    guard group.size > 1 else {
        defer { group.finalize() }
        return try body(nil)
    }
    outputIsQuiet = group.rank != 0
    do {
        try body(group)
        group.finalize()
    } catch let error as ProcessGroupError {
        // Every rank has this error: rank 0 reports it, and no rank leaves before it has (the
        // launcher ends the job as soon as one process exits with an error).
        if group.rank == 0 { FileHandle.standardError.write(Data("Error: \(error.description)\n".utf8)) }
        group.barrier()
        group.finalize()
        throw ExitCode(1)
    } catch {
        // Only this rank failed: say so and end the whole job rather than leave the others waiting.
        FileHandle.standardError.write(Data("Error: rank \(group.rank) of \(group.size): \(error)\n".utf8))
        group.abort()
    }
}

/// The threads each rank takes when `--threads` is not given: its share of this machine's cores.
func threadsPerRank(_ group: MPIProcessGroup?) -> Int? {
    group.map { max(1, ProcessInfo.processInfo.activeProcessorCount / $0.localSize) }
}
