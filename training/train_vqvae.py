#!/usr/bin/env python
"""Train a VQ-VAE (EMA codebook) with Accelerate.

    accelerate launch training/train_vqvae.py --dataset_name mnist --output_dir out

Every `--eval_steps` (and at the end) it logs, on the eval split (default: a validation split carved from the
training images, every 10th image): reconstruction MSE, PSNR, codebook usage, perplexity; every `--sample_steps`
(and at the end) it writes a reconstruction grid to `output_dir/samples/`. Flags are shared by every
`training/train_*.py` (`hf_argen.training.arguments`) plus the VQ-VAE's own
(`hf_argen.recipes.vqvae.VQVAEArguments`).
"""

from __future__ import annotations

DEFAULTS = dict(
    torch_compile="false",  # compiling this model on CUDA is not yet verified; --torch_compile true opts in
    dataset_name="mnist",
    train_batch_size=128,
    eval_batch_size=500,
    learning_rate=3e-4,
    lr_scheduler="constant",
    max_grad_norm=None,
    num_train_epochs=10,
    checkpointing_steps=500,
    checkpoints_total_limit=2,
)


def main(argv=None):
    from hf_argen.recipes.vqvae import VQVAEArguments, train_vqvae
    from hf_argen.training.arguments import launch_command, parse_training_args, setup_logging

    data, run, flags = parse_training_args(VQVAEArguments, argv, description=__doc__, **DEFAULTS)
    setup_logging()
    return train_vqvae(data, run, flags, command=launch_command("training/train_vqvae.py", argv))


if __name__ == "__main__":
    from hf_argen.cli import run_cli

    run_cli(main)
