#!/usr/bin/env python
"""Evaluate an image captioner: exact match and BLEU-4 (sacrebleu) per split.

    python scripts/evaluate_captioner.py --model model_cards/captioner-mnist-scenes \
        --dataset_name mnist_scenes --data_dir /path/to/mnist
    python scripts/evaluate_captioner.py --model model_cards/captioner-emoji \
        --dataset_name emoji --data_dir /path/to/emoji

Default splits: `mnist_scenes` -> `test` (held-out MNIST test images of seen digit pairs) and `test_held_out_pairs`
(pairs never seen in training); `emoji` -> `test` (the unseen vendor, `--test_vendor`), reported on all its images
and on the emoji all four vendors draw, beside the nearest-neighbour baseline (raw 16x16 pixels, over the three
training vendors' images of those emoji); a folder / Hub id -> `test`. `--write_card` writes the figures into the
model folder's README.md (`model-index`).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from hf_argen.cli import add_device_argument, resolve_device, run_cli, script_parser, write_json

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


def parse_args(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--model", required=True, help="a saved captioner folder or Hub id")
    parser.add_argument("--dataset_name", default="mnist_scenes", help="mnist_scenes | emoji | a folder | a Hub id")
    parser.add_argument("--split", nargs="+", default=None, help="splits (default: see above)")
    parser.add_argument("--data_dir", default=None, help="MNIST IDX / emoji folder (else $HF_ARGEN_DATA_DIR)")
    parser.add_argument("--caption_column", default=None, help="caption column of a folder / Hub dataset")
    parser.add_argument("--test_vendor", default="facebook", help="emoji: the vendor held out of training")
    parser.add_argument("--max_samples", type=int, default=None, help="evaluate the first N images of a split")
    parser.add_argument("--batch_size", type=int, default=128, help="images per generate() call")
    parser.add_argument("--num_beams", type=int, default=1, help="beam width (1: greedy decoding)")
    parser.add_argument("--no_baseline", action="store_true", help="emoji: skip the nearest-neighbour baseline")
    parser.add_argument(
        "--closed_vocabulary",
        action="store_true",
        help="emoji: also caption with decoding restricted to the training vendors' names",
    )
    add_device_argument(parser)
    parser.add_argument("--num_threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--output_json", default=None, help="also write the figures here as JSON ('-': stdout)")
    parser.add_argument("--write_card", action="store_true", help="write README.md (model-index) into --model")
    parser.add_argument("--repo_id", default=None, help="name the card's usage snippet loads (default: folder name)")
    parser.add_argument(
        "--train_command", default=None, help="training command for the card (default: the folder's training_info.json)"
    )
    parser.add_argument("--notes", default="", help="extra text for the card (what bounds a figure, ...)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from hf_argen.recipes.captioner_evaluation import evaluate_captioner_on_dataset
    from hf_argen.recipes.emoji import EMOJI_VENDORS
    from hf_argen.recipes.mnist import HELD_OUT_PAIRS

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    for name in ("batch_size", "num_beams"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}.")
    device = resolve_device(args.device)
    model = AutoModelForImageTextToText.from_pretrained(args.model).to(device).eval()
    processor = AutoProcessor.from_pretrained(args.model)
    rows = evaluate_captioner_on_dataset(
        model, processor, args.dataset_name, args.split, data_dir=args.data_dir, caption_column=args.caption_column,
        test_vendor=args.test_vendor, batch_size=args.batch_size, num_beams=args.num_beams,
        max_samples=args.max_samples, baseline=not args.no_baseline, progress=True,
        closed_vocabulary=args.closed_vocabulary,
    )  # fmt: skip
    for row in rows:
        print(
            f"{row['dataset']} {row['split']} ({row['subset']}, {row['num_images']} images) {row['system']}: "
            f"exact match {row['exact_match']:.2f} %, BLEU-4 {row['bleu4']:.2f}"
        )
    write_json(args.output_json, rows)
    if args.write_card:
        from hf_argen.recipes.cards import write_captioner_model_card

        folder = Path(args.model)
        if not (folder / "config.json").is_file():
            raise ValueError(f"--write_card needs a local model folder; {args.model} is not one.")
        flags, skip = [], False
        for arg in sys.argv[1:] if argv is None else argv:  # the card quotes the measuring flags only
            if skip or arg in ("--write_card",):
                skip = False
                continue
            if arg in ("--notes", "--train_command", "--output_json", "--repo_id"):
                skip = True
                continue
            flags.append(arg)
        eval_command = "python scripts/evaluate_captioner.py " + " ".join(shlex.quote(a) for a in flags)
        template = DESCRIPTIONS.get(args.dataset_name, "An image captioner p(caption | image) from hf_argen.")
        description = template.format(
            size=model.config.image_size,
            held_out=", ".join(f"{a}-{b}" for a, b in HELD_OUT_PAIRS),
            train_vendors=", ".join(v for v in EMOJI_VENDORS if v != args.test_vendor),
            test_vendor=args.test_vendor,
        )
        path = write_captioner_model_card(
            folder, rows, eval_command, command=args.train_command, description=description,
            repo_id=args.repo_id or folder.name,
            notes=args.notes,
        )  # fmt: skip
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
