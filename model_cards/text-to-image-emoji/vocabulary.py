"""Token layouts of the causal-LM priors over VQ-VAE codes (inference-time: used by the two-stage models and by
their training recipes).

Class-conditional (:class:`PriorVocabulary`), for a VQ-VAE with ``K`` codes and ``C`` classes::

    ids [0, K)          codes, in raster order (row by row) of the (h, w) code map
    ids [K, K + C)      class tokens; class c is K + c
    id  K + C           pad (never trained on; only there because `generate()` wants one)
    id  K + C + 1       the null class (only with `null_class=True`): the condition dropped, for guidance

A sequence is ``[class token] + h * w codes``; the class token plays the part of BOS.

Text-conditional (:class:`TextToImageVocabulary`), for a caption tokenizer of ``T`` tokens (its ids unchanged) and
``K`` codes::

    ids [0, T)          caption tokens (the tokenizer's ids: pad, bos, eos, unk, words, ...)
    ids [T, T + K)      codes; code k is T + k

A sequence is a prompt of fixed length ``max_text_length`` -- pads, ``<bos>``, the caption's tokens, ``<eos>``
(left-padded, every token attended, so the codes always sit at the same positions) -- then ``h * w`` codes. The
null prompt (the caption dropped, what guidance contrasts with) is the empty caption: pads, ``<bos>``, ``<eos>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PriorVocabulary:
    """Token ids of a class-conditional code prior (see the module docstring)."""

    num_codes: int
    num_classes: int = 10
    null_class: bool = False

    def __post_init__(self):
        for name in ("num_codes", "num_classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")
        if not isinstance(self.null_class, bool):
            raise ValueError(f"`null_class` must be True or False, got {self.null_class!r}.")

    @property
    def class_token_offset(self) -> int:
        return self.num_codes

    @property
    def pad_token_id(self) -> int:
        return self.num_codes + self.num_classes

    @property
    def null_token_id(self) -> int | None:
        """The null class's token (the class dropped), or None without one."""
        return self.num_codes + self.num_classes + 1 if self.null_class else None

    @property
    def vocab_size(self) -> int:
        return self.num_codes + self.num_classes + 1 + int(self.null_class)

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


def _check_count(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")


@dataclass(frozen=True)
class TextToImageVocabulary:
    """Token ids of a text-conditional code prior (see the module docstring)."""

    num_text_tokens: int
    num_codes: int
    max_text_length: int
    pad_token_id: int = 0
    bos_token_id: int = 1
    eos_token_id: int = 2

    def __post_init__(self):
        _check_count("num_text_tokens", self.num_text_tokens, 3)
        _check_count("num_codes", self.num_codes, 1)
        _check_count("max_text_length", self.max_text_length, 2)
        for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < self.num_text_tokens:
                raise ValueError(f"`{name}` must be a caption token id in [0, {self.num_text_tokens}), got {value!r}.")

    @property
    def code_offset(self) -> int:
        return self.num_text_tokens

    @property
    def vocab_size(self) -> int:
        return self.num_text_tokens + self.num_codes

    @property
    def max_caption_tokens(self) -> int:
        """The most caption tokens a prompt holds (`max_text_length` less `<bos>` and `<eos>`)."""
        return self.max_text_length - 2

    @property
    def non_code_ids(self) -> list[int]:
        """Every id that is not a code (what sampling must never produce in an image position)."""
        return list(range(self.num_text_tokens))

    def prompts(self, captions) -> torch.LongTensor:
        """Caption token ids (a list of lists of ids in [0, T), no special tokens) -> prompts `(B, max_text_length)`:
        pads, `<bos>`, the tokens, `<eos>`. A caption of more than `max_caption_tokens` tokens raises `ValueError`."""
        rows = []
        for index, tokens in enumerate(captions):
            tokens = [int(t) for t in tokens]
            if len(tokens) > self.max_caption_tokens:
                raise ValueError(
                    f"caption {index} has {len(tokens)} tokens; this model reads at most {self.max_caption_tokens}."
                )
            if any(not 0 <= t < self.num_text_tokens for t in tokens):
                raise ValueError(f"caption {index} holds token ids outside [0, {self.num_text_tokens}).")
            pads = [self.pad_token_id] * (self.max_caption_tokens - len(tokens))
            rows.append(pads + [self.bos_token_id, *tokens, self.eos_token_id])
        return torch.tensor(rows, dtype=torch.long).reshape(len(rows), self.max_text_length)

    def null_prompts(self, batch_size: int) -> torch.LongTensor:
        """The null prompt (the empty caption) `batch_size` times: `(batch_size, max_text_length)`."""
        return self.prompts([[]] * batch_size)

    def sequences(self, prompts: torch.Tensor, codes: torch.Tensor) -> torch.LongTensor:
        """Prompts `(B, max_text_length)` + code maps `(B, h, w)` (or flat) -> token sequences `(B, max_text_length +
        h*w)`."""
        codes = torch.as_tensor(codes, dtype=torch.long).reshape(len(codes), -1)
        if codes.numel() and (codes.min() < 0 or codes.max() >= self.num_codes):
            raise ValueError(f"`codes` must be in [0, {self.num_codes}).")
        prompts = torch.as_tensor(prompts, dtype=torch.long).to(codes.device)
        if prompts.shape != (len(codes), self.max_text_length):
            raise ValueError(f"`prompts` must be ({len(codes)}, {self.max_text_length}), got {tuple(prompts.shape)}.")
        return torch.cat([prompts, codes + self.code_offset], dim=1)
