// ReptileData — data sets and task samplers.
//
// This module owns where tasks come from: the sine-wave regression tasks of the demo, Omniglot
// (the built-in NumPy archives and the official PNG distribution, reduced to 28×28 by exact area
// averaging, split 1 200 / 423 by seed, training characters augmented by rotation), Mini-ImageNet
// (JPEG folders decoded once into a compact UInt8 cache), and the N-way K-shot task sampler that
// turns a set of classes into few-shot tasks for ReptileMeta.
