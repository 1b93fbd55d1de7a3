"""`hf-argen evaluate` of a pixel LM (a causal LM over sub-pixels, `hf_argen.recipes.pixel_lm`): exact bits/dim
(conditional and marginal, the PixelCNN's evaluation code) and the class consistency of samples, plain or with
class-posterior guidance (`--guidance_scale`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import torch
from transformers import AutoModelForCausalLM

from ..data import encode_images
from ..evaluation import class_frequencies
from ..models import PixelCNNImageProcessor
from ..recipes.datasets import load_images
from ..recipes.pixel_lm import (
    generate_pixels,
    generate_pixels_guided,
    image_shape_of,
    pixel_lm_likelihood_report,
    vocabulary_of,
)
from . import write_json
from .arguments import RuntimeArguments
from .eval_pixelcnn import print_report, sample_consistency
from .evaluation_arguments import EvaluateArguments


@dataclass
class PixelLMEvalArguments:
    """Flags of pixel LMs only."""

    _argument_group_name = "pixel LMs"

    guidance_scale: float | None = field(
        default=None,
        metadata={
            "help": "with --num_per_class: sample with class-posterior guidance at this scale (>= 1; "
            "hf_argen.recipes.pixel_lm.generate_pixels_guided)"
        },
    )
    num_candidates: int = field(
        default=1,
        metadata={
            "help": "with --num_per_class: draw this many candidates per sample and keep the one the model's own exact "
            "class posterior p(y | x) favours (best of n; with or without --guidance_scale)"
        },
    )


def layout_of(model) -> SimpleNamespace:
    """The image layout of a pixel LM, with the names the PixelCNN's report reads."""
    vocabulary = vocabulary_of(model)
    channels, size, _ = image_shape_of(model)
    return SimpleNamespace(num_levels=vocabulary.num_levels, num_classes=vocabulary.num_classes or None,
                           num_channels=channels, image_size=size)  # fmt: skip


def likelihood(model, dataset_name: str, split: str, evaluation: EvaluateArguments) -> dict:
    """Exact bits/dim of the split: conditional and marginal (p(y): the training split's class frequencies)."""
    layout = layout_of(model)
    dataset = load_images(dataset_name, split=split, data_dir=evaluation.data_dir)
    if evaluation.max_eval_samples:
        dataset = dataset.select(range(min(evaluation.max_eval_samples, len(dataset))))
    processor = PixelCNNImageProcessor(layout.num_levels, layout.num_channels, layout.image_size)
    pixel_values = encode_images(dataset, processor)
    labels, class_prior = None, None
    if layout.num_classes:
        if "label" not in dataset.column_names:
            raise ValueError(f"the model is class-conditional but {dataset_name}:{split} has no labels.")
        labels = torch.as_tensor(dataset["label"], dtype=torch.long)
        train_labels = load_images(dataset_name, split="train", data_dir=evaluation.data_dir)["label"]
        class_prior = class_frequencies(train_labels, layout.num_classes)
    start = time.perf_counter()
    report = pixel_lm_likelihood_report(model, pixel_values, labels, class_prior, evaluation.batch_size or 64,
                                        progress=True)  # fmt: skip
    extra = {} if class_prior is None else {"class_prior": "train", "class_prior_probs": class_prior.tolist()}
    return {"split": split, **report, "seconds": round(time.perf_counter() - start, 2), **extra}


def evaluate_pixel_lm(model: str, runtime: RuntimeArguments, evaluation: EvaluateArguments, flags, argv) -> dict:
    """Run the pixel-LM evaluation; print, write `--output_json`; return the figures."""
    device = runtime.setup()
    split, num_per_class = evaluation.one_split(), evaluation.num_per_class or 0
    if split == "none" and not num_per_class:
        raise ValueError("--split none measures nothing without --num_per_class.")
    for flag, default in (("guidance_scale", None), ("num_candidates", 1)):
        if getattr(flags, flag) != default and not num_per_class:
            raise ValueError(f"--{flag} is used with --num_per_class (it changes how the samples are drawn).")
    if flags.num_candidates < 1:
        raise ValueError(f"--num_candidates must be >= 1, got {flags.num_candidates}.")
    for flag in ("write_card", "completion_rows"):
        if getattr(evaluation, flag) not in (False, None):
            raise ValueError(f"--{flag} is not available for pixel LMs.")
    lm = AutoModelForCausalLM.from_pretrained(model).to(device).eval()
    layout = layout_of(lm)
    dataset_name = evaluation.dataset_name or ("mnist" if layout.image_size == 28 else "digits")
    result = {"model": model, "models": [model], "dataset": dataset_name}
    if split != "none":
        result.update(likelihood(lm, dataset_name, split, evaluation))
    if num_per_class:

        def sample(labels):
            if flags.guidance_scale is None and flags.num_candidates == 1:
                return generate_pixels(lm, class_labels=labels, seed=runtime.seed, temperature=evaluation.temperature)
            return generate_pixels_guided(lm, labels, flags.guidance_scale or 1.0, seed=runtime.seed,
                                          temperature=evaluation.temperature,
                                          num_candidates=flags.num_candidates)  # fmt: skip

        shape = (layout.num_classes, layout.num_channels, layout.image_size)
        result.update(sample_consistency(sample, shape, layout.num_levels, model, runtime.seed, evaluation, device))
        result.update(guidance_scale=flags.guidance_scale, num_candidates=flags.num_candidates)
    result["device"] = str(device)
    write_json(runtime.output_json, result)
    if runtime.output_json != "-":
        print_report(result, layout)
        if flags.guidance_scale is not None:
            print(f"(class-posterior guidance {flags.guidance_scale:g})")
        if flags.num_candidates > 1:
            print(f"(best of {flags.num_candidates} by the model's own class posterior)")
    return result


__all__ = ["PixelLMEvalArguments", "evaluate_pixel_lm"]
