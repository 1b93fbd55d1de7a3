"""PixelCNN recipe for the shared loop: its flags, datasets -> tensors (a fixed validation split carved from the
training images by default), the eval hook (exact bits/dim), the sample-grid hook and :func:`train_pixelcnn`,
the whole run that `training/train_pixelcnn.py` starts.
"""

from __future__ import annotations

import logging
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..atomic import atomic_save_pretrained
from ..data import encode_images, label_names_of, validation_indices
from ..evaluation import pixelcnn_log_likelihood
from ..models import (
    ClassConditionalImageGenerationPipeline,
    PixelCNNConfig,
    PixelCNNForImageGeneration,
    PixelCNNImageProcessor,
    make_grid,
)
from ..training.arguments import VALIDATION, DataArguments, RunArguments
from ..training.loop import TensorDictDataset, TrainingLoop, TrainResult, evaluate_across_processes, make_accelerator
from .cards import pixelcnn_card_metrics, publish_run
from .datasets import DEFAULT_LEVELS, load_images

logger = logging.getLogger(__name__)

# Default number of levels per dataset name (17 for scikit-learn digits and MNIST in digits format).


def parse_dataset_spec(spec: str, default_split: str = "train") -> tuple[str, str]:
    """`"name"` or `"name:split"` -> `(name, split)` (split after the last ':', if it holds no '/')."""
    name, sep, split = spec.rpartition(":")
    if sep and name and split and "/" not in split:
        return name, split
    return spec, default_split


@dataclass
class PixelCNNArguments:
    """Flags of `training/train_pixelcnn.py` beyond the shared ones."""

    extra_train_datasets: list[str] = field(
        default_factory=list,
        metadata={"help": "more training sets as NAME[:SPLIT] (e.g. mnist_digits:train), mixed with the main one."},
    )
    train_repeats: int = field(default=1, metadata={"help": "times the main training set appears in the mix."})
    source_classes: bool = field(
        default=False,
        metadata={
            "help": "give every data source (the `source` column, else the dataset name) its own block of "
            "classes: label + num_classes * source index, the main dataset's source first."
        },
    )
    unconditional: bool = field(default=False, metadata={"help": "ignore labels (num_classes=None)."})
    init_model: str | None = field(default=None, metadata={"help": "start from this saved model (fine-tuning)."})
    image_size: int | None = field(default=None, metadata={"help": "default: the dataset's image size."})
    num_channels: int | None = field(default=None, metadata={"help": "default: 3 for RGB data, else 1."})
    num_levels: int | None = field(default=None, metadata={"help": "default: 17 for digits, else 256."})
    hidden_size: int = 64
    num_hidden_layers: int = 10
    kernel_size: int = 3
    first_kernel_size: int = 7
    output_hidden_size: int = 256
    architecture: str = field(default="gated", metadata={"choices": ["gated", "masked"]})
    dropout: float = 0.0


def load_tensors(
    name: str,
    split: str,
    processor,
    data_dir=None,
    image_column=None,
    label_column=None,
    conditional: bool = True,
) -> tuple[dict, list[str] | None, list[str]]:
    """Load `name:split` and encode it -> (`{"pixel_values"[, "class_labels"]}`, class names, sources)."""
    dataset = load_images(name, split=split, data_dir=data_dir, image_column=image_column, label_column=label_column)
    tensors = {"pixel_values": encode_images(dataset, processor)}
    names = label_names_of(dataset) if conditional else None
    if names is not None:
        tensors["class_labels"] = torch.as_tensor(dataset["label"], dtype=torch.long)
    sources = dataset["source"] if "source" in dataset.column_names else [name] * len(dataset)
    return tensors, names, sources


def take(tensors: dict, index) -> dict:
    index = torch.as_tensor(index, dtype=torch.long)
    return {k: v[index] for k, v in tensors.items()}


def set_class_names(config, names: list[str] | None) -> None:
    """Keep class names in the config's `id2label`/`label2id` (when they match its classes)."""
    if names and config.num_classes == len(names):
        config.id2label = dict(enumerate(names))
        config.label2id = {name: i for i, name in enumerate(names)}


def source_class_names(names: list[str], sources: list[list[str]]) -> list[str]:
    """Class names under `--source_classes`: block `b` holds `names`, suffixed with its source for `b > 0`."""
    order: dict[str, int] = {}
    for part in sources:
        for source in part:
            order.setdefault(source, len(order))
    return [name if block == 0 else f"{name} ({source})" for source, block in order.items() for name in names]


def concat_tensors(parts: list[dict], repeats: list[int]) -> dict:
    keys = set(parts[0])
    if any(set(p) != keys for p in parts):
        raise ValueError("All training datasets must agree on having labels (class-conditional) or not.")
    return {k: torch.cat([p[k].repeat(r, *[1] * (p[k].dim() - 1)) for p, r in zip(parts, repeats)]) for k in keys}


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
    x, y = eval_tensors["pixel_values"], eval_tensors.get("class_labels")

    def eval_fn(model, accelerator):
        def statistics(index):
            labels = None if y is None else y[index]
            ll = pixelcnn_log_likelihood(model, x[index], labels, batch_size=batch_size) if len(index) else None
            return {"nll": 0.0 if ll is None else -ll.double().sum(), "count": float(len(index))}

        totals = evaluate_across_processes(accelerator, len(x), batch_size, statistics, desc="eval bits/dim")
        nats = (totals["nll"] / totals["count"]).item()
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


def save_with_pipeline(model, output_dir) -> None:
    """The final layout: weights, config (with `id2label` and `custom_pipelines`), `generation_config.json` and the
    pipeline's file beside them (the processor is saved by the loop)."""

    atomic_save_pretrained(ClassConditionalImageGenerationPipeline(model=model), output_dir)


def pixelcnn_loss(model, batch):
    """Mean NLL per sub-pixel (nats) with the inputs as targets."""
    return model(
        pixel_values=batch["pixel_values"],
        class_labels=batch.get("class_labels"),
        labels=batch["pixel_values"],
    ).loss


def _build_model(flags: PixelCNNArguments, name: str, split: str, data: DataArguments):
    """`(model or None, processor)`: the `--init_model`, else the processor of a new model fitted to the data."""

    if flags.init_model:
        model = PixelCNNForImageGeneration.from_pretrained(flags.init_model)
        config = model.config
        return model, PixelCNNImageProcessor(
            num_levels=config.num_levels, num_channels=config.num_channels, image_size=config.image_size
        )
    probe = load_images(
        name, split=split, data_dir=data.data_dir, image_column=data.image_column, label_column=data.label_column
    )
    first = probe[0]["image"]
    return None, PixelCNNImageProcessor(
        num_levels=flags.num_levels or DEFAULT_LEVELS.get(name, 256),
        num_channels=flags.num_channels or (3 if first.mode in ("RGB", "RGBA", "P") else 1),
        image_size=flags.image_size or max(first.size),
    )


def train_pixelcnn(
    data: DataArguments, run: RunArguments, flags: PixelCNNArguments, command: str | None = None
) -> TrainResult:
    """The run of `training/train_pixelcnn.py`: data, model, loop, `training_info.json`, card and push."""

    loop_args = run.loop_arguments()
    accelerator = make_accelerator(loop_args)
    name, split = parse_dataset_spec(data.dataset_name, data.dataset_split)
    load = dict(
        data_dir=data.data_dir,
        image_column=data.image_column,
        label_column=data.label_column,
        conditional=not flags.unconditional,
    )
    eval_split = data.eval_split if data.eval_split.lower() != "none" else None
    with accelerator.main_process_first():  # dataset caches are written by the main process first
        model, processor = _build_model(flags, name, split, data)
        main_tensors, names, main_sources = load_tensors(name, split, processor, **load)
        eval_tensors, eval_name = None, None
        if eval_split == VALIDATION:
            train_index, eval_index = validation_indices(len(main_tensors["pixel_values"]))
            eval_tensors, main_tensors = take(main_tensors, eval_index), take(main_tensors, train_index)
            main_sources = [main_sources[i] for i in train_index]
            eval_name = f"{name}:{split} validation (every 10th image)"
        elif eval_split is not None:
            eval_tensors = load_tensors(name, eval_split, processor, **load)[0]
            eval_name = f"{name}:{eval_split}"
        parts, repeats = [main_tensors], [flags.train_repeats]
        sources = [(f"{name}:{split}", len(main_sources) * flags.train_repeats)]
        source_lists = [main_sources]
        for spec in flags.extra_train_datasets:
            extra_name, extra_split = parse_dataset_spec(spec)
            tensors, _, extra_sources = load_tensors(extra_name, extra_split, processor, **load)
            parts.append(tensors)
            repeats.append(1)
            source_lists.append(extra_sources)
            sources.append((f"{extra_name}:{extra_split}", len(extra_sources)))
    if data.max_eval_samples and eval_tensors is not None:
        eval_tensors = take(eval_tensors, range(min(data.max_eval_samples, len(eval_tensors["pixel_values"]))))
    num_classes = len(names) if names is not None else None
    if flags.source_classes and num_classes is not None:
        parts, num_classes = offset_labels_by_source(parts, source_lists, num_classes)
        names = source_class_names(names, source_lists)
    train_tensors = concat_tensors(parts, repeats)
    if model is None:
        config = PixelCNNConfig(
            image_size=processor.image_size,
            num_channels=processor.num_channels,
            num_levels=processor.num_levels,
            num_classes=num_classes,
            hidden_size=flags.hidden_size,
            num_hidden_layers=flags.num_hidden_layers,
            kernel_size=flags.kernel_size,
            first_kernel_size=flags.first_kernel_size,
            output_hidden_size=flags.output_hidden_size,
            architecture=flags.architecture,
            dropout=flags.dropout,
        )
        torch.manual_seed(run.seed)
        model = PixelCNNForImageGeneration(config)
    else:
        if num_classes is not None and (model.config.num_classes or 0) < num_classes:
            if not flags.source_classes or not model.config.num_classes:
                raise ValueError(
                    f"The training data has {num_classes} classes but `--init_model` has "
                    f"{model.config.num_classes}; only `--source_classes` grows a conditional model's classes."
                )
            expand_class_embeddings(model, num_classes)
        if flags.dropout != model.config.dropout:
            model.config.dropout = flags.dropout
            for module in model.modules():
                if isinstance(module, torch.nn.Dropout):
                    module.p = flags.dropout
    set_class_names(model.config, names)
    config = model.config
    eval_fn = None
    if eval_tensors is not None:
        eval_fn = make_eval_fn(eval_tensors, config.num_subpixels, batch_size=run.eval_batch_size)
    sample_fn = None
    if not run.no_samples:
        sample_fn = make_sample_fn(processor, config.num_classes, seed=run.seed, scale=max(1, 64 // config.image_size))
    loop = TrainingLoop(
        model,
        loop_args,
        TensorDictDataset(**train_tensors),
        compute_loss=pixelcnn_loss,
        eval_fn=eval_fn,
        sample_fn=sample_fn,
        processors=[processor],
        save_fn=save_with_pipeline,
        tracker_config={"dataset_name": data.dataset_name, "train_examples": len(train_tensors["pixel_values"])},
        accelerator=accelerator,
    )
    logger.info("training data: %s (%d examples)", sources, len(train_tensors["pixel_values"]))
    result = loop.train()
    if accelerator.is_main_process:
        info = {
            "command": command,
            "dataset": name,
            "train_data": [{"dataset": s, "examples": n} for s, n in sources],
            "eval_dataset": eval_name,
            **result.metrics,
        }
        grids = sorted(Path(run.output_dir, "samples").glob("step-*.png"))
        if grids:  # the final grid, where model cards expect it
            shutil.copyfile(grids[-1], Path(run.output_dir, "samples.png"))

        metrics = []
        if "eval_bits_per_dim" in result.metrics:
            metrics = pixelcnn_card_metrics(result.metrics, data.eval_split)
        publish_run(run, info, metrics, dataset=name)
    return result  # (the loop has ended the process group: no barrier here)


__all__ = [
    "DEFAULT_LEVELS",
    "PixelCNNArguments",
    "train_pixelcnn",
    "concat_tensors",
    "load_tensors",
    "make_eval_fn",
    "make_sample_fn",
    "parse_dataset_spec",
    "pixelcnn_loss",
    "TensorDictDataset",
]
