"""Pixel LM recipe: a causal LM over the sub-pixels of integer images (an RNN reading and emitting one sub-pixel at a
time, the simplest autoregressive image model; a transformer; `transformers`' ImageGPT; a state-space model, Mamba),
trained with the shared loop on the PixelCNN's data and scored with the PixelCNN's evaluation code.

Images `(B, C, H, W)` in `[0, num_levels)` become ``[BOS] (+ [class token]) + C*H*W`` tokens in the PixelCNN's order
(:class:`~hf_argen.models.PixelVocabulary`). A sub-pixel's distribution is the LM's softmax over the level ids only,
so the training loss is exactly the mean NLL per sub-pixel, bits/dim is exact
(:func:`pixel_lm_log_likelihood`, marginal over classes with :func:`pixel_lm_likelihood_report`), and
:func:`generate_pixels` samples from that same distribution (`generate()` with every other id suppressed and exactly
C*H*W new tokens). :func:`train_pixel_lm` is the run `training/train_causal_lm.py --pixels` starts (its flags:
`hf_argen.recipes.causal_lm.CausalLMArguments`).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import ImageGPTConfig, ImageGPTForCausalImageModeling, MambaConfig, MambaForCausalLM

from ..data import encode_images, label_names_of, validation_indices
from ..evaluation import batched_log_likelihood, causal_lm_log_likelihood, likelihood_report
from ..models import (
    ARRNNConfig,
    ARRNNForCausalLM,
    ARTransformerConfig,
    ARTransformerForCausalLM,
    PixelVocabulary,
    make_grid,
)
from ..models.sampling_utils import make_generator
from ..training.arguments import VALIDATION, DataArguments, RunArguments
from ..training.loop import TensorDictDataset, TrainingLoop, TrainResult, make_accelerator
from .cards import keep_last_grid, pixelcnn_card_metrics, publish_run
from .datasets import load_images
from .pixelcnn import make_eval_fn, new_processor, parse_dataset_spec

logger = logging.getLogger(__name__)

MODEL_TYPES = ("rnn", "transformer", "imagegpt", "mamba")


# ----------------------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------------------
def build_pixel_lm(
    model_type: str,
    vocabulary: PixelVocabulary,
    sequence_length: int,
    hidden_size: int = 128,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    cell_type: str = "lstm",
    dropout: float = 0.0,
    position_embedding_type: str = "learned",
    class_bias: bool = True,
    input_lags: list[int] | None = None,
):
    """A new causal LM over `vocabulary`'s tokens, for sequences of up to `sequence_length` tokens (prefix included):
    our `ARRNNForCausalLM` (class-conditional for a vocabulary with classes: besides the class token, a class bias
    at every step, :func:`condition_kwargs`, unless `class_bias=False`; `input_lags`, e.g. :func:`row_above_lags`:
    the tokens that many positions back as extra inputs) / `ARTransformerForCausalLM` (learned or
    rotary positions), or `transformers`' `ImageGPTForCausalImageModeling` / `MambaForCausalLM` (no CUDA kernels:
    with `mambapy` installed, its parallel scan in pure PyTorch, `use_mambapy`; without, `transformers`' sequential
    reference loop, same outputs)."""
    special = dict(vocab_size=vocabulary.vocab_size, bos_token_id=vocabulary.bos_token_id,
                   pad_token_id=vocabulary.pad_token_id, eos_token_id=None)  # fmt: skip
    sizes = dict(hidden_size=hidden_size, num_hidden_layers=num_hidden_layers)
    if model_type == "rnn":
        num_classes = vocabulary.num_classes if class_bias else 0
        config = ARRNNConfig(cell_type=cell_type, hidden_dropout=dropout, num_classes=num_classes,
                             input_lags=list(input_lags) if input_lags else None, **sizes, **special)  # fmt: skip
        return ARRNNForCausalLM(config)
    if input_lags:
        raise ValueError(f"`input_lags` is an option of the RNN only, not of {model_type!r}.")
    if model_type == "transformer":
        config = ARTransformerConfig(
            num_attention_heads=num_attention_heads, max_position_embeddings=sequence_length,
            position_embedding_type=position_embedding_type, hidden_dropout=dropout, **sizes, **special,
        )  # fmt: skip
        return ARTransformerForCausalLM(config)
    if model_type == "imagegpt":
        # ImageGPT's head predicts every id but the last (its start token): the last id here is pad, never a target.
        config = ImageGPTConfig(n_embd=hidden_size, n_layer=num_hidden_layers, n_head=num_attention_heads,
                                n_positions=sequence_length, resid_pdrop=dropout, embd_pdrop=dropout,
                                attn_pdrop=dropout, **special)  # fmt: skip
        return ImageGPTForCausalImageModeling(config)
    if model_type == "mamba":
        return MambaForCausalLM(MambaConfig(use_mambapy=True, **sizes, **special))
    raise ValueError(f"`model_type` must be one of {MODEL_TYPES}, got {model_type!r}.")


def row_above_lags(num_channels: int, image_size: int) -> list[int]:
    """`input_lags` that give a pixel RNN the row above the sub-pixel it predicts: the same channel's sub-pixels above
    left, above and above right (as the 3-wide input-to-state convolution of a Row LSTM). The token read at position
    t is the sub-pixel before the one predicted there, so "directly above" is one row of sub-pixels minus one back."""
    row = num_channels * image_size
    return [row - 1 - num_channels, row - 1, row - 1 + num_channels]


def set_image_layout(config, vocabulary: PixelVocabulary, num_channels: int, image_size: int, id2label=None) -> None:
    """Record the image layout on the LM's config (`config.pixel_lm`, saved in `config.json`), so a saved pixel LM
    says which images its tokens are: :func:`vocabulary_of` and :func:`image_shape_of` read it back."""
    config.pixel_lm = dict(num_levels=vocabulary.num_levels, num_classes=vocabulary.num_classes,
                           num_channels=num_channels, image_size=image_size)  # fmt: skip
    if id2label:
        config.id2label = dict(id2label)


def _layout(model) -> dict:
    layout = getattr(model.config, "pixel_lm", None)
    if not layout:
        raise ValueError("the model's config has no `pixel_lm` image layout: it is not a pixel LM of this recipe.")
    return layout


def vocabulary_of(model) -> PixelVocabulary:
    """The :class:`PixelVocabulary` of a pixel LM (from `config.pixel_lm`)."""
    layout = _layout(model)
    return PixelVocabulary(num_levels=layout["num_levels"], num_classes=layout["num_classes"])


def image_shape_of(model) -> tuple[int, int, int]:
    """`(num_channels, image_size, image_size)` of a pixel LM's images."""
    layout = _layout(model)
    return layout["num_channels"], layout["image_size"], layout["image_size"]


def condition_kwargs(model, class_labels) -> dict:
    """`{"class_labels": class_labels}` for an LM that takes them at every step (an `ARRNNForCausalLM` with
    `num_classes`), else `{}` (the class token in the prefix is the only condition)."""
    return {"class_labels": class_labels} if getattr(model.config, "num_classes", 0) else {}


def pixel_lm_loss(vocabulary: PixelVocabulary):
    """Training loss `(model, batch) -> scalar`: the mean NLL per sub-pixel (nats) of `batch["pixel_values"]` given
    its `class_labels`, the LM's softmax restricted to the levels (the class token is a condition, not a target)."""

    def loss(model, batch):
        x = batch["pixel_values"]
        prefix = vocabulary.prefix(batch.get("class_labels"), len(x)).to(x.device)
        targets = vocabulary.levels_to_tokens(x)
        input_ids = torch.cat([prefix, targets[:, :-1]], dim=1)
        kwargs = condition_kwargs(model, batch.get("class_labels"))
        logits = model(input_ids=input_ids, use_cache=False, **kwargs).logits[:, prefix.shape[1] - 1 :]
        logits = logits[..., : vocabulary.num_levels]
        return F.cross_entropy(logits.reshape(-1, vocabulary.num_levels).float(), targets.reshape(-1))

    return loss


# ----------------------------------------------------------------------------------------------------------
# Likelihoods and samples
# ----------------------------------------------------------------------------------------------------------
def _model_device(model) -> torch.device:
    return next(model.parameters()).device


def pixel_lm_scorer(model, vocabulary: PixelVocabulary):
    """`score(x, y) -> (B,)` exact log p(x | y) (log p(x) for `y` None) in nats, for the evaluation functions."""

    def score(x, y):
        prefix = vocabulary.prefix(y, len(x)).to(x.device)
        targets = vocabulary.levels_to_tokens(x)
        return causal_lm_log_likelihood(model, prefix, targets, vocabulary.num_levels, **condition_kwargs(model, y))

    return score


def pixel_lm_log_likelihood(
    model, pixel_values: torch.Tensor, class_labels=None, batch_size: int = 64, vocabulary=None, progress=False
) -> torch.Tensor:
    """Exact log p(x) (log p(x | y) with `class_labels`) in nats per image, `(N,)` on the CPU (eval mode)."""
    vocabulary = vocabulary or vocabulary_of(model)
    was_training = model.training
    model.eval()
    try:
        score = pixel_lm_scorer(model, vocabulary)
        return batched_log_likelihood(score, pixel_values, class_labels, batch_size, _model_device(model), progress)
    finally:
        model.train(was_training)


def pixel_lm_likelihood_report(
    model, pixel_values, class_labels=None, class_prior=None, batch_size: int = 64, vocabulary=None, progress=False
) -> dict:
    """The PixelCNN's report for a pixel LM: `bits_per_dim`, `nats_per_image` (conditional for a class-conditional
    model), and `marginal_bits_per_dim`, `marginal_nats_per_image` (−log Σ_y p(y) p(x | y), `class_prior` p(y),
    `None`: uniform) — the same code (:func:`hf_argen.evaluation.likelihood_report`)."""
    vocabulary = vocabulary or vocabulary_of(model)
    was_training = model.training
    model.eval()
    try:
        return likelihood_report(
            pixel_lm_scorer(model, vocabulary), pixel_values[0].numel(), vocabulary.num_classes or None,
            pixel_values, class_labels, class_prior, batch_size, _model_device(model), progress,
        )  # fmt: skip
    finally:
        model.train(was_training)


@torch.no_grad()
def generate_pixels(
    model,
    class_labels=None,
    num_images: int | None = None,
    seed: int | None = 0,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    vocabulary: PixelVocabulary | None = None,
    image_shape: tuple[int, int, int] | None = None,
) -> torch.LongTensor:
    """Sample images `(B, C, H, W)` (long, levels, on the CPU) from a pixel LM with its own `generate()`: prompt = BOS
    (+ the class token of each of `class_labels`), exactly C*H*W new tokens, every non-level id suppressed. `seed`
    seeds a forked global RNG (the caller's RNG is untouched; `None`: the global RNG)."""
    vocabulary = vocabulary or vocabulary_of(model)
    channels, height, width = image_shape or image_shape_of(model)
    device = _model_device(model)
    prefix = vocabulary.prefix(class_labels, num_images).to(device)
    length = channels * height * width
    kwargs = dict(
        do_sample=True, max_new_tokens=length, min_new_tokens=length, eos_token_id=None,
        suppress_tokens=vocabulary.non_level_ids, pad_token_id=vocabulary.pad_token_id,
        attention_mask=torch.ones_like(prefix), temperature=temperature, top_k=top_k, top_p=top_p,
    )  # fmt: skip
    if class_labels is not None:
        kwargs.update(condition_kwargs(model, torch.as_tensor(class_labels, dtype=torch.long, device=device)))
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else [], device_type=device.type):
            if seed is not None:
                torch.manual_seed(seed)
            output = model.generate(prefix, **kwargs)
    finally:
        model.train(was_training)
    tokens = output[:, vocabulary.prefix_length :].cpu()
    if tokens.shape[1] != length:
        raise RuntimeError(f"the model generated {tokens.shape[1]} sub-pixels instead of {length}.")
    return vocabulary.tokens_to_levels(tokens, channels, height)


def _step(model, sequences, new_tokens: int, cache, class_labels, num_levels: int):
    """One cached forward of the last `new_tokens` of `sequences` `(rows, length)` -> (log-probabilities over the
    levels at the last position `(rows, num_levels)`, cache)."""
    kwargs = condition_kwargs(model, class_labels)
    if getattr(model.config, "input_lags", None):
        kwargs["context_ids"] = sequences
    out = model(input_ids=sequences[:, -new_tokens:], cache=cache, use_cache=True, **kwargs)
    return torch.log_softmax(out.logits[:, -1, :num_levels].float(), dim=-1), out.cache


@torch.no_grad()
def generate_pixels_guided(
    model,
    class_labels,
    guidance_scale: float,
    seed: int | None = 0,
    temperature: float = 1.0,
    vocabulary: PixelVocabulary | None = None,
    image_shape: tuple[int, int, int] | None = None,
    num_candidates: int = 1,
) -> torch.LongTensor:
    """Sample images `(B, C, H, W)` (long, levels, on the CPU) of the requested `class_labels` `(B,)` from a
    class-conditional pixel LM with **class-posterior guidance**: classifier-free guidance whose unconditional
    distribution is the model's own exact marginal, so no null class needs training.

    Every image runs once per class (a `(B * K, ...)` cached batch, K classes). After sub-pixels `x_<t` the class
    posterior is `p(k | x_<t) ∝ Π_s p(x_s | x_<s, k)` (uniform prior), the marginal next-sub-pixel distribution is
    `p(x_t | x_<t) = Σ_k p(k | x_<t) p(x_t | x_<t, k)`, and the sub-pixel is drawn from
    `softmax((log p(x_t | x_<t, y) + (g - 1) (log p(x_t | x_<t, y) − log p(x_t | x_<t))) / temperature)`, then fed
    to every class's row. `guidance_scale` g = 1 is plain sampling from p(x | y); g > 1 favours sub-pixels that make
    class y more probable. `num_candidates` n > 1 draws n candidates per image (rows `b * n .. b * n + n - 1` of the
    same sampling with the labels repeated n times) and keeps the one the model itself finds most likely to be of
    class y: the largest exact posterior p(y | x) of the same bookkeeping (best of n by the model's own Bayes
    classifier, no other model involved). `seed` seeds a CPU generator (`None`: the global RNG). The model must take
    `cache=` (ours and `transformers`' attention LMs do)."""
    vocabulary = vocabulary or vocabulary_of(model)
    if not vocabulary.num_classes:
        raise ValueError("class-posterior guidance needs a class-conditional pixel LM (num_classes > 0).")
    if isinstance(guidance_scale, bool) or not isinstance(guidance_scale, (int, float)) or guidance_scale < 1:
        raise ValueError(f"`guidance_scale` must be a number >= 1 (1: no guidance), got {guidance_scale!r}.")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature <= 0:
        raise ValueError(f"`temperature` must be a number > 0, got {temperature!r}.")
    if isinstance(num_candidates, bool) or not isinstance(num_candidates, int) or num_candidates < 1:
        raise ValueError(f"`num_candidates` must be an integer >= 1, got {num_candidates!r}.")
    channels, height, width = image_shape or image_shape_of(model)
    device, num_classes, levels = _model_device(model), vocabulary.num_classes, vocabulary.num_levels
    requested = vocabulary.prefix(class_labels)[:, 1] - vocabulary.class_token_offset  # checked (B,)
    targets = requested.repeat_interleave(num_candidates).to(device)  # candidate c of image b: row b * n + c
    batch, length, prefix_length = len(targets), channels * height * width, vocabulary.prefix_length
    every_class = torch.arange(num_classes).repeat(batch).to(device)  # row r * K + k: candidate r, class k
    generator = make_generator(seed=seed)
    # Every row's tokens so far, filled in place (a model reading earlier tokens, `input_lags`, gets a view).
    sequences = torch.empty(batch * num_classes, prefix_length + length, dtype=torch.long, device=device)
    sequences[:, :prefix_length] = vocabulary.prefix(every_class).to(device)
    was_training = model.training
    model.eval()
    try:
        log_probs, cache = _step(model, sequences[:, :prefix_length], prefix_length, None, every_class, levels)
        log_posterior = torch.zeros(batch, num_classes, device=device)
        for step in range(length):
            per_class = log_probs.view(batch, num_classes, levels)
            conditional = per_class[torch.arange(batch), targets]
            marginal = torch.logsumexp(torch.log_softmax(log_posterior, -1)[..., None] + per_class, dim=1)
            scores = (conditional + (guidance_scale - 1) * (conditional - marginal)) / temperature
            token = torch.multinomial(torch.softmax(scores, -1).cpu(), 1, generator=generator)[:, 0].to(device)
            log_posterior += per_class.gather(2, token[:, None, None].expand(batch, num_classes, 1))[..., 0]
            sequences[:, prefix_length + step] = token.repeat_interleave(num_classes)
            if step + 1 < length:
                filled = sequences[:, : prefix_length + step + 1]
                log_probs, cache = _step(model, filled, 1, cache, every_class, levels)
    finally:
        model.train(was_training)
    tokens = sequences[::num_classes, prefix_length:].cpu()  # (batch, length): the class rows share their tokens
    if num_candidates > 1:
        posterior = torch.log_softmax(log_posterior, -1).gather(1, targets[:, None])[:, 0].view(-1, num_candidates)
        tokens = tokens[posterior.argmax(1).cpu() + torch.arange(len(requested)) * num_candidates]
    return vocabulary.tokens_to_levels(tokens, channels, height)


def make_sample_fn(processor, num_classes: int | None, seed: int = 0, num_images: int = 10, scale: int = 4):
    """Sample-grid hook: one image per class (conditional) or `num_images` samples, fixed seed."""

    def sample_fn(model, step):
        if num_classes:
            images, columns = generate_pixels(model, class_labels=torch.arange(num_classes), seed=seed), num_classes
        else:
            images, columns = generate_pixels(model, num_images=num_images, seed=seed), min(num_images, 10)
        return make_grid(processor.postprocess(images), num_columns=columns, scale=scale)

    return sample_fn


# ----------------------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------------------
@dataclass
class PixelLMData:
    """Training and eval tensors (``pixel_values`` `(N, C, H, W)` levels, optional ``class_labels``), class names,
    the image processor and the eval split's name."""

    train: dict
    eval: dict | None
    names: list[str] | None
    processor: object
    eval_name: str | None


def load_tensors(name: str, split: str, processor, data_dir=None, image_column=None, label_column=None,
                 conditional: bool = True) -> tuple[dict, list[str] | None, list[str]]:  # fmt: skip
    """Load `name:split` and encode it whole -> (`{"pixel_values"[, "class_labels"]}`, class names, sources). (The
    pixel LMs' sets are small; the PixelCNN streams its rows instead, :class:`hf_argen.data.ImageRows`.)"""
    dataset = load_images(name, split=split, data_dir=data_dir, image_column=image_column, label_column=label_column)
    tensors = {"pixel_values": encode_images(dataset, processor)}
    names = label_names_of(dataset) if conditional else None
    if names is not None:
        tensors["class_labels"] = torch.as_tensor(dataset["label"], dtype=torch.long)
    sources = dataset["source"] if "source" in dataset.column_names else [name] * len(dataset)
    return tensors, names, sources


def take_rows(tensors: dict, index) -> dict:
    """The rows `index` of every tensor in `tensors` (``pixel_values`` and, if any, ``class_labels``)."""
    index = torch.as_tensor(list(index), dtype=torch.long)
    return {key: value[index] for key, value in tensors.items()}


def build_data(data: DataArguments, flags, accelerator) -> PixelLMData:
    """Build data: the PixelCNN's tensors of the training split (its validation images carved out unless
    `--eval_split` names a split)."""
    name, split = parse_dataset_spec(data.dataset_name, data.dataset_split)
    load = dict(data_dir=data.data_dir, image_column=data.image_column, label_column=data.label_column,
                conditional=not flags.unconditional)  # fmt: skip
    eval_split = data.eval_split if data.eval_split.lower() != "none" else None
    with accelerator.main_process_first():
        processor = new_processor(flags, name, split, data)
        train_tensors, names, _ = load_tensors(name, split, processor, **load)
        eval_tensors, eval_name = None, None
        if eval_split == VALIDATION:
            train_index, eval_index = validation_indices(len(train_tensors["pixel_values"]))
            eval_tensors, train_tensors = take_rows(train_tensors, eval_index), take_rows(train_tensors, train_index)
            eval_name = f"{name}:{split} validation (every 10th image)"
        elif eval_split is not None:
            eval_tensors, eval_name = load_tensors(name, eval_split, processor, **load)[0], f"{name}:{eval_split}"
    if data.max_eval_samples and eval_tensors is not None:
        eval_tensors = take_rows(eval_tensors, range(min(data.max_eval_samples, len(eval_tensors["pixel_values"]))))
    return PixelLMData(train_tensors, eval_tensors, names, processor, eval_name)


def build_model(flags, prepared: PixelLMData, seed: int = 0):
    """Build model: a new pixel LM for the data's levels, classes and image shape (seeded), layout in its config."""
    processor = prepared.processor
    vocabulary = PixelVocabulary(processor.num_levels, len(prepared.names) if prepared.names else 0)
    length = vocabulary.prefix_length + processor.num_channels * processor.image_size**2
    torch.manual_seed(seed)
    lags = row_above_lags(processor.num_channels, processor.image_size) if flags.row_above else None
    model = build_pixel_lm(flags.model_type, vocabulary, length, flags.hidden_size, flags.num_hidden_layers,
                           flags.num_attention_heads, flags.cell_type, flags.dropout,
                           flags.position_embedding_type, input_lags=lags)  # fmt: skip
    id2label = dict(enumerate(prepared.names)) if prepared.names else None
    set_image_layout(model.config, vocabulary, processor.num_channels, processor.image_size, id2label)
    return model


def train(model, prepared: PixelLMData, data: DataArguments, run: RunArguments, accelerator) -> TrainResult:
    """Train: the shared loop with the exact bits/dim eval hook (the PixelCNN's) and a sample grid per class."""
    vocabulary = vocabulary_of(model)
    num_subpixels = prepared.train["pixel_values"][0].numel()
    log_likelihood = functools.partial(pixel_lm_log_likelihood, vocabulary=vocabulary)
    eval_fn = None
    if prepared.eval is not None:
        eval_rows = TensorDictDataset(**prepared.eval)
        eval_fn = make_eval_fn(eval_rows, num_subpixels, run.eval_batch_size, log_likelihood=log_likelihood)
    sample_fn = None
    if not run.no_samples:
        scale = max(1, 64 // prepared.processor.image_size)
        sample_fn = make_sample_fn(prepared.processor, vocabulary.num_classes, seed=run.seed, scale=scale)
    loop = TrainingLoop(
        model,
        run.loop_arguments(),
        TensorDictDataset(**prepared.train),
        compute_loss=pixel_lm_loss(vocabulary),
        eval_fn=eval_fn,
        sample_fn=sample_fn,
        processors=[prepared.processor],
        tracker_config={"dataset_name": data.dataset_name, "model_type": model.config.model_type},
        accelerator=accelerator,
    )
    return loop.train()


def train_pixel_lm(data: DataArguments, run: RunArguments, flags, command: str | None = None):
    """The run of `training/train_causal_lm.py --pixels` (`flags`: its `CausalLMArguments`): build data -> build
    model -> train -> publish."""
    accelerator = make_accelerator(run.loop_arguments())
    prepared = build_data(data, flags, accelerator)
    model = build_model(flags, prepared, seed=run.seed)
    logger.info("%s with %d parameters on %d images", type(model).__name__,
                sum(p.numel() for p in model.parameters()), len(prepared.train["pixel_values"]))  # fmt: skip
    result = train(model, prepared, data, run, accelerator)
    if accelerator.is_main_process:
        info = {"command": command, "dataset": data.dataset_name, "eval_dataset": prepared.eval_name,
                **result.metrics}  # fmt: skip
        keep_last_grid(run.output_dir, "samples.png")
        metrics = (
            pixelcnn_card_metrics(result.metrics, data.eval_split) if "eval_bits_per_dim" in result.metrics else []
        )
        publish_run(run, info, metrics, dataset=parse_dataset_spec(data.dataset_name)[0])
    return result


__all__ = [
    "MODEL_TYPES",
    "PixelLMData",
    "build_data",
    "build_model",
    "build_pixel_lm",
    "condition_kwargs",
    "generate_pixels",
    "generate_pixels_guided",
    "image_shape_of",
    "make_sample_fn",
    "pixel_lm_likelihood_report",
    "pixel_lm_log_likelihood",
    "pixel_lm_loss",
    "pixel_lm_scorer",
    "row_above_lags",
    "set_image_layout",
    "train",
    "train_pixel_lm",
    "vocabulary_of",
]
