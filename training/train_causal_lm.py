#!/usr/bin/env python
"""Train a causal LM (ARTransformerForCausalLM or ARRNNForCausalLM) on a `datasets` text dataset.

    accelerate launch training/train_causal_lm.py --dataset_name fortunes --output_dir out

A byte-level BPE tokenizer is trained with `tokenizers` on the training texts and saved with the model as a
`PreTrainedTokenizerFast` with `<bos>`/`<eos>`/`<pad>`; every example is BOS + text + EOS, so the model learns
to end its texts. The output folder loads with `pipeline("text-generation", model=output_dir)`.
Flags follow the `diffusers` example scripts; the loop is `hf_argen.training.Trainer` (checkpoints, exact
resume with `--resume_from_checkpoint latest`).
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import shlex
import sys
from pathlib import Path

import torch

try:  # run from a clean clone without `pip install -e .`
    import hf_argen  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--dataset_name", default="fortunes",
                      help="'fortunes' (Debian package, offline), a save_to_disk folder, a text/json/csv file "
                           "or a Hub id.")
    data.add_argument("--dataset_split", default="train")
    data.add_argument("--text_column", default="text")
    data.add_argument("--validation_fraction", type=float, default=0.05)
    data.add_argument("--max_length", type=int, default=128, help="longest example in tokens (BOS/EOS included); "
                                                                   "longer texts are dropped.")
    data.add_argument("--max_examples", type=int, default=None, help="use only the first N texts.")
    data.add_argument("--tokenizer_vocab_size", type=int, default=2000)
    data.add_argument("--no_packing", action="store_true",
                      help="one text per training row (padded) instead of packing whole texts into rows.")

    model = parser.add_argument_group("model")
    model.add_argument("--model_type", choices=("transformer", "rnn"), default="transformer")
    model.add_argument("--cell_type", choices=("lstm", "gru"), default="lstm")
    model.add_argument("--hidden_size", type=int, default=160)
    model.add_argument("--num_hidden_layers", type=int, default=4)
    model.add_argument("--num_attention_heads", type=int, default=4)
    model.add_argument("--position_embedding_type", choices=("learned", "rotary"), default="rotary")
    model.add_argument("--dropout", type=float, default=0.1)

    train = parser.add_argument_group("training")
    train.add_argument("--output_dir", required=True)
    train.add_argument("--train_batch_size", type=int, default=32, help="per process")
    train.add_argument("--eval_batch_size", type=int, default=64)
    train.add_argument("--learning_rate", type=float, default=2e-3)
    train.add_argument("--lr_scheduler", default="cosine")
    train.add_argument("--lr_warmup_steps", type=int, default=100)
    train.add_argument("--weight_decay", type=float, default=0.01)
    train.add_argument("--adam_beta2", type=float, default=0.98)
    train.add_argument("--max_grad_norm", type=float, default=1.0)
    train.add_argument("--num_train_epochs", type=int, default=5)
    train.add_argument("--max_train_steps", type=int, default=None)
    train.add_argument("--checkpointing_steps", type=int, default=250)
    train.add_argument("--checkpoints_total_limit", type=int, default=2)
    train.add_argument("--resume_from_checkpoint", default=None, help="a checkpoint folder or 'latest'.")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--report_to", default="none", choices=["none", "tensorboard"])
    train.add_argument("--logging_steps", type=int, default=50)
    train.add_argument("--eval_steps", type=int, default=250)
    train.add_argument("--num_threads", type=int, default=None, help="torch.set_num_threads for this process.")
    return parser.parse_args(argv)


def build_model(args, tokenizer):
    from hf_argen import ARRNNConfig, ARRNNForCausalLM, ARTransformerConfig, ARTransformerForCausalLM

    special = dict(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                   eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    if args.model_type == "transformer":
        config = ARTransformerConfig(
            hidden_size=args.hidden_size, num_hidden_layers=args.num_hidden_layers,
            num_attention_heads=args.num_attention_heads, max_position_embeddings=args.max_length + 128,
            position_embedding_type=args.position_embedding_type, hidden_dropout=args.dropout, **special,
        )
        return ARTransformerForCausalLM(config)
    config = ARRNNConfig(hidden_size=args.hidden_size, num_hidden_layers=args.num_hidden_layers,
                         cell_type=args.cell_type, hidden_dropout=args.dropout, **special)
    return ARRNNForCausalLM(config)


def make_eval_fn(examples: list, pad_token_id: int, batch_size: int):
    """Validation NLL in nats per predicted token (every token after BOS, EOS included) and perplexity."""
    from hf_argen.causal_lm.text import collate_causal_lm
    from hf_argen.training import shard_indices

    def eval_fn(model, accelerator):
        indices = list(shard_indices(len(examples), accelerator))
        total = torch.zeros(2, dtype=torch.float64, device=accelerator.device)
        for start in range(0, len(indices), batch_size):
            batch = collate_causal_lm([examples[i] for i in indices[start : start + batch_size]], pad_token_id)
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            logits = model(input_ids=batch["input_ids"], use_cache=False).logits[:, :-1].float()
            targets = batch["labels"][:, 1:]
            nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100,
                                                    reduction="sum")
            total += torch.stack([nll.double(), (targets != -100).sum().double()])
        total = accelerator.reduce(total, reduction="sum")
        nats = (total[0] / total[1]).item()
        return {"validation_nats_per_token": nats, "validation_perplexity": math.exp(nats)}

    return eval_fn


def main(argv=None):
    args = parse_args(argv)
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    from hf_argen.causal_lm.text import (
        collate_causal_lm,
        load_text_dataset,
        pack_examples,
        tokenize_dataset,
        train_tokenizer,
    )
    from hf_argen.training import Trainer, TrainingArguments

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    hf_logging.set_verbosity_warning()
    logging.getLogger("accelerate").setLevel(logging.WARNING)
    logger = logging.getLogger(__name__)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)

    dataset = load_text_dataset(args.dataset_name, args.dataset_split, args.text_column)
    if args.max_examples is not None:
        dataset = dataset.select(range(min(args.max_examples, len(dataset))))
    split = dataset.train_test_split(test_size=args.validation_fraction, seed=args.seed)
    # The tokenizer is trained once and kept, so a resumed run tokenises exactly as the first one.
    tokenizer_dir = Path(args.output_dir, "tokenizer")
    if tokenizer_dir.exists():
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    else:
        tokenizer = train_tokenizer(split["train"][args.text_column], vocab_size=args.tokenizer_vocab_size)
        tokenizer.save_pretrained(tokenizer_dir)
    train = list(tokenize_dataset(split["train"], tokenizer, args.max_length, args.text_column))
    valid = list(tokenize_dataset(split["test"], tokenizer, args.max_length, args.text_column))
    num_train_texts = len(train)
    if not args.no_packing:
        train = pack_examples(train, args.max_length)

    torch.manual_seed(args.seed)
    model = build_model(args, tokenizer)
    model.generation_config.update(
        do_sample=True, top_p=0.9, temperature=0.8, max_new_tokens=args.max_length,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    logger.info("%d training texts in %d rows / %d validation texts (<= %d tokens); %s with %d parameters",
                num_train_texts, len(train), len(valid), args.max_length, type(model).__name__,
                sum(p.numel() for p in model.parameters()))

    training_args = TrainingArguments.from_namespace(args)
    trainer = Trainer(
        model, training_args, train, collate_fn=functools.partial(collate_causal_lm,
                                                                  pad_token_id=tokenizer.pad_token_id),
        eval_fn=make_eval_fn(valid, tokenizer.pad_token_id, args.eval_batch_size), processors=[tokenizer],
        tracker_config={"dataset_name": args.dataset_name, "train_examples": len(train)},
    )
    result = trainer.train()
    if trainer.accelerator.is_main_process:
        command = "accelerate launch training/train_causal_lm.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        info = {"command": command, "dataset": args.dataset_name, "train_texts": num_train_texts,
                "train_rows": len(train), "validation_texts": len(valid),
                "parameters": sum(p.numel() for p in model.parameters()), **result.metrics}
        Path(args.output_dir, "training_info.json").write_text(json.dumps(info, indent=2))
    return result


if __name__ == "__main__":
    main()
