#!/usr/bin/env python
"""Train a class-conditional latent prior over the codes of a trained VQ-VAE.

    accelerate launch training/train_prior.py --vqvae model_cards/vqvae-mnist --prior transformer --output_dir out

The training (and eval) split is encoded once with the VQ-VAE, by the main process, and cached as a `datasets`
dataset under `--cache_dir` (default `output_dir/codes`), keyed by the VQ-VAE's weights; a cache that holds the
codes is reused. The prior (`--prior transformer`: `ARTransformerForCausalLM`, `--prior rnn`: `ARRNNForCausalLM`,
`--prior pixelcnn`: a class-conditional `PixelCNNForImageGeneration` over the code map with num_levels = K) is
trained on `[class token] + h*w codes` in raster order (token layout: `hf_argen.models.PriorVocabulary`); it
logs the eval split's NLL (default: a validation split carved from the training images, every 10th) and writes
sample grids. At the end `output_dir` holds the two-stage model (`VQVAEPriorForImageGeneration`: config.json with
`id2label` and `custom_pipelines`, one model.safetensors), its card and, with `--push_to_hub`, is uploaded. Flags are
shared by every `training/train_*.py` plus the prior's own (`hf_argen.recipes.prior.PriorArguments`).
"""

from __future__ import annotations

DEFAULTS = dict(
    torch_compile="false",  # compiling this model on CUDA is not yet verified; --torch_compile true opts in
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
    from hf_argen.recipes.prior import PriorArguments, train_prior
    from hf_argen.training.arguments import launch_command, parse_training_args, setup_logging

    data, run, flags = parse_training_args(PriorArguments, argv, description=__doc__, **DEFAULTS)
    setup_logging()
    return train_prior(data, run, flags, command=launch_command("training/train_prior.py", argv))


if __name__ == "__main__":
    from hf_argen.cli import run_cli

    run_cli(main)
