"""Token layout of a causal LM over the sub-pixels of integer images (a *pixel LM*: an RNN, a transformer or a
state-space model reading and emitting one sub-pixel at a time), inference-time: used by the pixel LM recipe, its
sampler and the model-family benchmark.

For ``L`` levels and ``C`` classes (``C = 0``: unconditional)::

    ids [0, L)              sub-pixel levels
    id  L                   BOS
    ids [L + 1, L + 1 + C)  class tokens; class c is L + 1 + c
    id  L + 1 + C           pad (never trained on; only there because `generate()` wants one)

An image `(C, H, W)` is ``[BOS] (+ [class token]) + C * H * W`` levels in the PixelCNN's order: raster order (row
by row), and within a pixel R, then G, then B. The model's distribution over a sub-pixel is its softmax over the
level ids only (every other id suppressed when sampling), so likelihoods and samples agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PixelVocabulary:
    """Token ids of a pixel LM (see the module docstring)."""

    num_levels: int
    num_classes: int = 0

    def __post_init__(self):
        for name, minimum in (("num_levels", 2), ("num_classes", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")

    @property
    def bos_token_id(self) -> int:
        return self.num_levels

    @property
    def class_token_offset(self) -> int:
        return self.num_levels + 1

    @property
    def pad_token_id(self) -> int:
        return self.num_levels + 1 + self.num_classes

    @property
    def vocab_size(self) -> int:
        return self.num_levels + self.num_classes + 2

    @property
    def prefix_length(self) -> int:
        """Tokens before the first sub-pixel: BOS, and the class token of a class-conditional model."""
        return 2 if self.num_classes else 1

    @property
    def non_level_ids(self) -> list[int]:
        """Every id that is not a level (what sampling must never produce)."""
        return list(range(self.num_levels, self.vocab_size))

    def prefix(self, class_labels=None, batch_size: int | None = None) -> torch.LongTensor:
        """`(B, prefix_length)`: BOS, then the class token of each of `class_labels` `(B,)` (class-conditional), or
        BOS alone for `batch_size` images (unconditional)."""
        if not self.num_classes:
            if class_labels is not None:
                raise ValueError("`class_labels` given to an unconditional pixel vocabulary (num_classes=0).")
            if batch_size is None:
                raise ValueError("an unconditional prefix needs `batch_size`.")
            return torch.full((batch_size, 1), self.bos_token_id, dtype=torch.long)
        if class_labels is None:
            raise ValueError(f"a class-conditional pixel vocabulary ({self.num_classes} classes) needs `class_labels`.")
        labels = torch.as_tensor(class_labels, dtype=torch.long).reshape(-1)
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"`class_labels` must be in [0, {self.num_classes}), got range "
                f"[{int(labels.min())}, {int(labels.max())}]."
            )
        return torch.stack([torch.full_like(labels, self.bos_token_id), labels + self.class_token_offset], dim=1)

    def levels_to_tokens(self, pixel_values: torch.Tensor) -> torch.LongTensor:
        """Integer images `(B, C, H, W)` in [0, num_levels) -> sub-pixel tokens `(B, H * W * C)`: raster order, and
        R, G, B within a pixel (the PixelCNN's order)."""
        if not isinstance(pixel_values, torch.Tensor) or pixel_values.dim() != 4 or pixel_values.dtype != torch.long:
            shape = tuple(getattr(pixel_values, "shape", ()))
            raise ValueError(
                "`pixel_values` must be a torch.long tensor of shape (batch, channels, height, width), got "
                f"{getattr(pixel_values, 'dtype', type(pixel_values).__name__)} {shape}."
            )
        if pixel_values.numel() and (pixel_values.min() < 0 or pixel_values.max() >= self.num_levels):
            raise ValueError(f"`pixel_values` must be in [0, {self.num_levels}).")
        return pixel_values.permute(0, 2, 3, 1).reshape(len(pixel_values), -1)

    def tokens_to_levels(self, tokens: torch.Tensor, num_channels: int, image_size: int) -> torch.LongTensor:
        """The inverse of :meth:`levels_to_tokens`: sub-pixel tokens `(B, H * W * C)` -> images `(B, C, H, W)`."""
        length = num_channels * image_size * image_size
        if tokens.dim() != 2 or tokens.shape[1] != length:
            raise ValueError(f"`tokens` must be (batch, {length}) sub-pixels, got {tuple(tokens.shape)}.")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= self.num_levels):
            raise ValueError(f"`tokens` must be levels in [0, {self.num_levels}).")
        return tokens.reshape(len(tokens), image_size, image_size, num_channels).permute(0, 3, 1, 2).contiguous()

    def sequences(self, pixel_values: torch.Tensor, class_labels=None) -> torch.LongTensor:
        """Integer images `(B, C, H, W)` (+ labels `(B,)`) -> token sequences `(B, prefix_length + C*H*W)`."""
        tokens = self.levels_to_tokens(pixel_values)
        return torch.cat([self.prefix(class_labels, len(tokens)).to(tokens.device), tokens], dim=1)


__all__ = ["PixelVocabulary"]
