"""Images of any size and mode -> normalised `pixel_values` for the captioner (a `transformers` image processor)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np
from PIL import Image
from transformers.image_processing_base import BatchFeature
from transformers.image_processing_utils import BaseImageProcessor

from .validation import check_num_channels


class CaptionerImageProcessor(BaseImageProcessor):
    r"""Convert images to `(num_channels, image_size, image_size)` float tensors in about [-1, 1].

    Accepts PIL images (any mode), numpy arrays or torch tensors, one image or a list: arrays are `(H, W)`,
    `(H, W, C)` or `(C, H, W)` with C in (1, 3, 4); integer arrays are read as 0..255, float arrays as [0, 1].
    Transparent images (RGBA, LA, palette with transparency; 4-channel arrays) are composited on `background`
    (white by default), then converted to grey ("L") or "RGB", resized (bicubic) to `image_size x image_size`,
    scaled to [0, 1] and normalised with `(x - image_mean) / image_std`.

    Args:
        image_size (`int`, defaults to 32): output side.
        num_channels (`int`, defaults to 3): 1 (grey) or 3 (RGB).
        image_mean / image_std (`float`, default 0.5 / 0.5): normalisation, the same for every channel.
        background (`int`, defaults to 255): grey level transparent pixels are composited on.
    """

    model_input_names = ["pixel_values"]

    def __init__(
        self,
        image_size: int = 32,
        num_channels: int = 3,
        image_mean: float = 0.5,
        image_std: float = 0.5,
        background: int = 255,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
            raise ValueError(f"`image_size` must be a positive integer, got {image_size!r}.")
        check_num_channels(num_channels)
        for name, value in (("image_mean", image_mean), ("image_std", image_std), ("background", background)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"`{name}` must be a finite number, got {value!r}.")
        if not image_std > 0:
            raise ValueError(f"`image_std` must be > 0, got {image_std!r}.")
        if not 0 <= background <= 255:
            raise ValueError(f"`background` must be in [0, 255], got {background!r}.")
        self.image_size = image_size
        self.num_channels = num_channels
        self.image_mean = float(image_mean)
        self.image_std = float(image_std)
        self.background = int(background)

    @classmethod
    def from_model_config(cls, config) -> CaptionerImageProcessor:
        return cls(image_size=config.image_size, num_channels=config.num_channels)

    def to_pil(self, image) -> Image.Image:
        """Any accepted image -> PIL image in "L" or "RGB" (transparent pixels composited on the background)."""
        if not isinstance(image, Image.Image):
            image = _array_to_pil(image)
        elif 0 in image.size:
            raise ValueError(f"`images` must not be empty, got a {image.size[0]}x{image.size[1]} PIL image.")
        if image.mode == "P":
            image = image.convert("RGBA")
        if image.mode in ("RGBA", "LA", "PA") or (image.mode in ("RGB", "L") and "transparency" in image.info):
            rgba = image.convert("RGBA")
            canvas = Image.new("RGBA", rgba.size, (self.background,) * 3 + (255,))
            image = Image.alpha_composite(canvas, rgba)
        return image.convert("L" if self.num_channels == 1 else "RGB")

    def to_array(self, image) -> np.ndarray:
        """One image -> float32 `(num_channels, image_size, image_size)`, normalised."""
        pil = self.to_pil(image)
        if pil.size != (self.image_size, self.image_size):
            pil = pil.resize((self.image_size, self.image_size), Image.BICUBIC)
        array = np.asarray(pil, dtype=np.float32) / 255.0
        array = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
        return (array - self.image_mean) / self.image_std

    def preprocess(self, images, return_tensors: str | None = "pt", **kwargs) -> BatchFeature:
        """Images -> `BatchFeature(pixel_values=FloatTensor (B, C, image_size, image_size))`."""
        if images is None:
            raise ValueError("`images` must be given (a PIL image, array or tensor, or a list of them).")
        if isinstance(images, (Image.Image, np.ndarray, str, bytes)) or type(images).__module__.startswith("torch"):
            images = [images]
        elif isinstance(images, Mapping):
            raise ValueError(f"`images` must be an image or a list of images, got {type(images).__name__}.")
        elif not isinstance(images, (list, tuple)):
            images = list(images) if hasattr(images, "__iter__") else [images]  # e.g. a `datasets` Column
        if not images:
            raise ValueError("`images` is an empty list.")
        return BatchFeature(
            {"pixel_values": np.stack([self.to_array(image) for image in images])}, tensor_type=return_tensors
        )

    __call__ = preprocess


def _array_to_pil(image) -> Image.Image:
    if type(image).__module__.startswith("torch"):
        image = image.detach().cpu()
        if image.is_floating_point() and str(image.dtype) not in ("torch.float16", "torch.float32", "torch.float64"):
            image = image.float()  # bfloat16, float8: numpy has no such dtype
        image = image.numpy()
    if not isinstance(image, np.ndarray):
        raise ValueError(f"`images` must be PIL images, numpy arrays or torch tensors, got {type(image).__name__}.")
    array = image
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)  # (C, H, W) -> (H, W, C)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)) or 0 in array.shape:
        raise ValueError(
            f"`images`: arrays must be (H, W), (H, W, C) or (C, H, W) with C in (1, 3, 4) and H, W >= 1, got "
            f"shape {array.shape}."
        )
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise ValueError("`images`: float arrays must hold finite values in [0, 1]; pass uint8 for 0..255.")
        array = np.round(array * 255)
    elif np.issubdtype(array.dtype, np.integer):
        if array.min() < 0 or array.max() > 255:
            raise ValueError("`images`: integer arrays must hold values in [0, 255].")
    else:
        raise ValueError(f"`images`: arrays must be integer or float, got {array.dtype}.")
    array = array.astype(np.uint8)
    return Image.fromarray(array, mode="RGBA" if array.ndim == 3 and array.shape[-1] == 4 else None)


__all__ = ["CaptionerImageProcessor"]
