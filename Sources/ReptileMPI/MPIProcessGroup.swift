// ReptileMPI — meta-batches spread over the processes of an MPI job (Open MPI).
//
// This module owns the one place Reptile talks to MPI: starting it when the process was launched by
// `mpirun` or `srun`, and the collective exchanges a `ProcessGroup` needs. MPI is optional: it is
// compiled in with the package trait `MPI` (`swift build -c release --traits MPI`, which needs
// `libopenmpi-dev`); without it, this module only detects an MPI launch and says how to rebuild.

#if MPI
import CMPI
#endif
import Foundation
import ReptileKernels
import ReptileMeta

/// The processes of an MPI job (`MPI_COMM_WORLD`), as a ``ProcessGroup``.
public final class MPIProcessGroup: ProcessGroup {
    public let rank: Int
    public let size: Int
    /// Processes of the job on this machine (they share its cores).
    public let localSize: Int

    /// Whether this build can run under MPI (built with the `MPI` trait).
    public static var isAvailable: Bool {
        #if MPI
        return true
        #else
        return false
        #endif
    }

    /// Whether this process was started by an MPI launcher (`mpirun`, `mpiexec`, or Slurm's `srun`
    /// with PMI/PMIx), judged from the environment the launchers set.
    public static var isLaunchedByMPI: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"].contains { environment[$0] != nil }
    }

    /// The job's processes when this process was started by an MPI launcher, else nil (nothing of
    /// MPI is touched). Starts MPI on the first call.
    /// - Throws: ``MPIError`` when launched by MPI but built without it, or when MPI fails to start.
    public static func world() throws -> MPIProcessGroup? {
        guard isLaunchedByMPI else { return nil }
        let environment = ProcessInfo.processInfo.environment
        // One process has nothing to share: run as usual, without starting MPI.
        if (environment["OMPI_COMM_WORLD_SIZE"] ?? environment["PMI_SIZE"] ?? environment["SLURM_NTASKS"]) == "1" { return nil }
        lock.lock()
        defer { lock.unlock() }
        if let shared { return shared }
        #if MPI
        let provided = reptile_mpi_init()
        guard provided >= 0 else { throw MPIError("MPI_Init_thread failed") }
        guard provided >= reptile_mpi_thread_serialized() else {
            throw MPIError("this MPI library does not allow calls from more than one thread (MPI_THREAD_SERIALIZED)")
        }
        let local = environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init)
            ?? environment["SLURM_NTASKS_PER_NODE"].flatMap(Int.init) ?? 1
        let group = MPIProcessGroup(rank: Int(reptile_mpi_rank()), size: Int(reptile_mpi_size()), localSize: max(1, local))
        shared = group
        return group
        #else
        throw MPIError("started by an MPI launcher, but this reptile was built without MPI support: install Open MPI (libopenmpi-dev) and build with `swift build -c release --traits MPI`")
        #endif
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var shared: MPIProcessGroup?

    private var gatherCounts: [Int] = [], gatherSizes: [Int32] = [], gatherDisplacements: [Int32] = []

    private init(rank: Int, size: Int, localSize: Int) {
        self.rank = rank
        self.size = size
        self.localSize = localSize
    }

    public func allGather(_ buffer: FloatView, counts: [Int]) {
        precondition(counts.count == size && counts.reduce(0, +) == buffer.count, "the blocks must cover the buffer, one per rank")
        #if MPI
        // Training gathers the same blocks every meta-iteration: MPI's arrays are made once.
        if counts != gatherCounts {
            gatherCounts = counts
            gatherSizes = counts.map { Int32($0) }
            gatherDisplacements = counts.indices.map { Int32(counts[..<$0].reduce(0, +)) }
        }
        check(reptile_mpi_allgatherv_floats(buffer.base, gatherSizes, gatherDisplacements), "MPI_Allgatherv")
        #endif
    }

    public func allGather(bytes: [UInt8]) -> [[UInt8]] {
        #if MPI
        var received = [UInt8](repeating: 0, count: bytes.count * size)
        check(reptile_mpi_allgather_bytes(bytes, Int32(bytes.count), &received), "MPI_Allgather")
        return (0..<size).map { Array(received[$0 * bytes.count ..< ($0 + 1) * bytes.count]) }
        #else
        return [bytes]
        #endif
    }

    /// Sums `buffer` over all processes in place, in MPI's own order (not reproducible bit for bit;
    /// used only to time the network against Reptile's fixed-order gather).
    public func allReduceSum(_ buffer: FloatView) {
        #if MPI
        check(reptile_mpi_allreduce_sum_floats(buffer.base, Int32(buffer.count)), "MPI_Allreduce")
        #endif
    }

    /// Waits until every process gets here.
    public func barrier() {
        #if MPI
        check(reptile_mpi_barrier(), "MPI_Barrier")
        #endif
    }

    /// Ends MPI in this process; call once, after the last collective call, before exiting.
    public func finalize() {
        #if MPI
        _ = reptile_mpi_finalize()
        #endif
    }

    /// Ends every process of the job at once (after a failure only this process knows of).
    public func abort(code: Int32 = 1) -> Never {
        #if MPI
        reptile_mpi_abort(code)
        #endif
        exit(code)
    }

    /// MPI's default error handler ends the job on a failed call; this catches a library set to
    /// return errors instead.
    private func check(_ status: Int32, _ call: String) {
        guard status == 0 else {
            FileHandle.standardError.write(Data("rank \(rank): \(call) failed (MPI error \(status)); ending the job\n".utf8))
            abort(code: 1)
        }
    }
}

/// MPI cannot be used as asked.
public struct MPIError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
