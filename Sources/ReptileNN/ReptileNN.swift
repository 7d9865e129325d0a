// ReptileNN — layers, models, losses and optimizers.
//
// This module owns the neural-network API: layers (`Linear`, `Conv2d`, `BatchNorm`, `ReLU`,
// `Tanh`, `MaxPool2d`, `Flatten`) composed into a `Sequential` model whose trainable parameters all
// live in one flat `[Float]` with named views (`ParameterLayout`) and which runs a batch norm with
// the ReLU and max pooling around it as one stage (the same floats, less memory traffic) and can
// cut each batch into two shards that two threads compute together (`ShardContext`, the
// `Learner`'s team) with the floats of one, the per-thread `Workspace` that holds activations so
// that a training step allocates nothing, the
// `Loss` functions, and the inner-loop optimizers (`SGD`, `Adam`) whose state can be snapshotted
// and restored separately from the weights. The numeric work itself is done by ReptileKernels.
