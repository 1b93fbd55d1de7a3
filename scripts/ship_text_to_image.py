#!/usr/bin/env python
"""Build a shipped text-to-image folder from a training run: its sampling defaults (chosen on the validation split)
in `generation_config.json` and, optionally, the decoder of a VQ-VAE fine-tuned with `train_vqvae.py --decoder_only`
(refused unless its encoder and codebook are the model's own, so the codes the prior was trained on stay the same).
`--weights_dtype bfloat16` stores the floating-point weights in bfloat16 (half the bytes); config.json keeps float32,
so they load as float32 (the bfloat16 values, exactly): measure the shipped folder, not the run's.

    python scripts/ship_text_to_image.py --model runs/t2i-scenes --decoder runs/vqvae-scenes-decoder \\
        --guidance_scale 3 --temperature 0.5 --output model_cards/text-to-image-mnist-scenes
"""

import os
import shutil
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from hf_argen.cli import run_cli, script_parser

KEPT_FILES = ("README.md", "samples.png", "training_info.json")


def store_bfloat16(folder: Path) -> None:
    """Rewrite `folder/model.safetensors` with its floating-point tensors in bfloat16 (metadata kept; atomic)."""
    path = folder / "model.safetensors"
    with safe_open(path, "pt") as weights:
        metadata = weights.metadata()
        tensors = {name: weights.get_tensor(name) for name in weights.keys()}
    tensors = {name: t.to(torch.bfloat16) if t.is_floating_point() else t for name, t in tensors.items()}
    temp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        save_file(tensors, temp, metadata=metadata)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--model", required=True, help="the training run's output folder")
    parser.add_argument("--decoder", default=None, help="a VQ-VAE folder whose decoder replaces the model's")
    parser.add_argument("--guidance_scale", type=float, default=None, help="default guidance scale")
    parser.add_argument("--temperature", type=float, default=None, help="default sampling temperature")
    parser.add_argument("--output", required=True, help="the folder to write")
    parser.add_argument("--weights_dtype", choices=["float32", "bfloat16"], default="float32",
                        help="how the weights are stored (they load as float32 either way)")  # fmt: skip
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
    if args.weights_dtype == "bfloat16":
        store_bfloat16(Path(args.output))
    for name in KEPT_FILES:
        if (Path(args.model) / name).is_file() and not (Path(args.output) / name).is_file():
            shutil.copy(Path(args.model) / name, Path(args.output) / name)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    run_cli(main)
