#!/usr/bin/env python
"""Train a causal LM over the sub-pixels of integer images (a pixel LM) with Accelerate.

    accelerate launch training/train_pixel_lm.py --dataset_name digits --model_type rnn --output_dir out

Images become BOS (+ class token) + sub-pixels in the PixelCNN's order (raster, R/G/B within a pixel); the model is
our LSTM/GRU (`--model_type rnn --cell_type gru`) or transformer, or `transformers`' ImageGPT or Mamba. Evaluation
reports the PixelCNN's exact bits/dim. Flags are shared by every `training/train_*.py` plus the pixel LM's own
(`hf_argen.recipes.pixel_lm.PixelLMArguments`).
"""

from hf_argen.cli import run_cli
from hf_argen.recipes.pixel_lm import TRAINING_DEFAULTS, PixelLMArguments, train_pixel_lm
from hf_argen.training.arguments import run_training


def main(argv=None):
    return run_training(
        train_pixel_lm, PixelLMArguments, "training/train_pixel_lm.py", argv, __doc__, TRAINING_DEFAULTS
    )


if __name__ == "__main__":
    run_cli(main)
