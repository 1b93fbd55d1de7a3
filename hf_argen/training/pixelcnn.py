"""PixelCNN recipe for the shared loop: datasets -> tensors, eval hook (exact bits/dim), sample-grid hook.

Used by `training/train_pixelcnn.py`; kept in the library so other entry points (and tests) reuse it.
"""

from __future__ import annotations

import logging
import math

import torch

from .data import encode_images, load_image_dataset, num_classes_of
from .evaluation import pixelcnn_log_likelihood
from .image_processing import make_grid
from .training import TensorDictDataset, shard_indices

logger = logging.getLogger(__name__)

# Default number of levels per dataset name (17 for scikit-learn digits and MNIST in digits format).
DEFAULT_LEVELS = {"digits": 17, "mnist_digits": 17}


def parse_dataset_spec(spec: str, default_split: str = "train") -> tuple[str, str]:
    """`"name"` or `"name:split"` -> `(name, split)` (split after the last ':', if it holds no '/')."""
    name, sep, split = spec.rpartition(":")
    if sep and name and split and "/" not in split:
        return name, split
    return spec, default_split


def load_tensors(
    name: str,
    split: str,
    processor,
    data_dir=None,
    image_column=None,
    label_column=None,
    conditional: bool = True,
) -> tuple[dict, int | None, list[str]]:
    """Load `name:split` and encode it -> (`{"pixel_values"[, "class_labels"]}`, num_classes, sources)."""
    dataset = load_image_dataset(
        name, split=split, data_dir=data_dir, image_column=image_column, label_column=label_column
    )
    tensors = {"pixel_values": encode_images(dataset, processor)}
    num_classes = num_classes_of(dataset) if conditional else None
    if num_classes is not None:
        tensors["class_labels"] = torch.as_tensor(dataset["label"], dtype=torch.long)
    sources = dataset["source"] if "source" in dataset.column_names else [name] * len(dataset)
    return tensors, num_classes, sources


def concat_tensors(parts: list[dict], repeats: list[int]) -> dict:
    keys = set(parts[0])
    if any(set(p) != keys for p in parts):
        raise ValueError("All training datasets must agree on having labels (class-conditional) or not.")
    return {
        k: torch.cat([p[k].repeat(r, *[1] * (p[k].dim() - 1)) for p, r in zip(parts, repeats)]) for k in keys
    }


def offset_labels_by_source(parts: list[dict], sources: list[list[str]], num_classes: int) -> tuple[list[dict], int]:
    """Give every data source its own block of classes: `label + num_classes * source index`.

    Sources are numbered by first appearance (the main dataset's first). Returns the relabelled parts and the
    new number of classes, `num_classes * number of sources`.
    """
    order: dict[str, int] = {}
    for part_sources in sources:
        for source in part_sources:
            order.setdefault(source, len(order))
    relabelled = []
    for part, part_sources in zip(parts, sources):
        offsets = torch.as_tensor([order[s] * num_classes for s in part_sources], dtype=torch.long)
        relabelled.append({**part, "class_labels": part["class_labels"] + offsets})
    blocks = {source: f"{i * num_classes}..{(i + 1) * num_classes - 1}" for source, i in order.items()}
    logger.info("classes per source: %s", blocks)
    return relabelled, num_classes * len(order)


def expand_class_embeddings(model, num_classes: int) -> None:
    """Grow a conditional PixelCNN's class biases to `num_classes`; class `k` starts as class `k % old`."""
    old = model.config.num_classes
    if not old or num_classes <= old:
        raise ValueError(f"`num_classes` must exceed the model's {old} classes, got {num_classes}.")
    for layer in model.layers:
        weight = layer.class_bias.weight.data
        layer.class_bias = torch.nn.Embedding(num_classes, weight.shape[1]).to(weight)
        layer.class_bias.weight.data.copy_(weight[torch.arange(num_classes) % old])
    model.config.num_classes = num_classes


def make_eval_fn(eval_tensors: dict, num_subpixels: int, batch_size: int = 256):
    """Eval hook: exact bits/dim and nats/image of the eval tensors, sharded over processes and reduced."""

    def eval_fn(model, accelerator):
        index = torch.as_tensor(list(shard_indices(len(eval_tensors["pixel_values"]), accelerator)))
        x = eval_tensors["pixel_values"][index]
        y = eval_tensors.get("class_labels")
        y = None if y is None else y[index]
        ll = pixelcnn_log_likelihood(model, x, y, batch_size=batch_size) if len(x) else torch.zeros(0)
        totals = torch.tensor(
            [-ll.double().sum().item(), float(len(ll))], dtype=torch.float64, device=accelerator.device
        )
        totals = accelerator.reduce(totals, reduction="sum").cpu()
        nats = (totals[0] / totals[1]).item()
        return {"eval_bits_per_dim": nats / (num_subpixels * math.log(2)), "eval_nats_per_image": nats}

    return eval_fn


def make_sample_fn(
    processor,
    num_classes: int | None,
    per_class: int = 1,
    seed: int = 0,
    num_images: int = 10,
    scale: int = 4,
):
    """Sample-grid hook: one column per class (conditional) or `num_images` samples; a fixed seed."""

    def sample_fn(model, step):
        if num_classes is not None:
            labels = torch.arange(num_classes).repeat(per_class)
            images = model.generate(class_labels=labels, seed=seed)
            columns = num_classes
        else:
            images = model.generate(num_images=num_images, seed=seed)
            columns = min(num_images, 10)
        return make_grid(processor.postprocess(images), num_columns=columns, scale=scale)

    return sample_fn


def pixelcnn_loss(model, batch):
    """Mean NLL per sub-pixel (nats) with the inputs as targets."""
    return model(
        pixel_values=batch["pixel_values"],
        class_labels=batch.get("class_labels"),
        labels=batch["pixel_values"],
    ).loss


__all__ = [
    "DEFAULT_LEVELS",
    "concat_tensors",
    "load_tensors",
    "make_eval_fn",
    "make_sample_fn",
    "parse_dataset_spec",
    "pixelcnn_loss",
    "TensorDictDataset",
]
