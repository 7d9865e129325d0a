// The few MPI calls Reptile makes, as functions Swift can call: Open MPI's MPI_COMM_WORLD and
// datatypes are macros over global symbols, which Swift does not import.
#ifndef REPTILE_CMPI_SHIM_H
#define REPTILE_CMPI_SHIM_H
#include <mpi.h>

/// MPI_Init_thread asking for MPI_THREAD_SERIALIZED; returns the level provided, or -1 on failure.
static inline int reptile_mpi_init(void) {
    int provided = -1;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) return -1;
    return provided;
}
static inline int reptile_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int reptile_mpi_rank(void) { int r = -1; MPI_Comm_rank(MPI_COMM_WORLD, &r); return r; }
static inline int reptile_mpi_size(void) { int s = -1; MPI_Comm_size(MPI_COMM_WORLD, &s); return s; }
static inline int reptile_mpi_finalize(void) { return MPI_Finalize(); }
static inline void reptile_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
static inline double reptile_mpi_wtime(void) { return MPI_Wtime(); }
static inline int reptile_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

/// Every rank's block of `buffer` (counts[r] floats at displacements[r]) to every rank, in place.
static inline int reptile_mpi_allgatherv_floats(float *buffer, const int *counts, const int *displacements) {
    return MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buffer, counts, displacements, MPI_FLOAT, MPI_COMM_WORLD);
}

/// `count` bytes from every rank into `received` (size × count bytes, rank order).
static inline int reptile_mpi_allgather_bytes(const void *sent, int count, void *received) {
    return MPI_Allgather(sent, count, MPI_BYTE, received, count, MPI_BYTE, MPI_COMM_WORLD);
}

/// Sums `count` floats over all ranks, in place (for timing; training never reduces this way,
/// because MPI's summation order is not fixed).
static inline int reptile_mpi_allreduce_sum_floats(float *buffer, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
#endif
