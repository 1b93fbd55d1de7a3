#!/usr/bin/env python
"""Every autoregressive model family on one benchmark: one table per dataset, every row trained and measured in this
one run with the same budget (steps x batch).

    python benchmarks/benchmark_model_families.py --dataset digits --output_dir runs/families-digits --num_threads 1
    python benchmarks/benchmark_model_families.py --dataset mnist --output_dir runs/families-mnist --num_threads 1 \\
        --rows rnn-lstm pixelcnn-masked pixelcnn-gated vqvae+transformer vqvae+rnn vqvae+pixelcnn vqvae+mamba

Rows (all class-conditional, class token / class bias; `--rows` picks some):

* `independent`: every sub-pixel an independent categorical per class (counts + Jeffreys smoothing): the floor;
* pixel LMs over BOS + class token + sub-pixels in the PixelCNN's order (`hf_argen.recipes.pixel_lm`):
  `rnn-lstm`, `rnn-gru` (ours; the class also as a class bias at every step), `rnn-lstm-token` (the LSTM with the
  class token alone: what the per-step class bias buys), `rnn-lstm-above` (the LSTM also reading the three
  sub-pixels above the one it predicts, `input_lags`: a Row LSTM's view of the row above), `transformer` (ours),
  `imagegpt` (`transformers`' ImageGPTForCausalImageModeling, same size as ours), `mamba` (`transformers`'
  MambaForCausalLM, its pure-PyTorch path);
* `pixelcnn-masked` (single stack, blind spot), `pixelcnn-gated` (vertical + horizontal stacks);
* two-stage, a VQ-VAE + a class-conditional prior over its code map (`VQVAEPriorForImageGeneration`):
  `vqvae+transformer`, `vqvae+rnn`, `vqvae+pixelcnn`, `vqvae+mamba`. On MNIST the VQ-VAE is `--vqvae` (the shipped
  `model_cards/vqvae-mnist`); on digits a small one (8x8 -> 4x4 codes) is trained here first and its figures are
  printed with the table.

Figures per row: test bits/dim of the pixel models, conditional −log p(x|y) and **marginal** −log Σ_y p(y) p(x|y)
(p(y): training class frequencies), exact, with the PixelCNN's evaluation code; nats per code (conditional and
marginal) for the priors; bits per image for every row (marginal; for a prior: bits of its code map, the rate of a
lossy code, not a likelihood of the pixels); time to sample 16 images in one call (seed 0); class consistency of
`--consistency_samples` samples (a classifier: logistic regression on the digits' training split, the project's
MNIST CNN on MNIST); parameters; steps x batch; training time.

Resumable: every row trains under `output_dir/<row>/` with checkpoints (a killed run resumes from the last one),
and its figures are cached in `output_dir/rows/<row>.json`, so a rerun measures only the rows not yet done and
prints the whole table (`output_dir/table.md`, `output_dir/table.json`). A row's training time is the wall time of its
training; a resumed row's is extrapolated from the steps it ran in its last session (marked "resumed").
`--init_from` starts the pixel-LM rows from a saved model of the same config (one more cosine cycle of
`--max_train_steps`, a warm restart: how the shipped pixel RNN got more training than one run's budget); such rows
carry `init_from` in their figures and the table's header says so.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from hf_argen import (
    PixelCNNConfig,
    PixelCNNForImageGeneration,
    PixelCNNImageProcessor,
    PixelVocabulary,
    PriorVocabulary,
    VQVAEConfig,
    VQVAEModel,
    VQVAEPriorConfig,
    VQVAEPriorForImageGeneration,
)
from hf_argen.atomic import atomic_write_text
from hf_argen.cli import CommandParser, run_cli
from hf_argen.evaluation import (
    causal_lm_log_likelihood,
    class_frequencies,
    independent_categorical_log_likelihood,
    likelihood_report,
    pixelcnn_likelihood_report,
)
from hf_argen.recipes.classifier import load_mnist_classifier
from hf_argen.recipes.pixel_lm import (
    build_pixel_lm,
    generate_pixels,
    generate_pixels_guided,
    load_tensors,
    pixel_lm_likelihood_report,
    pixel_lm_loss,
    row_above_lags,
    set_image_layout,
)
from hf_argen.recipes.pixelcnn import pixelcnn_loss
from hf_argen.recipes.prior import build_prior, pixelcnn_inputs
from hf_argen.recipes.vqvae import evaluate_vqvae, levels_to_unit_range, unit_range_to_levels
from hf_argen.training import LoopArguments, TensorDictDataset, TrainingLoop
from hf_argen.training.loop import list_checkpoints

logger = logging.getLogger("benchmark_model_families")

PIXEL_LM_ROWS = {"rnn-lstm": "rnn", "rnn-lstm-token": "rnn", "rnn-lstm-above": "rnn", "rnn-gru": "rnn",
                 "transformer": "transformer", "imagegpt": "imagegpt", "mamba": "mamba"}  # fmt: skip
PIXELCNN_ROWS = ("pixelcnn-masked", "pixelcnn-gated")
PRIOR_ROWS = ("vqvae+transformer", "vqvae+rnn", "vqvae+pixelcnn", "vqvae+mamba")
ROWS = ("independent", *PIXEL_LM_ROWS, *PIXELCNN_ROWS, *PRIOR_ROWS)
LABELS = {
    "independent": "independent categorical per sub-pixel and class (counts)",
    "rnn-lstm": "RNN over pixels: `ARRNNForCausalLM`, LSTM",
    "rnn-lstm-token": "RNN over pixels: `ARRNNForCausalLM`, LSTM, class token only (no class bias)",
    "rnn-lstm-above": "RNN over pixels: `ARRNNForCausalLM`, LSTM, also reading the 3 sub-pixels above (`input_lags`)",
    "rnn-gru": "RNN over pixels: `ARRNNForCausalLM`, GRU",
    "transformer": "pixel transformer: `ARTransformerForCausalLM`",
    "imagegpt": "pixel transformer: `transformers` `ImageGPTForCausalImageModeling`",
    "mamba": "state-space model over pixels: `transformers` `MambaForCausalLM`",
    "pixelcnn-masked": "masked PixelCNN (blind spot)",
    "pixelcnn-gated": "gated PixelCNN",
    "vqvae+transformer": "VQ-VAE + `ARTransformerForCausalLM` prior",
    "vqvae+rnn": "VQ-VAE + `ARRNNForCausalLM` (LSTM) prior",
    "vqvae+pixelcnn": "VQ-VAE + gated PixelCNN prior",
    "vqvae+mamba": "VQ-VAE + `transformers` `MambaForCausalLM` prior",
}
DATASETS = {  # image size, levels, first-layer kernel of the PixelCNNs, VQ-VAE downsampling for one trained here
    "digits": dict(image_size=8, num_levels=17, first_kernel_size=5, downsample_factor=2),
    "mnist": dict(image_size=28, num_levels=256, first_kernel_size=7, downsample_factor=4),
}


@dataclass
class BenchmarkArguments:
    """Flags of the model-family benchmark."""

    output_dir: str = field(metadata={"help": "rows train under output_dir/<row>; figures cached in output_dir/rows."})
    dataset: str = field(default="digits", metadata={"choices": list(DATASETS)})
    rows: list[str] = field(default_factory=lambda: list(ROWS), metadata={"help": f"rows, of {', '.join(ROWS)}."})
    max_train_steps: int = field(default=800, metadata={"help": "optimizer steps of every trained row."})
    train_batch_size: int = field(default=32, metadata={"help": "batch of every trained row."})
    learning_rate: float = field(default=2e-3, metadata={"help": "peak AdamW learning rate (cosine) of every row."})
    dropout: float = field(default=0.1, metadata={"help": "dropout of every row that has dropout (not Mamba)."})
    hidden_size: int = field(default=128, metadata={"help": "width of the pixel LMs and the causal-LM priors."})
    pixelcnn_hidden_size: int = field(default=64, metadata={"help": "width of the PixelCNNs (pixels and prior)."})
    pixelcnn_layers: int = field(default=6, metadata={"help": "gated/masked layers of the PixelCNNs."})
    rnn_layers: int = field(default=2, metadata={"help": "layers of the RNNs (pixels and prior)."})
    transformer_layers: int = field(default=4, metadata={"help": "layers of the transformers (ours, ImageGPT)."})
    mamba_layers: int = field(
        default=2, metadata={"help": "layers of the Mamba models (their pure-PyTorch scan loops over time: slow)."}
    )
    vqvae: str | None = field(default=None, metadata={"help": "a saved VQ-VAE (MNIST: model_cards/vqvae-mnist); "
                                                              "default on digits: one trained here."})  # fmt: skip
    max_test_images: int | None = field(default=None, metadata={"help": "evaluate on the first N test images."})
    consistency_samples: int = field(default=100, metadata={"help": "samples per row for class consistency."})
    guidance_scales: list[float] = field(
        default_factory=list,
        metadata={"help": "also measure the class consistency of the RNN and transformer pixel LMs with class-"
                  "posterior guidance at these scales (seeds 1 and 2; choose on one, report the other)."},
    )  # fmt: skip
    data_dir: str | None = field(default=None, metadata={"help": "MNIST IDX files (else $HF_ARGEN_DATA_DIR)."})
    classifier_path: str | None = field(default=None, metadata={"help": "MNIST classifier state dict (trained "
                                                                         "there if missing)."})  # fmt: skip
    checkpointing_steps: int = field(default=200, metadata={"help": "checkpoint every N steps (resumable)."})
    timing_sizes: list[int] = field(
        default_factory=list,
        metadata={"help": "also time sampling per token of every pixel LM architecture (untrained, the rows' sizes) "
                  "for square images of these sizes, e.g. 8 28: where the cost per token stays flat."},
    )  # fmt: skip
    init_from: str | None = field(
        default=None,
        metadata={"help": "a saved pixel LM (e.g. a row folder of an earlier run) to start the pixel-LM rows from: a "
                  "warm restart, the run's steps one more cosine cycle; its config must be the row's."},
    )  # fmt: skip
    seed: int = 0
    num_threads: int | None = field(default=None, metadata={"help": "torch.set_num_threads."})

    def __post_init__(self):
        unknown = sorted(set(self.rows) - set(ROWS))
        if unknown:
            raise ValueError(f"--rows: unknown {unknown}; choose from {list(ROWS)}.")
        for name in ("max_train_steps", "train_batch_size", "consistency_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}.")


# ----------------------------------------------------------------------------------------------------------
# Data, classifiers
# ----------------------------------------------------------------------------------------------------------
def load_data(args: BenchmarkArguments) -> dict:
    """`{"train": {...}, "test": {...}}` of `pixel_values` (levels) and `class_labels`."""
    spec = DATASETS[args.dataset]
    processor = PixelCNNImageProcessor(num_levels=spec["num_levels"], num_channels=1, image_size=spec["image_size"])
    data = {
        split: load_tensors(args.dataset, split, processor, data_dir=args.data_dir)[0] for split in ("train", "test")
    }
    if args.max_test_images:
        data["test"] = {k: v[: args.max_test_images] for k, v in data["test"].items()}
    return data


def make_classifier(args: BenchmarkArguments, data: dict, num_levels: int):
    """`(classify(levels) -> predicted labels, test accuracy)`: logistic regression on the digits' training split, or
    the project's MNIST CNN (trained at `--classifier_path` if missing)."""
    if args.dataset == "digits":
        from sklearn.linear_model import LogisticRegression

        def features(levels):
            return levels.flatten(1).float().numpy() / (num_levels - 1)

        model = LogisticRegression(max_iter=2000).fit(features(data["train"]["pixel_values"]),
                                                      data["train"]["class_labels"].numpy())  # fmt: skip

        def classify(levels):
            return torch.as_tensor(model.predict(features(levels)))

    else:
        path = args.classifier_path or str(Path(args.output_dir, "mnist_classifier.pt"))
        cnn = load_mnist_classifier(path, data_dir=args.data_dir)

        def classify(levels):
            with torch.no_grad():
                return cnn(levels.float() / (num_levels - 1)).argmax(-1)

    accuracy = (classify(data["test"]["pixel_values"]) == data["test"]["class_labels"]).float().mean().item()
    return classify, accuracy


# ----------------------------------------------------------------------------------------------------------
# Training (shared by every row)
# ----------------------------------------------------------------------------------------------------------
def train_row(model, row_dir: Path, dataset, args: BenchmarkArguments, compute_loss=None) -> tuple:
    """Train `model` on the shared loop with the benchmark's budget (resuming from `row_dir`'s last checkpoint);
    returns `(trained model, {"train_seconds", "train_cpu_seconds", "resumed_from"})`. A row trained by an earlier
    run of the script (its `timing.json` written) is loaded from `row_dir` instead."""
    timing_path = row_dir / "timing.json"
    if timing_path.exists():
        return type(model).from_pretrained(row_dir), json.loads(timing_path.read_text())
    checkpoints = list_checkpoints(row_dir) if row_dir.exists() else []
    start_step = checkpoints[-1][0] if checkpoints else 0
    loop_args = LoopArguments(
        output_dir=str(row_dir), train_batch_size=args.train_batch_size, learning_rate=args.learning_rate,
        lr_scheduler="cosine", lr_warmup_steps=min(100, args.max_train_steps // 10), weight_decay=0.01,
        max_train_steps=args.max_train_steps, seed=args.seed, checkpointing_steps=args.checkpointing_steps,
        checkpoints_total_limit=1, resume_from_checkpoint="latest", logging_steps=100, device="cpu",
        torch_compile="false",
    )  # fmt: skip
    start, cpu_start = time.perf_counter(), time.process_time()
    TrainingLoop(model, loop_args, dataset, compute_loss=compute_loss).train()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    scale = args.max_train_steps / max(args.max_train_steps - start_step, 1)
    timing = {"train_seconds": seconds * scale, "train_cpu_seconds": cpu_seconds * scale, "resumed_from": start_step}
    atomic_write_text(timing_path, json.dumps(timing))
    return model, timing


def num_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def timed(fn):
    """`(fn(), wall seconds, CPU seconds of this process)`."""
    start, cpu_start = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - start, time.process_time() - cpu_start


def sample_labels(count: int, num_classes: int) -> torch.Tensor:
    return torch.arange(count) % num_classes


# ----------------------------------------------------------------------------------------------------------
# Rows
# ----------------------------------------------------------------------------------------------------------
def pixel_row_figures(report: dict, num_subpixels: int) -> dict:
    return {
        "bits_per_dim": report["bits_per_dim"],
        "marginal_bits_per_dim": report["marginal_bits_per_dim"],
        "bits_per_image": report["marginal_nats_per_image"] / math.log(2),
        "num_subpixels": num_subpixels,
    }


def run_independent(data: dict, context: dict) -> dict:
    """Per class: counts (+ 1/2) per sub-pixel and level; marginal over the training class frequencies."""
    x, y = data["train"]["pixel_values"], data["train"]["class_labels"]
    test_x, test_y = data["test"]["pixel_values"], data["test"]["class_labels"]
    num_levels, num_classes = context["num_levels"], context["num_classes"]
    per_class = torch.stack([independent_categorical_log_likelihood(x[y == c], test_x, num_levels)
                             for c in range(num_classes)], dim=1)  # fmt: skip
    prior = context["class_prior"]
    dims = test_x[0].numel()
    conditional = per_class.gather(1, test_y[:, None]).squeeze(1)
    marginal = torch.logsumexp(per_class + prior.log(), dim=1)
    report = {"bits_per_dim": -conditional.mean().item() / (dims * math.log(2)),
              "marginal_bits_per_dim": -marginal.mean().item() / (dims * math.log(2)),
              "marginal_nats_per_image": -marginal.mean().item()}  # fmt: skip
    probs = [(torch.bincount(x[y == c].flatten(1)[:, i], minlength=num_levels).double() + 0.5) for c in
             range(num_classes) for i in range(dims)]  # fmt: skip
    probs = torch.stack(probs).view(num_classes, dims, num_levels)

    def sample(labels, seed):
        generator = torch.Generator().manual_seed(seed)
        weights = probs[labels].reshape(-1, num_levels)
        return torch.multinomial(weights, 1, generator=generator).view(len(labels), *test_x.shape[1:])

    figures = pixel_row_figures(report, dims)
    figures.update(parameters=num_classes * dims * (num_levels - 1), train_steps=0, train_seconds=0.0)
    return figures, sample


def run_pixel_lm(row: str, data: dict, context: dict, args: BenchmarkArguments) -> tuple[dict, object]:
    vocabulary = PixelVocabulary(context["num_levels"], context["num_classes"])
    shape = tuple(data["train"]["pixel_values"].shape[1:])
    length = vocabulary.prefix_length + math.prod(shape)
    torch.manual_seed(args.seed)
    layers = {"rnn": args.rnn_layers, "mamba": args.mamba_layers}.get(PIXEL_LM_ROWS[row], args.transformer_layers)
    lags = row_above_lags(shape[0], shape[1]) if row == "rnn-lstm-above" else None
    model = build_pixel_lm(PIXEL_LM_ROWS[row], vocabulary, length, args.hidden_size, layers, 4,
                           "gru" if row == "rnn-gru" else "lstm", args.dropout,
                           class_bias=row != "rnn-lstm-token", input_lags=lags)  # fmt: skip
    set_image_layout(model.config, vocabulary, shape[0], shape[1])
    if args.init_from:
        warm_start(model, args.init_from)
    row_dir = Path(args.output_dir, row)
    model, timing = train_row(model, row_dir, TensorDictDataset(**data["train"]), args, pixel_lm_loss(vocabulary))
    model.eval()
    report = pixel_lm_likelihood_report(model, data["test"]["pixel_values"], data["test"]["class_labels"],
                                        context["class_prior"], batch_size=64)  # fmt: skip
    figures = pixel_row_figures(report, math.prod(shape))
    figures.update(parameters=num_parameters(model), **timing)

    def sample(labels, seed):
        return generate_pixels(model, class_labels=labels, seed=seed)

    if args.guidance_scales and PIXEL_LM_ROWS[row] in ("rnn", "transformer"):
        figures["guided_class_consistency"] = guided_consistency(model, context["classify"], context["num_classes"],
                                                                 args)  # fmt: skip
    return figures, sample


def warm_start(model, path: str) -> None:
    """Load the weights of the saved model at `path` into `model` (same class and config, else a ValueError)."""
    saved = type(model).from_pretrained(path)
    mine, theirs = model.config.to_diff_dict(), saved.config.to_diff_dict()
    metadata = {"transformers_version", "dtype", "architectures", "auto_map", "id2label", "label2id"}  # not weights
    differing = sorted(k for k in (set(mine) | set(theirs)) - metadata if mine.get(k) != theirs.get(k))
    if differing:
        raise ValueError(f"--init_from {path!r}: its config differs from the row's in {differing}.")
    model.load_state_dict(saved.state_dict())


def run_and_row(path: str) -> str:
    """`<run folder>/<row>` of a saved row's path: how figures and cards name it (no machine path)."""
    return Path(*Path(path).parts[-2:]).as_posix()


def guided_consistency(model, classify, num_classes: int, args: BenchmarkArguments) -> dict:
    """`{scale: {"seed_1": ..., "seed_2": ...}}`: class consistency of `--consistency_samples` samples drawn with
    class-posterior guidance (`generate_pixels_guided`) at each `--guidance_scales` scale, for two sampling seeds."""
    labels = sample_labels(args.consistency_samples, num_classes)
    return {
        str(scale): {
            f"seed_{seed}": class_consistency_of(
                classify, generate_pixels_guided(model, labels, scale, seed=seed), labels
            )
            for seed in (1, 2)
        }
        for scale in args.guidance_scales
    }


def run_pixelcnn(row: str, data: dict, context: dict, args: BenchmarkArguments) -> tuple[dict, object]:
    spec = DATASETS[args.dataset]
    torch.manual_seed(args.seed)
    model = PixelCNNForImageGeneration(PixelCNNConfig(
        image_size=spec["image_size"], num_channels=1, num_levels=spec["num_levels"],
        num_classes=context["num_classes"], hidden_size=args.pixelcnn_hidden_size,
        num_hidden_layers=args.pixelcnn_layers, kernel_size=3, first_kernel_size=spec["first_kernel_size"],
        output_hidden_size=2 * args.pixelcnn_hidden_size, architecture=row.split("-")[1], dropout=args.dropout,
    ))  # fmt: skip
    model, timing = train_row(model, Path(args.output_dir, row), TensorDictDataset(**data["train"]), args,
                              pixelcnn_loss)  # fmt: skip
    model.eval()
    report = pixelcnn_likelihood_report(model, data["test"]["pixel_values"], data["test"]["class_labels"],
                                        context["class_prior"], batch_size=16)  # fmt: skip
    figures = pixel_row_figures(report, model.config.num_subpixels)
    figures.update(parameters=num_parameters(model), **timing)

    def sample(labels, seed):
        return model.generate(class_labels=labels, seed=seed).cpu()

    return figures, sample


def vqvae_for(args: BenchmarkArguments, data: dict) -> tuple[VQVAEModel, dict]:
    """The VQ-VAE of the two-stage rows (`--vqvae`, or one trained here: same budget as a row) and its test figures."""
    num_levels = DATASETS[args.dataset]["num_levels"]
    if args.vqvae:
        vqvae = VQVAEModel.from_pretrained(args.vqvae)
        timing = {}
    else:
        spec = DATASETS[args.dataset]
        torch.manual_seed(args.seed)
        vqvae = VQVAEModel(VQVAEConfig(
            image_size=spec["image_size"], num_embeddings=64, embedding_dim=16, hidden_size=64,
            num_residual_layers=2, residual_hidden_size=32, downsample_factor=spec["downsample_factor"],
            dead_code_steps=50,
        ))  # fmt: skip
        floats = levels_to_unit_range(data["train"]["pixel_values"], num_levels)
        vqvae_args = BenchmarkArguments(**{**asdict(args), "learning_rate": 1e-3})
        vqvae, timing = train_row(vqvae, Path(args.output_dir, "vqvae"), TensorDictDataset(pixel_values=floats),
                                  vqvae_args)  # fmt: skip
    vqvae.eval()
    figures = evaluate_vqvae(vqvae, levels_to_unit_range(data["test"]["pixel_values"], num_levels))
    return vqvae, {**figures, **timing, "parameters": num_parameters(vqvae), "source": args.vqvae or "trained here"}


@torch.no_grad()
def code_maps(vqvae, pixel_values: torch.Tensor, num_levels: int, batch_size: int = 500) -> torch.Tensor:
    """Integer images `(N, C, H, W)` -> code maps `(N, h, w)` of the (eval-mode) VQ-VAE."""
    floats = levels_to_unit_range(pixel_values, num_levels)
    return torch.cat([vqvae.encode(floats[start : start + batch_size]) for start in range(0, len(floats), batch_size)])


def prior_scorer(prior, vocabulary: PriorVocabulary):
    """`score(codes (B, 1, h, w), y) -> (B,)` exact log p(codes | y) (the causal LMs' softmax over codes only)."""

    def score(codes, y):
        if getattr(prior.config, "model_type", None) == "pixelcnn":
            return prior.log_likelihood(codes, y)
        prefix = vocabulary.class_tokens(y)[:, None].to(codes.device)
        return causal_lm_log_likelihood(prior, prefix, codes.flatten(1), vocabulary.num_codes)

    return score


def run_prior(row: str, data: dict, context: dict, args: BenchmarkArguments) -> tuple[dict, object]:
    vqvae, num_levels = context["vqvae"], context["num_levels"]
    vocabulary = PriorVocabulary(num_codes=vqvae.config.num_embeddings, num_classes=context["num_classes"])
    train_codes = context.setdefault("train_codes", code_maps(vqvae, data["train"]["pixel_values"], num_levels))
    test_codes = context.setdefault("test_codes", code_maps(vqvae, data["test"]["pixel_values"], num_levels))
    sequences = vocabulary.sequences(train_codes, data["train"]["class_labels"])
    kind = row.split("+")[1]
    torch.manual_seed(args.seed)
    layers = {"rnn": args.rnn_layers, "pixelcnn": args.pixelcnn_layers, "mamba": args.mamba_layers}.get(
        kind, args.transformer_layers
    )
    hidden = args.pixelcnn_hidden_size if kind == "pixelcnn" else args.hidden_size
    prior = build_prior(kind, vocabulary, sequences.shape[1], hidden, layers, 4, 0.0 if kind == "mamba" else
                        args.dropout, "lstm", 3)  # fmt: skip
    if kind == "pixelcnn":
        dataset = TensorDictDataset(**pixelcnn_inputs(sequences, vocabulary))
    else:
        dataset = TensorDictDataset(input_ids=sequences, labels=sequences)
    prior, timing = train_row(prior, Path(args.output_dir, row), dataset, args)
    prior.eval()
    report = likelihood_report(
        prior_scorer(prior, vocabulary), test_codes[0].numel(), context["num_classes"], test_codes[:, None],
        data["test"]["class_labels"], context["class_prior"], 64,
    )  # fmt: skip
    figures = {
        "nats_per_code": report["nats_per_image"] / test_codes[0].numel(),
        "marginal_nats_per_code": report["marginal_nats_per_image"] / test_codes[0].numel(),
        "bits_per_image": report["marginal_nats_per_image"] / math.log(2),
        "parameters": num_parameters(prior), "vqvae_parameters": num_parameters(vqvae), **timing,
    }  # fmt: skip
    two_stage = VQVAEPriorForImageGeneration(
        VQVAEPriorConfig(vqvae=vqvae.config, prior=prior.config, num_classes=vocabulary.num_classes),
        vqvae=vqvae, prior=prior,
    ).eval()  # fmt: skip

    def sample(labels, seed):
        return unit_range_to_levels(two_stage.generate(class_labels=labels, seed=seed).cpu(), num_levels)

    return figures, sample


# ----------------------------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------------------------
def measure_sampling(sample, classify, num_classes: int, args: BenchmarkArguments) -> dict:
    """Seconds for 16 images in one call (seed 0), and class consistency of `--consistency_samples` samples."""
    _, seconds, cpu_seconds = timed(lambda: sample(sample_labels(16, num_classes), 0))
    labels = sample_labels(args.consistency_samples, num_classes)
    images = sample(labels, 1)
    consistency = class_consistency_of(classify, images, labels)
    return {"sample_16_seconds": seconds, "sample_16_cpu_seconds": cpu_seconds, "class_consistency": consistency}


def class_consistency_of(classify, images, labels) -> float:
    return (classify(images) == labels).float().mean().item()


def run_row(row: str, data: dict, context: dict, args: BenchmarkArguments) -> dict:
    if row == "independent":
        figures, sample = run_independent(data, context)
    elif row in PIXEL_LM_ROWS:
        figures, sample = run_pixel_lm(row, data, context, args)
    elif row in PIXELCNN_ROWS:
        figures, sample = run_pixelcnn(row, data, context, args)
    else:
        figures, sample = run_prior(row, data, context, args)
    figures.update(measure_sampling(sample, context["classify"], context["num_classes"], args))
    figures.update(row=row, model=LABELS[row], train_steps=0 if row == "independent" else args.max_train_steps,
                   train_batch_size=args.train_batch_size)  # fmt: skip
    if args.init_from and row in PIXEL_LM_ROWS:
        figures["init_from"] = run_and_row(args.init_from)
    return figures


def fmt(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def table_markdown(rows: list[dict], header: str) -> str:
    lines = [
        header,
        "",
        "| model | test bits/dim: conditional / **marginal** | nats/code: conditional / **marginal** | bits/image "
        "(marginal) | sample 16: wall / CPU (s) | class consistency | parameters | steps x batch | train time: wall / "
        "CPU (min) | published |",
        "|---|---|---|---:|---:|---:|---:|---|---:|---|",
    ]
    for r in rows:
        bpd = f"{r['bits_per_dim']:.3f} / **{r['marginal_bits_per_dim']:.3f}**" if "bits_per_dim" in r else "—"
        npc = f"{r['nats_per_code']:.3f} / **{r['marginal_nats_per_code']:.3f}**" if "nats_per_code" in r else "—"
        params = f"{r['parameters']:,}" + (f" (+ VQ-VAE {r['vqvae_parameters']:,})" if "vqvae_parameters" in r else "")
        steps = f"{r['train_steps']:,} x {r['train_batch_size']}" if r["train_steps"] else "counts"
        seconds = r.get("train_seconds", 0.0)
        train = "—"
        if seconds:
            train = f"{seconds / 60:.1f} / {r['train_cpu_seconds'] / 60:.1f}" + (
                " (resumed)" if r.get("resumed_from") else ""
            )
        sampling = f"{r['sample_16_seconds']:.2f} / {r['sample_16_cpu_seconds']:.2f}"
        lines.append(
            f"| {r['model']} | {bpd} | {npc} | {r['bits_per_image']:.1f} | {sampling} | "
            f"{100 * r['class_consistency']:.0f} % | {params} | {steps} | {train} | {r.get('published', '—')} |"
        )
    return "\n".join(lines)


def per_token_sampling(args: BenchmarkArguments, num_levels: int, num_classes: int) -> list[dict]:
    """ms per generated token (wall and CPU) of 16 images drawn in one `generate()` call by each pixel LM architecture
    (untrained: the cost does not depend on the weights) at every `--timing_sizes` image size."""
    rows = []
    vocabulary = PixelVocabulary(num_levels, num_classes)
    for row, model_type in PIXEL_LM_ROWS.items():
        if row in ("rnn-gru", "rnn-lstm-token", "rnn-lstm-above"):
            continue
        layers = {"rnn": args.rnn_layers, "mamba": args.mamba_layers}.get(model_type, args.transformer_layers)
        result = {"row": row, "model": LABELS[row]}
        for size in args.timing_sizes:
            torch.manual_seed(args.seed)
            model = build_pixel_lm(model_type, vocabulary, 2 + size * size, args.hidden_size, layers, 4).eval()
            sample = functools.partial(generate_pixels, model, sample_labels(16, num_classes), seed=0,
                                       vocabulary=vocabulary, image_shape=(1, size, size))  # fmt: skip
            sample()  # warm-up (first-call allocations and kernel selection), untimed
            _, wall, cpu = timed(sample)
            result[str(size)] = {"ms_per_token": 1000 * wall / (size * size), "cpu_ms_per_token": 1000 * cpu / size**2}
        rows.append(result)
    return rows


def per_token_markdown(rows: list[dict], sizes: list[int]) -> str:
    head = " | ".join(f"{s}x{s} ({s * s} tokens): wall / CPU ms per token" for s in sizes)
    lines = [f"| model (untrained, the rows' sizes; 16 images per call) | {head} |", "|---|" + "---:|" * len(sizes)]
    for r in rows:
        cells = " | ".join(f"{r[str(s)]['ms_per_token']:.2f} / {r[str(s)]['cpu_ms_per_token']:.2f}" for s in sizes)
        lines.append(f"| {r['model']} | {cells} |")
    return "\n".join(lines)


def parse_args(argv=None) -> BenchmarkArguments:
    return CommandParser(BenchmarkArguments, description=__doc__).parse_args_into_dataclasses(args=argv)[0]


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    logging.getLogger("accelerate").setLevel(logging.WARNING)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    out = Path(args.output_dir)
    (out / "rows").mkdir(parents=True, exist_ok=True)
    data = load_data(args)
    num_levels = DATASETS[args.dataset]["num_levels"]
    num_classes = int(data["train"]["class_labels"].max()) + 1
    classify, accuracy = make_classifier(args, data, num_levels)
    context = dict(num_levels=num_levels, num_classes=num_classes, classify=classify,
                   class_prior=class_frequencies(data["train"]["class_labels"], num_classes))  # fmt: skip
    vqvae_figures = None
    if any(row in PRIOR_ROWS for row in args.rows):
        context["vqvae"], vqvae_figures = vqvae_for(args, data)
        atomic_write_text(out / "vqvae.json", json.dumps(vqvae_figures, indent=2))
    results = []
    for row in args.rows:
        path = out / "rows" / f"{row}.json"
        if path.exists():
            results.append(json.loads(path.read_text()))
            continue
        logger.info("row %s", row)
        results.append(run_row(row, data, context, args))
        atomic_write_text(path, json.dumps(results[-1], indent=2))
    shape = tuple(data["train"]["pixel_values"].shape[1:])
    warm_restart = ""
    if args.init_from:
        warm_restart = f"pixel LMs started from the saved `{run_and_row(args.init_from)}` (warm restart); "
    header = (
        f"{args.dataset}: {shape[1]}x{shape[2]}, {num_levels} levels; train {len(data['train']['pixel_values']):,} / "
        f"test {len(data['test']['pixel_values']):,} images; every row {args.max_train_steps:,} steps x "
        f"{args.train_batch_size} (AdamW {args.learning_rate:g}, cosine), dropout {args.dropout}, seed {args.seed}; "
        + warm_restart
        + f"class consistency of {args.consistency_samples} samples (classifier test accuracy {100 * accuracy:.1f} %); "
        f"{platform.machine()} CPU, {torch.get_num_threads()} thread(s), torch {torch.__version__}"
    )
    if vqvae_figures:
        header += (
            f"\n\nVQ-VAE ({vqvae_figures['source']}; {vqvae_figures['parameters']:,} parameters): test PSNR "
            f"{vqvae_figures['psnr']:.2f} dB, {vqvae_figures['codes_used']} codes used, perplexity "
            f"{vqvae_figures['perplexity']:.1f}, {vqvae_figures['bits_per_image']:.0f} bits per code map"
        )
    table = table_markdown(results, header)
    if args.timing_sizes:
        timing_path = out / "per_token.json"
        if not timing_path.exists():
            atomic_write_text(timing_path, json.dumps(per_token_sampling(args, num_levels, num_classes), indent=2))
        table += "\n\n" + per_token_markdown(json.loads(timing_path.read_text()), args.timing_sizes)
    print(table)
    atomic_write_text(out / "table.md", table + "\n")
    atomic_write_text(out / "table.json", json.dumps({"header": header, "rows": results}, indent=2))
    return results


if __name__ == "__main__":
    run_cli(main)
