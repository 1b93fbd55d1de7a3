"""`hf-argen evaluate` of an image captioner: exact match and BLEU-4 (sacrebleu) per split.

Default splits: `mnist_scenes` -> `test` (held-out MNIST test images of seen digit pairs) and `test_held_out_pairs`
(pairs never seen in training); `emoji` -> `test` (the unseen vendor, `--test_vendor`), reported on all its images
and on the emoji all four vendors draw, beside the nearest-neighbour baseline (raw 16x16 pixels, over the three
training vendors' images of those emoji); a folder / Hub id -> `test`, else `validation` (a folder without one: every
10th training image, which training held out).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from transformers import AutoModelForImageTextToText, AutoProcessor

from ..recipes.captioner_evaluation import evaluate_captioner_on_dataset, short_caption_note
from ..recipes.cards import write_captioner_model_card
from ..recipes.emoji import EMOJI_VENDORS
from ..recipes.mnist import HELD_OUT_PAIRS
from . import write_json
from .arguments import RuntimeArguments, positive
from .evaluation_arguments import EvaluateArguments

DESCRIPTIONS = {
    "mnist_scenes": (
        "An image captioner p(caption | image) from hf_argen, conditioned on a 64x64 grey scene of two real MNIST "
        "digits placed side by side or one above the other at jittered positions (resized to {size}x{size}); it "
        'writes "a 3 to the left of a 7" / "a 3 above a 7" token by token until end-of-sentence. Digit pairs '
        "{held_out} (both orders) never appear in training; test scenes use MNIST test images only. The "
        "generalisation test is exact match on those held-out pairs."
    ),
    "emoji": (
        "An image captioner p(caption | image) from hf_argen, conditioned on a 64x64 RGB emoji image (RGBA "
        "composited on white, resized to {size}x{size}); it writes the emoji's name in lower case (skin-tone "
        'variants: "name: medium skin tone"). Trained on three vendors\' drawings (emoji-datasource 16.0.0: '
        "{train_vendors}), with any other drawing styles the training command below adds, and tested on the fourth, "
        "{test_vendor}, a drawing style it never saw."
    ),
}
# flags that say where the figures go, not how they are measured: left out of the command quoted in the card
CARD_ONLY_FLAGS = ("--notes", "--card_notes", "--train_command", "--output_json", "--hub_model_id")


@dataclass
class CaptionerEvalArguments:
    """Flags of captioners only."""

    _argument_group_name = "captioner models"

    caption_column: str | None = field(default=None, metadata={"help": "caption column of a folder / Hub dataset"})
    test_vendor: str = field(default="facebook", metadata={"help": "emoji: the vendor held out of training"})
    num_beams: int = field(default=1, metadata={"help": "beam width (1: greedy decoding)"})
    no_baseline: bool = field(default=False, metadata={"help": "emoji: skip the nearest-neighbour baseline"})
    closed_vocabulary: bool = field(
        default=False, metadata={"help": "emoji: also caption with decoding restricted to the training vendors' names"}
    )
    notes: str = field(default="", metadata={"help": "extra text for the card (what bounds a figure, ...)"})


def measuring_command(argv: list[str]) -> str:
    """The command quoted in the card: this run's flags without `--write_card` and the card-only ones."""
    flags, skip = [], False
    for arg in argv:
        if arg == "--write_card" or (skip and not arg.startswith("--")):
            continue  # a card-only flag's values (one or more)
        skip = arg in CARD_ONLY_FLAGS
        if not skip:
            flags.append(arg)
    return "hf-argen evaluate " + " ".join(shlex.quote(a) for a in flags)


def write_card(model, name: str, rows: list[dict], evaluation, flags, argv: list[str]) -> None:
    folder = Path(name)
    if not (folder / "config.json").is_file():
        raise ValueError(f"--write_card needs a local model folder; {name} is not one.")
    dataset_name = evaluation.dataset_name or "mnist_scenes"
    description = DESCRIPTIONS.get(dataset_name, "An image captioner p(caption | image) from hf_argen.").format(
        size=model.config.image_size,
        held_out=", ".join(f"{a}-{b}" for a, b in HELD_OUT_PAIRS),
        train_vendors=", ".join(v for v in EMOJI_VENDORS if v != flags.test_vendor),
        test_vendor=flags.test_vendor,
    )
    train_command = "\n".join(evaluation.train_command) if evaluation.train_command else None
    path = write_captioner_model_card(
        folder,
        rows,
        measuring_command(argv),
        command=train_command,
        description=description,
        repo_id=evaluation.hub_model_id or folder.name,
        notes=flags.notes,
    )
    print(f"wrote {path}")


def evaluate_captioner(name: str, runtime: RuntimeArguments, evaluation: EvaluateArguments, flags, argv) -> list:
    """Caption every split, print a line per row, write `--output_json` and the card; return the rows."""
    positive("num_beams", flags.num_beams)
    device = runtime.setup()
    model = AutoModelForImageTextToText.from_pretrained(name).to(device).eval()
    processor = AutoProcessor.from_pretrained(name)
    rows = evaluate_captioner_on_dataset(
        model,
        processor,
        evaluation.dataset_name or "mnist_scenes",
        evaluation.split,
        data_dir=evaluation.data_dir,
        caption_column=flags.caption_column,
        test_vendor=flags.test_vendor,
        batch_size=evaluation.batch_size or 128,
        num_beams=flags.num_beams,
        max_samples=evaluation.max_eval_samples,
        baseline=not flags.no_baseline,
        progress=True,
        closed_vocabulary=flags.closed_vocabulary,
    )
    for row in rows:
        print(
            f"{row['dataset']} {row['split']} ({row['subset']}, {row['num_images']} images) {row['system']}: "
            f"exact match {row['exact_match']:.2f} %, BLEU-4 {row['bleu4']:.2f}"
        )
    note = short_caption_note(rows)
    if note:
        print(note)
    write_json(runtime.output_json, rows)
    if evaluation.write_card:
        write_card(model, name, rows, evaluation, flags, argv)
    return rows


__all__ = ["CaptionerEvalArguments", "evaluate_captioner"]
