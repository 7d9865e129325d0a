// Reptile — the library product: one import for the whole of Reptile for Swift.
//
// `import Reptile` brings in the numeric kernels, the neural-network layers and optimizers, the
// meta-learning algorithms, the data sets and task samplers, checkpoints, figures, the
// experiment drivers and (with the `MPI` trait) meta-batches spread over an MPI job.

@_exported import ReptileKernels
@_exported import ReptileNN
@_exported import ReptileMeta
@_exported import ReptileData
@_exported import ReptileFormats
@_exported import ReptileCheckpoint
@_exported import ReptilePlot
@_exported import ReptileExperiments
@_exported import ReptileMPI
