"""PixelCNN recipe for the shared loop: its flags, datasets -> rows decoded one batch at a time (a fixed validation
split carved from the training images by default), the eval hook (exact bits/dim), the sample-grid hook and
:func:`train_pixelcnn`, the whole run that `training/train_pixelcnn.py` starts.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..atomic import atomic_save_pretrained
from ..data import ImageRows, column_array, image_shape_of, label_names_of, parse_dataset_spec, validation_indices
from ..evaluation import pixelcnn_log_likelihood
from ..models import (
    ClassConditionalImageGenerationPipeline,
    PixelCNNConfig,
    PixelCNNForImageGeneration,
    PixelCNNImageProcessor,
    make_grid,
)
from ..training.arguments import VALIDATION, DataArguments, ImageModelArguments, RunArguments
from ..training.loop import TrainingLoop, TrainResult, evaluate_across_processes, make_accelerator
from .cards import keep_last_grid, pixelcnn_card_metrics, publish_run
from .datasets import DEFAULT_LEVELS, load_images

logger = logging.getLogger(__name__)

# `training/train_pixelcnn.py`'s defaults for the shared flags (`--help` shows them).
TRAINING_DEFAULTS = dict(
    dataset_name="digits",
    train_batch_size=64,
    learning_rate=1e-3,
    lr_scheduler="cosine",
    num_train_epochs=20,
    checkpointing_steps=500,
)


@dataclass
class PixelCNNArguments(ImageModelArguments):
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
    num_levels: int | None = field(
        default=None, metadata={"help": "intensity levels per sub-pixel (default: 17 for digits, else 256)."}
    )
    hidden_size: int = field(default=64, metadata={"help": "channels of each gated layer (per stack)."})
    num_hidden_layers: int = field(default=10, metadata={"help": "gated layers after the first (mask A) layer."})
    kernel_size: int = field(default=3, metadata={"help": "odd kernel size of the gated layers."})
    first_kernel_size: int = field(default=7, metadata={"help": "odd kernel size of the first (mask A) layer."})
    output_hidden_size: int = field(default=256, metadata={"help": "channels of the two-layer output head."})
    architecture: str = field(
        default="gated",
        metadata={"help": "gated: vertical + horizontal stacks (no blind spot); masked: the original PixelCNN.",
                  "choices": ["gated", "masked"]},
    )  # fmt: skip
    dropout: float = field(default=0.0, metadata={"help": "dropout probability in the gated layers in training."})


def load_part(
    name: str,
    split: str,
    data_dir=None,
    image_column=None,
    label_column=None,
    conditional: bool = True,
) -> tuple[dict, list[str] | None, list[str]]:
    """Load `name:split` -> (`{"images": the dataset[, "class_labels": (N,) long]}`, class names, sources). The images
    stay in the dataset (memory-mapped where it is on disk); only the labels are read."""
    dataset = load_images(name, split=split, data_dir=data_dir, image_column=image_column, label_column=label_column)
    part = {"images": dataset}
    names = label_names_of(dataset) if conditional else None
    if names is not None:
        part["class_labels"] = torch.as_tensor(column_array(dataset, "label"), dtype=torch.long)
    sources = list(column_array(dataset, "source")) if "source" in dataset.column_names else [name] * len(dataset)
    return part, names, sources


def take(part: dict, index) -> dict:
    """The rows `index` of a part (`datasets`' `select`: an indices mapping, nothing decoded)."""
    index = np.asarray(index, dtype=np.int64)
    taken = {"images": part["images"].select(index)}
    if "class_labels" in part:
        taken["class_labels"] = part["class_labels"][torch.as_tensor(index)]
    return taken


def image_rows(parts: list[dict], processor, repeats: list[int] | None = None) -> ImageRows:
    """Parts (each repeated `repeats[i]` times, in order) as one :class:`ImageRows`: images decoded per batch."""
    repeats = repeats or [1] * len(parts)
    keys = set(parts[0])
    if any(set(p) != keys for p in parts):
        raise ValueError("All training datasets must agree on having labels (class-conditional) or not.")
    datasets_in_order = [p["images"] for p, r in zip(parts, repeats) for _ in range(r)]
    labels = None
    if "class_labels" in keys:
        labels = torch.cat([p["class_labels"] for p, r in zip(parts, repeats) for _ in range(r)])
    return ImageRows(datasets_in_order, processor, labels)


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
    for layer in model.pixelcnn.layers:
        weight = layer.class_bias.weight.data
        layer.class_bias = torch.nn.Embedding(num_classes, weight.shape[1]).to(weight)
        layer.class_bias.weight.data.copy_(weight[torch.arange(num_classes) % old])
    model.config.num_classes = num_classes


def make_eval_fn(eval_rows, num_subpixels: int, batch_size: int = 256, log_likelihood=pixelcnn_log_likelihood):
    """Eval hook: exact bits/dim and nats/image of the eval rows (an :class:`ImageRows`, decoded one batch at a time,
    or a `TensorDictDataset`: ``rows[index]`` -> ``{"pixel_values"[, "class_labels"]}``), sharded over processes
    and reduced. `log_likelihood(model, pixel_values, class_labels, batch_size=...) -> (N,)` nats (default: the
    PixelCNN's; the pixel LMs pass theirs)."""

    def eval_fn(model, accelerator):
        def statistics(index):
            if not len(index):
                return {"nll": 0.0, "count": 0.0}
            batch = eval_rows[index]
            ll = log_likelihood(model, batch["pixel_values"], batch.get("class_labels"), batch_size=batch_size)
            return {"nll": -ll.double().sum(), "count": float(len(index))}

        totals = evaluate_across_processes(accelerator, len(eval_rows), batch_size, statistics, desc="eval bits/dim")
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


@dataclass
class PixelCNNData:
    """What :func:`build_data` prepares: training and eval rows (:class:`hf_argen.data.ImageRows`: images left in the
    datasets, decoded per batch to ``pixel_values`` levels `(B, C, H, W)`, optional ``class_labels`` `(B,)`), class
    names, the training sources `[(name:split, examples)]`, the eval split's name, the
    image processor and the `--init_model` (or None: a new model is built)."""

    train: ImageRows
    eval: ImageRows | None
    names: list[str] | None
    sources: list[tuple[str, int]]
    eval_name: str | None
    processor: PixelCNNImageProcessor
    init_model: PixelCNNForImageGeneration | None = None

    @property
    def num_classes(self) -> int | None:
        return None if self.names is None else len(self.names)


def load_processor(flags: PixelCNNArguments, name: str, split: str, data: DataArguments):
    """`(model or None, processor)`: the `--init_model` and its processor, else the processor of a new model fitted
    to the data (`--num_levels`, `--num_channels`, `--image_size`, or from the first image)."""
    if flags.init_model:
        model = PixelCNNForImageGeneration.from_pretrained(flags.init_model)
        config = model.config
        return model, PixelCNNImageProcessor(
            num_levels=config.num_levels, num_channels=config.num_channels, image_size=config.image_size
        )
    return None, new_processor(flags, name, split, data)


def new_processor(flags, name: str, split: str, data: DataArguments) -> PixelCNNImageProcessor:
    """The image processor of a new integer-image model fitted to the data: `flags.num_levels` (default 17 for
    digits, else 256), `flags.num_channels` and `flags.image_size`, or read from the first image."""
    probe = load_images(
        name, split=split, data_dir=data.data_dir, image_column=data.image_column, label_column=data.label_column
    )
    num_channels, image_size = image_shape_of(probe)
    return PixelCNNImageProcessor(
        num_levels=flags.num_levels or DEFAULT_LEVELS.get(name, 256),
        num_channels=flags.num_channels or num_channels,
        image_size=flags.image_size or image_size,
    )


def build_data(data: DataArguments, flags: PixelCNNArguments, accelerator) -> PixelCNNData:
    """Build data: the main training split (its validation images carved out unless `--eval_split` names a split),
    the `--extra_train_datasets` mixed in, labels offset per source under `--source_classes`."""
    name, split = parse_dataset_spec(data.dataset_name, data.dataset_split)
    load = dict(data_dir=data.data_dir, image_column=data.image_column, label_column=data.label_column,
                conditional=not flags.unconditional)  # fmt: skip
    eval_split = data.eval_split if data.eval_split.lower() != "none" else None
    with accelerator.main_process_first():  # dataset caches are written by the main process first
        model, processor = load_processor(flags, name, split, data)
        main, names, main_sources = load_part(name, split, **load)
        eval_part, eval_name = None, None
        if eval_split == VALIDATION:
            train_index, eval_index = validation_indices(len(main_sources))
            eval_part, main = take(main, eval_index), take(main, train_index)
            main_sources = [main_sources[i] for i in train_index]
            eval_name = f"{name}:{split} validation (every 10th image)"
        elif eval_split is not None:
            eval_part, eval_name = load_part(name, eval_split, **load)[0], f"{name}:{eval_split}"
        parts, repeats, source_lists = [main], [flags.train_repeats], [main_sources]
        sources = [(f"{name}:{split}", len(main_sources) * flags.train_repeats)]
        for extra_name, extra_split in map(parse_dataset_spec, flags.extra_train_datasets):
            part, _, extra_sources = load_part(extra_name, extra_split, **load)
            parts, repeats, source_lists = parts + [part], repeats + [1], source_lists + [extra_sources]
            sources.append((f"{extra_name}:{extra_split}", len(extra_sources)))
    if data.max_eval_samples and eval_part is not None:
        eval_part = take(eval_part, range(min(data.max_eval_samples, len(eval_part["images"]))))
    if flags.source_classes and names is not None:
        parts, _ = offset_labels_by_source(parts, source_lists, len(names))
        names = source_class_names(names, source_lists)
    eval_rows = None if eval_part is None else image_rows([eval_part], processor)
    return PixelCNNData(image_rows(parts, processor, repeats), eval_rows, names, sources, eval_name, processor, model)


def set_dropout(model, dropout: float) -> None:
    """Set the dropout probability of a built model: `config.dropout` and every `torch.nn.Dropout`'s `p` (the layers
    read it at construction, so a fine-tuning run with another `--dropout` rewrites them)."""
    model.config.dropout = dropout
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = dropout


def build_model(flags: PixelCNNArguments, prepared: PixelCNNData, seed: int = 0) -> PixelCNNForImageGeneration:
    """Build model: a new PixelCNN sized to the data (seeded), or the `--init_model` adapted to it: class biases
    grown under `--source_classes` (:func:`expand_class_embeddings`), `--dropout` applied (:func:`set_dropout`).
    Class names go into the config's `id2label`."""
    num_classes, model = prepared.num_classes, prepared.init_model
    if model is None:
        processor = prepared.processor
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
        torch.manual_seed(seed)
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
            set_dropout(model, flags.dropout)
    set_class_names(model.config, prepared.names)
    return model


def train(model, prepared: PixelCNNData, data: DataArguments, run: RunArguments, accelerator) -> TrainResult:
    """Train: the shared loop with the exact bits/dim eval hook and a sample grid per class, saving the model with its
    pipeline."""
    config, train_rows = model.config, prepared.train
    eval_fn = None
    if prepared.eval is not None:
        eval_fn = make_eval_fn(prepared.eval, config.num_subpixels, batch_size=run.eval_batch_size)
    sample_fn = None
    if not run.no_samples:
        scale = max(1, 64 // config.image_size)
        sample_fn = make_sample_fn(prepared.processor, config.num_classes, seed=run.seed, scale=scale)
    loop = TrainingLoop(
        model,
        run.loop_arguments(),
        train_rows,
        compute_loss=pixelcnn_loss,
        eval_fn=eval_fn,
        sample_fn=sample_fn,
        processors=[prepared.processor],
        save_fn=save_with_pipeline,
        tracker_config={"dataset_name": data.dataset_name, "train_examples": len(train_rows)},
        accelerator=accelerator,
    )
    logger.info("training data: %s (%d examples, decoded per batch)", prepared.sources, len(train_rows))
    return loop.train()


def publish(result: TrainResult, prepared: PixelCNNData, data: DataArguments, run: RunArguments, command=None) -> None:
    """Publish (main process): `training_info.json`, the last sample grid as `samples.png`, the card, the push."""
    name = parse_dataset_spec(data.dataset_name, data.dataset_split)[0]
    info = {
        "command": command,
        "dataset": name,
        "train_data": [{"dataset": s, "examples": n} for s, n in prepared.sources],
        "eval_dataset": prepared.eval_name,
        **result.metrics,
    }
    keep_last_grid(run.output_dir, "samples.png")
    metrics = []
    if "eval_bits_per_dim" in result.metrics:
        metrics = pixelcnn_card_metrics(result.metrics, data.eval_split)
    publish_run(run, info, metrics, dataset=name)


def train_pixelcnn(
    data: DataArguments, run: RunArguments, flags: PixelCNNArguments, command: str | None = None
) -> TrainResult:
    """The run of `training/train_pixelcnn.py`: build data -> build model -> train -> publish."""
    accelerator = make_accelerator(run.loop_arguments())
    prepared = build_data(data, flags, accelerator)
    model = build_model(flags, prepared, seed=run.seed)
    result = train(model, prepared, data, run, accelerator)
    if accelerator.is_main_process:
        publish(result, prepared, data, run, command)
    return result  # (the loop has ended the process group: no barrier here)


__all__ = [
    "TRAINING_DEFAULTS",
    "DEFAULT_LEVELS",
    "PixelCNNArguments",
    "PixelCNNData",
    "build_data",
    "build_model",
    "publish",
    "set_dropout",
    "train",
    "train_pixelcnn",
    "image_rows",
    "load_part",
    "make_eval_fn",
    "make_sample_fn",
    "new_processor",
    "parse_dataset_spec",
    "pixelcnn_loss",
]
