#!/usr/bin/env python
"""Turn a pixel-LM row of `benchmarks/benchmark_model_families.py` into a shipped model folder: the row's trained model
(saved with its image layout), class names, a sample grid (one column per class), and the card with the row's
figures, measured by the benchmark on the test split.

    python scripts/ship_pixel_lm.py --benchmark_dir runs/pixel-rnn-mnist --row rnn-lstm \\
        --hub_model_id hf-argen/pixel-rnn-mnist --output_dir model_cards/pixel-rnn-mnist \\
        --benchmark_command "python benchmarks/benchmark_model_families.py ..."

`--evaluation_json` adds the class consistency measured on the shipped folder by `hf-argen evaluate --split none
--num_per_class N [--guidance_scale G] --output_json X.json` (rerun the script with the same flags plus those files:
the folder it writes is the same).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from hf_argen import PixelCNNImageProcessor, make_grid
from hf_argen.atomic import atomic_save_image, atomic_save_pretrained, atomic_write_text
from hf_argen.cli import CommandParser, run_cli
from hf_argen.export import export_folder
from hf_argen.hub import TRAINING_INFO, CardMetric
from hf_argen.recipes.cards import pixelcnn_card_metrics, write_card_for_folder
from hf_argen.recipes.pixel_lm import generate_pixels, image_shape_of, vocabulary_of


@dataclass
class ShipArguments:
    benchmark_dir: str = field(metadata={"help": "the benchmark's --output_dir."})
    output_dir: str = field(metadata={"help": "the folder to write (e.g. model_cards/pixel-rnn-mnist)."})
    row: str = field(default="rnn-lstm", metadata={"help": "a pixel-LM row of the benchmark."})
    benchmark_command: str | None = field(default=None, metadata={"help": "the command that trained it (card)."})
    hub_model_id: str | None = field(default=None, metadata={"help": "the Hub id the card names (e.g. "
                                                                     "hf-argen/pixel-rnn-mnist)."})  # fmt: skip
    num_per_class: int = field(default=4, metadata={"help": "samples per class in samples.png."})
    evaluation_json: list[str] | None = field(
        default=None,
        metadata={"help": "`hf-argen evaluate --num_per_class N --output_json` results of the shipped folder (card)."},
    )
    seed: int = 0


def card_metrics(figures: dict, header: str) -> list[CardMetric]:
    dims = figures["num_subpixels"]
    report = {
        "bits_per_dim": figures["bits_per_dim"],
        "nats_per_image": figures["bits_per_dim"] * dims * math.log(2),
        "marginal_bits_per_dim": figures["marginal_bits_per_dim"],
        "marginal_nats_per_image": figures["marginal_bits_per_dim"] * dims * math.log(2),
    }
    metrics = pixelcnn_card_metrics(report, "test", "train")
    metrics.append(
        CardMetric("class_consistency", "class consistency of the benchmark's samples (see the training section)",
                   100 * figures["class_consistency"], "samples", fmt=".1f", index=False, unit=" %")
    )  # fmt: skip
    for scale, by_seed in figures.get("guided_class_consistency", {}).items():
        seeds = ", ".join(f"{100 * value:.0f} % ({name.replace('_', ' ')})" for name, value in by_seed.items())
        name = f"class consistency with class-posterior guidance {scale} (`generate_pixels_guided`): {seeds}"
        metrics.append(CardMetric("guided_class_consistency", name, 100 * by_seed["seed_1"], "samples", fmt=".1f",
                                  index=False, unit=" %"))  # fmt: skip
    return metrics


def evaluation_metrics(paths: list[str], folder: Path) -> tuple[list[CardMetric], list[str]]:
    """Card rows and commands of `hf-argen evaluate` class-consistency runs of `folder` (their `--output_json`)."""
    metrics, commands = [], []
    for path in paths:
        figures = json.loads(Path(path).read_text())
        if "consistency" not in figures or Path(figures["model"]).resolve() != folder.resolve():
            raise ValueError(f"--evaluation_json {path!r} is not a class-consistency run of {folder}.")
        per_class, scale = figures["num_samples"] // 10, figures.get("guidance_scale")
        candidates = figures.get("num_candidates", 1)
        command = f"hf-argen evaluate --model {figures['model']} --split none --num_per_class {per_class} "
        command += f"--seed {figures['seed']}" + ("" if scale is None else f" --guidance_scale {scale:g}")
        how = "plain sampling" if scale is None else f"class-posterior guidance {scale:g}"
        if candidates > 1:
            command += f" --num_candidates {candidates}"
            how += f", best of {candidates} by the model's own class posterior"
        if figures.get("temperature", 1.0) != 1.0:
            command += f" --temperature {figures['temperature']:g}"
            how += f", temperature {figures['temperature']:g}"
        name = f"class consistency of {figures['num_samples']} samples, {how}, seed {figures['seed']}"
        metrics.append(CardMetric("class_consistency", name, 100 * figures["consistency"], "samples", fmt=".1f",
                                  index=False, unit=" %"))  # fmt: skip
        commands.append(command)
    return metrics, commands


def main(argv=None):
    args = CommandParser(ShipArguments, description=__doc__).parse_args_into_dataclasses(args=argv)[0]
    bench = Path(args.benchmark_dir)
    figures = json.loads((bench / "rows" / f"{args.row}.json").read_text())
    table = bench / "table.json"  # written when the benchmark run ends
    header = json.loads(table.read_text())["header"] if table.is_file() else "see the benchmark's table."
    model = AutoModelForCausalLM.from_pretrained(bench / args.row).eval()
    vocabulary = vocabulary_of(model)
    model.config.id2label = {i: str(i) for i in range(vocabulary.num_classes)}
    model.config.label2id = {str(i): i for i in range(vocabulary.num_classes)}
    out = Path(args.output_dir)
    atomic_save_pretrained(model, out)
    channels, size, _ = image_shape_of(model)
    labels = torch.arange(vocabulary.num_classes).repeat(args.num_per_class)
    images = generate_pixels(model, class_labels=labels, seed=args.seed)
    processor = PixelCNNImageProcessor(num_levels=vocabulary.num_levels, num_channels=channels, image_size=size)
    grid = make_grid(processor.postprocess(images), num_columns=vocabulary.num_classes, scale=max(1, 64 // size))
    atomic_save_image(grid, out / "samples.png")
    info = {
        "hub_model_id": args.hub_model_id,
        "command": args.benchmark_command,
        "dataset": "mnist" if size == 28 else "digits",
        "training": f"Trained and measured by `benchmarks/benchmark_model_families.py` (row `{args.row}`): {header}",
        "image_caption": f"Samples, one column per class (seed {args.seed}, temperature 1).",
        "benchmark_figures": figures,
    }
    extra, eval_commands = evaluation_metrics(args.evaluation_json or [], out)
    atomic_write_text(out / TRAINING_INFO, json.dumps(info, indent=2))
    write_card_for_folder(out, card_metrics(figures, header) + extra, eval_command="\n".join(eval_commands) or None)
    export_folder(out)
    return out


if __name__ == "__main__":
    run_cli(main)
