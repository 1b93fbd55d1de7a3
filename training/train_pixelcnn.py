#!/usr/bin/env python
"""Train a (class-conditional) Gated PixelCNN with Accelerate.

    accelerate launch training/train_pixelcnn.py --dataset_name digits --output_dir out

Any image folder works too (class subfolders or `metadata.jsonl` labels; no test split needed): evaluation
during training uses a validation split carved from the training images (every 10th image) unless
`--eval_split test` (or another split) is given. Flags are shared by every `training/train_*.py`
(`hf_argen.training.arguments`) plus the PixelCNN's own (`hf_argen.recipes.pixelcnn.PixelCNNArguments`).
"""

from __future__ import annotations

DEFAULTS = dict(
    dataset_name="digits",
    train_batch_size=64,
    learning_rate=1e-3,
    lr_scheduler="cosine",
    num_train_epochs=20,
    checkpointing_steps=500,
)


def main(argv=None):
    from hf_argen.recipes.pixelcnn import PixelCNNArguments, train_pixelcnn
    from hf_argen.training.arguments import launch_command, parse_training_args, setup_logging

    data, run, flags = parse_training_args(PixelCNNArguments, argv, description=__doc__, **DEFAULTS)
    setup_logging()
    return train_pixelcnn(data, run, flags, command=launch_command("training/train_pixelcnn.py", argv))


if __name__ == "__main__":
    from hf_argen.cli import run_cli

    run_cli(main)
