"""Images <-> integer levels for PixelCNN-style models (a `transformers` image processor).

Imports nothing from hf_argen, so it travels with a saved model folder (`AutoImageProcessor` remote code).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from transformers.image_processing_base import BatchFeature
from transformers.image_processing_utils import BaseImageProcessor

from .validation import check_num_channels


class PixelCNNImageProcessor(BaseImageProcessor):
    r"""Quantise images to `num_levels` integer levels and back.

    Accepts PIL images, numpy arrays or tensors, one image or a list. Arrays are `(H, W)`, `(H, W, C)` or
    `(C, H, W)`; integer arrays are read as 0..255, float arrays as [0, 1]. Grayscale/RGB conversion is explicit:
    the image is converted to `num_channels` channels ("L" or "RGB") before quantising.

    Args:
        num_levels (`int`, defaults to 256): levels per sub-pixel; 0..255 maps to `floor(v * num_levels / 256)`.
        num_channels (`int`, defaults to 1): 1 (grayscale) or 3 (RGB).
        image_size (`int`, *optional*): if set, images are resized to `image_size x image_size` (bilinear).
    """

    model_input_names = ["pixel_values"]

    def __init__(self, num_levels: int = 256, num_channels: int = 1, image_size: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_levels, bool) or not isinstance(num_levels, int) or not 2 <= num_levels <= 256:
            raise ValueError(f"`num_levels` must be an integer in [2, 256], got {num_levels!r}.")
        check_num_channels(num_channels)
        if image_size is not None and (not isinstance(image_size, int) or image_size < 1):
            raise ValueError(f"`image_size` must be a positive integer or None, got {image_size!r}.")
        self.num_levels = num_levels
        self.num_channels = num_channels
        self.image_size = image_size

    @classmethod
    def from_model_config(cls, config) -> PixelCNNImageProcessor:
        return cls(num_levels=config.num_levels, num_channels=config.num_channels, image_size=config.image_size)

    # ---- images -> levels ---------------------------------------------------------------------------
    def _to_pil(self, image) -> Image.Image:
        if isinstance(image, Image.Image):
            if 0 in image.size:
                raise ValueError(f"`images` must have at least one pixel, got a PIL image of size {image.size}.")
            return image
        if not isinstance(image, (torch.Tensor, np.ndarray, list, tuple)):
            raise TypeError(
                f"`images` must be PIL images, numpy arrays or tensors (or a list of them), got {type(image).__name__}."
            )
        array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
        if array.dtype == np.bool_:
            array = array.astype(np.uint8) * 255
        if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
            raise TypeError(f"`images` must hold integer (0..255) or float ([0, 1]) values, got dtype {array.dtype}.")
        if array.size == 0:
            raise ValueError(f"`images` must have at least one pixel, got an empty array of shape {array.shape}.")
        if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
            array = np.moveaxis(array, 0, -1)  # (C, H, W) -> (H, W, C)
        if array.ndim == 3 and array.shape[-1] == 1:
            array = array[..., 0]
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3):
            raise ValueError(f"`images` must be (H, W), (H, W, C) or (C, H, W) with C in (1, 3), got {array.shape}.")
        if np.issubdtype(array.dtype, np.floating):
            if not np.isfinite(array).all():
                raise ValueError("float `images` must be finite (no NaN or infinity), in [0, 1].")
            if array.size and (array.min() < 0 or array.max() > 1):
                raise ValueError("float `images` must be in [0, 1]; pass integer arrays for 0..255 values.")
            array = np.round(array * 255)
        elif array.size and (array.min() < 0 or array.max() > 255):
            raise ValueError("integer `images` must be in [0, 255].")
        return Image.fromarray(array.astype(np.uint8))

    def quantize(self, image) -> np.ndarray:
        """One image -> `(C, H, W)` int64 levels."""
        pil = self._to_pil(image).convert("L" if self.num_channels == 1 else "RGB")
        if self.image_size is not None and pil.size != (self.image_size, self.image_size):
            pil = pil.resize((self.image_size, self.image_size), Image.BILINEAR)
        array = np.asarray(pil, dtype=np.int64)
        array = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
        return array * self.num_levels // 256

    def preprocess(self, images, return_tensors: str | None = "pt", **kwargs) -> BatchFeature:
        """Images -> `BatchFeature(pixel_values=LongTensor (B, C, H, W))` with levels in [0, num_levels)."""
        if not isinstance(images, (list, tuple)):
            images = [images]
        if len(images) == 0:
            raise ValueError("`images` is empty: pass at least one image.")
        levels = [self.quantize(image) for image in images]
        if len({level.shape for level in levels}) > 1:
            raise ValueError("`images` have different sizes; set `image_size` to resize them to one size.")
        return BatchFeature({"pixel_values": np.stack(levels)}, tensor_type=return_tensors)

    __call__ = preprocess

    # ---- levels -> images ---------------------------------------------------------------------------
    def levels_to_uint8(self, pixel_values: torch.Tensor | np.ndarray) -> np.ndarray:
        """Levels `(..., C, H, W)` -> uint8 `(..., H, W, C)` with 0 -> 0 and num_levels - 1 -> 255."""
        if isinstance(pixel_values, torch.Tensor):
            pixel_values = pixel_values.detach().cpu().numpy()
        array = np.asarray(pixel_values)
        if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
            raise TypeError(f"`pixel_values` must hold integer levels, got dtype {array.dtype}.")
        if np.issubdtype(array.dtype, np.floating) and not (np.isfinite(array) & (array == np.round(array))).all():
            raise ValueError(f"`pixel_values` must be integer levels in [0, {self.num_levels}), got other values.")
        if array.size and (array.min() < 0 or array.max() >= self.num_levels):
            raise ValueError(f"`pixel_values` must be in [0, {self.num_levels}).")
        scaled = np.round(array.astype(np.float64) * 255.0 / (self.num_levels - 1)).astype(np.uint8)
        return np.moveaxis(scaled, -3, -1)

    def postprocess(self, pixel_values: torch.Tensor | np.ndarray) -> list[Image.Image]:
        """Levels `(B, C, H, W)` -> list of PIL images ("L" or "RGB")."""
        images = self.levels_to_uint8(pixel_values)
        if images.ndim != 4:
            raise ValueError(f"`pixel_values` must be (batch, channels, height, width), got {tuple(images.shape)}.")
        return [Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image) for image in images]


def make_grid(images: Sequence[Image.Image], num_columns: int, scale: int = 1, padding: int = 1) -> Image.Image:
    """Tile PIL images (same size) into one image, `num_columns` per row, optionally upscaled (nearest)."""
    if not images:
        raise ValueError("`images` must not be empty.")
    width, height = images[0].size
    width, height = width * scale, height * scale
    num_rows = -(-len(images) // num_columns)
    grid_size = (num_columns * (width + padding) + padding, num_rows * (height + padding) + padding)
    grid = Image.new(images[0].mode, grid_size, color=255 if images[0].mode == "L" else (255, 255, 255))
    for index, image in enumerate(images):
        row, column = divmod(index, num_columns)
        grid.paste(
            image.resize((width, height), Image.NEAREST),
            (padding + column * (width + padding), padding + row * (height + padding)),
        )
    return grid


__all__ = ["PixelCNNImageProcessor", "make_grid"]
