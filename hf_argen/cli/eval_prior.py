"""`hf-argen evaluate` of a two-stage VQ-VAE + prior folder: the prior's NLL on a split's code maps (nats per code,
bits per image), a class-by-class sample grid and, with `--classifier_path`, the class consistency of the samples;
with `--completion_rows N`, the completion of MNIST test images from their top N code rows.

The code maps are encoded once and cached; a training run's cache (`<model>/codes`) is reused when it is there.
"""

from __future__ import annotations

import math
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_save_image
from ..hub import CardImage
from ..models import VQImageGenerationPipeline, make_grid
from ..recipes.cards import completion_card_metrics, prior_card_metrics, write_card_for_folder
from ..recipes.classifier import class_consistency, classifier_accuracy, load_mnist_classifier, mnist_tensors
from ..recipes.codes import CodesCacheArguments
from ..recipes.completion import save_completion_grid
from ..recipes.prior import dataset_to_tensors, load_code_dataset
from ..recipes.prior import evaluate_prior as prior_nll
from . import write_json
from .arguments import RuntimeArguments
from .eval_pixelcnn import measure_completion, print_completion
from .evaluation_arguments import EvaluateArguments


@dataclass
class PriorEvalArguments(CodesCacheArguments):
    """Flags of two-stage (VQ-VAE + prior) models only (and `--cache_dir`: :class:`CodesCacheArguments`)."""

    _argument_group_name = "prior (two-stage) models"

    top_k: int | None = field(default=None, metadata={"help": "top-k sampling (default: off)"})
    card_command: str | None = field(
        default=None, metadata={"help": "the command line quoted in the card (default: this run's command)"}
    )


def nll(pipe, model: str, dataset_name: str, split: str, evaluation, flags) -> dict:
    """The prior's NLL on the split's code maps; printed beside the uniform-code figure."""
    codes, labels = dataset_to_tensors(
        load_code_dataset(pipe.vqvae, dataset_name, split, cache_dir=flags.cache_dir, data_dir=evaluation.data_dir)
    )
    sequences = pipe.vocabulary.sequences(codes, labels)[: evaluation.max_eval_samples]
    start = time.perf_counter()
    metrics = prior_nll(pipe.prior, sequences, batch_size=evaluation.batch_size or 500)
    seconds = time.perf_counter() - start
    num_codes = pipe.vocabulary.num_codes
    uniform_bits = pipe.codes_per_image * math.log2(num_codes)
    print(f"prior: {type(pipe.prior).__name__}, {sum(p.numel() for p in pipe.prior.parameters()):,} parameters")
    print(f"{dataset_name}/{split}: {len(sequences)} images, {pipe.codes_per_image} codes each, K={num_codes}")
    print(
        f"{split} NLL: {metrics['nll_per_code']:.4f} nats/code, {metrics['bits_per_image']:.1f} bits/image "
        f"(uniform over codes: {math.log(num_codes):.4f} nats/code, {uniform_bits:.1f} bits/image) "
        f"[{seconds:.1f}s]"
    )
    return metrics


def measure_consistency(pipe, pixels, labels, evaluation, device) -> dict:
    """Class consistency of the samples `(n, 1, 28, 28)` in [-1, 1] under the MNIST classifier."""
    classifier = load_mnist_classifier(evaluation.classifier_path, evaluation.data_dir, device=device)
    test_accuracy, _ = classifier_accuracy(classifier, *mnist_tensors("test", evaluation.data_dir))
    result = class_consistency(classifier, (pixels.cpu() + 1) / 2, labels, num_classes=pipe.num_classes)
    print(f"classifier test accuracy (MNIST test): {100 * test_accuracy:.2f}%")
    print(f"class consistency: {100 * result['consistency']:.1f}% of samples recognised as the requested class")
    print("per class: " + ", ".join(f"{c}: {100 * p:.0f}%" for c, p in enumerate(result["per_class"])))
    return {"consistency": result["consistency"], "classifier_accuracy": test_accuracy}


def sample_and_judge(pipe, num_per_class: int, seed: int, evaluation: EvaluateArguments, flags, device) -> dict:
    """`num_per_class` samples of every class: their grid (the first 10 rows), its caption and, with
    `--classifier_path`, their class consistency."""
    labels = list(range(pipe.num_classes)) * num_per_class
    temperature, top_k = evaluation.temperature, flags.top_k
    start = time.perf_counter()
    pixels = pipe(labels, seed=seed, temperature=temperature, top_k=top_k, output_type="pt")
    print(
        f"sampled {len(labels)} images (seed {seed}, temperature {temperature}, top_k {top_k}) "
        f"in {time.perf_counter() - start:.1f}s"
    )
    shown = min(len(labels), 10 * pipe.num_classes)  # the grid: the first 10 rows (samples of every class)
    grid = make_grid(pipe.to_pil(pixels[:shown]), num_columns=pipe.num_classes, scale=2)
    if evaluation.grid:
        atomic_save_image(grid, evaluation.grid)
    consistency = measure_consistency(pipe, pixels, labels, evaluation, device) if evaluation.classifier_path else None
    caption = (
        f"One column per class, the first {shown} of the {len(labels)} samples (seed {seed}, "
        f"temperature {temperature}, top_k {top_k})."
    )
    return {"num_samples": len(labels), "grid": grid, "caption": caption, "consistency": consistency}


def write_prior_card(model: str, pipe, metrics: dict, split: str, samples: dict, completion, evaluation, flags,
                     argv, dataset_name: str) -> None:  # fmt: skip
    """README.md + samples.png (+ completions.png) of the folder, with the figures just measured."""
    atomic_save_image(samples["grid"], Path(model) / "samples.png")
    command = flags.card_command or "hf-argen evaluate " + shlex.join(argv)
    rows = prior_card_metrics(metrics, split, pipe.vocabulary.num_codes, pipe.codes_per_image, samples["consistency"],
                              samples["num_samples"])  # fmt: skip
    images = [CardImage("samples.png", "samples", samples["caption"])]
    if completion is not None:
        rows += completion_card_metrics(completion, pipe.config.vqvae.latent_size, unit="code rows")
        grid = Path(model) / "completions.png"
        images.append(save_completion_grid(pipe.model, grid, evaluation.completion_rows, evaluation.data_dir))
    path = write_card_for_folder(model, rows, dataset=dataset_name, repo_id=evaluation.hub_model_id,
                                 eval_command=command, train_commands=evaluation.train_command,
                                 images=images)  # fmt: skip
    print(f"wrote {path} and samples.png")


def evaluate_prior(model: str, runtime: RuntimeArguments, evaluation: EvaluateArguments, flags, argv) -> dict:
    """Measure, print, write `--output_json`, `--grid` and the card (README.md + samples.png). `--split none` skips
    the NLL and `--num_per_class 0` the samples, where `--completion_rows` measures something else."""
    device = runtime.setup()
    dataset_name, split = evaluation.dataset_name or "mnist", evaluation.one_split()
    num_per_class = 100 if evaluation.num_per_class is None else evaluation.num_per_class
    completing = evaluation.completion_rows is not None
    if num_per_class < 1 and not completing:
        raise ValueError(f"--num_per_class must be >= 1 for a two-stage model (0 with --completion_rows), got "
                         f"{num_per_class}.")  # fmt: skip
    if evaluation.write_card and (split == "none" or num_per_class < 1):
        raise ValueError("--write_card needs the NLL of a --split and samples (--num_per_class >= 1).")
    pipe = VQImageGenerationPipeline.from_pretrained(model)
    pipe.to(device)
    metrics = {} if split == "none" else nll(pipe, model, dataset_name, split, evaluation, flags)
    samples = sample_and_judge(pipe, num_per_class, runtime.seed, evaluation, flags, device) if num_per_class else {}
    completion = measure_completion(pipe.model, runtime.seed, evaluation) if completing else None
    if completing:
        print_completion(completion, f"{pipe.config.vqvae.latent_size} code rows")
    if evaluation.write_card:
        write_prior_card(model, pipe, metrics, split, samples, completion, evaluation, flags, argv, dataset_name)
    figures = {
        "model": model,
        "dataset": dataset_name,
        "split": split,
        **metrics,
        "num_samples": samples.get("num_samples", 0),
        "seed": runtime.seed,
        "temperature": evaluation.temperature,
        "top_k": flags.top_k,
        **(samples.get("consistency") or {}),
        **(completion or {}),
        "device": str(device),
    }
    write_json(runtime.output_json, figures)
    return figures


__all__ = ["PriorEvalArguments", "evaluate_prior"]
