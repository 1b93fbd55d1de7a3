"""Receptive fields of autoregressive image models, read off input gradients."""

from __future__ import annotations

import torch


def dependency_map(
    model, row: int, col: int, channel: int = 0, class_labels=None, seed: int = 0, num_probes: int = 8
) -> torch.Tensor:
    """Which input sub-pixels the logits of sub-pixel `(channel, row, col)` depend on.

    Returns a bool tensor `(C, H, W)`: True where the gradient of the logits at that sub-pixel (projected on a
    random direction over levels, so no cancellation hides a dependency) with respect to the input is non-zero
    for at least one of `num_probes` random inputs (several, so that inactive ReLUs at one input do not hide
    a dependency). A True is a real dependency; a False means none was seen at any probe.
    """
    config = model.config
    size, channels = config.image_size, config.num_channels
    for name, value, limit in (("row", row, size), ("col", col, size), ("channel", channel, channels)):
        if not 0 <= value < limit:
            raise ValueError(f"`{name}` must be in [0, {limit}), got {value}.")
    generator = torch.Generator().manual_seed(seed)
    # Level-embedding models read `E` features per sub-pixel (see `PixelCNNForImageGeneration.input_features`).
    features = (config.input_embedding_size,) if getattr(config, "input_embedding", False) else ()
    x = (torch.rand(num_probes, channels, size, size, *features, generator=generator) * 2 - 1).to(model.device)
    x.requires_grad_(True)
    direction = torch.randn(config.num_levels, generator=generator).to(model.device)
    if class_labels is None and config.num_classes is not None:
        class_labels = torch.zeros(num_probes, dtype=torch.long, device=model.device)
    with torch.enable_grad():
        logits = model.logits_from_inputs(x, class_labels)
        (logits[:, channel, row, col] @ direction).sum().backward()
    grad = (x.grad != 0).any(dim=0)
    return grad.flatten(3).any(dim=3) if features else grad


def raster_index(channel: int, row: int, col: int, num_channels: int, image_size: int) -> int:
    """Position of a sub-pixel in the generation order (raster over pixels, then R, G, B)."""
    return (row * image_size + col) * num_channels + channel
