"""`hf-argen evaluate` of a text causal LM: validation NLL (nats/token) and perplexity on the held-out texts of the
training split (the `--validation_fraction` and `--seed` of `training/train_causal_lm.py`), and sampling through
`pipeline("text-generation")` with the folder's generation config: the share of samples that end with EOS before
`max_new_tokens` (complete texts), their mean length, and a few samples."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

from ..hub import CardSection, read_training_info
from ..recipes.cards import causal_lm_card_metrics, write_card_for_folder
from ..recipes.datasets import load_texts
from ..text_data import collate_causal_lm, tokenize_dataset
from . import write_json
from .arguments import RuntimeArguments, positive
from .evaluation_arguments import EvaluateArguments

# flags whose value differs from these defaults are quoted in the card's command
CARD_DEFAULTS = (
    ("dataset_name", "fortunes"),
    ("validation_fraction", 0.05),
    ("max_length", 128),
    ("seed", 0),
    ("num_samples", 200),
)


@dataclass
class TextEvalArguments:
    """Flags of text causal LMs only."""

    _argument_group_name = "text models (causal LMs)"

    text_column: str = field(default="text", metadata={"help": "text column"})
    validation_fraction: float = field(default=0.05, metadata={"help": "held-out share of the train split"})
    max_length: int = field(default=128, metadata={"help": "tokens per text (as in training)"})
    num_samples: int = field(default=200, metadata={"help": "samples for the EOS count"})
    generation_batch_size: int = field(default=25, metadata={"help": "samples per generate() call"})
    show: int = field(default=5, metadata={"help": "samples to print"})


@torch.no_grad()
def validation_nll(model, tokenizer, dataset_name: str, seed: int, batch_size: int, flags) -> tuple[float, int]:
    """Mean NLL per token (nats) of the held-out texts, and their number."""
    dataset = load_texts(dataset_name, "train", flags.text_column)
    held_out = dataset.train_test_split(test_size=flags.validation_fraction, seed=seed)["test"]
    examples = list(tokenize_dataset(held_out, tokenizer, flags.max_length, flags.text_column))
    total, count = 0.0, 0
    for start in tqdm(range(0, len(examples), batch_size), desc="validation NLL", unit="batch", leave=False):
        batch = collate_causal_lm(examples[start : start + batch_size], tokenizer.pad_token_id)
        logits = model(input_ids=batch["input_ids"].to(model.device), use_cache=False).logits[:, :-1].double()
        targets = batch["labels"][:, 1:].to(model.device)
        total += torch.nn.functional.cross_entropy(
            logits.transpose(1, 2), targets, ignore_index=-100, reduction="sum"
        ).item()
        count += int((targets != -100).sum())
    return total / count, len(examples)


def sample_lengths(model, tokenizer, flags) -> tuple[int, list[int], list[str]]:
    """`--num_samples` samples from the empty prompt: how many end with EOS, their lengths and texts."""
    complete, lengths, samples = 0, [], []
    step = flags.generation_batch_size
    for start in tqdm(range(0, flags.num_samples, step), desc="sampling", unit="batch", leave=False):
        prompt = tokenizer([""] * min(step, flags.num_samples - start), return_tensors="pt").to(model.device)
        out = model.generate(**prompt)
        for row in out[:, prompt["input_ids"].shape[1] :].tolist():
            ended = tokenizer.eos_token_id in row
            length = row.index(tokenizer.eos_token_id) + 1 if ended else len(row)
            complete += ended
            lengths.append(length)
            samples.append(tokenizer.decode(row[:length], skip_special_tokens=True))
    return complete, lengths, samples


def write_card(model: str, figures: dict, samples: list[str], generation_config, evaluation, flags) -> None:
    values = {**vars(flags), "dataset_name": figures["dataset"], "seed": figures["seed"]}
    command = f"hf-argen evaluate --model {model}"
    command += "".join(f" --{name} {values[name]}" for name, default in CARD_DEFAULTS if values[name] != default)
    note = (
        f"Validation: the {figures['validation_texts']} held-out texts of the training split "
        f"({flags.validation_fraction:.0%}, seed {figures['seed']}), every token after `<bos>`, EOS included. "
        f"Samples: `generate()` with the folder's generation config (temperature={generation_config.temperature}, "
        f"top_p={generation_config.top_p}, max_new_tokens={generation_config.max_new_tokens}), seed {figures['seed']}."
    )
    sections = [CardSection(**s) for s in read_training_info(model).get("sections", [])]
    shown = "\n---\n".join(text.strip("\n") for text in samples[:3])
    sections.insert(
        0,
        CardSection(
            "Samples",
            'From `pipeline("text-generation")` with an empty prompt, seed '
            f"{figures['seed']} (the evaluation command above):\n\n```\n{shown}\n```",
        ),
    )
    path = write_card_for_folder(
        model,
        causal_lm_card_metrics(figures),
        dataset=figures["dataset"],
        repo_id=evaluation.hub_model_id,
        eval_command=command,
        metrics_note=note,
        train_commands=evaluation.train_command,
        sections=sections,
    )
    print(f"wrote {path}")


def print_report(model, figures: dict, shown: list[str], samples: list[str]) -> None:
    config = model.generation_config
    print(f"model: {figures['model']} ({type(model).__name__}, {figures['num_parameters']:,} parameters)")
    print(
        f"validation: {figures['validation_texts']} held-out {figures['dataset']} texts, "
        f"{figures['nll_per_token']:.4f} nats/token, perplexity {figures['perplexity']:.2f}"
    )
    print(
        f"sampling ({config.temperature=}, {config.top_p=}, max_new_tokens={config.max_new_tokens}, seed "
        f"{figures['seed']}): {figures['complete_samples']}/{figures['num_samples']} "
        f"({100 * figures['complete_samples'] / figures['num_samples']:.1f}%) end with EOS; mean length "
        f"{figures['mean_length']:.1f} tokens"
    )
    print("\npipeline('text-generation') samples:")
    for text in shown:
        print("---\n" + text)
    print("---\nfirst samples of the EOS count above:")
    for text in samples[: len(shown)]:
        print("---\n" + text)


def evaluate_text(name: str, runtime: RuntimeArguments, evaluation: EvaluateArguments, flags, argv) -> dict:
    """Measure, print, write `--output_json` and the card; return the figures."""
    for flag in ("num_samples", "generation_batch_size"):
        positive(flag, getattr(flags, flag))
    if not 0 < flags.validation_fraction < 1:
        raise ValueError(f"--validation_fraction must be in (0, 1), got {flags.validation_fraction}.")
    if evaluation.split:
        raise ValueError("--split: a text model is evaluated on the held-out part of its training split.")
    device = runtime.setup()
    dataset_name = evaluation.dataset_name or "fortunes"
    tokenizer = AutoTokenizer.from_pretrained(name)
    model = AutoModelForCausalLM.from_pretrained(name).to(device).eval()
    nll, num_texts = validation_nll(model, tokenizer, dataset_name, runtime.seed, evaluation.batch_size or 64, flags)
    torch.manual_seed(runtime.seed)
    complete, lengths, samples = sample_lengths(model, tokenizer, flags)
    figures = {
        "model": name,
        "dataset": dataset_name,
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "validation_texts": num_texts,
        "nll_per_token": nll,
        "perplexity": math.exp(nll),
        "num_samples": flags.num_samples,
        "complete_samples": complete,
        "mean_length": sum(lengths) / len(lengths),
        "seed": runtime.seed,
        "device": str(device),
    }
    torch.manual_seed(runtime.seed)
    generator = pipeline("text-generation", model=model, tokenizer=tokenizer, device=device)
    shown = [output[0]["generated_text"] for output in generator([""] * flags.show)]
    print_report(model, figures, shown, samples)
    write_json(runtime.output_json, figures)
    if evaluation.write_card:
        write_card(name, figures, shown, model.generation_config, evaluation, flags)
    return figures


__all__ = ["TextEvalArguments", "evaluate_text"]
