#!/usr/bin/env python
"""Build a shipped text-to-image folder from a training run: its sampling defaults (chosen on the validation split)
in `generation_config.json` and, optionally, the decoder of a VQ-VAE fine-tuned with `train_vqvae.py --decoder_only`
(refused unless its encoder and codebook are the model's own, so the codes the prior was trained on stay the same).

    python scripts/ship_text_to_image.py --model runs/t2i-scenes --decoder runs/vqvae-scenes-decoder \\
        --guidance_scale 3 --temperature 0.5 --output model_cards/text-to-image-mnist-scenes
"""

import shutil
from pathlib import Path

import torch

from hf_argen.cli import run_cli, script_parser

KEPT_FILES = ("README.md", "samples.png", "training_info.json")


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--model", required=True, help="the training run's output folder")
    parser.add_argument("--decoder", default=None, help="a VQ-VAE folder whose decoder replaces the model's")
    parser.add_argument("--guidance_scale", type=float, default=None, help="default guidance scale")
    parser.add_argument("--temperature", type=float, default=None, help="default sampling temperature")
    parser.add_argument("--output", required=True, help="the folder to write")
    args = parser.parse_args(argv)

    from transformers import AutoModel, AutoTokenizer

    from hf_argen import TextToImagePipeline
    from hf_argen.atomic import atomic_save_pretrained
    from hf_argen.models.sampling_utils import sampling_config
    from hf_argen.recipes.vqvae import load_vqvae

    model = AutoModel.from_pretrained(args.model).eval()
    if args.decoder:
        decoder = load_vqvae(args.decoder, model.config.vqvae.image_size).state_dict()
        own = model.vqvae.state_dict()
        changed = [k for k in own if not k.startswith("decoder.") and not torch.equal(own[k], decoder[k])]
        if changed:
            raise ValueError(f"--decoder {args.decoder} differs from the model's VQ-VAE beyond the decoder: {changed}")
        model.vqvae.load_state_dict(decoder)
    model.generation_config = sampling_config(
        model.generation_config, guidance_scale=args.guidance_scale, temperature=args.temperature
    )
    pipe = TextToImagePipeline(model=model, tokenizer=AutoTokenizer.from_pretrained(args.model))
    atomic_save_pretrained(pipe, args.output)
    for name in KEPT_FILES:
        if (Path(args.model) / name).is_file() and not (Path(args.output) / name).is_file():
            shutil.copy(Path(args.model) / name, Path(args.output) / name)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    run_cli(main)
