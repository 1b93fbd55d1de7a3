"""Exact likelihood evaluation of PixelCNN models (one model, or an ensemble mixing their conditionals)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


@torch.no_grad()
def pixelcnn_log_likelihood(
    models, pixel_values: torch.Tensor, class_labels: torch.Tensor | None = None, batch_size: int = 256
) -> torch.Tensor:
    """Exact log p(x) in nats per image, `(N,)`.

    `models` is one model or a sequence of models with the same config; a sequence is an ensemble whose every
    sub-pixel conditional is the average of the members' conditionals (still an exact autoregressive model).
    """
    models = list(models) if isinstance(models, Sequence) else [models]
    if not models:
        raise ValueError("`models` must not be empty.")
    out = []
    for start in range(0, len(pixel_values), batch_size):
        x = pixel_values[start : start + batch_size].to(models[0].device)
        y = None if class_labels is None else class_labels[start : start + batch_size].to(models[0].device)
        log_probs = torch.stack([torch.log_softmax(m(x, y).logits.float(), dim=-1) for m in models])
        log_probs = torch.logsumexp(log_probs, dim=0) - math.log(len(models))
        out.append(log_probs.gather(-1, x.unsqueeze(-1)).squeeze(-1).flatten(1).sum(dim=1).cpu())
    return torch.cat(out)


def pixelcnn_metrics(log_likelihood: torch.Tensor, num_subpixels: int) -> dict:
    """`{"bits_per_dim", "nats_per_image", "num_images"}` from per-image log-likelihoods (nats)."""
    nats = -log_likelihood.double().mean().item()
    return {
        "bits_per_dim": nats / (num_subpixels * math.log(2)),
        "nats_per_image": nats,
        "num_images": len(log_likelihood),
    }


__all__ = ["pixelcnn_log_likelihood", "pixelcnn_metrics"]
