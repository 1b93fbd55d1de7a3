"""Text recipe: a byte-level BPE tokenizer trained on the training texts, BOS + text + EOS examples (packed into
rows by default), a transformer or RNN causal LM, and the validation NLL hook; :func:`train_causal_lm` is the
run `training/train_causal_lm.py` starts. The output folder loads with
`pipeline("text-generation", model=output_dir)`.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import AutoTokenizer

from ..atomic import atomic_save_pretrained
from ..models import ARRNNConfig, ARRNNForCausalLM, ARTransformerConfig, ARTransformerForCausalLM
from ..text_data import collate_causal_lm, pack_examples, tokenize_dataset, train_tokenizer
from ..training.arguments import VALIDATION, CausalLMSizeArguments, DataArguments, RunArguments
from ..training.loop import TrainingLoop, TrainResult, evaluate_across_processes, make_accelerator
from .cards import causal_lm_card_metrics, publish_run
from .datasets import load_texts
from .pixel_lm import train_pixel_lm

logger = logging.getLogger(__name__)

# `training/train_causal_lm.py`'s defaults for the shared flags (`--help` shows them).
TRAINING_DEFAULTS = dict(
    torch_compile="false",  # compiling this model on CUDA is not yet verified; --torch_compile true opts in
    dataset_name="fortunes",
    train_batch_size=32,
    eval_batch_size=64,
    learning_rate=2e-3,
    lr_scheduler="cosine",
    lr_warmup_steps=100,
    weight_decay=0.01,
    adam_beta2=0.98,
    num_train_epochs=5,
    checkpointing_steps=250,
    checkpoints_total_limit=2,
    eval_steps=250,
    hidden_size=160,
    dropout=0.1,
)


@dataclass
class CausalLMArguments(CausalLMSizeArguments):
    """Flags of `training/train_causal_lm.py` beyond the shared ones."""

    text_column: str = field(default="text", metadata={"help": "the dataset's text column."})
    validation_fraction: float = field(
        default=0.05, metadata={"help": "share of the texts held out (seeded) for `--eval_split validation`."}
    )
    max_length: int = field(
        default=128, metadata={"help": "longest example in tokens (BOS/EOS included); longer texts are dropped."}
    )
    max_examples: int | None = field(default=None, metadata={"help": "use only the first N texts."})
    tokenizer_vocab_size: int = field(default=2000, metadata={"help": "size of the BPE vocabulary trained."})
    no_packing: bool = field(
        default=False, metadata={"help": "one text per training row (padded) instead of packing texts into rows."}
    )
    model_type: str = field(
        default="transformer",
        metadata={"help": "the causal LM built: transformer, rnn; with --pixels also transformers' imagegpt and mamba.",
                  "choices": ["transformer", "rnn", "imagegpt", "mamba"]},
    )  # fmt: skip
    position_embedding_type: str = field(
        default="rotary", metadata={"help": "transformer only: positions.", "choices": ["learned", "rotary"]}
    )
    pixels: bool = field(
        default=False,
        metadata={"help": "train a pixel LM on an image dataset instead (`--dataset_name digits`, mnist, ...): BOS, "
                  "class token, sub-pixels in the PixelCNN's order; exact bits/dim (hf_argen.recipes.pixel_lm)."},
    )  # fmt: skip
    unconditional: bool = field(default=False, metadata={"help": "--pixels: no class token."})
    image_size: int | None = field(default=None, metadata={"help": "--pixels: default the dataset's image size."})
    num_channels: int | None = field(default=None, metadata={"help": "--pixels: default 3 for RGB data, else 1."})
    num_levels: int | None = field(default=None, metadata={"help": "--pixels: default 17 for digits, else 256."})
    row_above: bool = field(default=False, metadata={"help": "--pixels, rnn: also read the three sub-pixels above the "
                                                             "one predicted (ARRNNConfig.input_lags)."})  # fmt: skip


def build_model(flags: CausalLMArguments, tokenizer):
    """A new `ARTransformerForCausalLM` or `ARRNNForCausalLM` for `tokenizer`'s vocabulary."""

    special = dict(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    if flags.model_type == "transformer":
        config = ARTransformerConfig(
            hidden_size=flags.hidden_size,
            num_hidden_layers=flags.num_hidden_layers,
            num_attention_heads=flags.num_attention_heads,
            max_position_embeddings=flags.max_length + 128,
            position_embedding_type=flags.position_embedding_type,
            hidden_dropout=flags.dropout,
            **special,
        )
        return ARTransformerForCausalLM(config)
    config = ARRNNConfig(
        hidden_size=flags.hidden_size,
        num_hidden_layers=flags.num_hidden_layers,
        cell_type=flags.cell_type,
        hidden_dropout=flags.dropout,
        **special,
    )
    return ARRNNForCausalLM(config)


def make_eval_fn(examples: list, pad_token_id: int, batch_size: int):
    """Validation NLL in nats per predicted token (every token after BOS, EOS included) and perplexity."""

    def eval_fn(model, accelerator):
        def statistics(index):
            if not len(index):
                return {"nll": 0.0, "tokens": 0.0}
            batch = collate_causal_lm([examples[i] for i in index.tolist()], pad_token_id)
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            logits = model(input_ids=batch["input_ids"], use_cache=False).logits[:, :-1].float()
            targets = batch["labels"][:, 1:]
            nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100, reduction="sum")
            return {"nll": nll.double(), "tokens": (targets != -100).sum().double()}

        totals = evaluate_across_processes(accelerator, len(examples), batch_size, statistics, desc="eval NLL")
        nats = (totals["nll"] / totals["tokens"]).item()
        return {"validation_nats_per_token": nats, "validation_perplexity": math.exp(nats)}

    return eval_fn


@dataclass
class TextData:
    """What :func:`build_data` prepares: the tokenizer, training rows (packed unless `--no_packing`) and validation
    examples as `{"input_ids": [...]}` dicts, and how many training texts the rows hold."""

    tokenizer: object
    train: list
    valid: list
    num_train_texts: int


def build_data(data: DataArguments, run: RunArguments, flags: CausalLMArguments, accelerator) -> TextData:
    """Build data: the texts (a seeded validation share held out), a BPE tokenizer trained once by the main process
    and kept in ``output_dir/tokenizer`` (a resumed run tokenises exactly as the first one), BOS ... EOS examples."""
    column = flags.text_column
    tokenizer_dir = Path(run.output_dir, "tokenizer")
    with accelerator.main_process_first():  # dataset caches and the tokenizer are written once
        dataset = load_texts(data.dataset_name, data.dataset_split, column)
        if flags.max_examples is not None:
            dataset = dataset.select(range(min(flags.max_examples, len(dataset))))
        train_texts, valid_texts = dataset, None
        if data.eval_split == VALIDATION:
            split = dataset.train_test_split(test_size=flags.validation_fraction, seed=run.seed)
            train_texts, valid_texts = split["train"], split["test"]
        elif data.eval_split.lower() != "none":
            valid_texts = load_texts(data.dataset_name, data.eval_split, column)
        if tokenizer_dir.exists():
            tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        else:
            logger.info(
                "training a BPE tokenizer (%d tokens) on %d texts", flags.tokenizer_vocab_size, len(train_texts)
            )
            tokenizer = train_tokenizer(train_texts[column], vocab_size=flags.tokenizer_vocab_size)
            atomic_save_pretrained(tokenizer, tokenizer_dir)  # one rename: never a half-written tokenizer
        train = list(tokenize_dataset(train_texts, tokenizer, flags.max_length, column))
        valid = [] if valid_texts is None else list(tokenize_dataset(valid_texts, tokenizer, flags.max_length, column))
    if data.max_eval_samples:
        valid = valid[: data.max_eval_samples]
    num_train_texts = len(train)
    if not flags.no_packing:
        train = pack_examples(train, flags.max_length)
    return TextData(tokenizer, train, valid, num_train_texts)


def train(model, prepared: TextData, data: DataArguments, run: RunArguments, accelerator) -> TrainResult:
    """Train: the shared loop on the rows (right-padded batches), validation NLL hook, tokenizer saved beside."""
    pad = prepared.tokenizer.pad_token_id
    loop = TrainingLoop(
        model,
        run.loop_arguments(),
        prepared.train,
        collate_fn=functools.partial(collate_causal_lm, pad_token_id=pad),
        eval_fn=make_eval_fn(prepared.valid, pad, run.eval_batch_size) if prepared.valid else None,
        processors=[prepared.tokenizer],
        tracker_config={"dataset_name": data.dataset_name, "train_examples": len(prepared.train)},
        accelerator=accelerator,
    )
    return loop.train()


def publish(result: TrainResult, model, prepared: TextData, data: DataArguments, run: RunArguments, command=None):
    """Publish (main process): `training_info.json`, the card with the validation figures, the push."""
    info = {
        "command": command,
        "dataset": data.dataset_name,
        "train_texts": prepared.num_train_texts,
        "train_rows": len(prepared.train),
        "validation_texts": len(prepared.valid),
        "parameters": sum(p.numel() for p in model.parameters()),
        **result.metrics,
    }
    metrics = []
    if "validation_nats_per_token" in result.metrics:
        figures = {
            "nll_per_token": result.metrics["validation_nats_per_token"],
            "perplexity": result.metrics["validation_perplexity"],
            "validation_texts": len(prepared.valid),
        }
        metrics = causal_lm_card_metrics(figures, "validation" if data.eval_split == VALIDATION else data.eval_split)
    publish_run(run, info, metrics, dataset=data.dataset_name)


def train_causal_lm(
    data: DataArguments, run: RunArguments, flags: CausalLMArguments, command: str | None = None
) -> TrainResult:
    """The run of `training/train_causal_lm.py`: build data (texts, tokenizer) -> build model -> train -> publish;
    with `--pixels`, :func:`~hf_argen.recipes.pixel_lm.train_pixel_lm` (a causal LM over sub-pixels)."""
    if flags.pixels:
        return train_pixel_lm(data, run, flags, command)
    if flags.model_type not in ("transformer", "rnn"):
        raise ValueError(f"--model_type {flags.model_type} needs --pixels (text models: transformer, rnn).")
    accelerator = make_accelerator(run.loop_arguments())
    prepared = build_data(data, run, flags, accelerator)
    tokenizer = prepared.tokenizer
    torch.manual_seed(run.seed)
    model = build_model(flags, tokenizer)
    model.generation_config.update(
        do_sample=True,
        top_p=0.9,
        temperature=0.8,
        max_new_tokens=flags.max_length,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    logger.info(
        "%d training texts in %d rows / %d validation texts (<= %d tokens); %s with %d parameters",
        prepared.num_train_texts, len(prepared.train), len(prepared.valid), flags.max_length, type(model).__name__,
        sum(p.numel() for p in model.parameters()),
    )  # fmt: skip
    result = train(model, prepared, data, run, accelerator)
    if accelerator.is_main_process:
        publish(result, model, prepared, data, run, command)
    return result  # (the loop has ended the process group: no barrier here)


__all__ = [
    "TRAINING_DEFAULTS",
    "CausalLMArguments",
    "TextData",
    "build_data",
    "build_model",
    "make_eval_fn",
    "publish",
    "train",
    "train_causal_lm",
]
