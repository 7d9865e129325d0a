// ReptileCheckpoint — saving and restoring training runs.
//
// This module owns checkpoints: model weights and optimizer state as named tensors in the
// safetensors format (readable by PyTorch and NumPy), plus a small JSON file with the run's flags
// and position, both written atomically so that a crash never leaves a torn checkpoint.
