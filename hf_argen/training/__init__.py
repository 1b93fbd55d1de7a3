"""Training side of hf_argen, generic: the shared Accelerate loop (:mod:`.loop`) and the shared command-line flags
(:mod:`.arguments`). Nothing model- or dataset-specific: the per-model runs are the recipes' (`hf_argen.recipes`).
Nothing used at inference imports this package.
"""

from .loop import (
    LoopArguments,
    TensorDictDataset,
    TrainingLoop,
    TrainResult,
    default_compute_loss,
    evaluate_across_processes,
    list_checkpoints,
    load_checkpoint_weights,
    make_accelerator,
    make_ema,
    num_update_steps,
    resolve_checkpoint,
    shard_indices,
)

__all__ = [
    "LoopArguments",
    "TensorDictDataset",
    "TrainResult",
    "TrainingLoop",
    "default_compute_loss",
    "evaluate_across_processes",
    "list_checkpoints",
    "load_checkpoint_weights",
    "make_accelerator",
    "make_ema",
    "num_update_steps",
    "resolve_checkpoint",
    "shard_indices",
]
