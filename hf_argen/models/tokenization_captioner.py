"""Train a caption tokenizer with `tokenizers` and wrap it as a `PreTrainedTokenizerFast` (bos/eos/pad)."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = {"pad_token": "<pad>", "bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>"}


def byte_level_bpe(vocab_size: int, min_frequency: int, special_tokens: list[str], **trainer_kwargs):
    """An untrained byte-level BPE `tokenizers.Tokenizer` (never unknown: every byte is in the alphabet) and the
    `BpeTrainer` that trains it to `vocab_size` tokens, `special_tokens` first."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        **trainer_kwargs,
    )
    return tokenizer, trainer


def train_caption_tokenizer(
    captions: Iterable[str], kind: str = "word", vocab_size: int = 4096, min_frequency: int = 1, lowercase: bool = True
) -> PreTrainedTokenizerFast:
    """A tokenizer trained on `captions`: `kind="word"` (one token per word or punctuation mark, decoding back to
    the caption as written; words seen fewer than `min_frequency` times map to `<unk>`) or `"bpe"` (byte-level
    BPE with up to `vocab_size` tokens, never unknown). Ids 0..3 are `<pad>`, `<bos>`, `<eos>`, `<unk>`; captions
    are lower-cased when `lowercase`."""
    if isinstance(captions, (str, bytes)) or not hasattr(captions, "__iter__"):
        raise ValueError(f"`captions` must be a non-empty list of strings, got {type(captions).__name__}.")
    captions = [c for c in captions]
    if not captions or not all(isinstance(c, str) for c in captions):
        raise ValueError("`captions` must be a non-empty list of strings.")
    if isinstance(min_frequency, bool) or not isinstance(min_frequency, numbers.Integral) or min_frequency < 0:
        raise ValueError(f"`min_frequency` must be an integer >= 0, got {min_frequency!r}.")
    if not isinstance(lowercase, bool):
        raise ValueError(f"`lowercase` must be True or False, got {lowercase!r}.")
    if kind not in ("word", "bpe"):
        raise ValueError(f"`kind` must be 'word' or 'bpe', got {kind!r}.")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < len(SPECIAL_TOKENS) + 1:
        raise ValueError(f"`vocab_size` must be an integer > {len(SPECIAL_TOKENS)}, got {vocab_size!r}.")
    special = list(SPECIAL_TOKENS.values())
    norm = [normalizers.NFKC(), normalizers.Strip()] + ([normalizers.Lowercase()] if lowercase else [])
    if kind == "word":
        tokenizer = Tokenizer(models.WordLevel(unk_token=SPECIAL_TOKENS["unk_token"]))
        # Words (with their leading space marked "▁") and single punctuation marks: lossless, so a decoded caption
        # reads exactly as written ("waving hand: medium-light skin tone", "man's shoe").
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Metaspace(prepend_scheme="always"), pre_tokenizers.Punctuation(behavior="isolated")]
        )
        tokenizer.decoder = decoders.Metaspace(prepend_scheme="always")
        trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=special)
    else:
        tokenizer, trainer = byte_level_bpe(vocab_size, min_frequency, special)
    tokenizer.normalizer = normalizers.Sequence(norm)
    tokenizer.train_from_iterator(captions, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **SPECIAL_TOKENS)


__all__ = ["SPECIAL_TOKENS", "byte_level_bpe", "train_caption_tokenizer"]
