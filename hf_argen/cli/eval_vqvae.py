"""`hf-argen evaluate` of a VQ-VAE: PSNR, bits per image of the code map, codebook usage, perplexity."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from transformers import AutoModel

from ..atomic import atomic_save_image
from ..hub import CardImage
from ..recipes.cards import vqvae_card_metrics, write_card_for_folder
from ..recipes.vqvae import evaluate_vqvae as vqvae_metrics
from ..recipes.vqvae import load_pixel_values, reconstruction_grid
from . import write_json
from .arguments import RuntimeArguments
from .evaluation_arguments import EvaluateArguments

METRICS_NOTE = (
    "PSNR is 10 log10(1 / MSE) over every pixel of the split on the [0, 1] scale; codebook usage is the share of "
    "the K codes that occur in the split's code maps; perplexity is exp(entropy) of the split's code histogram (K "
    "would be perfectly uniform use); bits per image is h * w * log2(K)."
)


@dataclass
class VQVAEEvalArguments:
    """Flags of VQ-VAE models only."""

    _argument_group_name = "vqvae models"

    num_grid_images: int = field(default=20, metadata={"help": "images in the reconstruction --grid"})
    check_targets: bool = field(
        default=False, metadata={"help": "exit 1 unless usage >= 95 %% of codes and perplexity >= K/2"}
    )
    hardware: str | None = field(default=None, metadata={"help": "training note for the card (hardware, time)"})


def print_table(model: str, dataset_name: str, split: str, metrics: dict, k: int) -> None:
    print(f"model: {model}  dataset: {dataset_name}:{split} ({metrics['num_images']} images)")
    print("| metric | value |\n|---|---|")
    print(f"| PSNR (dB) | {metrics['psnr']:.2f} |")
    print(f"| MSE on [-1, 1] | {metrics['mse']:.5f} |")
    print(f"| bits per image (h*w*log2 K) | {metrics['bits_per_image']:.0f} |")
    print(f"| codebook usage | {100 * metrics['codebook_usage']:.1f} % ({metrics['codes_used']}/{k}) |")
    print(f"| perplexity | {metrics['perplexity']:.1f} (K = {k}, K/2 = {k / 2:g}) |")


def write_card(model: str, dataset_name: str, split: str, metrics: dict, k: int, evaluation, flags) -> None:
    command = "hf-argen evaluate " + shlex.join(["--model", model, "--dataset_name", dataset_name, "--split", split])
    command += " --check_targets"
    images = None
    if evaluation.grid:
        caption = f"Odd rows: {split} images; even rows: their reconstructions."
        images = [CardImage(Path(evaluation.grid).name, "reconstructions", caption)]
    path = write_card_for_folder(
        model,
        vqvae_card_metrics(metrics, split, k),
        dataset=dataset_name,
        repo_id=evaluation.hub_model_id,
        eval_command=command,
        metrics_note=METRICS_NOTE,
        train_commands=evaluation.train_command,
        training=flags.hardware,
        images=images,
    )
    print(f"wrote {path}")


def evaluate_vqvae(model_name: str, runtime: RuntimeArguments, evaluation: EvaluateArguments, flags, argv) -> dict:
    """Measure, print, write `--output_json`, `--grid` and the card; exit 1 on missed `--check_targets`."""
    device = runtime.setup()
    dataset_name, split = evaluation.dataset_name or "mnist", evaluation.one_split()
    model = AutoModel.from_pretrained(model_name).to(device).eval()
    config = model.config
    pixel_values = load_pixel_values(
        dataset_name,
        split,
        data_dir=evaluation.data_dir,
        num_channels=config.num_channels,
        image_size=config.image_size,
    )
    pixel_values = pixel_values[: evaluation.max_eval_samples]
    metrics = vqvae_metrics(model, pixel_values, batch_size=evaluation.batch_size or 500)
    k = config.num_embeddings
    print_table(model_name, dataset_name, split, metrics, k)
    write_json(runtime.output_json, metrics)
    if evaluation.grid:
        atomic_save_image(reconstruction_grid(model, pixel_values[: flags.num_grid_images]), evaluation.grid)
    if evaluation.write_card:
        write_card(model_name, dataset_name, split, metrics, k, evaluation, flags)
    if flags.check_targets:
        usage_ok, perplexity_ok = metrics["codebook_usage"] >= 0.95, metrics["perplexity"] >= k / 2
        print(
            f"targets: usage >= 95 %: {'PASS' if usage_ok else 'FAIL'}; perplexity >= K/2: "
            f"{'PASS' if perplexity_ok else 'FAIL'}"
        )
        if not (usage_ok and perplexity_ok):
            raise SystemExit(1)
    return metrics


__all__ = ["VQVAEEvalArguments", "evaluate_vqvae"]
