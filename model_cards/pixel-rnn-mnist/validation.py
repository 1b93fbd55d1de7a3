"""Argument checks shared by the configurations and models: each raises a ValueError naming the argument."""

from __future__ import annotations

import torch


def check_int(name: str, value, minimum: int) -> None:
    """Raise a ValueError naming `name` unless `value` is an int (not a bool) >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")


def check_num_channels(num_channels) -> None:
    """Raise a ValueError naming `num_channels` unless it is 1 (grayscale) or 3 (RGB)."""
    if num_channels not in (1, 3):
        raise ValueError(f"`num_channels` must be 1 (grayscale) or 3 (RGB), got {num_channels!r}.")


def check_image_shape(image_size, num_channels) -> None:
    """Raise a ValueError naming the argument unless `image_size` is an int >= 1 and `num_channels` 1 or 3."""
    check_int("image_size", image_size, 1)
    check_num_channels(num_channels)


def check_count(name: str, value, maximum: int) -> None:
    """Raise a ValueError naming `name` unless `value` is an int (not a bool) in [0, `maximum`]."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValueError(f"`{name}` must be an integer in [0, {maximum}], got {value!r}.")


def cap_max_length(generation_config, has_default_max_length: bool, limit: int, asked: str) -> None:
    """Cap `generation_config.max_length` at `limit` (the model's `max_position_embeddings`) when it is the default
    one (`max_new_tokens` unset too); raise a ValueError when a longer one was asked for (`asked`: the error's start,
    naming what the caller asked for)."""
    if generation_config.max_length <= limit:
        return
    if has_default_max_length and generation_config.max_new_tokens is None:
        generation_config.max_length = limit
        return
    raise ValueError(f"{asked}, past `max_position_embeddings` ({limit}).")


def check_special_tokens(config) -> None:
    """Raise a ValueError unless the bos/eos/pad ids of `config` (None, an id or a list) are in [0, vocab_size)."""
    for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
        value = getattr(config, name)
        values = value if isinstance(value, list) else [value]
        for token in values:
            if token is not None and (isinstance(token, bool) or not 0 <= token < config.vocab_size):
                raise ValueError(f"`{name}` must be in [0, vocab_size={config.vocab_size}), got {value!r}.")


def check_input_ids(input_ids: torch.Tensor, vocab_size: int, name: str = "input_ids") -> None:
    """Raise a ValueError unless `input_ids` is an integer `(batch, seq_len)` tensor in [0, vocab_size)."""
    if not isinstance(input_ids, torch.Tensor):
        raise ValueError(f"`{name}` must be a torch.Tensor, got {type(input_ids).__name__}.")
    if input_ids.dtype.is_floating_point or input_ids.dtype.is_complex or input_ids.dtype == torch.bool:
        raise ValueError(f"`{name}` must hold integer token ids in [0, {vocab_size}), got {input_ids.dtype}.")
    if input_ids.dim() != 2:
        raise ValueError(f"`{name}` must have shape (batch, seq_len), got {tuple(input_ids.shape)}.")
    if not input_ids.numel():
        return
    low, high = torch.aminmax(input_ids)  # one kernel: this runs at every decoding step
    if int(low) < 0 or int(high) >= vocab_size:
        raise ValueError(
            f"`{name}` must be token ids in [0, vocab_size={vocab_size}), got range "
            f"[{int(input_ids.min())}, {int(input_ids.max())}]."
        )


__all__ = [
    "cap_max_length",
    "check_count",
    "check_image_shape",
    "check_input_ids",
    "check_int",
    "check_num_channels",
    "check_special_tokens",
]
