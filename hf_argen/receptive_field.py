"""Receptive fields of autoregressive image models, read off input gradients."""

from __future__ import annotations

import torch

from .models import PixelCNNConfig, PixelCNNForImageGeneration


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


# Colour indices of `receptive_field_maps`, with their legend and colours (as drawn by experiments/receptive_field.py).
RECEPTIVE_FIELD_LEGEND = (
    "later (never seen)",
    "seen",
    "earlier, beyond this depth's reach",
    "blind spot",
    "target pixel",
)
RECEPTIVE_FIELD_COLOURS = ("#f2f2f2", "#3b6fb6", "#c7c7c7", "#f28e2b", "#d62728")


def seen_pixels(
    architecture: str,
    image_size: int,
    num_hidden_layers: int,
    row: int,
    col: int,
    first_kernel_size: int = 3,
    seed: int = 0,
    device=None,
) -> torch.Tensor:
    """Bool `(H, W)`: the pixels the logits of pixel `(row, col)` depend on, in a randomly initialised 1-channel
    PixelCNN of `architecture` ("masked" or "gated") with `num_hidden_layers` layers after the first."""

    config = PixelCNNConfig(
        image_size=image_size,
        num_channels=1,
        num_levels=256,
        hidden_size=32,
        num_hidden_layers=num_hidden_layers,
        kernel_size=3,
        first_kernel_size=first_kernel_size,
        output_hidden_size=32,
        architecture=architecture,
    )
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # weights drawn reproducibly, without moving the caller's global RNG
    try:
        model = PixelCNNForImageGeneration(config).eval()
    finally:
        torch.random.set_rng_state(generator_state)
    if device is not None:
        model = model.to(device)
    return dependency_map(model, row, col, seed=seed).any(dim=0).cpu()


def receptive_field_maps(
    image_size: int, num_hidden_layers: int, row: int, col: int, first_kernel_size: int = 3, seed: int = 0, device=None
) -> dict[str, torch.Tensor]:
    """The receptive field of pixel `(row, col)` in a masked and a gated PixelCNN of the same depth.

    Returns `{"masked": map, "gated": map}`, each a long `(H, W)` tensor of indices into `RECEPTIVE_FIELD_LEGEND`:
    0 later pixels, 1 seen, 2 earlier but beyond this depth's reach (for both models), 3 the blind spot (earlier,
    within reach of the other model, unseen by this one), 4 the target pixel.
    """
    seen = {architecture: seen_pixels(architecture, image_size, num_hidden_layers, row, col, first_kernel_size,
                                      seed, device)
            for architecture in ("masked", "gated")}  # fmt: skip
    reachable = seen["masked"] | seen["gated"]
    order = torch.arange(image_size * image_size).view(image_size, image_size)
    earlier = order < row * image_size + col
    maps = {}
    for architecture, pixels in seen.items():
        colours = torch.zeros(image_size, image_size, dtype=torch.long)
        colours[earlier & ~reachable] = 2
        colours[earlier & reachable & ~pixels] = 3
        colours[pixels] = 1
        colours[row, col] = 4
        maps[architecture] = colours
    return maps
