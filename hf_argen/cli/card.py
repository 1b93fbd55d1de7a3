"""hf-argen card: (re)write a saved model folder's README.md (model card with a `model-index`) from the figures that
`hf-argen evaluate --output_json` measured, and its sample grid. Works for every hf_argen model kind (PixelCNN,
VQ-VAE, two-stage, causal LM): the card is written by `hf_argen.hub.write_card_for_folder`.

    hf-argen evaluate --model model_cards/pixelcnn-digits --output_json eval.json
    hf-argen card --model model_cards/pixelcnn-digits --metrics_json eval.json \\
        --command "accelerate launch training/train_pixelcnn.py ..." --hub_model_id you/pixelcnn-digits

The figures in the card are the ones the evaluation wrote (read from --metrics_json); `hf-argen evaluate
--write_card` does both steps at once. Training commands and notes default to the folder's training_info.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..recipes.cards import card_metrics, model_kind, write_card_for_folder, write_sample_grid
from .arguments import ModelArguments, parse_command
from .generate import class_label


@dataclass
class CardArguments:
    """Where the figures come from and what else the card says."""

    metrics_json: str | None = field(default=None, metadata={"help": "the --output_json of `hf-argen evaluate`"})
    command: list[str] | None = field(default=None, metadata={"help": "training command(s), in order"})
    training_data: str | None = field(default=None, metadata={"help": "a paragraph on the data and the training run"})
    description: str | None = field(default=None, metadata={"help": "the card's description (default: from config)"})
    hub_model_id: str | None = field(default=None, metadata={"help": "Hub id the card's usage snippet loads"})
    limitations: str | None = field(
        default=None,
        metadata={"help": "what the model does not do, said under its images (default: training_info.json's "
                  "`limitations`, which every rewrite of the card keeps)"},
    )  # fmt: skip
    hub_dataset_ids: list[str] | None = field(default=None, metadata={"help": "datasets named in the card metadata"})
    grid_seed: int = field(default=0, metadata={"help": "seed of the sample grid"})
    grid_rows: int = field(default=4, metadata={"help": "samples per class in the grid"})
    grid_class_labels: list[str] | None = field(default=None, metadata={"help": "classes in the grid (default: all)"})
    no_grid: bool = field(default=False, metadata={"help": "keep an existing samples.png"})
    eval_command: str | None = field(
        default=None, metadata={"help": "the measuring command (default: rebuilt from the JSON)"}
    )


def measuring_command(folder: Path, figures: dict) -> str:
    """The `hf-argen evaluate` command that measured `figures` (as far as the JSON says)."""
    command = f"hf-argen evaluate --model {folder}"
    for key, flag in (("dataset", "dataset_name"), ("split", "split"), ("class_prior", "class_prior")):
        if key in figures:
            command += f" --{flag} {figures[key]}"
    return command


def main(argv: list[str] | None = None) -> int:
    model_args, args = parse_command("card", (ModelArguments, CardArguments), argv, __doc__)
    folder = Path(model_args.required())
    if not args.metrics_json:
        raise ValueError("--metrics_json is required (the --output_json of `hf-argen evaluate`).")
    config = json.loads((folder / "config.json").read_text())
    kind = model_kind(config)
    figures = json.loads(Path(args.metrics_json).read_text().strip().splitlines()[-1])
    if not args.no_grid and kind in ("pixelcnn", "two_stage"):
        labels = [class_label(c) for c in args.grid_class_labels or []]
        write_sample_grid(folder, class_labels=labels, num_per_class=args.grid_rows, seed=args.grid_seed)
    path = write_card_for_folder(
        folder,
        card_metrics(config, figures),
        dataset=figures.get("dataset"),
        repo_id=args.hub_model_id,
        eval_command=args.eval_command or measuring_command(folder, figures),
        train_commands=args.command,
        training=args.training_data,
        description=args.description,
        datasets=args.hub_dataset_ids,
        limitations=args.limitations,
    )
    print(f"wrote {path}")
    return 0


__all__ = ["CardArguments", "main"]
