// Reptile — the library product: what a user of Reptile for Swift imports.
//
// `import Reptile` brings in the layers, models and optimizers, the meta-learners and tasks, the
// data sets, checkpoints and (with the `MPI` trait) meta-batches spread over an MPI job. The
// kernels, codecs and figures stay inside the package; the experiment drivers and the benchmark
// are the separate `ReptileExperiments` product.

@_exported import ReptileNN
@_exported import ReptileMeta
@_exported import ReptileData
@_exported import ReptileCheckpoint
@_exported import ReptileMPI
@_exported import struct ReptileKernels.RandomGenerator
@_exported import struct ReptileKernels.FloatView
@_exported import enum ReptileKernels.KernelPath
@_exported import enum ReptileKernels.Precision
@_exported import struct ReptileFormats.FormatError
