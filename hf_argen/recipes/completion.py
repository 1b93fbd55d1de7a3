"""Image completion, measured: complete MNIST test images from their top rows and ask the MNIST classifier (see
:mod:`.classifier`) whether each completion shows the original's digit.

A PixelCNN completes from its top pixel rows; a two-stage model (VQ-VAE + prior) from its top code rows, each code
row standing for `downsample_factor` pixel rows. A class-conditional model is not told the class: each image's class
is drawn from the model's posterior given the kept rows (`generate(class_labels=None, ...)`), so the figure measures
what the kept rows say, not the label. Two references come with it: the classifier on the originals, and on the kept
rows alone (the rows below blanked to the background).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from PIL import Image
from tqdm.auto import tqdm

from ..atomic import atomic_save_image
from ..hub import CardImage
from ..models import make_grid
from .classifier import classifier_accuracy, load_mnist_classifier, mnist_tensors


def is_two_stage(model) -> bool:
    return getattr(model.config, "model_type", None) == "vqvae_prior"


def kept_pixel_rows(model, num_given_rows: int) -> int:
    """How many pixel rows `num_given_rows` rows of `model` (pixel rows, or code rows of a two-stage model) keep."""
    if is_two_stage(model):
        return num_given_rows * model.config.vqvae.downsample_factor
    return num_given_rows


@torch.no_grad()
def complete_images(model, images: torch.Tensor, num_given_rows: int, seed: int, batch_size: int = 100,
                    temperature: float | None = None, progress: bool = True) -> torch.Tensor:  # fmt: skip
    """Completions of float `images` `(N, 1, H, W)` in [0, 1] from their top `num_given_rows` rows (pixel rows of
    a PixelCNN, code rows of a two-stage model), as float images in [0, 1] on the CPU; the classes are drawn from
    the posterior. One CPU generator seeded with `seed` runs through the batches of `batch_size`."""
    generator = torch.Generator().manual_seed(seed)
    outputs = []
    for chunk in tqdm(images.split(batch_size), desc="completing", unit="batch", disable=not progress):
        if is_two_stage(model):
            pixels = (chunk * 2 - 1).to(model.device)
            completed = model.generate(pixel_values=pixels, num_given_rows=num_given_rows, generator=generator,
                                       temperature=temperature)  # fmt: skip
            outputs.append(((completed.float().cpu() + 1) / 2).clamp(0, 1))
        else:
            top = model.config.num_levels - 1
            levels = (chunk * top).round().long().to(model.device)
            completed = model.generate(pixel_values=levels, num_given_rows=num_given_rows, generator=generator,
                                       temperature=temperature)  # fmt: skip
            outputs.append(completed.float().cpu() / top)
    return torch.cat(outputs)


def completion_agreement(model, classifier, images: torch.Tensor, labels: torch.Tensor, num_given_rows: int,
                         seed: int, batch_size: int = 100,
                         temperature: float | None = None) -> tuple[dict, torch.Tensor]:  # fmt: skip
    """How often the classifier gives the completion of an image the image's true class (`labels` `(N,)`), beside
    its accuracy on the originals and on the kept rows alone: `(figures (shares in [0, 1]), completions)`."""
    labels = torch.as_tensor(labels).cpu()
    start = time.perf_counter()
    completions = complete_images(model, images, num_given_rows, seed, batch_size, temperature)
    seconds = time.perf_counter() - start
    agreement, predictions = classifier_accuracy(classifier, completions, labels)
    original, original_predictions = classifier_accuracy(classifier, images, labels)
    kept = kept_pixel_rows(model, num_given_rows)
    blanked = images.clone()
    blanked[:, :, kept:] = 0.0
    kept_only, _ = classifier_accuracy(classifier, blanked, labels)
    return {
        "completion_rows": num_given_rows,
        "completion_pixel_rows": kept,
        "completion_images": len(labels),
        "completion_seed": seed,
        "completion_agreement": agreement,
        "completion_agreement_with_original_prediction": (predictions == original_predictions).float().mean().item(),
        "original_accuracy": original,
        "kept_rows_accuracy": kept_only,
        "completion_seconds": round(seconds, 1),
    }, completions


def check_mnist_shaped(model) -> None:
    """`ValueError` unless `model` makes 1x28x28 images (what the MNIST classifier reads)."""
    config = model.config.vqvae if is_two_stage(model) else model.config
    if (config.num_channels, config.image_size) != (1, 28):
        raise ValueError("--completion_rows: the MNIST classifier judges completions of 1x28x28 MNIST models only.")


def evaluate_completion(model, num_given_rows: int, num_images: int, seed: int, classifier_path, data_dir=None,
                        batch_size: int = 100, temperature=None) -> tuple[dict, torch.Tensor]:  # fmt: skip
    """:func:`completion_agreement` on the first `num_images` MNIST test images, judged by the MNIST classifier at
    `classifier_path` (trained there on first use); the figures also hold the classifier's test accuracy."""
    check_mnist_shaped(model)
    classifier = load_mnist_classifier(classifier_path, data_dir, device=model.device)
    images, labels = mnist_tensors("test", data_dir)
    test_accuracy, _ = classifier_accuracy(classifier, images, labels)
    figures, completions = completion_agreement(model, classifier, images[:num_images], labels[:num_images],
                                                num_given_rows, seed, batch_size, temperature)  # fmt: skip
    return {**figures, "classifier_accuracy": test_accuracy}, completions


def completion_grid(model, images: torch.Tensor, num_given_rows: int, num_completions: int = 3, seed: int = 0):
    """A grid `(2 + num_completions rows, one column per image)` of float `images` `(n, 1, H, W)` in [0, 1]: the
    originals, the kept rows (the rest grey), then `num_completions` completions of each. Returns `(n * rows, 1, H,
    W)` floats in [0, 1], row-major."""
    kept = images.clone()
    kept[:, :, kept_pixel_rows(model, num_given_rows) :] = 0.5
    rows = [images, kept]
    for index in range(num_completions):
        rows.append(complete_images(model, images, num_given_rows, seed + index, progress=False))
    return torch.cat(rows)


def save_completion_grid(model, path, num_given_rows: int, data_dir=None) -> CardImage:
    """Save the :func:`completion_grid` of the first MNIST test image of each digit (three completions each, seeds
    0, 1, 2) at `path`, 2x upscaled; returns it as a card image with its caption."""
    images, labels = mnist_tensors("test", data_dir)
    first = [int((labels == digit).nonzero()[0]) for digit in range(10)]
    rows = completion_grid(model, images[first], num_given_rows, num_completions=3, seed=0)
    pictures = [Image.fromarray(array[0]) for array in (rows * 255).round().to(torch.uint8).numpy()]
    atomic_save_image(make_grid(pictures, num_columns=10, scale=2), path)
    unit = "code rows" if is_two_stage(model) else "rows"
    caption = (
        f"Image completion: the first MNIST test image of each digit (top row), its top {num_given_rows} {unit} "
        "(second row; the model sees nothing of the grey part) and three completions (seeds 0, 1, 2; the class is "
        "drawn from the posterior given the kept rows)."
    )
    return CardImage(Path(path).name, "completions", caption)


__all__ = [
    "check_mnist_shaped",
    "complete_images",
    "completion_agreement",
    "completion_grid",
    "evaluate_completion",
    "kept_pixel_rows",
    "save_completion_grid",
]
