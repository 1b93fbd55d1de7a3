#!/usr/bin/env python
"""(Re)write a saved model folder's README.md (model card with a `model-index`) from the figures an evaluation
script measured, and optionally its sample grid. Works for every hf_argen model kind (PixelCNN, VQ-VAE, two-stage,
causal LM): the card is written by `hf_argen.recipes.cards.write_card_for_folder`.

    python scripts/evaluate_pixelcnn.py --model model_cards/pixelcnn-digits --output_json eval.json
    python scripts/make_model_card.py --model model_cards/pixelcnn-digits --metrics_json eval.json \
        --command "accelerate launch training/train_pixelcnn.py ..." --hub_model_id you/pixelcnn-digits

The figures in the card are the ones the evaluation script wrote (read from --metrics_json); the evaluation
scripts' own `--write_card` does both steps at once. Training commands and notes default to the folder's
training_info.json.
"""

import json
from pathlib import Path

from hf_argen.cli import run_cli, script_parser

EVAL_SCRIPTS = {
    "pixelcnn": "evaluate_pixelcnn.py",
    "vqvae": "evaluate_vqvae.py",
    "two_stage": "evaluate_prior.py",
    "causal_lm": "evaluate_text_model.py",
}


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--model", required=True, help="saved model folder")
    parser.add_argument("--metrics_json", required=True, help="the --output_json of the model's evaluation script")
    parser.add_argument("--command", action="append", default=None,
                        help="training command(s), in order (repeat the flag for several stages)")  # fmt: skip
    parser.add_argument("--training_data", default=None, help="a paragraph on the data and the training run")
    parser.add_argument("--description", default=None, help="the card's description (default: from config.json)")
    parser.add_argument("--hub_model_id", default=None, help="Hub id the card's usage snippet loads")
    parser.add_argument("--hub_dataset_ids", nargs="*", default=None, help="datasets named in the card's metadata")
    parser.add_argument("--grid_seed", type=int, default=0, help="seed of the sample grid")
    parser.add_argument("--grid_rows", type=int, default=4, help="samples per class in the grid")
    parser.add_argument("--grid_class_labels", nargs="+", default=None, help="classes in the grid (default: all)")
    parser.add_argument("--no_grid", action="store_true", help="keep an existing samples.png")
    parser.add_argument("--eval_command", default=None, help="the measuring command (default: rebuilt from the JSON)")
    args = parser.parse_args(argv)

    from hf_argen.recipes.cards import card_metrics, model_kind, write_card_for_folder, write_sample_grid

    folder = Path(args.model)
    config = json.loads((folder / "config.json").read_text())
    kind = model_kind(config)
    figures = json.loads(Path(args.metrics_json).read_text().strip().splitlines()[-1])
    if not args.no_grid and kind in ("pixelcnn", "two_stage"):
        labels = [int(c) if c.isdigit() else c for c in args.grid_class_labels or []]
        write_sample_grid(folder, class_labels=labels, num_per_class=args.grid_rows, seed=args.grid_seed)
    command = args.eval_command or (
        f"python scripts/{EVAL_SCRIPTS[kind]} --model {folder}"
        + (f" --dataset_name {figures['dataset']}" if "dataset" in figures else "")
        + (f" --split {figures['split']}" if "split" in figures else "")
        + (f" --class_prior {figures['class_prior']}" if "class_prior" in figures else "")
    )
    path = write_card_for_folder(
        folder,
        card_metrics(config, figures),
        dataset=figures.get("dataset"),
        repo_id=args.hub_model_id,
        eval_command=command,
        train_commands=args.command,
        training=args.training_data,
        description=args.description,
        datasets=args.hub_dataset_ids,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    run_cli(main)
