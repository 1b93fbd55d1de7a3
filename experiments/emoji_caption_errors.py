#!/usr/bin/env python
"""Where an emoji captioner goes wrong on one vendor: exact match by category, and for the skin-tone variants
whether the base name and the tone part are right, how far off a wrong tone is (in steps from light to dark) and
the exact match there would be with every tone right, beside the nearest-neighbour baseline (raw 16x16 pixels over
the other vendors' drawings of the emoji, as in `hf-argen evaluate`).

    python experiments/emoji_caption_errors.py --model out --vendor twitter \
        --gallery_vendors apple google --data_dir /path/to/emoji --stride 3

Prints the tables and writes the (reference, prediction, neighbour) rows with `--output_json`.
"""

from __future__ import annotations

import collections

from hf_argen.cli import add_device_argument, resolve_device, run_cli, script_parser, write_json

SKIN_TONES = ("light skin tone", "medium-light skin tone", "medium skin tone", "medium-dark skin tone",
              "dark skin tone")  # fmt: skip


def split_caption(caption: str) -> tuple[str, str]:
    """ "woman golfing: medium skin tone" -> ("woman golfing", "medium skin tone"); no tone -> (caption, "")."""
    if "skin tone" in caption and ": " in caption:
        base, tone = caption.rsplit(": ", 1)
        return base, tone
    return caption, ""


def tone_step_error(reference: str, prediction: str) -> int | None:
    """How many steps darker (> 0) or lighter (< 0) the predicted single skin tone is than the reference's, from
    light (0) to dark (4); `None` unless both captions name exactly one tone. "x: light skin tone" vs
    "x: medium skin tone" -> 2."""
    ref, guess = split_caption(reference)[1], split_caption(prediction)[1]
    if ref not in SKIN_TONES or guess not in SKIN_TONES:
        return None
    return SKIN_TONES.index(guess) - SKIN_TONES.index(ref)


def right_but_for_tone(reference: str, prediction: str) -> bool:
    """Whether `prediction` names the right emoji, its skin tones aside: the same base name, and a tone part exactly
    when the reference has one."""
    (ref_base, ref_tone), (guess_base, guess_tone) = split_caption(reference), split_caption(prediction)
    return ref_base == guess_base and bool(ref_tone) == bool(guess_tone)


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--model", required=True, help="a saved captioner folder or Hub id")
    parser.add_argument("--vendor", default="twitter", help="the vendor whose drawings are captioned")
    parser.add_argument(
        "--gallery_vendors",
        nargs="+",
        default=["apple", "google"],
        help="vendors the nearest-neighbour baseline searches (the model's training vendors)",
    )
    parser.add_argument("--data_dir", default=None, help="the emoji folder (else $HF_ARGEN_DATA_DIR)")
    parser.add_argument("--stride", type=int, default=1, help="caption every N-th image")
    parser.add_argument("--batch_size", type=int, default=128, help="images per generate() call")
    parser.add_argument("--num_beams", type=int, default=1, help="beam width (1: greedy decoding)")
    parser.add_argument("--num_threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument(
        "--closed_vocabulary",
        action="store_true",
        help="also caption with decoding restricted to the gallery vendors' names",
    )
    parser.add_argument("--no_baseline", action="store_true", help="skip the nearest-neighbour baseline")
    parser.add_argument("--output_json", default=None, help="write the rows here as JSON ('-': stdout)")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from hf_argen.caption_evaluation import generate_captions, nearest_neighbour_captions, normalize_caption
    from hf_argen.recipes.datasets import load_captions

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    for name in ("stride", "batch_size", "num_beams"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}.")
    device = resolve_device(args.device)
    model = AutoModelForImageTextToText.from_pretrained(args.model).to(device).eval()
    processor = AutoProcessor.from_pretrained(args.model)
    test = load_captions("emoji", args.vendor, data_dir=args.data_dir)
    codes = set(test["unified"])  # the gallery holds every emoji the vendor draws, not only the captioned ones
    test = test.select(range(0, len(test), args.stride))
    references = [normalize_caption(t) for t in test["text"]]
    predictions = [
        normalize_caption(t)
        for t in generate_captions(model, processor, test["image"], args.batch_size, args.num_beams, progress=True)
    ]
    gallery = [load_captions("emoji", v, data_dir=args.data_dir) for v in args.gallery_vendors]
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
        closed = [
            normalize_caption(t)
            for t in generate_captions(
                model, processor, test["image"], args.batch_size, args.num_beams, progress=True, allowed_captions=names
            )
        ]

    def table(system, guesses):
        rows = collections.defaultdict(lambda: [0, 0])
        base_right = tone_right = toned = tone_blind = 0
        for ref, guess, category in zip(references, guesses, test["category"]):
            (ref_base, ref_tone), (guess_base, guess_tone) = split_caption(ref), split_caption(guess)
            kind = "skin-tone variants" if ref_tone else "no skin tone"
            for key in ("all", f"kind: {kind}", f"category: {category}"):
                rows[key][0] += ref == guess
                rows[key][1] += 1
            tone_blind += right_but_for_tone(ref, guess)
            if ref_tone:
                toned += 1
                base_right += ref_base == guess_base
                tone_right += ref_tone == guess_tone
        which = "every image" if args.stride == 1 else f"one image in {args.stride}"
        print(f"\n{system} on {args.vendor} ({which})")
        for key, (hits, count) in sorted(rows.items(), key=lambda kv: (kv[0] != "all", kv[0])):
            print(f"  {key:40s} {100 * hits / count:6.1f} % of {count}")
        print(f"  {'skin-tone variants: base name right':40s} {100 * base_right / max(toned, 1):6.1f} %")
        print(f"  {'skin-tone variants: tone part right':40s} {100 * tone_right / max(toned, 1):6.1f} %")
        print(f"  {'all, if every skin tone were right':40s} {100 * tone_blind / len(references):6.1f} %")
        steps = collections.Counter(tone_step_error(r, g) for r, g in zip(references, guesses))
        steps.pop(None, None)
        if steps:  # single-tone variants whose prediction names one tone: the tone's step error
            share = "  ".join(f"{s:+d}: {100 * n / steps.total():.1f} %" for s, n in sorted(steps.items()))
            print(f"  {'single tone, predicted - true (steps)':40s} {share} of {steps.total()}")

    table("captioner", predictions)
    if closed is not None:
        table("captioner, decoding restricted to the gallery vendors' names", closed)
    if not args.no_baseline:
        table("nearest neighbour (raw 16x16 pixels)", neighbours)
    wrong = [(r, p) for r, p in zip(references, predictions) if r != p]
    print("\nsome errors (reference -> prediction):")
    for ref, guess in wrong[:: max(len(wrong) // 25, 1)][:25]:
        print(f"  {ref!r} -> {guess!r}")
    write_json(
        args.output_json,
        [{"reference": r, "prediction": p, "neighbour": n} for r, p, n in zip(references, predictions, neighbours)],
    )
    return 0


if __name__ == "__main__":
    run_cli(main)
