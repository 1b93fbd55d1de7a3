"""Latent-prior recipe: encode images to VQ-VAE code maps once (cached as a `datasets` dataset), turn them into
class-prefixed token sequences, and train / evaluate a causal LM prior on them with the shared loop.

Used by `training/train_prior.py` (:func:`train_prior`) and `hf-argen evaluate`.

Token layout (:class:`PriorVocabulary`) for a VQ-VAE with ``K`` codes and ``C`` classes::

    ids [0, K)          codes, in raster order (row by row) of the (h, w) code map
    ids [K, K + C)      class tokens; class c is K + c
    id  K + C           pad (never trained on; only there because `generate()` wants one)

A sequence is ``[class token] + h * w codes`` (50 tokens for a 7x7 map). The class token plays the part of
BOS, so position t of the LM predicts code t: the LM loss over a sequence is exactly the mean NLL per code.

Metrics: ``nll_per_code`` (nats, mean over every code of the split) and ``bits_per_image``
= ``nll_per_code * h * w / ln 2``; compare with the uniform bound ``h * w * log2(K)``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForCausalLM

from ..atomic import atomic_save_pretrained
from ..data import column_array
from ..hub import CardImage, read_hub_training_info, read_training_info
from ..models import (
    ARRNNConfig,
    ARRNNForCausalLM,
    ARTransformerConfig,
    ARTransformerForCausalLM,
    ClassConditionalImageGenerationPipeline,
    PixelCNNConfig,
    PixelCNNForImageGeneration,
    VQImageGenerationPipeline,
    VQVAEPriorForImageGeneration,
)
from ..models.vocabulary import PriorVocabulary
from ..training.arguments import CausalLMSizeArguments, DataArguments, RunArguments
from ..training.loop import TrainingLoop, TrainResult, evaluate_across_processes, make_accelerator
from .cards import final_eval_figures, keep_last_grid, prior_card_metrics, publish_run
from .codes import CODES_COLUMN, CodesCacheArguments, encode_dataset_codes
from .datasets import load_images
from .vqvae import load_vqvae

logger = logging.getLogger(__name__)

# `training/train_prior.py`'s defaults for the shared flags (`--help` shows them).
TRAINING_DEFAULTS = dict(
    torch_compile="false",  # compiling this model on CUDA is not yet verified; --torch_compile true opts in
    dataset_name=None,  # the VQ-VAE's (`with_vqvae_data`)
    train_batch_size=64,
    eval_batch_size=500,
    learning_rate=1e-3,
    lr_scheduler="cosine",
    lr_warmup_steps=100,
    num_train_epochs=1,
    checkpointing_steps=500,
    checkpoints_total_limit=2,
)

PRIOR_TYPES = ("transformer", "rnn", "pixelcnn", "gpt2", "llama", "mamba")
# Priors that are `transformers`' own causal LMs, built with `AutoConfig.for_model` + `AutoModelForCausalLM`.
TRANSFORMERS_PRIOR_TYPES = ("gpt2", "llama", "mamba")
CAUSAL_LM_PRIOR_TYPES = ("transformer", "rnn", *TRANSFORMERS_PRIOR_TYPES)


# ----------------------------------------------------------------------------------------------------------
# Encoding the dataset once
# ----------------------------------------------------------------------------------------------------------
def dataset_to_tensors(dataset) -> tuple[torch.LongTensor, torch.LongTensor]:
    """A code dataset (:func:`hf_argen.recipes.codes.encode_dataset_codes`) -> codes `(N, h, w)` and labels `(N,)`
    (long; all 0 when it has no `label` column: one class)."""
    table = dataset.with_format("torch")[:]
    codes = table[CODES_COLUMN].long()
    labels = table["label"].long() if "label" in table else torch.zeros(len(codes), dtype=torch.long)
    return codes, labels


def code_labels(dataset) -> torch.LongTensor:
    """The `label` column of a code dataset as a long tensor `(N,)` (all 0 without one: one class)."""
    if "label" not in dataset.column_names:
        return torch.zeros(len(dataset), dtype=torch.long)
    return torch.as_tensor(column_array(dataset, "label"), dtype=torch.long)


class CodeSequences(torch.utils.data.Dataset):
    """The rows of a code dataset (:func:`hf_argen.recipes.codes.encode_dataset_codes`) as the prior's training
    batches, built one batch at a time from the (memory-mapped) codes: ``{"input_ids", "labels"}`` token sequences
    `(B, 1 + h*w)` (:class:`PriorVocabulary`), or for a PixelCNN prior its inputs (:func:`pixelcnn_inputs`). Only the
    labels (one int64 per row) are held in memory. Batches come whole (``batched = True``)."""

    batched = True

    def __init__(self, dataset, vocabulary: PriorVocabulary, labels: torch.Tensor | None = None, pixelcnn=False):
        self.codes = dataset.select_columns([CODES_COLUMN]).with_format("numpy")
        self.labels = code_labels(dataset) if labels is None else torch.as_tensor(labels, dtype=torch.long)
        self.vocabulary, self.pixelcnn = vocabulary, pixelcnn
        height, width = dataset.features[CODES_COLUMN].shape
        self.sequence_length = 1 + height * width

    def __len__(self) -> int:
        return len(self.labels)

    def sequences(self, indices) -> torch.LongTensor:
        """Token sequences `(B, 1 + h*w)` of rows `indices`."""
        index = torch.as_tensor(np.asarray(indices, dtype=np.int64).reshape(-1))
        codes = torch.from_numpy(np.asarray(self.codes[index.tolist()][CODES_COLUMN]))
        return self.vocabulary.sequences(codes, self.labels[index])

    def __getitems__(self, indices) -> dict:
        sequences = self.sequences(indices)
        if self.pixelcnn:
            return pixelcnn_inputs(sequences, self.vocabulary)
        return {"input_ids": sequences, "labels": sequences}

    def __getitem__(self, index) -> dict:
        """A batch of rows (a sequence or tensor of ints), or one row (an int: without the batch dimension)."""
        if isinstance(index, (int, np.integer)):
            return {name: value[0] for name, value in self.__getitems__([int(index)]).items()}
        return self.__getitems__(index)


def load_code_dataset(
    vqvae,
    dataset_name: str,
    split: str = "train",
    cache_dir: str | Path | None = None,
    data_dir=None,
    image_column: str | None = None,
    label_column: str | None = None,
    progress: bool = True,
    cache: bool = True,
):
    """The code dataset (columns `codes` and, when the images have labels, `label`) of `split` of an image dataset
    (any name :func:`hf_argen.recipes.datasets.load_images` loads) under `vqvae`: encoded once and cached
    (:func:`hf_argen.recipes.codes.encode_dataset_codes`; `cache_dir` None: the default cache)."""
    images = load_images(dataset_name, split=split, data_dir=data_dir, image_column=image_column,
                         label_column=label_column)  # fmt: skip
    columns = ["label"] if "label" in images.column_names else []
    return encode_dataset_codes(vqvae, images, columns=columns, cache_dir=cache_dir, cache=cache,
                                name=f"{dataset_name}-{split}", progress=progress)  # fmt: skip


# ----------------------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------------------
def build_prior(
    prior_type: str,
    vocabulary: PriorVocabulary,
    sequence_length: int,
    hidden_size: int = 128,
    num_hidden_layers: int = 4,
    num_attention_heads: int = 4,
    hidden_dropout: float = 0.0,
    cell_type: str = "lstm",
    kernel_size: int = 3,
):
    """A freshly initialised prior: `ARTransformerForCausalLM` / `ARRNNForCausalLM` over class-prefixed token
    sequences of length `sequence_length`, or (``"pixelcnn"``) a class-conditional gated
    `PixelCNNForImageGeneration` over the `(h, w)` code map with `num_levels = num_codes`, where
    ``h * w = sequence_length - 1``, reading the codes through a learned embedding (``input_embedding=True``:
    codes are unordered ids, not intensities) with `kernel_size` x `kernel_size` gated layers. `"gpt2"`,
    `"llama"` and `"mamba"` are `transformers`' own causal LMs of the same width and depth."""

    special = dict(
        vocab_size=vocabulary.vocab_size,
        pad_token_id=vocabulary.pad_token_id,
        bos_token_id=None,
        eos_token_id=None,
    )
    if prior_type in CAUSAL_LM_PRIOR_TYPES:
        return build_causal_lm_prior(prior_type, special, sequence_length, hidden_size, num_hidden_layers,
                                     num_attention_heads, hidden_dropout, cell_type)  # fmt: skip
    if prior_type == "pixelcnn":
        size = math.isqrt(sequence_length - 1)
        if size * size != sequence_length - 1:
            raise ValueError(f"`sequence_length` must be 1 + a square for a PixelCNN prior, got {sequence_length}.")
        config = PixelCNNConfig(
            image_size=size,
            num_channels=1,
            num_levels=vocabulary.num_codes,
            num_classes=vocabulary.num_classes,
            hidden_size=hidden_size,
            num_hidden_layers=num_hidden_layers,
            output_hidden_size=2 * hidden_size,
            kernel_size=kernel_size,
            dropout=hidden_dropout,
            input_embedding=True,
        )
        return PixelCNNForImageGeneration(config)
    raise ValueError(f"`prior_type` must be one of {PRIOR_TYPES}, got {prior_type!r}.")


def prior_of_flags(flags: PriorArguments, vocabulary, sequence_length: int):
    """:func:`build_prior` of `--prior` with the sizes of the flags (:class:`PriorArguments`)."""
    return build_prior(flags.prior, vocabulary, sequence_length, flags.hidden_size, flags.num_hidden_layers,
                       flags.num_attention_heads, flags.dropout, flags.cell_type, flags.kernel_size)  # fmt: skip


def build_causal_lm_prior(
    prior_type: str,
    special: dict,
    sequence_length: int,
    hidden_size: int,
    num_hidden_layers: int,
    num_attention_heads: int,
    hidden_dropout: float,
    cell_type: str,
):
    """A causal LM as a code prior (`special`: vocab size and token ids): hf_argen's `ARTransformerForCausalLM`
    (``"transformer"``) or `ARRNNForCausalLM` (``"rnn"``, of `cell_type`), or `transformers`' GPT-2, Llama or Mamba."""

    sizes = dict(hidden_size=hidden_size, num_hidden_layers=num_hidden_layers, **special)
    if prior_type == "transformer":
        config = ARTransformerConfig(num_attention_heads=num_attention_heads, max_position_embeddings=sequence_length,
                                     hidden_dropout=hidden_dropout, **sizes)  # fmt: skip
        return ARTransformerForCausalLM(config)
    if prior_type == "rnn":
        return ARRNNForCausalLM(ARRNNConfig(cell_type=cell_type, hidden_dropout=hidden_dropout, **sizes))
    if prior_type == "gpt2":
        extra = dict(num_attention_heads=num_attention_heads, max_position_embeddings=sequence_length,
                     resid_pdrop=hidden_dropout, embd_pdrop=hidden_dropout, attn_pdrop=hidden_dropout)  # fmt: skip
    elif prior_type == "llama":
        extra = dict(num_attention_heads=num_attention_heads, num_key_value_heads=num_attention_heads,
                     intermediate_size=4 * hidden_size, max_position_embeddings=sequence_length,
                     attention_dropout=hidden_dropout)  # fmt: skip
    else:  # mamba: no attention, no positions; its parallel scan in pure PyTorch where `mambapy` is installed
        extra = {"use_mambapy": True}
    return AutoModelForCausalLM.from_config(AutoConfig.for_model(prior_type, **sizes, **extra))


# ----------------------------------------------------------------------------------------------------------
# Metrics and hooks
# ----------------------------------------------------------------------------------------------------------
@torch.no_grad()
def is_pixelcnn_prior(prior) -> bool:
    return getattr(prior.config, "model_type", None) == "pixelcnn"


def pixelcnn_inputs(sequences: torch.Tensor, vocabulary: PriorVocabulary) -> dict:
    """Token sequences `(N, 1 + h*w)` -> PixelCNN training inputs: code maps `(N, 1, h, w)` and class labels."""
    size = math.isqrt(sequences.shape[1] - 1)
    codes = sequences[:, 1:].reshape(-1, 1, size, size)
    return {
        "pixel_values": codes,
        "class_labels": sequences[:, 0] - vocabulary.class_token_offset,
        "labels": codes,
    }


@torch.no_grad()
def nll_statistics(prior, sequences: torch.Tensor, batch_size: int = 500, prompt_length: int = 1) -> dict:
    """Summed NLL (nats, float64) of every code of `sequences` `(N, prompt_length + L)` under `prior`, and the code
    count: the tokens after the first `prompt_length` (the class token; a text-to-image prompt). A PixelCNN prior
    reads the class from the class token (`num_levels` = the number of codes)."""

    was_training = prior.training
    prior.eval()
    total = torch.zeros((), dtype=torch.float64)
    try:
        device = next(prior.parameters()).device
        for start in range(0, len(sequences), batch_size):
            batch = sequences[start : start + batch_size].to(device)
            if is_pixelcnn_prior(prior):
                inputs = pixelcnn_inputs(batch, PriorVocabulary(prior.config.num_levels, prior.config.num_classes))
                total -= prior.log_likelihood(inputs["pixel_values"], inputs["class_labels"]).double().sum().cpu()
                continue
            logits = prior(input_ids=batch, use_cache=False).logits[:, prompt_length - 1 : -1].float()
            targets = batch[:, prompt_length:].reshape(-1)
            nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets, reduction="sum")
            total += nll.double().cpu()
    finally:
        prior.train(was_training)
    count = float(sequences.shape[0] * (sequences.shape[1] - prompt_length))
    return {"nll_sum": total, "num_codes": torch.tensor(count, dtype=torch.float64)}


def summarize_nll(statistics: dict, codes_per_image: int) -> dict:
    """Summed NLL -> ``nll_per_code`` (nats) and ``bits_per_image``."""
    nll_per_code = (statistics["nll_sum"] / statistics["num_codes"].clamp(min=1.0)).item()
    return {"nll_per_code": nll_per_code, "bits_per_image": nll_per_code * codes_per_image / math.log(2)}


def evaluate_prior(prior, sequences: torch.Tensor, batch_size: int = 500) -> dict:
    """Test NLL of `prior` on token `sequences` `(N, 1 + L)`: nats per code and bits per image."""
    return summarize_nll(nll_statistics(prior, sequences, batch_size), sequences.shape[1] - 1)


def make_eval_fn(sequences: torch.Tensor, batch_size: int = 500, prefix: str = "eval_", prompt_length: int = 1):
    """Eval hook for the shared loop: :func:`evaluate_prior`, sharded over processes and summed."""

    def eval_fn(model, accelerator):
        def statistics(index):
            return nll_statistics(model, sequences[index], batch_size=max(len(index), 1), prompt_length=prompt_length)

        statistics = evaluate_across_processes(accelerator, len(sequences), batch_size, statistics, desc="eval NLL")
        metrics = summarize_nll(statistics, sequences.shape[1] - prompt_length)
        return {f"{prefix}{name}": value for name, value in metrics.items()}

    return eval_fn


def make_sample_fn(vqvae, vocabulary: PriorVocabulary, num_per_class: int = 2, seed: int = 0):
    """Sample hook: a grid (one column per class) of images decoded from prior samples."""

    def sample_fn(model, step):

        pipe = VQImageGenerationPipeline(vqvae=vqvae, prior=model, num_classes=vocabulary.num_classes)
        return pipe.sample_grid(num_per_class=num_per_class, generator=torch.Generator().manual_seed(seed))

    return sample_fn


# ----------------------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------------------
@dataclass
class PriorArguments(CausalLMSizeArguments, CodesCacheArguments):
    """Flags of `training/train_prior.py` beyond the shared ones (the prior's size: :class:`CausalLMSizeArguments`; the
    codes' cache: :class:`CodesCacheArguments`)."""

    shared_flag_help: ClassVar[dict] = {
        "dataset_name": "the images whose codes train the prior (default: the dataset the VQ-VAE was trained on, "
        "recorded in its training_info.json); any name --dataset_name of train_vqvae.py takes."
    }

    vqvae: str | None = field(
        default=None, metadata={"help": "the trained VQ-VAE, a saved folder or Hub id (required; e.g. out/vqvae)."}
    )
    vqvae_image_size: int | None = field(
        default=None,
        metadata={"help": "run the VQ-VAE's weights on images of this size (default: its own; a multiple of its "
                  "downsample_factor): e.g. vqvae-mnist on 32x32 scenes gives 8x8 code maps."},
    )  # fmt: skip
    num_classes: int | None = field(
        default=None, metadata={"help": "class tokens of the prior (default: max label + 1 of the training data)."}
    )
    prior: str = field(
        default="transformer",
        metadata={
            "help": "the prior: hf_argen's transformer, rnn (--cell_type), pixelcnn (over the code map); "
            "transformers' gpt2, llama, mamba of the same size.",
            "choices": list(PRIOR_TYPES),
        },  # fmt: skip
    )
    kernel_size: int = field(default=3, metadata={"help": "pixelcnn only: odd kernel size of the gated layers."})
    condition_dropout: float = field(
        default=0.0,
        metadata={"help": "probability that training drops an example's condition (the caption: the empty caption; "
                  "the class: a null class, causal LM priors), so that sampling can use guidance_scale."},
    )  # fmt: skip
    caption_column: str | None = field(
        default=None,
        metadata={"help": "train a text-to-image model on this caption column ('text' for mnist_scenes, emoji and "
                  "imagefolders with metadata.jsonl); unset: a class-conditional prior."},
    )  # fmt: skip
    max_text_length: int | None = field(
        default=None, metadata={"help": "text-to-image: prompt length (default: the longest training caption + 2)."}
    )
    num_scenes: int | None = field(default=None, metadata={"help": "mnist_scenes: scenes to compose per split."})
    guidance_scale: float | None = field(
        default=None, metadata={"help": "the saved model's default guidance scale (generation_config.json)."}
    )

    def __post_init__(self):
        if not self.vqvae:
            raise ValueError("--vqvae is required: the trained VQ-VAE (a folder saved by train_vqvae.py, or a Hub id).")


def vqvae_data_record(vqvae: str) -> dict | None:
    """The data the VQ-VAE `vqvae` (a folder or Hub id) was trained on, as its training run recorded it in
    ``training_info.json`` (``data``: dataset name, split, data folder, image column; older runs: ``dataset``), or
    None."""
    info = read_training_info(vqvae) if Path(vqvae).is_dir() else read_hub_training_info(vqvae)
    if info.get("data", {}).get("dataset_name"):
        return info["data"]
    return {"dataset_name": info["dataset"]} if info.get("dataset") else None


def with_vqvae_data(data: DataArguments, vqvae: str) -> DataArguments:
    """`data` with `--dataset_name` (and the split, data folder and image column) defaulting to those the VQ-VAE was
    trained on; a ValueError naming `--dataset_name` when it is unset and the VQ-VAE records none."""
    if data.dataset_name:
        return data
    record = vqvae_data_record(vqvae)
    if record is None:
        raise ValueError(
            f"--dataset_name is required: the VQ-VAE {vqvae!r} does not record the images it was trained on "
            "(no training_info.json); pass the dataset the VQ-VAE was trained on."
        )
    fields = ("dataset_name", "dataset_split", "data_dir", "image_column")
    recorded = {k: record[k] for k in fields if record.get(k) is not None}
    if data.data_dir is not None or data.image_column is not None:  # the user's own choices win
        recorded = {k: v for k, v in recorded.items() if getattr(data, k) is None or k == "dataset_name"}
    logger.info("training on the VQ-VAE's data: %s", ", ".join(f"{k}={v}" for k, v in recorded.items()))
    return dataclasses.replace(data, **recorded)


@dataclass
class PriorData:
    """What :func:`build_data` prepares: the training code maps (the cached code dataset, read one batch at a time:
    :class:`CodeSequences`), class-prefixed token sequences `(N, 1 + h*w)` to evaluate on (`eval` None: no
    evaluation), the vocabulary and the class names (`id2label`, or None)."""

    train: CodeSequences
    eval: torch.Tensor | None
    vocabulary: PriorVocabulary
    id2label: dict | None


def build_data(data: DataArguments, run: RunArguments, flags: PriorArguments, vqvae, accelerator) -> PriorData:
    """Build data: the code maps of the training (and eval) images under `vqvae`, encoded once by the main process
    and cached (:func:`load_code_dataset`), as token sequences; class names from the data's labels."""
    load = dict(
        cache_dir=flags.cache_dir,
        data_dir=data.data_dir,
        image_column=data.image_column,
        label_column=data.label_column,
        progress=accelerator.is_local_main_process,
    )
    with accelerator.main_process_first():  # the main process encodes and writes the cache, the others read it
        train_set = load_code_dataset(vqvae, data.dataset_name, data.dataset_split, **load)
        train_set, eval_set = data.split_off_eval(
            train_set, lambda split: load_code_dataset(vqvae, data.dataset_name, split, **load)
        )
    names = getattr(train_set.features.get("label"), "names", None)
    labels = code_labels(train_set)
    num_classes = flags.num_classes or int(labels.max()) + 1
    vocabulary = PriorVocabulary(vqvae.config.num_embeddings, num_classes, null_class=flags.condition_dropout > 0)
    eval_sequences = None if eval_set is None else vocabulary.sequences(*dataset_to_tensors(eval_set))
    id2label = dict(enumerate(names)) if names and len(names) == num_classes else None
    train = CodeSequences(train_set, vocabulary, labels, pixelcnn=flags.prior == "pixelcnn")
    return PriorData(train, eval_sequences, vocabulary, id2label)


def make_save_fn(vqvae, num_classes: int, id2label: dict | None = None, null_class: bool = False):
    """The final layout: one two-stage model (`vqvae` + the trained prior) with its pipeline file beside it."""

    def save_fn(model, output_dir):
        extra = {"id2label": id2label} if id2label else {}
        extra.update({"null_class": True} if null_class else {})  # older folders' config.json stays as it was
        config = VQVAEPriorForImageGeneration.config_of_parts(vqvae, model, num_classes, **extra)
        two_stage = VQVAEPriorForImageGeneration(config, vqvae=vqvae, prior=model)
        atomic_save_pretrained(ClassConditionalImageGenerationPipeline(model=two_stage), output_dir)

    return save_fn


def check_condition_dropout(condition_dropout: float) -> None:
    """A ValueError naming `--condition_dropout` unless it lies in [0, 1)."""
    if not 0.0 <= condition_dropout < 1.0:
        raise ValueError(f"`--condition_dropout` must be in [0, 1), got {condition_dropout}.")


def drop_conditions(input_ids: torch.Tensor, condition_dropout: float, null_prompt) -> torch.Tensor:
    """A copy of the token sequences `input_ids` `(B, T)` in which each row's prompt (its first `len(null_prompt)`
    tokens: the class token, a caption) becomes `null_prompt` with probability `condition_dropout`, drawn from the
    global RNG (which the loop seeds and checkpoints)."""
    dropped = torch.rand(len(input_ids), device=input_ids.device) < condition_dropout
    input_ids = input_ids.clone()
    input_ids[dropped, : len(null_prompt)] = null_prompt.to(input_ids.device)
    return input_ids


def make_compute_loss(vocabulary: PriorVocabulary, condition_dropout: float):
    """Loss hook: mean NLL per code; in training, each example's class token becomes the null class with probability
    `condition_dropout` (:func:`drop_conditions`)."""
    null_prompt = torch.tensor([vocabulary.null_token_id])

    def compute_loss(model, batch):
        input_ids = batch["input_ids"]
        if model.training:
            input_ids = drop_conditions(input_ids, condition_dropout, null_prompt)
        return model(input_ids=input_ids, labels=input_ids).loss

    return compute_loss


def train(prior, vqvae, prepared: PriorData, run: RunArguments, flags: PriorArguments, accelerator) -> TrainResult:
    """Train: the shared loop on the sequences (code maps and class labels for a PixelCNN prior), NLL eval hook,
    sample grids decoded by `vqvae`, saved as the two-stage model."""
    vocabulary = prepared.vocabulary
    loop = TrainingLoop(
        prior,
        run.loop_arguments(tracker_project_name="prior"),
        train_dataset=prepared.train,
        eval_fn=None if prepared.eval is None else make_eval_fn(prepared.eval, batch_size=run.eval_batch_size),
        sample_fn=None if run.no_samples else make_sample_fn(vqvae, vocabulary, num_per_class=2, seed=run.seed),
        compute_loss=make_compute_loss(vocabulary, flags.condition_dropout) if flags.condition_dropout else None,
        save_fn=make_save_fn(vqvae, vocabulary.num_classes, prepared.id2label, vocabulary.null_class),
        tracker_config={"vqvae": flags.vqvae, "prior": flags.prior, **prior.config.to_dict()},
        accelerator=accelerator,
    )
    return loop.train()


def nll_card_metrics(result: TrainResult, data: DataArguments, num_codes: int, codes_per_image: int) -> list:
    """The final metrics logged; the card's metrics of the eval NLL per code (none without an eval split)."""
    figures = final_eval_figures(result.metrics)
    if "nll_per_code" not in figures:
        return []
    return prior_card_metrics(figures, data.eval_split, num_codes, codes_per_image)


def publish(result: TrainResult, prepared: PriorData, data: DataArguments, run: RunArguments, flags, command=None):
    """Publish (main process): `training_info.json`, the last sample grid as `samples.png`, the card, the push."""
    codes_per_image = prepared.train.sequence_length - 1
    metrics = nll_card_metrics(result, data, prepared.vocabulary.num_codes, codes_per_image)
    images = None
    if keep_last_grid(run.output_dir, "samples.png"):
        images = [CardImage("samples.png", "samples", "Samples at the end of training, two per class.")]
    info = {
        "command": command,
        "dataset": data.dataset_name,
        "data": data.record(),
        "vqvae": flags.vqvae,
        **result.metrics,
    }
    publish_run(run, info, metrics, dataset=data.dataset_name, images=images)


def train_prior(
    data: DataArguments, run: RunArguments, flags: PriorArguments, command: str | None = None
) -> TrainResult:
    """The run of `training/train_prior.py`: build data (codes cached once, main process) -> build model (the prior)
    -> train -> publish (the two-stage model `VQVAEPriorForImageGeneration` as the output folder, with its card;
    pushed on request)."""
    check_condition_dropout(flags.condition_dropout)
    if flags.condition_dropout and flags.prior == "pixelcnn":
        raise ValueError("`--condition_dropout` (a null class) needs a causal LM `--prior`, not pixelcnn.")
    data = with_vqvae_data(data, flags.vqvae)
    accelerator = make_accelerator(run.loop_arguments(tracker_project_name="prior"))
    vqvae = load_vqvae(flags.vqvae, flags.vqvae_image_size)
    prepared = build_data(data, run, flags, vqvae, accelerator)
    torch.manual_seed(run.seed)
    prior = prior_of_flags(flags, prepared.vocabulary, prepared.train.sequence_length)
    result = train(prior, vqvae, prepared, run, flags, accelerator)
    if accelerator.is_main_process:
        publish(result, prepared, data, run, flags, command)
    return result
