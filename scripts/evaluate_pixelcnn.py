#!/usr/bin/env python
"""Exact bits/dim (and nats/image) of a saved PixelCNN on a dataset split.

    python scripts/evaluate_pixelcnn.py --model model_cards/pixelcnn-digits --dataset_name digits --split test

A class-conditional model is reported twice: conditional, -log p(x | y) with each image's own label, and
marginal, -log sum_y p(y) p(x | y) (exact: one forward pass per class, batched), with p(y) the class
frequencies of the dataset's training split (`--class_prior train`; classes absent there, e.g. the
MNIST-style classes 10-19 of pixelcnn-digits on digits, get p(y) = 0) or uniform over all the model's
classes (`--class_prior uniform`). Only the marginal is comparable with an unconditional model's -log p(x).

Several --model folders make an ensemble whose every sub-pixel conditional is the members' average.
`--output_json FILE` writes the figures as one JSON line (`-`: to stdout instead of the table).
`--write_card` then (re)writes the model folder's README.md with exactly these figures (`hf_argen.hub`): its
`model-index` names the split; training commands and notes come from the folder's training_info.json (or
`--train_command`), the usage snippet loads `--hub_model_id` (default: the Hub id in training_info.json);
`--consistency_json` adds the class consistency that `scripts/class_consistency.py --output_json` measured.
"""

import json
import time
from pathlib import Path

import torch

from hf_argen.cli import (
    add_device_argument,
    add_hidden_alias,
    resolve_device,
    run_cli,
    script_parser,
    write_json,
)


def parse_args(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--model", nargs="+", required=True, help="saved model folder(s) or Hub id(s)")
    parser.add_argument("--dataset_name", default="digits", help="digits, mnist, emoji, a folder or Hub id, ...")
    parser.add_argument("--split", default="test", help="split to evaluate")
    parser.add_argument("--data_dir", default=None, help="IDX or emoji folder (else $HF_ARGEN_DATA_DIR)")
    parser.add_argument("--image_column", default=None, help="image column (default: detected)")
    parser.add_argument("--label_column", default=None, help="label column (default: detected)")
    parser.add_argument(
        "--batch_size",
        type=int,
        default=None,
        help="images (or image-class pairs) per forward pass (default: 16 on the CPU, 256 on an accelerator)",
    )
    parser.add_argument("--max_eval_samples", type=int, default=None, help="evaluate the first N images only")
    parser.add_argument(
        "--class_prior",
        choices=["train", "uniform"],
        default="train",
        help="p(y) of the marginal: the training split's class frequencies, or uniform over the model's classes",
    )
    parser.add_argument("--num_threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--output_json", default=None, help="write the figures here as JSON ('-': stdout only)")
    parser.add_argument("--write_card", action="store_true", help="write the figures into --model's README.md")
    parser.add_argument("--hub_model_id", default=None, help="Hub id the card's usage snippet loads")
    parser.add_argument(
        "--train_command", action="append", default=None, help="training command(s) for the card (repeatable)"
    )
    parser.add_argument(
        "--consistency_json",
        default=None,
        help="with --write_card: also put the class consistency of this --output_json of "
        "scripts/class_consistency.py (measured on the same --model) into the card",
    )
    add_device_argument(parser)
    add_hidden_alias(parser, "--limit", "max_eval_samples", type=int)
    add_hidden_alias(parser, "--json", "output_json", action="store_const", const="-")
    args = parser.parse_args(argv)
    if args.batch_size is not None and args.batch_size < 1:
        raise ValueError(f"--batch_size must be >= 1, got {args.batch_size}.")
    if args.max_eval_samples is not None and args.max_eval_samples < 1:
        raise ValueError(f"--max_eval_samples must be >= 1, got {args.max_eval_samples}.")
    if args.write_card and len(args.model) != 1:
        raise ValueError("--write_card needs a single --model folder (not an ensemble).")
    if args.consistency_json is not None:
        if not args.write_card:
            raise ValueError("--consistency_json is only used with --write_card.")
        args.consistency = read_consistency(args.consistency_json, args.model[0])
    return args


def read_consistency(path: str, model: str) -> dict:
    """The figures of `scripts/class_consistency.py --output_json`, checked to be of `model`."""
    try:
        figures = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"--consistency_json {path!r}: not a readable JSON file ({error}).") from None
    missing = {"model", "consistency", "classifier_accuracy", "num_samples", "seed", "temperature"} - set(figures)
    if missing:
        raise ValueError(f"--consistency_json {path!r}: not an output of class_consistency.py (no {sorted(missing)}).")
    if Path(figures["model"]).resolve() != Path(model).resolve():
        raise ValueError(f"--consistency_json {path!r} measured {figures['model']!r}, not --model {model!r}.")
    return figures


def consistency_command(figures: dict) -> str:
    per_class = figures["num_samples"] // 10
    command = (f"python scripts/class_consistency.py --model {figures['model']} --num_per_class {per_class} "
               f"--seed {figures['seed']}")  # fmt: skip
    if figures["temperature"] != 1.0:
        command += f" --temperature {figures['temperature']}"
    return command


def write_card(args, metrics: dict, conditional: bool) -> None:
    """The folder's README.md with the figures just measured (and a class consistency measured before)."""
    from hf_argen.recipes.cards import class_consistency_card_metric, pixelcnn_card_metrics, write_card_for_folder

    command = (f"python scripts/evaluate_pixelcnn.py --model {args.model[0]} --dataset_name {args.dataset_name} "
               f"--split {args.split}")  # fmt: skip
    if conditional:
        command += f" --class_prior {args.class_prior}"
    if args.max_eval_samples:
        command += f" --max_eval_samples {args.max_eval_samples}"
    rows = pixelcnn_card_metrics(metrics, args.split, args.class_prior if conditional else None)
    consistency = getattr(args, "consistency", None)
    if consistency is not None:
        detail = f", seed {consistency['seed']}"
        if consistency["temperature"] != 1.0:
            detail += f", temperature {consistency['temperature']}"
        rows.append(class_consistency_card_metric(consistency, consistency["num_samples"], detail))
        command += "\n" + consistency_command(consistency)
    path = write_card_for_folder(args.model[0], rows, dataset=args.dataset_name, repo_id=args.hub_model_id,
                                 eval_command=command, train_commands=args.train_command)  # fmt: skip
    print(f"wrote {path}")


def training_class_prior(args, num_classes: int) -> torch.Tensor:
    """Class frequencies `(num_classes,)` of the training split of `--dataset_name`."""
    from hf_argen.evaluation import class_frequencies
    from hf_argen.recipes.datasets import load_images

    train = load_images(
        args.dataset_name,
        split="train",
        data_dir=args.data_dir,
        image_column=args.image_column,
        label_column=args.label_column,
    )
    if "label" not in train.column_names:
        raise ValueError(
            f"--class_prior train: the train split of {args.dataset_name!r} has no labels; use --class_prior uniform."
        )
    return class_frequencies(train["label"], num_classes)


def main(argv=None):
    args = parse_args(argv)
    device = resolve_device(args.device)

    from hf_argen import PixelCNNForImageGeneration, PixelCNNImageProcessor
    from hf_argen.data import encode_images
    from hf_argen.evaluation import pixelcnn_likelihood_report
    from hf_argen.recipes.datasets import load_images

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    models = [PixelCNNForImageGeneration.from_pretrained(m).to(device).eval() for m in args.model]
    config = models[0].config
    for other in models[1:]:
        if (other.config.num_subpixels, other.config.num_levels, other.config.num_classes) != (
            config.num_subpixels,
            config.num_levels,
            config.num_classes,
        ):
            raise ValueError("--model: ensemble members must share image size, channels, levels and classes.")
    processor = PixelCNNImageProcessor.from_model_config(config)
    dataset = load_images(
        args.dataset_name,
        split=args.split,
        data_dir=args.data_dir,
        image_column=args.image_column,
        label_column=args.label_column,
    )
    if args.max_eval_samples:
        dataset = dataset.select(range(min(args.max_eval_samples, len(dataset))))
    pixel_values = encode_images(dataset, processor)
    labels, class_prior = None, None
    conditional = config.num_classes is not None
    if conditional:
        if "label" not in dataset.column_names:
            raise ValueError(f"the model is class-conditional but {args.dataset_name}:{args.split} has no labels.")
        labels = torch.as_tensor(dataset["label"], dtype=torch.long)
        if labels.min() < 0 or labels.max() >= config.num_classes:
            raise ValueError(f"labels must be in [0, {config.num_classes}) for this model.")
        if args.class_prior == "train":
            class_prior = training_class_prior(args, config.num_classes)
        else:
            class_prior = torch.full((config.num_classes,), 1.0 / config.num_classes, dtype=torch.float64)
    start = time.perf_counter()
    metrics = pixelcnn_likelihood_report(
        models, pixel_values, labels, class_prior, batch_size=args.batch_size, progress=True
    )
    result = {
        "model": args.model,
        "dataset": args.dataset_name,
        "split": args.split,
        **metrics,
        "seconds": round(time.perf_counter() - start, 2),
        "device": str(device),
    }
    if conditional:
        result["class_prior"] = args.class_prior
        result["class_prior_probs"] = [round(p, 6) for p in class_prior.tolist()]
    write_json(args.output_json, result)
    if args.write_card:
        write_card(args, metrics, conditional)
    if args.output_json == "-":
        return result
    print(f"model(s):        {', '.join(args.model)}")
    print(
        f"data:            {args.dataset_name}:{args.split} ({metrics['num_images']} images, "
        f"{config.num_channels}x{config.image_size}x{config.image_size}, {config.num_levels} levels)"
    )
    if conditional:
        used = int((class_prior > 0).sum())
        prior_text = (
            f"{args.dataset_name} train class frequencies ({used} of {config.num_classes} classes)"
            if args.class_prior == "train"
            else f"uniform over {config.num_classes} classes"
        )
        print(
            f"{args.split} bits/dim, conditional -log p(x|y):  {metrics['bits_per_dim']:.4f}  "
            f"({metrics['nats_per_image']:.3f} nats/image)"
        )
        print(
            f"{args.split} bits/dim, marginal -log p(x):       {metrics['marginal_bits_per_dim']:.4f}  "
            f"({metrics['marginal_nats_per_image']:.3f} nats/image; p(y) = {prior_text})"
        )
    else:
        print(f"{args.split} bits/dim:   {metrics['bits_per_dim']:.4f}")
        print(f"NLL nats/image:  {metrics['nats_per_image']:.3f}")
    return result


if __name__ == "__main__":
    run_cli(main)
