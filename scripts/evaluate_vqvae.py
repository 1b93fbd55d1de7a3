#!/usr/bin/env python
"""Evaluate a VQ-VAE on a test split: PSNR, bits per image of the code map, codebook usage, perplexity.

    python scripts/evaluate_vqvae.py --model model_cards/vqvae-mnist --dataset_name mnist --split test

`--check_targets` exits with status 1 unless codebook usage >= 95 % and perplexity >= K/2.
`--write_card` (re)writes the model folder's README.md (`hf_argen.hub`), whose `model-index` holds the figures
printed here (training commands and notes from the folder's training_info.json, or `--train_command`), and
`--grid FILE` saves a reconstruction grid (test images / reconstructions in alternate rows).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import torch

from hf_argen.atomic import atomic_save_image
from hf_argen.cli import add_device_argument, add_hidden_alias, resolve_device, run_cli, script_parser, write_json

METRICS_NOTE = (
    "PSNR is 10 log10(1 / MSE) over every pixel of the split on the [0, 1] scale; codebook usage is the share of "
    "the K codes that occur in the split's code maps; perplexity is exp(entropy) of the split's code histogram (K "
    "would be perfectly uniform use); bits per image is h * w * log2(K)."
)


def parse_args(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--model", required=True, help="a saved model folder or Hub id")
    parser.add_argument("--dataset_name", default="mnist", help="mnist, fashion_mnist, digits, a folder or Hub id")
    parser.add_argument("--split", default="test", help="split to evaluate")
    parser.add_argument("--data_dir", default=None, help="folder with IDX files (else $HF_ARGEN_DATA_DIR)")
    parser.add_argument("--batch_size", type=int, default=500, help="images per forward pass")
    parser.add_argument("--max_eval_samples", type=int, default=None, help="evaluate the first N images only")
    parser.add_argument("--output_json", default=None, help="also write the metrics here as JSON ('-': stdout)")
    parser.add_argument("--grid", default=None, help="save a reconstruction grid PNG here")
    parser.add_argument("--num_grid_images", type=int, default=20, help="images in the --grid")
    parser.add_argument(
        "--check_targets",
        action="store_true",
        help="exit 1 unless usage >= 95 %% of codes and perplexity >= K/2",
    )
    parser.add_argument("--write_card", action="store_true", help="write README.md into --model")
    parser.add_argument("--hub_model_id", default=None, help="Hub id the card's usage snippet loads")
    parser.add_argument(
        "--train_command", action="append", default=None, help="training command(s) for the card (repeatable)"
    )
    parser.add_argument("--hardware", default=None, help="training note for the card (hardware, time)")
    add_hidden_alias(parser, "--repo_id", "hub_model_id")
    parser.add_argument("--num_threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        raise ValueError(f"--batch_size must be >= 1, got {args.batch_size}.")
    return args


def main(argv=None):
    args = parse_args(argv)
    device = resolve_device(args.device)
    from transformers import AutoModel

    from hf_argen.recipes.cards import vqvae_card_metrics, write_card_for_folder
    from hf_argen.recipes.vqvae import evaluate_vqvae, load_pixel_values, reconstruction_grid

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    model = AutoModel.from_pretrained(args.model).to(device).eval()
    config = model.config
    pixel_values = load_pixel_values(
        args.dataset_name,
        args.split,
        data_dir=args.data_dir,
        num_channels=config.num_channels,
        image_size=config.image_size,
    )[: args.max_eval_samples]
    metrics = evaluate_vqvae(model, pixel_values, batch_size=args.batch_size)
    k = config.num_embeddings
    print(f"model: {args.model}  dataset: {args.dataset_name}:{args.split} ({metrics['num_images']} images)")
    print("| metric | value |\n|---|---|")
    print(f"| PSNR (dB) | {metrics['psnr']:.2f} |")
    print(f"| MSE on [-1, 1] | {metrics['mse']:.5f} |")
    print(f"| bits per image (h*w*log2 K) | {metrics['bits_per_image']:.0f} |")
    print(f"| codebook usage | {100 * metrics['codebook_usage']:.1f} % ({metrics['codes_used']}/{k}) |")
    print(f"| perplexity | {metrics['perplexity']:.1f} (K = {k}, K/2 = {k / 2:g}) |")
    write_json(args.output_json, metrics)
    grid_file = None
    if args.grid:
        atomic_save_image(reconstruction_grid(model, pixel_values[: args.num_grid_images]), args.grid)
        grid_file = Path(args.grid).name
    if args.write_card:
        command = "python scripts/evaluate_vqvae.py " + " ".join(
            shlex.quote(a) for a in ["--model", args.model, "--dataset_name", args.dataset_name, "--split", args.split]
        )
        command += " --check_targets"
        images = None
        if grid_file:
            from hf_argen.hub import CardImage

            caption = f"Odd rows: {args.split} images; even rows: their reconstructions."
            images = [CardImage(grid_file, "reconstructions", caption)]
        path = write_card_for_folder(
            args.model,
            vqvae_card_metrics(metrics, args.split, k),
            dataset=args.dataset_name,
            repo_id=args.hub_model_id,
            eval_command=command,
            metrics_note=METRICS_NOTE,
            train_commands=args.train_command,
            training=args.hardware,
            images=images,
        )
        print(f"wrote {path}")
    if args.check_targets:
        usage_ok, perplexity_ok = metrics["codebook_usage"] >= 0.95, metrics["perplexity"] >= k / 2
        print(
            f"targets: usage >= 95 %: {'PASS' if usage_ok else 'FAIL'}; perplexity >= K/2: "
            f"{'PASS' if perplexity_ok else 'FAIL'}"
        )
        if not (usage_ok and perplexity_ok):
            sys.exit(1)
    return metrics


if __name__ == "__main__":
    run_cli(main)
