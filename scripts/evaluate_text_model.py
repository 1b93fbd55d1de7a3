"""Evaluate a text causal LM folder (e.g. model_cards/ar-transformer-fortunes) and print its figures.

* validation NLL (nats/token) and perplexity on the held-out texts of the training split
  (same `--validation_fraction` and `--seed` as training/train_causal_lm.py);
* sampling through `pipeline("text-generation")` with the folder's generation config: the fraction of samples
  that end with EOS before `max_new_tokens` (complete texts), their mean length, and a few samples.

    PYTHONPATH=. python scripts/evaluate_text_model.py --model model_cards/ar-transformer-fortunes
"""

from __future__ import annotations

import argparse
import math

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

import hf_argen  # noqa: F401  (registers the Auto classes)
from hf_argen.causal_lm.text import collate_causal_lm, load_text_dataset, tokenize_dataset


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset_name", default="fortunes")
    parser.add_argument("--text_column", default="text")
    parser.add_argument("--validation_fraction", type=float, default=0.05)
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num_samples", type=int, default=200)
    parser.add_argument("--batch_size", type=int, default=25)
    parser.add_argument("--show", type=int, default=5, help="samples to print")
    parser.add_argument("--num_threads", type=int, default=1)
    return parser.parse_args(argv)


@torch.no_grad()
def validation_nll(model, tokenizer, args) -> tuple[float, int]:
    dataset = load_text_dataset(args.dataset_name, "train", args.text_column)
    held_out = dataset.train_test_split(test_size=args.validation_fraction, seed=args.seed)["test"]
    examples = list(tokenize_dataset(held_out, tokenizer, args.max_length, args.text_column))
    total, count = 0.0, 0
    for start in range(0, len(examples), 64):
        batch = collate_causal_lm(examples[start : start + 64], tokenizer.pad_token_id)
        logits = model(input_ids=batch["input_ids"], use_cache=False).logits[:, :-1].double()
        targets = batch["labels"][:, 1:]
        total += torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100,
                                                   reduction="sum").item()
        count += int((targets != -100).sum())
    return total / count, len(examples)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.num_threads)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model).eval()
    parameters = sum(p.numel() for p in model.parameters())
    nll, num_texts = validation_nll(model, tokenizer, args)

    generator = pipeline("text-generation", model=model, tokenizer=tokenizer)
    max_new_tokens = model.generation_config.max_new_tokens
    torch.manual_seed(args.seed)
    complete, lengths, samples = 0, [], []
    for start in range(0, args.num_samples, args.batch_size):
        count = min(args.batch_size, args.num_samples - start)
        prompt = tokenizer([""] * count, return_tensors="pt")
        out = model.generate(**prompt)
        new = out[:, prompt["input_ids"].shape[1] :]
        for row in new.tolist():
            ended = tokenizer.eos_token_id in row
            length = row.index(tokenizer.eos_token_id) + 1 if ended else len(row)
            complete += ended
            lengths.append(length)
            samples.append(tokenizer.decode(row[:length], skip_special_tokens=True))

    print(f"model: {args.model} ({type(model).__name__}, {parameters:,} parameters)")
    print(f"validation: {num_texts} held-out {args.dataset_name} texts, {nll:.4f} nats/token, "
          f"perplexity {math.exp(nll):.2f}")
    print(f"sampling ({model.generation_config.temperature=}, {model.generation_config.top_p=}, "
          f"max_new_tokens={max_new_tokens}, seed {args.seed}): {complete}/{args.num_samples} "
          f"({100 * complete / args.num_samples:.1f}%) end with EOS; mean length {sum(lengths) / len(lengths):.1f} "
          "tokens")
    print("\npipeline('text-generation') samples:")
    torch.manual_seed(args.seed)
    for output in generator([""] * args.show):
        print("---\n" + output[0]["generated_text"])
    print("---\nfirst samples of the EOS count above:")
    for text in samples[: args.show]:
        print("---\n" + text)


if __name__ == "__main__":
    main()
