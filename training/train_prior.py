#!/usr/bin/env python
"""Train a class-conditional latent prior over the codes of a trained VQ-VAE.

    accelerate launch training/train_prior.py --vqvae model_cards/vqvae-mnist --prior transformer --output_dir out

The training (and eval) split is encoded once with the VQ-VAE, by the main process, and cached as a `datasets`
dataset under `--cache_dir` (default `output_dir/codes`), keyed by the VQ-VAE's weights; a cache that holds the
codes is reused. The prior (`--prior transformer`: `ARTransformerForCausalLM`, `--prior rnn`: `ARRNNForCausalLM`,
`--prior pixelcnn`: a class-conditional `PixelCNNForImageGeneration` over the code map with num_levels = K) is
trained on `[class token] + h*w codes` in raster order (token layout: `hf_argen.two_stage.PriorVocabulary`); it
logs the eval split's NLL (default: a validation split carved from the training images, every 10th) and writes
sample grids. At the end `output_dir/pipeline/` holds the two-stage pipeline (vqvae/ + prior/). Flags are
shared by every `training/train_*.py` plus the prior's own (`hf_argen.training.prior.PriorArguments`).
"""

from __future__ import annotations

import sys
from pathlib import Path

try:  # run from a clean clone without `pip install -e .`
    import hf_argen  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULTS = dict(
    dataset_name="mnist",
    train_batch_size=64,
    eval_batch_size=500,
    learning_rate=1e-3,
    lr_scheduler="cosine",
    lr_warmup_steps=100,
    num_train_epochs=1,
    checkpointing_steps=500,
    checkpoints_total_limit=2,
)


def main(argv=None):
    from hf_argen.training.arguments import parse_training_args, setup_logging
    from hf_argen.training.prior import PriorArguments, train_prior

    data, run, flags = parse_training_args(PriorArguments, argv, description=__doc__, **DEFAULTS)
    setup_logging()
    return train_prior(data, run, flags)


if __name__ == "__main__":
    from hf_argen.cli import run_cli

    run_cli(main)
