#!/usr/bin/env python
"""Train a (class-conditional) Gated PixelCNN with Accelerate.

    accelerate launch training/train_pixelcnn.py --dataset_name digits --output_dir out

Any image folder works too (class subfolders or `metadata.jsonl` labels; no test split needed): evaluation
during training uses a validation split carved from the training images (every 10th image) unless
`--eval_split test` (or another split) is given. Flags are shared by every `training/train_*.py`
(`hf_argen.training.arguments`) plus the PixelCNN's own (`hf_argen.recipes.pixelcnn.PixelCNNArguments`).
"""

from hf_argen.cli import run_cli
from hf_argen.recipes.pixelcnn import TRAINING_DEFAULTS, PixelCNNArguments, train_pixelcnn
from hf_argen.training.arguments import run_training


def main(argv=None):
    return run_training(
        train_pixelcnn, PixelCNNArguments, "training/train_pixelcnn.py", argv, __doc__, TRAINING_DEFAULTS
    )


if __name__ == "__main__":
    run_cli(main)
