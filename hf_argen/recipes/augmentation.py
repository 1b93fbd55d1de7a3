"""Augmentations of the captioner's training images, drawn per batch from torch's global RNG: affine, colour,
channel gain, blur, morphology, erasing, random convolution, and (emoji) the skin palette. Pixels are
`(B, C, S, S)` floats normalised to [-1, 1] (white background = 1)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .emoji import SKIN_TONES, emoji_skin_tone


@dataclass
class SkinPalette:
    """Where the skin is in each training image and the vendors' skin colours, for `--augment_skin_palette`.

    `mask` `(N, S, S)` bool (all False for images without one skin tone), `tone` `(N,)` (0 light .. 4 dark, -1
    none), `vendor` `(N,)` (index into `vendors`), `palette` `(V, 5, 3)` median skin colour per vendor and tone in
    [0, 1] (NaN where a vendor has no such image)."""

    mask: torch.Tensor
    tone: torch.Tensor
    vendor: torch.Tensor
    palette: torch.Tensor
    vendors: tuple[str, ...]


def find_skin(
    pixel_values: torch.Tensor, vendors: list[str], unified: list[str], threshold: float = 0.06
) -> SkinPalette:
    """The skin of the one-tone variants among `pixel_values` `(N, 3, S, S)` (normalised to [-1, 1]): for each
    vendor and emoji with at least three such variants, the pixels whose colour varies across them (standard
    deviation above `threshold` on the [0, 1] scale, averaged over channels); `vendors` and `unified` (the code
    points) are per image."""

    count, _, height, width = pixel_values.shape
    names = tuple(sorted(set(vendors)))
    tone = torch.full((count,), -1, dtype=torch.long)
    vendor = torch.as_tensor([names.index(v) for v in vendors], dtype=torch.long)
    mask = torch.zeros(count, height, width, dtype=torch.bool)
    groups: dict[tuple[str, str], list[int]] = {}
    for index, (name, code) in enumerate(zip(vendors, unified)):
        base, image_tone = emoji_skin_tone(code)
        if image_tone >= 0:
            tone[index] = image_tone
            groups.setdefault((name, base), []).append(index)
    colours: dict[tuple[int, int], list[torch.Tensor]] = {}
    for members in groups.values():
        if len(members) < 3:
            tone[members] = -1
            continue
        images = (pixel_values[members].float() + 1) / 2
        skin = images.std(0).mean(0) > threshold
        if not skin.any():
            tone[members] = -1
            continue
        mask[members] = skin
        for member, image in zip(members, images):
            colours.setdefault((int(vendor[member]), int(tone[member])), []).append(image[:, skin].T)
    palette = torch.full((len(names), len(SKIN_TONES), 3), float("nan"))
    for (v, t), pixels in colours.items():
        palette[v, t] = torch.cat(pixels).median(0).values
    return SkinPalette(mask=mask, tone=tone, vendor=vendor, palette=palette, vendors=names)


def random_skin_palette(
    pixel_values: torch.Tensor,
    skin_mask: torch.Tensor,
    skin_tone: torch.Tensor,
    skin_vendor: torch.Tensor,
    palette: torch.Tensor,
    probability: float,
) -> torch.Tensor:
    """Recolour the skin of a random `probability` share of the one-tone images: each skin pixel is scaled, per
    channel, by target / own vendor's colour for its tone, the target a random mix (Dirichlet(1) weights) of every
    vendor's colour for that tone, so shading is kept and the palette no longer tells the vendor. Pixels
    `(B, 3, S, S)` normalised to [-1, 1]; `palette` `(V, 5, 3)` in [0, 1] (NaN: vendor lacks the tone)."""
    chosen = (skin_tone >= 0) & (torch.rand(skin_tone.shape) < probability)
    if not chosen.any():
        return pixel_values
    tones = skin_tone[chosen]
    colours = palette[:, tones].transpose(0, 1)  # (n, V, 3)
    present = ~colours.isnan().any(-1)  # (n, V)
    weights = torch.distributions.Dirichlet(torch.ones(palette.shape[0])).sample((len(tones),)) * present
    target = (weights[..., None] * colours.nan_to_num()).sum(1) / weights.sum(1, keepdim=True).clamp_min(1e-8)
    gain = target / palette[skin_vendor[chosen], tones].clamp_min(1e-3)  # (n, 3)
    x = (pixel_values[chosen] + 1) / 2
    scaled = torch.where(skin_mask[chosen][:, None], x * gain[:, :, None, None].to(x), x)
    out = pixel_values.clone()
    out[chosen] = (scaled.clamp(0, 1) * 2 - 1).to(pixel_values.dtype)
    return out


def random_affine(pixel_values: torch.Tensor, translate: float, scale: float, rotate: float) -> torch.Tensor:
    """Per-image random shift (± `translate` of the side), zoom (1 ± `scale`) and rotation (± `rotate` degrees);
    pixels pulled in from outside repeat the border (the background). Draws from torch's global RNG."""

    batch = pixel_values.shape[0]
    angle = (torch.rand(batch) * 2 - 1) * math.radians(rotate)
    zoom = 1 + (torch.rand(batch) * 2 - 1) * scale
    shift = (torch.rand(batch, 2) * 2 - 1) * translate * 2  # the grid spans [-1, 1]
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(pixel_values), list(pixel_values.shape), align_corners=False)
    return F.grid_sample(pixel_values, grid, padding_mode="border", align_corners=False)


def _uniform(batch: int, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(batch, 1, 1, 1)


def random_color(pixel_values: torch.Tensor, strength: float, saturation: float | None = None) -> torch.Tensor:
    """Per-image random saturation (blend with grey, 1 ± `saturation`, default `strength`), ink contrast against
    the white background (1 ± `strength`) and brightness (± `strength` / 2); hue is kept. Pixels normalised to
    [-1, 1]; clamped there."""
    batch = pixel_values.shape[0]
    saturation = strength if saturation is None else saturation
    x = (pixel_values + 1) / 2
    grey = x.mean(1, keepdim=True)
    x = grey + (x - grey) * _uniform(batch, 1 - saturation, 1 + saturation)
    x = 1 - (1 - x) * _uniform(batch, 1 - strength, 1 + strength)
    x = x + _uniform(batch, -strength / 2, strength / 2)
    return (x.clamp(0, 1) * 2 - 1).to(pixel_values.dtype)


def random_channel_gain(pixel_values: torch.Tensor, strength: float) -> torch.Tensor:
    """Per-image, per-channel random gain of the ink against the white background, 1 ± `strength`: a white-balance
    shift (white stays white, small strengths keep hues). Pixels normalised to [-1, 1]; clamped there."""
    batch, channels = pixel_values.shape[:2]
    gain = 1 - strength + 2 * strength * torch.rand(batch, channels, 1, 1)
    ink = (1 - pixel_values) * gain.to(pixel_values)  # distance from white, in [0, 2]
    return (1 - ink).clamp(-1, 1)


def random_blur(pixel_values: torch.Tensor, probability: float) -> torch.Tensor:
    """Blur a random `probability` share of the images with a 3x3 Gaussian of sigma in [0.3, 1]."""

    batch, channels = pixel_values.shape[:2]
    chosen = torch.rand(batch) < probability
    if not chosen.any():
        return pixel_values
    sigma = 0.3 + 0.7 * torch.rand(int(chosen.sum()))
    taps = torch.exp(-torch.tensor([1.0, 0.0, 1.0])[None] / (2 * sigma[:, None] ** 2))
    taps = taps / taps.sum(1, keepdim=True)
    kernels = (taps[:, :, None] * taps[:, None, :]).repeat_interleave(channels, 0)[:, None]  # (n*C, 1, 3, 3)
    selected = pixel_values[chosen]
    flat = F.pad(selected.reshape(1, -1, *selected.shape[2:]), (1, 1, 1, 1), mode="replicate")
    blurred = F.conv2d(flat, kernels.to(pixel_values), groups=kernels.shape[0]).reshape(selected.shape)
    out = pixel_values.clone()
    out[chosen] = blurred
    return out


def random_morphology(pixel_values: torch.Tensor, probability: float) -> torch.Tensor:
    """For a random `probability` share of the images, thicken (3x3 min filter: dark strokes grow on the white
    background) or thin (3x3 max filter) the drawing, blended in with a weight in [0.3, 1]."""

    batch = pixel_values.shape[0]
    chosen = torch.rand(batch) < probability
    if not chosen.any():
        return pixel_values
    thicker = -F.max_pool2d(-pixel_values, 3, stride=1, padding=1)
    thinner = F.max_pool2d(pixel_values, 3, stride=1, padding=1)
    filtered = torch.where((torch.rand(batch) < 0.5)[:, None, None, None], thicker, thinner)
    weight = _uniform(batch, 0.3, 1.0) * chosen[:, None, None, None]
    return pixel_values + weight.to(pixel_values) * (filtered - pixel_values)


def random_erase(pixel_values: torch.Tensor, probability: float) -> torch.Tensor:
    """Paint one random rectangle (4-16 % of the area, aspect 1/2..2) white (the background) in a random
    `probability` share of the images."""
    batch, _, height, width = pixel_values.shape
    area = _uniform(batch, 0.04, 0.16).flatten()
    aspect = torch.exp(_uniform(batch, -math.log(2), math.log(2)).flatten())
    h = (area * aspect).sqrt().mul(height).clamp(1, height)
    w = (area / aspect).sqrt().mul(width).clamp(1, width)
    top = torch.rand(batch) * (height - h)
    left = torch.rand(batch) * (width - w)
    rows = torch.arange(height)[None, :, None]
    cols = torch.arange(width)[None, None, :]
    inside = (
        (rows >= top[:, None, None]) & (rows < (top + h)[:, None, None])
        & (cols >= left[:, None, None]) & (cols < (left + w)[:, None, None])
        & (torch.rand(batch) < probability)[:, None, None]
    )  # fmt: skip
    return pixel_values.masked_fill(inside[:, None], 1.0)


def random_convolution(pixel_values: torch.Tensor, probability: float) -> torch.Tensor:
    """Random-convolution texture change (RandConv, Xu et al. 2021) for a random `probability` share of the images:
    the ink (distance from white) is filtered by one random k x k kernel (k = 3 or 5, Gaussian weights, signed so
    that flat ink stays ink), the same for every colour channel so that hues stay, rescaled to the ink's own RMS,
    and blended in with a weight in [0, 1]; white stays white. Pixels normalised to [-1, 1]; clamped there."""

    batch = pixel_values.shape[0]
    chosen = torch.rand(batch) < probability
    if not chosen.any():
        return pixel_values
    ink = (1 - pixel_values[chosen].float()) / 2  # (n, C, H, W) in [0, 1], background 0
    count, channels, height, width = ink.shape
    size = 3 if torch.rand(()) < 0.5 else 5
    kernels = torch.randn(count, 1, size, size)
    kernels = kernels * kernels.sum((1, 2, 3), keepdim=True).sign()
    filtered = F.conv2d(
        ink.reshape(1, count * channels, height, width), kernels.repeat_interleave(channels, 0),
        padding=size // 2, groups=count * channels,
    ).reshape(ink.shape)  # fmt: skip
    rms = ink.pow(2).mean((1, 2, 3), keepdim=True).sqrt()
    filtered = filtered * rms / filtered.pow(2).mean((1, 2, 3), keepdim=True).sqrt().clamp_min(1e-6)
    weight = torch.rand(count, 1, 1, 1)
    mixed = (ink + weight * (filtered - ink)).clamp(0, 1)
    out = pixel_values.clone()
    out[chosen] = (1 - 2 * mixed).to(pixel_values.dtype)
    return out


def augment_images(pixel_values: torch.Tensor, flags) -> torch.Tensor:
    """The training augmentation `flags` (`CaptionerArguments`) asks for: morphology, random convolution, colour,
    channel gain, affine, blur, erasing (in that order)."""
    if flags.no_augmentation:
        return pixel_values
    if flags.augment_morphology:
        pixel_values = random_morphology(pixel_values, flags.augment_morphology)
    if flags.augment_random_conv:
        pixel_values = random_convolution(pixel_values, flags.augment_random_conv)
    if flags.augment_color or flags.augment_saturation:
        pixel_values = random_color(pixel_values, flags.augment_color, flags.augment_saturation)
    if flags.augment_channel_gain:
        pixel_values = random_channel_gain(pixel_values, flags.augment_channel_gain)
    if flags.augment_translate or flags.augment_scale or flags.augment_rotate:
        pixel_values = random_affine(pixel_values, flags.augment_translate, flags.augment_scale, flags.augment_rotate)
    if flags.augment_blur:
        pixel_values = random_blur(pixel_values, flags.augment_blur)
    if flags.augment_erase:
        pixel_values = random_erase(pixel_values, flags.augment_erase)
    return pixel_values


__all__ = [
    "SkinPalette",
    "augment_images",
    "find_skin",
    "random_affine",
    "random_blur",
    "random_channel_gain",
    "random_color",
    "random_convolution",
    "random_erase",
    "random_morphology",
    "random_skin_palette",
]
