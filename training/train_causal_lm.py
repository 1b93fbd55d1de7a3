"""Train a causal LM (ARTransformerForCausalLM or ARRNNForCausalLM) on a `datasets` text dataset.

A byte-level BPE tokenizer is trained with `tokenizers` on the training texts and saved next to the model as a
`PreTrainedTokenizerFast` with `<bos>`/`<eos>`/`<pad>`; every example is BOS + text + EOS, so the model learns
to end its texts. The result loads with `pipeline("text-generation", model=<output>/final)`.

    PYTHONPATH=. python training/train_causal_lm.py --dataset fortunes --output-dir /work/runs/me/fortunes \\
        --model transformer --hidden-size 160 --num-layers 4 --num-heads 4 --vocab-size 2000 --steps 3000

Checkpoints (`<output>/checkpoint`: model, tokenizer, optimizer, step) are written every `--save-every` steps;
rerunning the same command resumes from them.
"""

import argparse
import json
import logging
import math
import os
import random
import time

import torch

from hf_argen import ARRNNConfig, ARRNNForCausalLM, ARTransformerConfig, ARTransformerForCausalLM
from hf_argen.causal_lm.text import collate_causal_lm, load_text_dataset, tokenize_dataset, train_tokenizer

logger = logging.getLogger("train_causal_lm")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dataset", default="fortunes", help="'fortunes', a save_to_disk folder, a file or a Hub id"
    )
    parser.add_argument("--split", default="train")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--model", choices=("transformer", "rnn"), default="transformer")
    parser.add_argument("--cell-type", choices=("lstm", "gru"), default="lstm")
    parser.add_argument("--vocab-size", type=int, default=2000)
    parser.add_argument("--hidden-size", type=int, default=160)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--position-embedding-type", choices=("learned", "rotary"), default="rotary")
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--max-length", type=int, default=128, help="longest example (tokens incl. BOS/EOS)")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--validation-fraction", type=float, default=0.05)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--save-every", type=int, default=250)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-examples", type=int, default=None, help="use only this many texts (smoke tests)"
    )
    return parser.parse_args(argv)


def build_model(args, tokenizer):
    special = dict(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    if args.model == "transformer":
        config = ARTransformerConfig(
            hidden_size=args.hidden_size,
            num_hidden_layers=args.num_layers,
            num_attention_heads=args.num_heads,
            max_position_embeddings=args.max_length + 128,
            position_embedding_type=args.position_embedding_type,
            hidden_dropout=args.dropout,
            **special,
        )
        return ARTransformerForCausalLM(config)
    config = ARRNNConfig(
        hidden_size=args.hidden_size,
        num_hidden_layers=args.num_layers,
        cell_type=args.cell_type,
        hidden_dropout=args.dropout,
        **special,
    )
    return ARRNNForCausalLM(config)


@torch.no_grad()
def evaluate(model, examples, pad_token_id, batch_size=64) -> float:
    """Mean NLL in nats per predicted token (every token after BOS, EOS included)."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(examples), batch_size):
        batch = collate_causal_lm(examples[start : start + batch_size], pad_token_id)
        logits = model(input_ids=batch["input_ids"], use_cache=False).logits[:, :-1].float()
        targets = batch["labels"][:, 1:]
        nll = torch.nn.functional.cross_entropy(
            logits.transpose(1, 2), targets, ignore_index=-100, reduction="sum"
        )
        total += nll.item()
        count += int((targets != -100).sum())
    model.train()
    return total / count


def lr_at(step, args):
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    progress = (step - args.warmup_steps) / max(1, args.steps - args.warmup_steps)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    os.makedirs(args.output_dir, exist_ok=True)
    checkpoint = os.path.join(args.output_dir, "checkpoint")

    dataset = load_text_dataset(args.dataset, args.split, args.text_column)
    if args.max_examples is not None:
        dataset = dataset.select(range(min(args.max_examples, len(dataset))))
    split = dataset.train_test_split(test_size=args.validation_fraction, seed=args.seed)
    if os.path.isdir(checkpoint):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        model = AutoModelForCausalLM.from_pretrained(checkpoint)
        state = torch.load(os.path.join(checkpoint, "training_state.pt"), weights_only=False)
        logger.info("resuming from %s at step %d", checkpoint, state["step"])
    else:
        tokenizer = train_tokenizer(split["train"][args.text_column], vocab_size=args.vocab_size)
        model = build_model(args, tokenizer)
        state = None
    train = list(tokenize_dataset(split["train"], tokenizer, args.max_length, args.text_column))
    valid = list(tokenize_dataset(split["test"], tokenizer, args.max_length, args.text_column))
    logger.info(
        "%d training / %d validation texts; %s with %d parameters",
        len(train),
        len(valid),
        type(model).__name__,
        sum(p.numel() for p in model.parameters()),
    )

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.98),
    )
    step, history = 0, []
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        step, history = state["step"], state["history"]
        random.setstate(state["python_rng"])
        torch.set_rng_state(state["torch_rng"])

    model.train()
    order, position = [], 0
    started = time.time()
    while step < args.steps:
        if position + args.batch_size > len(order):
            order, position = random.sample(range(len(train)), len(train)), 0
        batch = collate_causal_lm(
            [train[i] for i in order[position : position + args.batch_size]], tokenizer.pad_token_id
        )
        position += args.batch_size
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, args)
        loss = model(input_ids=batch["input_ids"], labels=batch["labels"], use_cache=False).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        if step % 50 == 0:
            logger.info(
                "step %d loss %.4f lr %.2e (%.1f s)",
                step,
                loss.item(),
                lr_at(step, args),
                time.time() - started,
            )
        if step % args.eval_every == 0 or step == args.steps:
            nll = evaluate(model, valid, tokenizer.pad_token_id)
            history.append({"step": step, "validation_nats_per_token": nll, "perplexity": math.exp(nll)})
            logger.info("step %d validation %.4f nats/token (perplexity %.2f)", step, nll, math.exp(nll))
        if step % args.save_every == 0 or step == args.steps:
            model.save_pretrained(checkpoint)
            tokenizer.save_pretrained(checkpoint)
            torch.save(
                {
                    "optimizer": optimizer.state_dict(),
                    "step": step,
                    "history": history,
                    "python_rng": random.getstate(),
                    "torch_rng": torch.get_rng_state(),
                },
                os.path.join(checkpoint, "training_state.pt"),
            )

    final = os.path.join(args.output_dir, "final")
    model.eval()
    model.generation_config.update(
        do_sample=True,
        top_p=0.9,
        temperature=0.8,
        max_new_tokens=args.max_length,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(final)
    tokenizer.save_pretrained(final)
    metrics = {
        "steps": step,
        "history": history,
        "train_texts": len(train),
        "validation_texts": len(valid),
        "parameters": sum(p.numel() for p in model.parameters()),
        "args": vars(args),
    }
    with open(os.path.join(final, "training_metrics.json"), "w") as handle:
        json.dump(metrics, handle, indent=2)
    logger.info("saved %s", final)


if __name__ == "__main__":
    main()
