"""Evaluate a text causal LM folder (e.g. model_cards/ar-transformer-fortunes) and print its figures.

* validation NLL (nats/token) and perplexity on the held-out texts of the training split
  (same `--validation_fraction` and `--seed` as training/train_causal_lm.py);
* sampling through `pipeline("text-generation")` with the folder's generation config: the fraction of samples
  that end with EOS before `max_new_tokens` (complete texts), their mean length, and a few samples.

    python scripts/evaluate_text_model.py --model model_cards/ar-transformer-fortunes

`--write_card` then (re)writes the folder's README.md (`hf_argen.hub`) with these figures and samples.
"""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

import hf_argen  # noqa: F401  (registers the Auto classes)
from hf_argen.cli import add_device_argument, resolve_device, run_cli, script_parser, write_json
from hf_argen.recipes.datasets import load_texts
from hf_argen.text_data import collate_causal_lm, tokenize_dataset


def parse_args(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--model", required=True, help="a saved causal LM folder or Hub id (with its tokenizer)")
    parser.add_argument("--dataset_name", default="fortunes", help="text dataset (its train split is held out from)")
    parser.add_argument("--text_column", default="text", help="text column")
    parser.add_argument("--validation_fraction", type=float, default=0.05, help="held-out share of the train split")
    parser.add_argument("--max_length", type=int, default=128, help="tokens per text (as in training)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-out split and of sampling")
    parser.add_argument("--batch_size", type=int, default=64, help="texts per forward pass for the NLL")
    parser.add_argument("--num_samples", type=int, default=200, help="samples for the EOS count")
    parser.add_argument("--generation_batch_size", type=int, default=25, help="samples per generate() call")
    parser.add_argument("--show", type=int, default=5, help="samples to print")
    parser.add_argument("--output_json", default=None, help="write the figures here as JSON ('-': stdout)")
    parser.add_argument("--num_threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--write_card", action="store_true", help="write the figures into --model's README.md")
    parser.add_argument("--hub_model_id", default=None, help="Hub id the card's usage snippet loads")
    parser.add_argument(
        "--train_command", action="append", default=None, help="training command(s) for the card (repeatable)"
    )
    add_device_argument(parser)
    args = parser.parse_args(argv)
    for name in ("batch_size", "num_samples", "generation_batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}.")
    if not 0 < args.validation_fraction < 1:
        raise ValueError(f"--validation_fraction must be in (0, 1), got {args.validation_fraction}.")
    return args


@torch.no_grad()
def validation_nll(model, tokenizer, args) -> tuple[float, int]:
    dataset = load_texts(args.dataset_name, "train", args.text_column)
    held_out = dataset.train_test_split(test_size=args.validation_fraction, seed=args.seed)["test"]
    examples = list(tokenize_dataset(held_out, tokenizer, args.max_length, args.text_column))
    total, count = 0.0, 0
    for start in tqdm(range(0, len(examples), args.batch_size), desc="validation NLL", unit="batch", leave=False):
        batch = collate_causal_lm(examples[start : start + args.batch_size], tokenizer.pad_token_id)
        input_ids = batch["input_ids"].to(model.device)
        logits = model(input_ids=input_ids, use_cache=False).logits[:, :-1].double()
        targets = batch["labels"][:, 1:].to(model.device)
        total += torch.nn.functional.cross_entropy(
            logits.transpose(1, 2), targets, ignore_index=-100, reduction="sum"
        ).item()
        count += int((targets != -100).sum())
    return total / count, len(examples)


def main(argv=None):
    args = parse_args(argv)
    device = resolve_device(args.device)
    torch.set_num_threads(args.num_threads)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model).to(device).eval()
    parameters = sum(p.numel() for p in model.parameters())
    nll, num_texts = validation_nll(model, tokenizer, args)

    generator = pipeline("text-generation", model=model, tokenizer=tokenizer, device=device)
    max_new_tokens = model.generation_config.max_new_tokens
    torch.manual_seed(args.seed)
    complete, lengths, samples = 0, [], []
    for start in tqdm(
        range(0, args.num_samples, args.generation_batch_size), desc="sampling", unit="batch", leave=False
    ):
        count = min(args.generation_batch_size, args.num_samples - start)
        prompt = tokenizer([""] * count, return_tensors="pt").to(device)
        out = model.generate(**prompt)
        new = out[:, prompt["input_ids"].shape[1] :]
        for row in new.tolist():
            ended = tokenizer.eos_token_id in row
            length = row.index(tokenizer.eos_token_id) + 1 if ended else len(row)
            complete += ended
            lengths.append(length)
            samples.append(tokenizer.decode(row[:length], skip_special_tokens=True))

    print(f"model: {args.model} ({type(model).__name__}, {parameters:,} parameters)")
    print(
        f"validation: {num_texts} held-out {args.dataset_name} texts, {nll:.4f} nats/token, "
        f"perplexity {math.exp(nll):.2f}"
    )
    print(
        f"sampling ({model.generation_config.temperature=}, {model.generation_config.top_p=}, "
        f"max_new_tokens={max_new_tokens}, seed {args.seed}): {complete}/{args.num_samples} "
        f"({100 * complete / args.num_samples:.1f}%) end with EOS; mean length {sum(lengths) / len(lengths):.1f} "
        "tokens"
    )
    print("\npipeline('text-generation') samples:")
    torch.manual_seed(args.seed)
    shown = [output[0]["generated_text"] for output in generator([""] * args.show)]
    for text in shown:
        print("---\n" + text)
    print("---\nfirst samples of the EOS count above:")
    for text in samples[: args.show]:
        print("---\n" + text)
    figures = {
        "model": args.model,
        "dataset": args.dataset_name,
        "num_parameters": parameters,
        "validation_texts": num_texts,
        "nll_per_token": nll,
        "perplexity": math.exp(nll),
        "num_samples": args.num_samples,
        "complete_samples": complete,
        "mean_length": sum(lengths) / len(lengths),
        "seed": args.seed,
        "device": str(device),
    }
    write_json(args.output_json, figures)
    if args.write_card:
        write_card(args, figures, shown, model.generation_config)
    return figures


def write_card(args, figures: dict, samples: list[str], generation_config) -> None:
    from hf_argen.hub import CardSection, read_training_info
    from hf_argen.recipes.cards import causal_lm_card_metrics, write_card_for_folder

    command = f"python scripts/evaluate_text_model.py --model {args.model}"
    for name, default in (("dataset_name", "fortunes"), ("validation_fraction", 0.05), ("max_length", 128),
                          ("seed", 0), ("num_samples", 200)):  # fmt: skip
        if getattr(args, name) != default:
            command += f" --{name} {getattr(args, name)}"
    note = (
        f"Validation: the {figures['validation_texts']} held-out texts of the training split "
        f"({args.validation_fraction:.0%}, seed {args.seed}), every token after `<bos>`, EOS included. Samples: "
        f"`generate()` with the folder's generation config (temperature={generation_config.temperature}, "
        f"top_p={generation_config.top_p}, max_new_tokens={generation_config.max_new_tokens}), seed {args.seed}."
    )
    sections = [CardSection(**s) for s in read_training_info(args.model).get("sections", [])]
    shown = "\n---\n".join(text.strip("\n") for text in samples[:3])
    sections.insert(
        0,
        CardSection(
            "Samples",
            'From `pipeline("text-generation")` with an empty prompt, seed '
            f"{args.seed} (the evaluation command above):\n\n```\n{shown}\n```",
        ),
    )
    path = write_card_for_folder(args.model, causal_lm_card_metrics(figures), dataset=args.dataset_name,
                                 repo_id=args.hub_model_id, eval_command=command, metrics_note=note,
                                 train_commands=args.train_command, sections=sections)  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    run_cli(main)
