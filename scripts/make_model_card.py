#!/usr/bin/env python
"""Write a shipped model folder's README.md (model card with a `model-index`) and its sample grid.

    python scripts/evaluate_pixelcnn.py --model model_cards/pixelcnn-digits --json > eval.json
    python scripts/make_model_card.py --model model_cards/pixelcnn-digits --metrics_json eval.json \
        --command "accelerate launch training/train_pixelcnn.py ..." --hub_model_id you/pixelcnn-digits

The figure in the card is the one `evaluate_pixelcnn.py` printed (read from --metrics_json).
"""

import argparse
import json
import sys
from pathlib import Path

try:
    import hf_argen  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True)
    parser.add_argument("--metrics_json", required=True, help="output of evaluate_pixelcnn.py --json")
    parser.add_argument(
        "--command",
        action="append",
        required=True,
        help="training command(s), in order (repeat the flag for several stages)",
    )
    parser.add_argument(
        "--training_data", default=None, help="a sentence on the data the model was trained on"
    )
    parser.add_argument("--description", default=None)
    parser.add_argument("--hub_model_id", default=None)
    parser.add_argument("--hub_dataset_ids", nargs="*", default=None)
    parser.add_argument("--grid_seed", type=int, default=0)
    parser.add_argument("--grid_rows", type=int, default=4, help="samples per class in the grid")
    parser.add_argument(
        "--grid_class_labels", type=int, nargs="+", default=None, help="classes in the grid (default: all)"
    )
    parser.add_argument("--no_grid", action="store_true", help="keep an existing samples.png")
    args = parser.parse_args(argv)

    from hf_argen.hub import write_pixelcnn_model_card

    folder = Path(args.model)
    metrics = json.loads(Path(args.metrics_json).read_text().strip().splitlines()[-1])
    if not args.no_grid:
        import generate  # scripts/generate.py, next to this file

        generate.main(
            [
                "--model",
                str(folder),
                "--num_images",
                str(args.grid_rows),
                "--seed",
                str(args.grid_seed),
                "--output",
                str(folder / "samples.png"),
                *(["--class_labels", *map(str, args.grid_class_labels)] if args.grid_class_labels else []),
            ]
        )
    eval_command = (
        f"python scripts/evaluate_pixelcnn.py --model {folder} "
        f"--dataset_name {metrics['dataset']} --split {metrics['split']}"
    )
    path = write_pixelcnn_model_card(
        folder,
        args.hub_model_id,
        command="\n".join(args.command),
        dataset=metrics["dataset"],
        split=metrics["split"],
        metrics=metrics,
        eval_command=eval_command,
        description=args.description,
        training_data=args.training_data,
        hub_dataset_ids=args.hub_dataset_ids,
        load_path=str(folder),
    )
    print(f"wrote {path} (bits/dim {metrics['bits_per_dim']:.4f} on {metrics['dataset']}:{metrics['split']})")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
