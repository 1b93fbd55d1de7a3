"""Training side of hf_argen: the shared Accelerate loop (:mod:`.loop`), the shared command-line flags
(:mod:`.arguments`) and one recipe module per model kind (:mod:`.pixelcnn`, :mod:`.vqvae`, :mod:`.prior`,
:mod:`.causal_lm`). Nothing used at inference imports this package.
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
