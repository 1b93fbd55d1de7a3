"""Token layout of a class-conditional prior over VQ-VAE codes (inference-time: used by the two-stage model
and by the prior's training recipe).

For a VQ-VAE with ``K`` codes and ``C`` classes::

    ids [0, K)          codes, in raster order (row by row) of the (h, w) code map
    ids [K, K + C)      class tokens; class c is K + c
    id  K + C           pad (never trained on; only there because `generate()` wants one)

A sequence is ``[class token] + h * w codes``; the class token plays the part of BOS.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PriorVocabulary:
    """Token ids of a class-conditional code prior (see the module docstring)."""

    num_codes: int
    num_classes: int = 10

    def __post_init__(self):
        for name in ("num_codes", "num_classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")

    @property
    def class_token_offset(self) -> int:
        return self.num_codes

    @property
    def pad_token_id(self) -> int:
        return self.num_codes + self.num_classes

    @property
    def vocab_size(self) -> int:
        return self.num_codes + self.num_classes + 1

    @property
    def non_code_ids(self) -> list[int]:
        """Every id that is not a code (what sampling must never produce)."""
        return list(range(self.num_codes, self.vocab_size))

    def class_tokens(self, class_labels) -> torch.LongTensor:
        """Class labels `(B,)` in [0, num_classes) -> class token ids `(B,)`."""
        labels = torch.as_tensor(class_labels, dtype=torch.long).reshape(-1)
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"`class_labels` must be in [0, {self.num_classes}), got range "
                f"[{int(labels.min())}, {int(labels.max())}]."
            )
        return labels + self.class_token_offset

    def sequences(self, codes: torch.Tensor, class_labels) -> torch.LongTensor:
        """Code maps `(B, h, w)` (or flat `(B, h*w)`) + labels `(B,)` -> token sequences `(B, 1 + h*w)`."""
        codes = torch.as_tensor(codes, dtype=torch.long).reshape(len(codes), -1)
        if codes.numel() and (codes.min() < 0 or codes.max() >= self.num_codes):
            raise ValueError(f"`codes` must be in [0, {self.num_codes}).")
        return torch.cat([self.class_tokens(class_labels)[:, None], codes], dim=1)
