#!/usr/bin/env python
"""Train a VQ-VAE (EMA codebook) with Accelerate.

    accelerate launch training/train_vqvae.py --dataset_name mnist --output_dir out

Every `--eval_steps` (and at the end) it logs, on the eval split (default: a validation split carved from the
training images, every 10th image): reconstruction MSE, PSNR, codebook usage, perplexity; every `--sample_steps`
(and at the end) it writes a reconstruction grid to `output_dir/samples/`. Flags are shared by every
`training/train_*.py` (`hf_argen.training.arguments`) plus the VQ-VAE's own
(`hf_argen.recipes.vqvae.VQVAEArguments`).
"""

from hf_argen.cli import run_cli
from hf_argen.recipes.vqvae import TRAINING_DEFAULTS, VQVAEArguments, train_vqvae
from hf_argen.training.arguments import run_training


def main(argv=None):
    return run_training(train_vqvae, VQVAEArguments, "training/train_vqvae.py", argv, __doc__, TRAINING_DEFAULTS)


if __name__ == "__main__":
    run_cli(main)
