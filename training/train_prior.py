#!/usr/bin/env python
"""Train a class-conditional latent prior over the codes of a trained VQ-VAE.

    accelerate launch training/train_prior.py --vqvae model_cards/vqvae-mnist --prior transformer --output_dir out

`--dataset_name` defaults to the images the VQ-VAE was trained on (recorded in its `training_info.json`). The
training (and eval) split is encoded once with the VQ-VAE, by the main process, and cached as a `datasets` dataset
under `--cache_dir` (default `~/.cache/hf_argen/codes`, or `$HF_ARGEN_CACHE/codes`), keyed by the VQ-VAE's weights,
the data files and the preprocessing (`hf_argen.recipes.codes.encode_dataset_codes`): the next run reuses it.
The prior (`--prior transformer`: `ARTransformerForCausalLM`, `--prior rnn`: `ARRNNForCausalLM`,
`--prior pixelcnn`: a class-conditional `PixelCNNForImageGeneration` over the code map with num_levels = K;
`--prior gpt2|llama|mamba`: `transformers`' own causal LM of the same width and depth) is
trained on `[class token] + h*w codes` in raster order (token layout: `hf_argen.models.PriorVocabulary`); it
logs the eval split's NLL (default: a validation split carved from the training images, every 10th) and writes
sample grids. At the end `output_dir` holds the two-stage model (`VQVAEPriorForImageGeneration`: config.json with
`id2label` and `custom_pipelines`, one model.safetensors), its card and, with `--push_to_hub`, is uploaded. Flags are
shared by every `training/train_*.py` plus the prior's own (`hf_argen.recipes.prior.PriorArguments`).

With `--caption_column text` it trains a text-to-image model instead (`hf_argen.recipes.text_to_image`) on any
captioned image dataset (mnist_scenes, emoji, an imagefolder with metadata.jsonl): one causal LM over
`[caption prompt] + h*w codes`, the caption dropped for a fraction `--condition_dropout` of the examples so that
`guidance_scale` works; the output folder is a `VQVAETextToImageForImageGeneration` with its tokenizer and the
`text-to-image` pipeline. `--condition_dropout` on a class-conditional causal LM prior trains a null class.

    accelerate launch training/train_prior.py --vqvae my-vqvae --dataset_name mnist_scenes --caption_column text \
        --condition_dropout 0.1 --output_dir out
"""

from hf_argen.cli import run_cli
from hf_argen.recipes.prior import TRAINING_DEFAULTS, PriorArguments
from hf_argen.recipes.text_to_image import train_prior_or_text_to_image
from hf_argen.training.arguments import run_training


def main(argv=None):
    return run_training(
        train_prior_or_text_to_image, PriorArguments, "training/train_prior.py", argv, __doc__, TRAINING_DEFAULTS
    )


if __name__ == "__main__":
    run_cli(main)
