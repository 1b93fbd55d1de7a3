"""Image helpers: the PixelCNN image processor (images <-> integer levels) and sample grids."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from .pixelcnn.image_processing_pixelcnn import PixelCNNImageProcessor


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
        grid.paste(image.resize((width, height), Image.NEAREST),
                   (padding + column * (width + padding), padding + row * (height + padding)))
    return grid


__all__ = ["PixelCNNImageProcessor", "make_grid"]
