"""Text data for the causal LMs: datasets loading, a byte-level BPE tokenizer trained with `tokenizers`,
and tokenisation into BOS ... EOS examples.

Not part of the model folders (`hf_argen/models/`), so remote-code copies never need it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import datasets
import torch
from tokenizers import processors
from transformers import PreTrainedTokenizerFast

from .models.tokenization_captioner import byte_level_bpe

SPECIAL_TOKENS = {"pad_token": "<pad>", "bos_token": "<bos>", "eos_token": "<eos>"}


def load_text_dataset(name_or_path: str, split: str = "train", text_column: str = "text") -> datasets.Dataset:
    """A `datasets.Dataset` with a `text_column`: a `save_to_disk` folder, a local text/json/csv file (one example
    per line/record), or a Hub dataset id (named datasets such as Debian's fortunes: `hf_argen.recipes.datasets`)."""
    if os.path.isdir(name_or_path) and os.path.exists(os.path.join(name_or_path, "dataset_info.json")):
        dataset = datasets.load_from_disk(name_or_path)
    elif os.path.isfile(name_or_path):
        builder = {".txt": "text", ".json": "json", ".jsonl": "json", ".csv": "csv"}.get(
            os.path.splitext(name_or_path)[1], "text"
        )
        dataset = datasets.load_dataset(builder, data_files=name_or_path)
    else:
        dataset = datasets.load_dataset(name_or_path)
    if isinstance(dataset, datasets.DatasetDict):
        if split not in dataset:
            raise ValueError(f"Split {split!r} not in {list(dataset)}.")
        dataset = dataset[split]
    if text_column not in dataset.column_names:
        raise ValueError(f"`text_column` {text_column!r} is not a column of the dataset: {dataset.column_names}.")
    return dataset


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048, min_frequency: int = 2) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained with `tokenizers`; encoding prepends `<bos>`, `<eos>` ends texts, `<pad>` pads
    (left, for batched generation). Ids: `<pad>`=0, `<bos>`=1, `<eos>`=2."""
    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise ValueError(f"`vocab_size` must be >= {256 + len(SPECIAL_TOKENS)} for byte-level BPE, got {vocab_size}.")
    tokenizer, trainer = byte_level_bpe(vocab_size, min_frequency, list(SPECIAL_TOKENS.values()), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    bos = SPECIAL_TOKENS["bos_token"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, tokenizer.token_to_id(bos))]
    )
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, padding_side="left", **SPECIAL_TOKENS)


def tokenize_dataset(
    dataset: datasets.Dataset, tokenizer, max_length: int, text_column: str = "text"
) -> datasets.Dataset:
    """`input_ids` = BOS + tokens + EOS for every text that fits in `max_length` tokens (longer ones are
    dropped, so every example ends at its EOS)."""
    eos = tokenizer.eos_token_id

    def encode(batch):
        ids = tokenizer(batch[text_column], add_special_tokens=True)["input_ids"]
        return {"input_ids": [row + [eos] for row in ids]}

    encoded = dataset.map(encode, batched=True, remove_columns=dataset.column_names)
    return encoded.filter(lambda row: len(row["input_ids"]) <= max_length)


def pack_examples(examples: Iterable[dict], max_length: int) -> list[dict]:
    """Concatenate whole BOS ... EOS examples, in order, into rows of at most `max_length` tokens.

    Training on packed rows wastes no compute on padding; every row starts with a BOS, and the EOS -> BOS
    boundaries inside a row still teach the model where texts end.
    """
    rows, current = [], []
    for example in examples:
        ids = list(example["input_ids"])
        if len(ids) > max_length:
            raise ValueError(f"An example has {len(ids)} tokens, more than `max_length` ({max_length}).")
        if current and len(current) + len(ids) > max_length:
            rows.append({"input_ids": current})
            current = []
        current = current + ids
    if current:
        rows.append({"input_ids": current})
    return rows


def collate_causal_lm(examples: list[dict], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-pad `[{"input_ids": [...]}, ...]` to `input_ids`, `attention_mask`, `labels` (-100 = pad)."""
    length = max(len(example["input_ids"]) for example in examples)
    input_ids = torch.full((len(examples), length), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), length), dtype=torch.long)
    for row, example in enumerate(examples):
        ids = torch.as_tensor(example["input_ids"], dtype=torch.long)
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


__all__ = [
    "collate_causal_lm",
    "load_text_dataset",
    "pack_examples",
    "tokenize_dataset",
    "train_tokenizer",
]
