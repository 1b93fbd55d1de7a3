#!/usr/bin/env python
"""Evaluate a VQ-VAE on a test split: PSNR, bits per image of the code map, codebook usage, perplexity.

    PYTHONPATH=. python scripts/evaluate_vqvae.py --model model_cards/vqvae-mnist --dataset_name mnist

`--check_targets` exits with status 1 unless codebook usage >= 95 % and perplexity >= K/2.
`--write_card` (re)writes the model folder's README.md, whose `model-index` holds the figures printed here,
and `--grid FILE` saves a reconstruction grid (test images / reconstructions in alternate rows).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch

try:  # run from a clean clone without `pip install -e .`
    import hf_argen  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATASET_IDS = {
    "mnist": ("ylecun/mnist", "MNIST"),
    "fashion_mnist": ("zalando-datasets/fashion_mnist", "Fashion-MNIST"),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a saved model folder or Hub id")
    parser.add_argument("--dataset_name", default="mnist")
    parser.add_argument("--split", default="test")
    parser.add_argument("--data_dir", default=None, help="folder with IDX files (else $HF_ARGEN_DATA_DIR)")
    parser.add_argument("--batch_size", type=int, default=500)
    parser.add_argument("--output_json", default=None, help="also write the metrics here")
    parser.add_argument("--grid", default=None, help="save a reconstruction grid PNG here")
    parser.add_argument("--num_grid_images", type=int, default=20)
    parser.add_argument(
        "--check_targets",
        action="store_true",
        help="exit 1 unless usage >= 95 %% of codes and perplexity >= K/2",
    )
    parser.add_argument("--write_card", action="store_true", help="write README.md into --model")
    parser.add_argument("--model_name", default=None, help="name in the card (default: the folder name)")
    parser.add_argument("--repo_id", default=None, help="id/path the card's usage snippet loads (default: --model)")
    parser.add_argument("--train_command", default=None, help="training command quoted in the card")
    parser.add_argument("--hardware", default=None, help="hardware note for the card")
    parser.add_argument("--num_threads", type=int, default=None)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from transformers import AutoModel

    from hf_argen.training.vqvae import (
        evaluate_vqvae,
        load_pixel_values,
        reconstruction_grid,
        vqvae_model_card,
    )

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    model = AutoModel.from_pretrained(args.model).eval()
    config = model.config
    pixel_values = load_pixel_values(
        args.dataset_name,
        args.split,
        data_dir=args.data_dir,
        num_channels=config.num_channels,
        image_size=config.image_size,
    )
    metrics = evaluate_vqvae(model, pixel_values, batch_size=args.batch_size)
    k = config.num_embeddings
    print(f"model: {args.model}  dataset: {args.dataset_name}:{args.split} ({metrics['num_images']} images)")
    print("| metric | value |\n|---|---|")
    print(f"| PSNR (dB) | {metrics['psnr']:.2f} |")
    print(f"| MSE on [-1, 1] | {metrics['mse']:.5f} |")
    print(f"| bits per image (h*w*log2 K) | {metrics['bits_per_image']:.0f} |")
    print(f"| codebook usage | {100 * metrics['codebook_usage']:.1f} % ({metrics['codes_used']}/{k}) |")
    print(f"| perplexity | {metrics['perplexity']:.1f} (K = {k}, K/2 = {k / 2:g}) |")
    if args.output_json:
        Path(args.output_json).write_text(json.dumps(metrics, indent=2) + "\n")
    grid_file = None
    if args.grid:
        reconstruction_grid(model, pixel_values[: args.num_grid_images]).save(args.grid)
        grid_file = Path(args.grid).name
    if args.write_card:
        dataset_id, dataset_label = DATASET_IDS.get(args.dataset_name, (args.dataset_name, args.dataset_name))
        command = "PYTHONPATH=. python scripts/evaluate_vqvae.py " + " ".join(
            shlex.quote(a) for a in ["--model", args.model, "--dataset_name", args.dataset_name, "--split", args.split]
        )
        command += " --check_targets"
        card = vqvae_model_card(
            metrics,
            config,
            model_name=args.model_name or Path(args.model).name,
            dataset_id=dataset_id,
            dataset_name=dataset_label,
            split=args.split,
            train_command=args.train_command,
            eval_command=command,
            grid_file=grid_file,
            hardware=args.hardware,
            repo_id=args.repo_id or args.model,
        )
        card.save(str(Path(args.model) / "README.md"))
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
    main()
