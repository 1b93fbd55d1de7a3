#!/usr/bin/env python
"""Where an emoji captioner goes wrong on one vendor: exact match by category, and for the skin-tone variants
whether the base name and the tone part are right, beside the nearest-neighbour baseline (raw 16x16 pixels over
the other vendors' drawings of the emoji, as in `scripts/evaluate_captioner.py`).

    PYTHONPATH=. python scripts/emoji_caption_errors.py --model out --vendor twitter \
        --gallery_vendors apple google --data_dir /path/to/emoji --stride 3

Prints a table and writes the (image index, reference, prediction) rows with `--output_json`.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

try:  # run from a clean clone without `pip install -e .`
    import hf_argen  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def split_caption(caption: str) -> tuple[str, str]:
    """"woman golfing: medium skin tone" -> ("woman golfing", "medium skin tone"); no tone -> (caption, "")."""
    if "skin tone" in caption and ": " in caption:
        base, tone = caption.rsplit(": ", 1)
        return base, tone
    return caption, ""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--vendor", default="twitter", help="the vendor whose drawings are captioned")
    parser.add_argument("--gallery_vendors", nargs="+", default=["apple", "google"],
                        help="vendors the nearest-neighbour baseline searches (the model's training vendors)")
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--stride", type=int, default=1, help="caption every N-th image")
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--num_beams", type=int, default=1)
    parser.add_argument("--num_threads", type=int, default=None)
    parser.add_argument("--closed_vocabulary", action="store_true",
                        help="also caption with decoding restricted to the gallery vendors' names")
    parser.add_argument("--no_baseline", action="store_true", help="skip the nearest-neighbour baseline")
    parser.add_argument("--output_json", default=None)
    args = parser.parse_args(argv)
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from hf_argen.caption_data import load_caption_dataset
    from hf_argen.caption_evaluation import generate_captions, nearest_neighbour_captions, normalize_caption

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    if args.stride < 1:
        raise ValueError(f"--stride must be >= 1, got {args.stride}.")
    model = AutoModelForImageTextToText.from_pretrained(args.model).eval()
    processor = AutoProcessor.from_pretrained(args.model)
    test = load_caption_dataset("emoji", args.vendor, data_dir=args.data_dir)
    codes = set(test["unified"])  # the gallery holds every emoji the vendor draws, not only the captioned ones
    test = test.select(range(0, len(test), args.stride))
    references = [normalize_caption(t) for t in test["text"]]
    predictions = [normalize_caption(t) for t in generate_captions(
        model, processor, test["image"], args.batch_size, args.num_beams, progress=True)]
    gallery = [load_caption_dataset("emoji", v, data_dir=args.data_dir) for v in args.gallery_vendors]
    images, texts = [], []
    for part in gallery:
        keep = [i for i, code in enumerate(part["unified"]) if code in codes]
        images += list(part.select(keep)["image"])
        texts += list(part.select(keep)["text"])
    neighbours = references
    if not args.no_baseline:
        neighbours = [normalize_caption(t) for t in nearest_neighbour_captions(images, texts, test["image"])]
    closed = None
    if args.closed_vocabulary:
        names = [t for part in gallery for t in part["text"]]
        closed = [normalize_caption(t) for t in generate_captions(
            model, processor, test["image"], args.batch_size, args.num_beams, progress=True, allowed_captions=names)]

    def table(system, guesses):
        rows = collections.defaultdict(lambda: [0, 0])
        base_right = tone_right = toned = 0
        for ref, guess, category in zip(references, guesses, test["category"]):
            kind = "skin-tone variants" if split_caption(ref)[1] else "no skin tone"
            for key in ("all", f"kind: {kind}", f"category: {category}"):
                rows[key][0] += ref == guess
                rows[key][1] += 1
            if split_caption(ref)[1]:
                toned += 1
                base_right += split_caption(ref)[0] == split_caption(guess)[0]
                tone_right += split_caption(ref)[1] == split_caption(guess)[1]
        print(f"\n{system} on {args.vendor} (every {args.stride}th image)")
        for key, (hits, count) in sorted(rows.items(), key=lambda kv: (kv[0] != "all", kv[0])):
            print(f"  {key:40s} {100 * hits / count:6.1f} % of {count}")
        print(f"  {'skin-tone variants: base name right':40s} {100 * base_right / max(toned, 1):6.1f} %")
        print(f"  {'skin-tone variants: tone part right':40s} {100 * tone_right / max(toned, 1):6.1f} %")

    table("captioner", predictions)
    if closed is not None:
        table("captioner, decoding restricted to the gallery vendors' names", closed)
    if not args.no_baseline:
        table("nearest neighbour (raw 16x16 pixels)", neighbours)
    wrong = [(r, p) for r, p in zip(references, predictions) if r != p]
    print("\nsome errors (reference -> prediction):")
    for ref, guess in wrong[:: max(len(wrong) // 25, 1)][:25]:
        print(f"  {ref!r} -> {guess!r}")
    if args.output_json:
        Path(args.output_json).write_text(json.dumps(
            [{"reference": r, "prediction": p, "neighbour": n} for r, p, n in zip(references, predictions, neighbours)],
            indent=1))
    return 0


if __name__ == "__main__":
    from hf_argen.cli import run_cli

    run_cli(main)
