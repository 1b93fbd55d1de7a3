"""Exact likelihood evaluation of PixelCNN models (one model, or an ensemble mixing their conditionals).

A class-conditional model is reported twice (see `pixelcnn_likelihood_report`):

* conditional, −log p(x | y) with the image's own label `y` (:func:`pixelcnn_log_likelihood`);
* marginal, −log p(x) = −log Σ_y p(y) p(x | y) with a class prior p(y), usually the training class frequencies
  (:func:`pixelcnn_marginal_log_likelihood`: exact, one forward pass per class with a non-zero prior, batched,
  combined by `logsumexp`). Only the marginal is comparable with an unconditional model's −log p(x).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from tqdm.auto import tqdm


def _as_models(models) -> list:
    models = list(models) if isinstance(models, Sequence) else [models]
    if not models:
        raise ValueError("`models` must not be empty.")
    return models


def _model_device(model) -> torch.device:
    return next(model.parameters()).device


def default_eval_batch_size(device) -> int:
    """Images (or image-class pairs) per forward pass when none is given: 16 on the CPU, whose caches keep a small
    batch's activations (2-4x faster than 256 for the shipped MNIST and emoji models on 2 cores:
    `benchmarks/benchmark_evaluation.py`), 256 on an accelerator."""
    return 16 if torch.device(device).type == "cpu" else 256


def _resolve_batch_size(batch_size: int | None, device: torch.device) -> int:
    if batch_size is None:
        return default_eval_batch_size(device)
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size}.")
    return batch_size


def sum_log_probs(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(x) per image from per-sub-pixel log-probabilities: `log_probs` `(B, ..., V)` (normalised over the last
    axis), `targets` `(B, ...)` long in [0, V) -> `(B,)`, the sum over every sub-pixel of the target's log-prob.
    The one place both the PixelCNN (`(B, C, H, W, L)`) and the pixel LMs (`(B, T, L)`) turn their
    conditionals into an image's log-likelihood."""
    return log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1).flatten(1).sum(dim=1)


@torch.no_grad()
def _log_likelihood_batch(models: list, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """log p(x [| y]) in nats per image of one batch already on the models' device, `(B,)` float32."""
    log_probs = torch.stack([torch.log_softmax(m(x, y).logits.float(), dim=-1) for m in models])
    return sum_log_probs(torch.logsumexp(log_probs, dim=0) - math.log(len(models)), x)


@torch.no_grad()
def causal_lm_log_likelihood(
    model, prefix: torch.Tensor, targets: torch.Tensor, num_levels: int, **model_kwargs
) -> torch.Tensor:
    """Exact log p(targets | prefix) in nats per sequence, `(B,)` float32, of any causal LM (ours or `transformers`')
    whose distribution over each target is its softmax over the ids `[0, num_levels)` only: what `generate()` with
    every other id suppressed draws. `prefix` `(B, P)` (BOS, class token, ...) and `targets` `(B, T)` are on the
    model's device; one forward pass without the last target (`model_kwargs`, e.g. `class_labels`, go with it)."""
    input_ids = torch.cat([prefix, targets[:, :-1]], dim=1)
    logits = model(input_ids=input_ids, use_cache=False, **model_kwargs).logits[:, prefix.shape[1] - 1 :, :num_levels]
    return sum_log_probs(torch.log_softmax(logits.float(), dim=-1), targets)


@torch.no_grad()
def batched_log_likelihood(
    score,
    pixel_values: torch.Tensor,
    class_labels: torch.Tensor | None,
    batch_size: int,
    device,
    progress: bool = False,
    desc: str = "log p(x)",
) -> torch.Tensor:
    """`score(x, y) -> (B,)` log p(x [| y]) over batches of `batch_size` images moved to `device`: `(N,)` on the CPU.
    The batching behind every exact likelihood here (PixelCNNs and pixel LMs alike)."""
    out = torch.zeros(len(pixel_values))  # filled in place (why: `class_log_likelihoods`)
    for start in tqdm(range(0, len(pixel_values), batch_size), desc=desc, unit="batch", disable=not progress,
                      leave=False):  # fmt: skip
        x = pixel_values[start : start + batch_size].to(device)
        y = None if class_labels is None else class_labels[start : start + batch_size].to(device)
        out[start : start + len(x)] = score(x, y).float().cpu()
    return out


@torch.no_grad()
def pixelcnn_log_likelihood(
    models,
    pixel_values: torch.Tensor,
    class_labels: torch.Tensor | None = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Exact log p(x) (log p(x | y) with `class_labels`) in nats per image, `(N,)` on the CPU.

    `models` is one model or a sequence of models with the same config; a sequence is an ensemble whose every
    sub-pixel conditional is the average of the members' conditionals (still an exact autoregressive model).
    Batches of `batch_size` images (`None`: :func:`default_eval_batch_size` of the device) are moved to the first
    model's device; `progress` shows a tqdm bar over batches (stderr).
    """
    models = _as_models(models)
    device = _model_device(models[0])
    return batched_log_likelihood(
        lambda x, y: _log_likelihood_batch(models, x, y), pixel_values, class_labels,
        _resolve_batch_size(batch_size, device), device, progress,
        "log p(x|y)" if class_labels is not None else "log p(x)",
    )  # fmt: skip


def class_frequencies(labels, num_classes: int) -> torch.Tensor:
    """Relative frequencies `(num_classes,)` (float64, summing to 1) of integer `labels` in `[0, num_classes)`."""
    labels = torch.as_tensor(labels, dtype=torch.long).flatten()
    if labels.numel() == 0:
        raise ValueError("`labels` must not be empty.")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"labels must be in [0, {num_classes}), got values in [{int(labels.min())}, {int(labels.max())}]."
        )
    counts = torch.bincount(labels, minlength=num_classes).double()
    return counts / counts.sum()


def _check_class_prior(class_prior, num_classes: int) -> torch.Tensor:
    prior = torch.as_tensor(class_prior, dtype=torch.float64).flatten()
    if prior.numel() != num_classes:
        raise ValueError(f"`class_prior` must have {num_classes} entries (one per class), got {prior.numel()}.")
    if (prior < 0).any() or not torch.isfinite(prior).all() or prior.sum() <= 0:
        raise ValueError("`class_prior` must be non-negative and finite with a positive sum.")
    return prior / prior.sum()


def resolve_class_prior(class_prior, num_classes: int) -> torch.Tensor:
    """p(y) `(num_classes,)` float64 summing to 1: `class_prior` normalised (checked), or uniform for `None`."""
    if class_prior is None:
        return torch.full((num_classes,), 1.0 / num_classes, dtype=torch.float64)
    return _check_class_prior(class_prior, num_classes)


def _check_classes(classes, num_classes: int | None) -> torch.Tensor:
    classes = torch.as_tensor(classes, dtype=torch.long).flatten()
    if classes.numel() == 0:
        raise ValueError("`classes` must not be empty.")
    if num_classes is None:
        raise ValueError("the model is not class-conditional (`config.num_classes` is None).")
    if classes.min() < 0 or classes.max() >= num_classes:
        raise ValueError(f"`classes` must be in [0, {num_classes}).")
    return classes


@torch.no_grad()
def class_log_likelihoods(
    score, pixel_values: torch.Tensor, classes: torch.Tensor, batch_size: int, device, progress: bool = False
) -> torch.Tensor:
    """log p(x | y = c) for every image and every class `c` of `classes` (checked by the caller):
    `(N, len(classes))` on the CPU, from `score(x, y) -> (B,)`. Batched: each call holds up to `batch_size`
    (image, class) pairs, about `batch_size // len(classes)` images under every class at once."""
    classes_on_device = classes.to(device)
    images_per_batch = max(1, batch_size // len(classes))
    # Filled in place: a small result kept per batch would sit between the freed activations of consecutive batches
    # and keep glibc's heap from reusing them (resident memory grew ~0.5 MB per image-class pair on a CPU).
    out = torch.zeros(len(pixel_values), len(classes))
    starts = range(0, len(pixel_values), images_per_batch)
    for start in tqdm(starts, desc="log p(x|y) for every y", unit="batch", disable=not progress, leave=False):
        x = pixel_values[start : start + images_per_batch].to(device)
        n = len(x)
        # (K * n) pairs, class-major: rows [k * n, (k + 1) * n) hold every image under class classes[k].
        ll = score(x.repeat(len(classes), *([1] * (x.dim() - 1))), classes_on_device.repeat_interleave(n))
        out[start : start + n] = ll.float().view(len(classes), n).T.cpu()
    return out


def marginal_from_class_log_likelihoods(per_class: torch.Tensor, class_prior: torch.Tensor) -> torch.Tensor:
    """log Σ_y p(y) p(x | y) `(N,)` float64 from log p(x | y) `(N, K)` and p(y) `(K,)` (the same K classes)."""
    return torch.logsumexp(per_class.double() + class_prior.double().log(), dim=1)


def marginal_log_likelihood(
    score, pixel_values: torch.Tensor, num_classes: int, class_prior=None, batch_size: int = 16, device="cpu",
    progress: bool = False,
) -> torch.Tensor:  # fmt: skip
    """Exact marginal log p(x) = log Σ_y p(y) p(x | y) in nats per image, `(N,)` float64 on the CPU, of any
    class-conditional model given as `score(x, y) -> (B,)` log p(x | y). Classes with p(y) = 0 are skipped."""
    prior = resolve_class_prior(class_prior, num_classes)
    classes = torch.nonzero(prior > 0).flatten()
    per_class = class_log_likelihoods(score, pixel_values, classes, batch_size, device, progress)
    return marginal_from_class_log_likelihoods(per_class, prior[classes])


@torch.no_grad()
def pixelcnn_class_log_likelihoods(
    models,
    pixel_values: torch.Tensor,
    classes: Sequence[int] | torch.Tensor,
    batch_size: int | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """log p(x | y = c) in nats for every image and every class `c` of `classes`: `(N, len(classes))` (CPU).

    One forward pass per class, batched: each pass holds up to `batch_size` (image, class) pairs, i.e. about
    `batch_size // len(classes)` images under every class at once.
    """
    models = _as_models(models)
    classes = _check_classes(classes, models[0].config.num_classes)
    device = _model_device(models[0])
    return class_log_likelihoods(lambda x, y: _log_likelihood_batch(models, x, y), pixel_values, classes,
                                 _resolve_batch_size(batch_size, device), device, progress)  # fmt: skip


def pixelcnn_marginal_log_likelihood(
    models,
    pixel_values: torch.Tensor,
    class_prior=None,
    batch_size: int | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Exact marginal log p(x) = log Σ_y p(y) p(x | y) in nats per image, `(N,)` float64 on the CPU.

    `class_prior`: p(y), `(num_classes,)` non-negative weights (normalised here; e.g. :func:`class_frequencies`
    of the training labels); `None` means uniform. Classes with p(y) = 0 contribute nothing and are skipped,
    so the figure is exact. For an unconditional model (`config.num_classes is None`) this is log p(x)
    and `class_prior` must be `None`.
    """
    models = _as_models(models)
    num_classes = models[0].config.num_classes
    if num_classes is None:
        if class_prior is not None:
            raise ValueError("`class_prior` given for a model that is not class-conditional.")
        return pixelcnn_log_likelihood(models, pixel_values, None, batch_size, progress).double()
    prior = resolve_class_prior(class_prior, num_classes)
    classes = torch.nonzero(prior > 0).flatten()
    per_class = pixelcnn_class_log_likelihoods(models, pixel_values, classes, batch_size, progress)
    return marginal_from_class_log_likelihoods(per_class, prior[classes])


def independent_categorical_log_likelihood(
    train_levels: torch.Tensor, levels: torch.Tensor, num_levels: int, alpha: float = 0.5
) -> torch.Tensor:
    """The floor any image model should beat: every sub-pixel an independent categorical over `num_levels`,
    fitted by counting `train_levels` `(N, ...)` plus `alpha` per level (0.5: Jeffreys). Returns log p(x) in nats,
    `(M,)`, of `levels` `(M, ...)`."""
    train_levels, levels = train_levels.flatten(1), levels.flatten(1)
    counts = torch.zeros(train_levels.shape[1], num_levels, dtype=torch.float64)
    counts.scatter_add_(1, train_levels.T, torch.ones_like(train_levels.T, dtype=torch.float64))
    log_probs = torch.log((counts + alpha) / (counts.sum(1, keepdim=True) + alpha * num_levels))
    return log_probs.gather(1, levels.T).T.sum(1)


def pixelcnn_metrics(log_likelihood: torch.Tensor, num_subpixels: int) -> dict:
    """`{"bits_per_dim", "nats_per_image", "num_images"}` from per-image log-likelihoods (nats): the one bits/dim
    of every image model (PixelCNNs and pixel LMs)."""
    nats = -log_likelihood.double().mean().item()
    return {
        "bits_per_dim": nats / (num_subpixels * math.log(2)),
        "nats_per_image": nats,
        "num_images": len(log_likelihood),
    }


def likelihood_report(
    score, num_subpixels: int, num_classes: int | None, pixel_values: torch.Tensor, class_labels=None,
    class_prior=None, batch_size: int = 16, device="cpu", progress: bool = False,
) -> dict:  # fmt: skip
    """Both figures of any exact image model given as `score(x, y) -> (B,)` log p(x [| y]) (PixelCNNs, pixel LMs).

    Returns `{"bits_per_dim", "nats_per_image", "num_images"}` for −log p(x) of an unconditional model
    (`num_classes` None); for a class-conditional one, those keys hold the **conditional** figures (−log p(x | y)
    with `class_labels`), and `"marginal_bits_per_dim"`, `"marginal_nats_per_image"` hold −log Σ_y p(y) p(x | y)
    with `class_prior` (`None`: uniform).
    """
    conditional = num_classes is not None
    if conditional and class_labels is None:
        raise ValueError("a class-conditional model needs `class_labels` for its conditional likelihood.")
    labels = class_labels if conditional else None
    report = pixelcnn_metrics(
        batched_log_likelihood(score, pixel_values, labels, batch_size, device, progress), num_subpixels
    )
    if conditional:
        marginal = pixelcnn_metrics(
            marginal_log_likelihood(score, pixel_values, num_classes, class_prior, batch_size, device, progress),
            num_subpixels,
        )
        report["marginal_bits_per_dim"] = marginal["bits_per_dim"]
        report["marginal_nats_per_image"] = marginal["nats_per_image"]
    return report


def pixelcnn_likelihood_report(
    models,
    pixel_values: torch.Tensor,
    class_labels: torch.Tensor | None = None,
    class_prior=None,
    batch_size: int | None = None,
    progress: bool = False,
) -> dict:
    """Both figures of a PixelCNN (or ensemble) on `pixel_values` (:func:`likelihood_report`)."""
    models = _as_models(models)
    device = _model_device(models[0])
    config = models[0].config
    return likelihood_report(
        lambda x, y: _log_likelihood_batch(models, x, y), config.num_subpixels, config.num_classes, pixel_values,
        class_labels, class_prior, _resolve_batch_size(batch_size, device), device, progress,
    )  # fmt: skip


__all__ = [
    "batched_log_likelihood",
    "causal_lm_log_likelihood",
    "class_frequencies",
    "class_log_likelihoods",
    "default_eval_batch_size",
    "independent_categorical_log_likelihood",
    "likelihood_report",
    "marginal_from_class_log_likelihoods",
    "marginal_log_likelihood",
    "pixelcnn_class_log_likelihoods",
    "pixelcnn_likelihood_report",
    "pixelcnn_log_likelihood",
    "pixelcnn_marginal_log_likelihood",
    "pixelcnn_metrics",
    "resolve_class_prior",
    "sum_log_probs",
]
