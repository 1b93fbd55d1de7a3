"""`hf-argen evaluate` of a PixelCNN: exact bits/dim (conditional and marginal), class consistency of samples and
image completion (`--completion_rows`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..atomic import atomic_save_image
from ..data import encode_images
from ..evaluation import class_frequencies, pixelcnn_likelihood_report
from ..models import PixelCNNForImageGeneration, PixelCNNImageProcessor, make_grid
from ..recipes.cards import (
    class_consistency_card_metric,
    completion_card_metrics,
    likelihood_figures_from_card,
    pixelcnn_card_metrics,
    write_card_for_folder,
)
from ..recipes.classifier import class_consistency, classifier_accuracy, load_mnist_classifier, mnist_tensors
from ..recipes.completion import evaluate_completion, save_completion_grid
from ..recipes.datasets import load_images
from . import write_json
from .arguments import RuntimeArguments
from .evaluation_arguments import EvaluateArguments

DEFAULT_CLASSIFIER = ".cache/mnist_classifier.pt"
CONSISTENCY_KEYS = {"model", "consistency", "classifier_accuracy", "num_samples", "seed", "temperature"}
COMPLETION_KEYS = {"model", "completion_agreement", "completion_rows", "completion_images", "completion_seed"}


@dataclass
class PixelCNNEvalArguments:
    """Flags of PixelCNN models only."""

    _argument_group_name = "pixelcnn models"

    image_column: str | None = field(default=None, metadata={"help": "image column (default: detected)"})
    label_column: str | None = field(default=None, metadata={"help": "label column (default: detected)"})
    class_prior: str = field(
        default="train",
        metadata={
            "help": "p(y) of the marginal: the training split's class frequencies, or uniform over the model's classes",
            "choices": ["train", "uniform"],
        },
    )
    ensemble: list[str] | None = field(
        default=None, metadata={"help": "more PixelCNN folders: every sub-pixel conditional is the members' average"}
    )
    consistency_json: str | None = field(
        default=None,
        metadata={
            "help": "with --write_card: also put the class consistency of this --output_json of an earlier "
            "`--split none --num_per_class N` run (of the same --model) into the card"
        },
    )
    likelihood_from_card: bool = field(
        default=False,
        metadata={
            "help": "with --write_card and --split none: keep the likelihood figures of --model's current card (its "
            "model-index, measured by the earlier --split run whose command the card quotes) rather than measure them "
            "again, and write the card with this run's or the --*_json figures"
        },
    )
    completion_json: str | None = field(
        default=None,
        metadata={
            "help": "with --write_card: also put the image completion figures of this --output_json of an earlier "
            "`--split none --completion_rows N` run (of the same --model) into the card, with a grid of completions"
        },
    )


def read_figures(path: str, model: str, flag: str = "consistency_json", keys=CONSISTENCY_KEYS) -> dict:
    """The figures of an earlier `--output_json` (`--flag`), checked to hold `keys` and to be of `model`."""
    try:
        figures = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"--{flag} {path!r}: not a readable JSON file ({error}).") from None
    missing = keys - set(figures)
    if missing:
        kind = "a class-consistency" if keys is CONSISTENCY_KEYS else "an image-completion"
        raise ValueError(f"--{flag} {path!r}: not an output of {kind} run (no {sorted(missing)}).")
    if Path(figures["model"]).resolve() != Path(model).resolve():
        raise ValueError(f"--{flag} {path!r} measured {figures['model']!r}, not --model {model!r}.")
    return figures


def read_consistency(path: str, model: str) -> dict:
    """The class-consistency figures of an earlier `--output_json`, checked to be of `model`."""
    return read_figures(path, model)


def consistency_command(figures: dict) -> str:
    """The command that measures these class-consistency figures."""
    command = (
        f"hf-argen evaluate --model {figures['model']} --split none --num_per_class {figures['num_samples'] // 10} "
        f"--seed {figures['seed']}"
    )
    if figures["temperature"] != 1.0:
        command += f" --temperature {figures['temperature']}"
    return command


def load_models(names: list[str], device) -> list[PixelCNNForImageGeneration]:
    """The model and its ensemble members, checked to share image shape, levels and classes."""
    models = [PixelCNNForImageGeneration.from_pretrained(name).to(device).eval() for name in names]
    shape = [(m.config.num_subpixels, m.config.num_levels, m.config.num_classes) for m in models]
    if len(set(shape)) > 1:
        raise ValueError("--ensemble: members must share image size, channels, levels and classes with --model.")
    return models


def class_prior_of(config, dataset_name: str, evaluation: EvaluateArguments, flags: PixelCNNEvalArguments):
    """p(y) `(num_classes,)`: the training split's class frequencies or uniform."""
    if flags.class_prior == "uniform":
        return torch.full((config.num_classes,), 1.0 / config.num_classes, dtype=torch.float64)
    train = load_images(
        dataset_name,
        split="train",
        data_dir=evaluation.data_dir,
        image_column=flags.image_column,
        label_column=flags.label_column,
    )
    if "label" not in train.column_names:
        raise ValueError(f"--class_prior train: the train split of {dataset_name!r} has no labels; use uniform.")
    return class_frequencies(train["label"], config.num_classes)


def likelihood(models, dataset_name: str, split: str, evaluation, flags) -> dict:
    """Exact bits/dim of the split (conditional and marginal for a class-conditional model)."""
    config = models[0].config
    dataset = load_images(
        dataset_name,
        split=split,
        data_dir=evaluation.data_dir,
        image_column=flags.image_column,
        label_column=flags.label_column,
    )
    if evaluation.max_eval_samples:
        dataset = dataset.select(range(min(evaluation.max_eval_samples, len(dataset))))
    pixel_values = encode_images(dataset, PixelCNNImageProcessor.from_model_config(config))
    labels, class_prior, extra = None, None, {}
    if config.num_classes is not None:
        if "label" not in dataset.column_names:
            raise ValueError(f"the model is class-conditional but {dataset_name}:{split} has no labels.")
        labels = torch.as_tensor(dataset["label"], dtype=torch.long)
        if labels.min() < 0 or labels.max() >= config.num_classes:
            raise ValueError(f"labels must be in [0, {config.num_classes}) for this model.")
        class_prior = class_prior_of(config, dataset_name, evaluation, flags)
        extra = {"class_prior": flags.class_prior, "class_prior_probs": [round(p, 6) for p in class_prior.tolist()]}
    start = time.perf_counter()
    metrics = pixelcnn_likelihood_report(
        models, pixel_values, labels, class_prior, batch_size=evaluation.batch_size, progress=True
    )
    return {"split": split, **metrics, "seconds": round(time.perf_counter() - start, 2), **extra}


def consistency(model, model_name: str, seed: int, evaluation: EvaluateArguments) -> dict:
    """Class consistency of `--num_per_class` PixelCNN samples per class (:func:`sample_consistency`)."""
    config = model.config

    def sample(labels):
        return model.generate(class_labels=labels.to(model.device), seed=seed, temperature=evaluation.temperature)

    shape = (config.num_classes, config.num_channels, config.image_size)
    return sample_consistency(sample, shape, config.num_levels, model_name, seed, evaluation, model.device)


def sample_consistency(sample, shape: tuple, num_levels: int, model_name: str, seed: int, evaluation, device) -> dict:
    """Class consistency of `--num_per_class` samples per class: how often an MNIST classifier recognises the
    requested class (the classifier is trained on first use and cached at `--classifier_path`). `sample(labels)`
    draws levels `(N, 1, 28, 28)` of the classes `labels` `(N,)`; `shape` is the model's (classes, channels, size)."""
    if tuple(shape) != (10, 1, 28):
        raise ValueError("--num_per_class: class consistency needs a class-conditional 1x28x28 MNIST model.")
    path = evaluation.classifier_path or DEFAULT_CLASSIFIER
    classifier = load_mnist_classifier(path, evaluation.data_dir, device=device)
    test_accuracy, _ = classifier_accuracy(classifier, *mnist_tensors("test", evaluation.data_dir))
    labels = torch.arange(10).repeat(evaluation.num_per_class)
    start = time.perf_counter()
    samples = sample(labels).cpu()
    seconds = time.perf_counter() - start
    result = class_consistency(classifier, samples.float() / (num_levels - 1), labels)
    if evaluation.grid:
        processor = PixelCNNImageProcessor(num_levels=num_levels, num_channels=1, image_size=28)
        atomic_save_image(make_grid(processor.postprocess(samples), num_columns=10, scale=2), evaluation.grid)
    return {
        "model": model_name,
        "num_samples": len(labels),
        "seed": seed,
        "temperature": evaluation.temperature,
        "classifier_accuracy": test_accuracy,
        **result,
        "sampling_seconds": round(seconds, 2),
    }


def measure_completion(model, seed: int, evaluation: EvaluateArguments) -> dict:
    """Image completion of the first `--completion_images` MNIST test images from their top `--completion_rows` rows
    (pixel rows of a PixelCNN, code rows of a two-stage model), judged by the MNIST classifier (trained on first use
    and cached at `--classifier_path`)."""
    figures, _ = evaluate_completion(
        model,
        evaluation.completion_rows,
        evaluation.completion_images,
        seed,
        evaluation.classifier_path or DEFAULT_CLASSIFIER,
        evaluation.data_dir,
        batch_size=evaluation.batch_size or 100,
        temperature=evaluation.temperature,
    )
    return figures


def completion_command(figures: dict) -> str:
    """The command that measures these completion figures."""
    return (
        f"hf-argen evaluate --model {figures['model']} --split none --completion_rows {figures['completion_rows']} "
        f"--completion_images {figures['completion_images']} --seed {figures['completion_seed']}"
    )


def write_card(model: str, result: dict, evaluation: EvaluateArguments, flags, consistency_figures,
               completion_figures=None, pixelcnn=None) -> None:  # fmt: skip
    """The folder's README.md with the figures just measured (and a class consistency and an image completion,
    this run's or earlier)."""
    class_prior = result.get("class_prior")
    command = f"hf-argen evaluate --model {model} --dataset_name {result['dataset']} --split {result['split']}"
    if class_prior:
        command += f" --class_prior {class_prior}"
    if evaluation.max_eval_samples and not flags.likelihood_from_card:
        command += f" --max_eval_samples {evaluation.max_eval_samples}"
    rows = pixelcnn_card_metrics(result, result["split"], class_prior)
    if consistency_figures is not None:
        detail = f", seed {consistency_figures['seed']}"
        if consistency_figures["temperature"] != 1.0:
            detail += f", temperature {consistency_figures['temperature']}"
        rows.append(class_consistency_card_metric(consistency_figures, consistency_figures["num_samples"], detail))
        command += "\n" + consistency_command(consistency_figures)
    images = []
    if completion_figures is not None:
        rows += completion_card_metrics(completion_figures, pixelcnn.config.image_size)
        command += "\n" + completion_command(completion_figures)
        grid = Path(model) / "completions.png"
        images.append(save_completion_grid(pixelcnn, grid, completion_figures["completion_rows"], evaluation.data_dir))
    path = write_card_for_folder(
        model,
        rows,
        dataset=result["dataset"],
        repo_id=evaluation.hub_model_id,
        eval_command=command,
        train_commands=evaluation.train_command,
        extra_images=images,
    )
    print(f"wrote {path}")


def print_report(result: dict, config) -> None:
    """The figures as the table the README quotes."""
    print(f"model(s):        {', '.join(result['models'])}")
    if "num_images" in result:  # likelihood figures measured in this run
        split = result["split"]
        print(
            f"data:            {result['dataset']}:{split} ({result['num_images']} images, "
            f"{config.num_channels}x{config.image_size}x{config.image_size}, {config.num_levels} levels)"
        )
        if "class_prior" in result:
            used = sum(p > 0 for p in result["class_prior_probs"])
            prior_text = (
                f"{result['dataset']} train class frequencies ({used} of {config.num_classes} classes)"
                if result["class_prior"] == "train"
                else f"uniform over {config.num_classes} classes"
            )
            print(
                f"{split} bits/dim, conditional -log p(x|y):  {result['bits_per_dim']:.4f}  "
                f"({result['nats_per_image']:.3f} nats/image)"
            )
            print(
                f"{split} bits/dim, marginal -log p(x):       {result['marginal_bits_per_dim']:.4f}  "
                f"({result['marginal_nats_per_image']:.3f} nats/image; p(y) = {prior_text})"
            )
        else:
            print(f"{split} bits/dim:   {result['bits_per_dim']:.4f}")
            print(f"NLL nats/image:  {result['nats_per_image']:.3f}")
    if "consistency" in result:
        print(f"classifier test accuracy (MNIST test): {100 * result['classifier_accuracy']:.2f}%")
        print(f"samples: {result['num_samples']} (seed {result['seed']}), sampled in {result['sampling_seconds']:.1f}s")
        print(f"class consistency: {100 * result['consistency']:.1f}% of samples recognised as the requested class")
        print("per class: " + ", ".join(f"{c}: {100 * p:.0f}%" for c, p in enumerate(result["per_class"])))
    if "completion_agreement" in result:
        print_completion(result, f"{config.image_size} rows")


def print_completion(result: dict, of: str) -> None:
    """The image-completion figures, as the docs quote them."""
    print(
        f"completion: {result['completion_images']} MNIST test images from their top {result['completion_rows']} of "
        f"{of} (seed {result['completion_seed']}, {result['completion_seconds']:.1f}s; classifier test accuracy "
        f"{100 * result['classifier_accuracy']:.2f}%)"
    )
    print(f"  completions showing the original's class:  {100 * result['completion_agreement']:.1f}%")
    print(f"  the kept rows alone (the rest blank):      {100 * result['kept_rows_accuracy']:.1f}%")
    print(f"  the originals:                             {100 * result['original_accuracy']:.1f}%")


def evaluate_pixelcnn(model: str, runtime: RuntimeArguments, evaluation: EvaluateArguments, flags, argv) -> dict:
    """Run the PixelCNN evaluation; print, write `--output_json` and the card; return the figures."""
    device = runtime.setup()
    dataset_name, split = evaluation.dataset_name or "digits", evaluation.one_split()
    num_per_class = evaluation.num_per_class or 0
    if evaluation.write_card and (flags.ensemble or (split == "none") != flags.likelihood_from_card):
        raise ValueError("--write_card needs one --model (no --ensemble) and a --split to measure, or --split none "
                         "with --likelihood_from_card.")  # fmt: skip
    if flags.likelihood_from_card and not evaluation.write_card:
        raise ValueError("--likelihood_from_card is only used with --write_card.")
    completing = evaluation.completion_rows is not None
    if split == "none" and not (num_per_class or completing or flags.likelihood_from_card):
        raise ValueError("--split none measures nothing without --num_per_class or --completion_rows.")
    earlier, earlier_completion = None, None
    for flag in ("consistency_json", "completion_json"):
        if getattr(flags, flag) is not None and not evaluation.write_card:
            raise ValueError(f"--{flag} is only used with --write_card.")
    if flags.consistency_json is not None:
        earlier = read_consistency(flags.consistency_json, model)
    if flags.completion_json is not None:
        earlier_completion = read_figures(flags.completion_json, model, "completion_json", COMPLETION_KEYS)
    models = load_models([model, *(flags.ensemble or [])], device)
    result = {"model": model, "models": [model, *(flags.ensemble or [])], "dataset": dataset_name}
    if split != "none":
        result.update(likelihood(models, dataset_name, split, evaluation, flags))
    elif flags.likelihood_from_card:
        result.update(likelihood_figures_from_card(model))
    if num_per_class:
        result.update(consistency(models[0], model, runtime.seed, evaluation))
    if completing:
        result.update(measure_completion(models[0], runtime.seed, evaluation))
    result["device"] = str(device)
    write_json(runtime.output_json, result)
    if evaluation.write_card:
        write_card(model, result, evaluation, flags, result if num_per_class else earlier,
                   result if completing else earlier_completion, models[0])  # fmt: skip
    if runtime.output_json != "-":
        print_report(result, models[0].config)
    return result


__all__ = ["PixelCNNEvalArguments", "evaluate_pixelcnn", "print_report", "sample_consistency"]
