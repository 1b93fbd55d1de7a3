"""VQ-VAE recipe: images as float tensors, test-set metrics (PSNR, codebook usage, perplexity, bits per
image), reconstruction grids, and the hooks that plug them into the shared training loop.

Used by `training/train_vqvae.py` (:func:`train_vqvae`), `hf-argen evaluate` and
`experiments/compare_quantizers.py`.

Metric definitions (all over a whole split, not averaged per batch):

* ``psnr``: 10 * log10(1 / MSE), with the MSE taken over every sub-pixel of the split on the [0, 1] scale
  (the model works on [-1, 1], whose MSE is 4x larger).
* ``codebook_usage``: fraction of the K codes that occur at least once in the split's code maps.
* ``perplexity``: exp(entropy) of the split's code histogram, in [1, K]; K means every code is equally used.
* ``bits_per_image``: size of one code map, h * w * log2(K).
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from PIL import Image

from ..data import ImageRows, encode_images, image_shape_of
from ..hub import CardImage
from ..models import PixelCNNImageProcessor, VQVAEConfig, VQVAEModel, make_grid
from ..training.arguments import DataArguments, ImageModelArguments, RunArguments
from ..training.loop import TrainingLoop, TrainResult, evaluate_across_processes, make_accelerator
from .cards import final_eval_figures, keep_last_grid, publish_run, vqvae_card_metrics
from .datasets import load_images

logger = logging.getLogger(__name__)

# `training/train_vqvae.py`'s defaults for the shared flags (`--help` shows them).
TRAINING_DEFAULTS = dict(
    torch_compile="false",  # compiling this model on CUDA is not yet verified; --torch_compile true opts in
    dataset_name="mnist",
    train_batch_size=128,
    eval_batch_size=500,
    learning_rate=3e-4,
    lr_scheduler="constant",
    max_grad_norm=None,
    num_train_epochs=10,
    checkpointing_steps=500,
    checkpoints_total_limit=2,
)


# ----------------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------------
def levels_to_unit_range(levels: torch.Tensor, num_levels: int = 256) -> torch.FloatTensor:
    """Integer levels in [0, num_levels) -> floats in [-1, 1] (the VQ-VAE's `pixel_values`)."""
    return levels.float() * (2.0 / (num_levels - 1)) - 1.0


def unit_range_to_levels(pixel_values: torch.Tensor, num_levels: int = 256) -> torch.LongTensor:
    """Floats in [-1, 1] -> nearest integer levels in [0, num_levels)."""
    levels = torch.round((pixel_values.float().clamp(-1, 1) + 1.0) * ((num_levels - 1) / 2.0))
    return levels.long()


def load_pixel_values(
    name: str,
    split: str = "train",
    data_dir=None,
    num_channels: int = 1,
    image_size: int | None = None,
    image_column: str | None = None,
) -> torch.FloatTensor:
    """Load `split` of an image dataset (any name `hf_argen.data.load_image_dataset` accepts) as float
    `pixel_values` `(N, C, H, W)` in [-1, 1]."""

    dataset = load_images(name, split=split, data_dir=data_dir, image_column=image_column)
    processor = PixelCNNImageProcessor(num_levels=256, num_channels=num_channels, image_size=image_size)
    return levels_to_unit_range(encode_images(dataset, processor), 256)


# ----------------------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------------------
@torch.no_grad()
def reconstruction_statistics(model, pixel_values: torch.Tensor, batch_size: int = 500) -> dict:
    """Summable statistics of `model(pixel_values)` in eval mode: squared error (on [-1, 1]), sub-pixel count,
    image count and the code histogram `(K,)` (float64).

    `model` is anything whose `forward(pixel_values)` returns `.reconstruction` and `.codes` (a `VQVAEModel`,
    possibly with another quantiser swapped in).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    num_embeddings = model.config.num_embeddings
    squared_error = torch.zeros((), dtype=torch.float64)
    counts = torch.zeros(num_embeddings, dtype=torch.float64)
    try:
        for start in range(0, len(pixel_values), batch_size):
            batch = pixel_values[start : start + batch_size].to(device)
            output = model(pixel_values=batch)
            squared_error += (output.reconstruction.double() - batch.double()).pow(2).sum().cpu()
            counts += torch.bincount(output.codes.flatten().cpu(), minlength=num_embeddings).double()
    finally:
        model.train(was_training)
    return {
        "squared_error": squared_error,
        "num_subpixels": torch.tensor(float(pixel_values.numel()), dtype=torch.float64),
        "num_images": torch.tensor(float(len(pixel_values)), dtype=torch.float64),
        "code_counts": counts,
    }


def summarize_statistics(statistics: dict, config) -> dict:
    """Statistics (possibly summed over processes) -> metrics: mse (on [-1, 1]), psnr (dB, [0, 1] scale),
    codebook_usage (fraction), codes_used, perplexity, bits_per_image, num_images."""
    mse = (statistics["squared_error"] / statistics["num_subpixels"]).item()
    counts = statistics["code_counts"]
    probs = counts / counts.sum().clamp(min=1.0)
    nonzero = probs[probs > 0]
    perplexity = torch.exp(-(nonzero * nonzero.log()).sum()).item()
    return {
        "mse": mse,
        "psnr": 10.0 * math.log10(4.0 / mse) if mse > 0 else float("inf"),
        "codebook_usage": (counts > 0).double().mean().item(),
        "codes_used": int((counts > 0).sum().item()),
        "perplexity": perplexity,
        "bits_per_image": config.latent_size**2 * math.log2(config.num_embeddings),
        "num_images": int(statistics["num_images"].item()),
    }


def evaluate_vqvae(model, pixel_values: torch.Tensor, batch_size: int = 500) -> dict:
    """Metrics of `model` on `pixel_values` `(N, C, H, W)` in [-1, 1] (see the module docstring)."""
    return summarize_statistics(reconstruction_statistics(model, pixel_values, batch_size), model.config)


# ----------------------------------------------------------------------------------------------------------
# Pictures
# ----------------------------------------------------------------------------------------------------------
@torch.no_grad()
def reconstruction_grid(model, pixel_values: torch.Tensor, num_columns: int = 10, scale: int = 3):
    """PIL image: rows of originals alternating with rows of their reconstructions (`encode` -> `decode`)."""

    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        originals = pixel_values.to(device)
        reconstructions = model.decode(model.encode(originals))
    finally:
        model.train(was_training)
    rows = []
    for start in range(0, len(originals), num_columns):
        rows += [originals[start : start + num_columns], reconstructions[start : start + num_columns]]
    images = []
    for row in rows:
        levels = unit_range_to_levels(row.cpu()).to(torch.uint8)
        for image in levels:
            array = image.permute(1, 2, 0).numpy()
            images.append(Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array))
        images += [Image.new(images[-1].mode, images[-1].size, 0)] * (num_columns - len(row))
    return make_grid(images, num_columns=num_columns, scale=scale)


# ----------------------------------------------------------------------------------------------------------
# Hooks for hf_argen.training.TrainingLoop
# ----------------------------------------------------------------------------------------------------------
def make_eval_fn(eval_rows, batch_size: int = 500, prefix: str = "eval_"):
    """Eval hook: the metrics above on `eval_rows` (an :class:`hf_argen.data.ImageRows` decoding one batch at a time,
    or a `TensorDictDataset`: ``rows[index]["pixel_values"]`` in [-1, 1]), sharded over processes and summed."""

    def eval_fn(model, accelerator):
        def statistics(index):
            if not len(index):
                zero = torch.zeros((), dtype=torch.float64)
                counts = torch.zeros(model.config.num_embeddings, dtype=torch.float64)
                return {"squared_error": zero, "num_subpixels": zero, "num_images": zero, "code_counts": counts}
            pixel_values = eval_rows[index]["pixel_values"]
            return reconstruction_statistics(model, pixel_values, batch_size=len(index))

        statistics = evaluate_across_processes(
            accelerator, len(eval_rows), batch_size, statistics, desc="eval reconstructions"
        )
        metrics = summarize_statistics(statistics, model.config)
        return {f"{prefix}{name}": value for name, value in metrics.items()}

    return eval_fn


def make_sample_fn(pixel_values: torch.Tensor, num_columns: int = 10, scale: int = 3):
    """Sample hook: the reconstruction grid of a fixed set of images (originals / reconstructions rows)."""

    def sample_fn(model, step):
        return reconstruction_grid(model, pixel_values, num_columns=num_columns, scale=scale)

    return sample_fn


# ----------------------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------------------
@dataclass
class VQVAEArguments(ImageModelArguments):
    """Flags of `training/train_vqvae.py` beyond the shared ones (see `VQVAEConfig`); the images' size and channels
    come from the data unless given."""

    decoder_only: bool = field(
        default=False,
        metadata={"help": "fine-tune the decoder alone, on the codes of --init_model's frozen encoder and codebook: "
                  "the codes stay the same, so priors trained on them stay valid."},
    )  # fmt: skip
    num_embeddings: int = field(default=512, metadata={"help": "codebook size K: the number of distinct codes."})
    embedding_dim: int = field(default=32, metadata={"help": "dimension d of each code vector."})
    hidden_size: int = field(default=64, metadata={"help": "channels of the encoder's and decoder's convolutions."})
    num_residual_layers: int = field(default=2, metadata={"help": "residual blocks in the encoder and the decoder."})
    residual_hidden_size: int = field(default=32, metadata={"help": "channels inside each residual block."})
    downsample_factor: int = field(
        default=4, metadata={"help": "image side / code map side, a power of 2 (28x28 images -> 7x7 codes at 4)."}
    )
    commitment_cost: float = field(default=0.25, metadata={"help": "weight beta of the commitment loss."})
    codebook_update: str = field(
        default="ema",
        metadata={"help": "ema: running centroids; gradient: a codebook learnt by its own loss.",
                  "choices": ["ema", "gradient"]},
    )  # fmt: skip
    decay: float = field(default=0.99, metadata={"help": "codebook EMA decay."})
    epsilon: float = field(default=1e-5, metadata={"help": "Laplace smoothing of the EMA cluster sizes."})
    no_kmeans_init: bool = field(
        default=False, metadata={"help": "start the codebook at random instead of k-means on the first batch."}
    )
    kmeans_iters: int = field(default=10, metadata={"help": "Lloyd iterations of the k-means initialisation."})
    dead_code_steps: int = field(
        default=100, metadata={"help": "re-seed a code unused for this many training steps (0: never)."}
    )
    num_sample_images: int = field(default=20, metadata={"help": "images in the reconstruction grid."})


def image_processor_for(flags: VQVAEArguments, dataset) -> PixelCNNImageProcessor:
    """How images become pixels: the `--init_model`'s channels and size (`--image_size` may change the size: its
    weights then run at that size), else `--num_channels` / `--image_size`, else the data's own (colour if any of the
    first images is, the first image's longer side)."""
    if flags.init_model:
        config = VQVAEConfig.from_pretrained(flags.init_model)
        image_size = flags.image_size or config.image_size
        return PixelCNNImageProcessor(num_levels=256, num_channels=config.num_channels, image_size=image_size)
    num_channels, image_size = image_shape_of(dataset)
    return PixelCNNImageProcessor(
        num_levels=256, num_channels=flags.num_channels or num_channels, image_size=flags.image_size or image_size
    )


def build_data(data: DataArguments, flags: VQVAEArguments, accelerator):
    """Build data: `(train rows, eval rows or None, image processor)`: :class:`hf_argen.data.ImageRows` whose batches
    are float ``pixel_values`` `(B, C, H, W)` in [-1, 1], decoded one batch at a time from the datasets, with
    channels and size read from the data (:func:`image_processor_for`); the validation images carved from the
    training split unless `--eval_split` names a split."""
    load = dict(data_dir=data.data_dir, image_column=data.image_column)
    to_unit_range = functools.partial(levels_to_unit_range, num_levels=256)
    with accelerator.main_process_first():
        train_set = load_images(data.dataset_name, split=data.dataset_split, **load)
        processor = image_processor_for(flags, train_set)
        train_set, eval_set = data.split_off_eval(
            train_set, lambda split: load_images(data.dataset_name, split=split, **load)
        )
    train_rows = ImageRows(train_set, processor, pixel_transform=to_unit_range)
    eval_rows = None if eval_set is None else ImageRows(eval_set, processor, pixel_transform=to_unit_range)
    return train_rows, eval_rows, processor


def build_model(flags: VQVAEArguments, image_size: int, num_channels: int = 1, seed: int = 0) -> VQVAEModel:
    """Build model: the `--init_model` (at `image_size`), else a new (seeded) VQ-VAE of the flags' sizes for
    `num_channels` x `image_size` x `image_size` images."""
    if flags.init_model:
        return load_vqvae(flags.init_model, image_size)
    if flags.decoder_only:
        raise ValueError("--decoder_only fine-tunes the decoder of --init_model; pass --init_model.")
    config = VQVAEConfig(
        image_size=image_size,
        num_channels=num_channels,
        num_embeddings=flags.num_embeddings,
        embedding_dim=flags.embedding_dim,
        hidden_size=flags.hidden_size,
        num_residual_layers=flags.num_residual_layers,
        residual_hidden_size=flags.residual_hidden_size,
        downsample_factor=flags.downsample_factor,
        commitment_cost=flags.commitment_cost,
        codebook_update=flags.codebook_update,
        decay=flags.decay,
        epsilon=flags.epsilon,
        kmeans_init=not flags.no_kmeans_init,
        kmeans_iters=flags.kmeans_iters,
        dead_code_steps=flags.dead_code_steps,
    )
    torch.manual_seed(seed)
    return VQVAEModel(config)


def load_vqvae(path, image_size: int | None = None) -> VQVAEModel:
    """A saved VQ-VAE in eval mode; with `image_size`, the same weights for images of that size (its convolutions
    run on any size divisible by `downsample_factor`: the code map grows or shrinks with the image)."""
    model = VQVAEModel.from_pretrained(path)
    if image_size is not None and image_size != model.config.image_size:
        resized = VQVAEModel(VQVAEConfig(**{**model.config.to_dict(), "image_size": image_size}))
        resized.load_state_dict(model.state_dict())
        model = resized
    return model.eval()


def decoder_loss(model, batch):
    """Loss hook of `--decoder_only`: the reconstruction MSE of the decoder on the codes of the frozen encoder and
    codebook (`encode` never updates the codebook and passes no gradient back)."""
    pixel_values = batch["pixel_values"]
    return F.mse_loss(model.decode(model.encode(pixel_values)), pixel_values.to(model.dtype))


def publish(result: TrainResult, model, data: DataArguments, run: RunArguments, shown_split: str, command=None):
    """Publish (main process): `training_info.json`, the last reconstruction grid, the card, the push."""
    figures = final_eval_figures(result.metrics)
    metrics = []
    if "psnr" in figures:
        metrics = vqvae_card_metrics(figures, data.eval_split, model.config.num_embeddings)
    images = None
    if keep_last_grid(run.output_dir, "reconstructions.png"):  # where the card expects it
        images = [CardImage("reconstructions.png", "reconstructions",
                            f"Odd rows: {shown_split} images; even rows: their reconstructions.")]  # fmt: skip
    info = {"command": command, "dataset": data.dataset_name, "data": data.record(), **result.metrics}
    publish_run(run, info, metrics, dataset=data.dataset_name, images=images)


def train_vqvae(
    data: DataArguments, run: RunArguments, flags: VQVAEArguments, command: str | None = None
) -> TrainResult:
    """The run of `training/train_vqvae.py`: build data -> build model -> train (eval metrics every `--eval_steps`,
    reconstruction grids) -> publish."""
    loop_args = run.loop_arguments(tracker_project_name="vqvae")
    accelerator = make_accelerator(loop_args)
    train_rows, eval_rows, processor = build_data(data, flags, accelerator)
    shown_rows = eval_rows if eval_rows is not None else train_rows
    sample_fn = None
    if not run.no_samples:  # the grid's images, decoded once
        sample_fn = make_sample_fn(shown_rows[range(min(flags.num_sample_images, len(shown_rows)))]["pixel_values"])
    model = build_model(flags, processor.image_size, processor.num_channels, seed=run.seed)
    loop = TrainingLoop(
        model,
        loop_args,
        train_dataset=train_rows,
        compute_loss=decoder_loss if flags.decoder_only else None,
        eval_fn=None if eval_rows is None else make_eval_fn(eval_rows, batch_size=run.eval_batch_size),
        sample_fn=sample_fn,
        tracker_config={"dataset_name": data.dataset_name, **model.config.to_dict()},
        accelerator=accelerator,
    )
    result = loop.train()
    if accelerator.is_main_process:
        shown_split = data.eval_split if eval_rows is not None else data.dataset_split
        publish(result, model, data, run, shown_split, command)
    return result


__all__ = [
    "TRAINING_DEFAULTS",
    "VQVAEArguments",
    "build_data",
    "build_model",
    "decoder_loss",
    "image_processor_for",
    "publish",
    "evaluate_vqvae",
    "train_vqvae",
    "levels_to_unit_range",
    "load_vqvae",
    "load_pixel_values",
    "make_eval_fn",
    "make_sample_fn",
    "reconstruction_grid",
    "reconstruction_statistics",
    "summarize_statistics",
    "unit_range_to_levels",
]
