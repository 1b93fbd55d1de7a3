#!/usr/bin/env python
"""A floor any image model should beat: every sub-pixel an independent categorical over the levels, fitted by
counting on the training split (plus `--alpha` per level, Jeffreys smoothing by default), in test bits/dim.

    python experiments/pixel_baseline.py --dataset_name emoji --split test

Printed: the unconditional baseline, -log p(x), and the class-conditional one twice as for the PixelCNN,
conditional -log p(x | y) (one categorical per sub-pixel and class) and marginal -log sum_y p(y) p(x | y) with p(y)
the training class frequencies. Images are encoded as `hf-argen evaluate` encodes them
(`--num_levels`, `--num_channels`, `--image_size`; default: 256 levels and the training images' own shape).
"""

import math

import torch

from hf_argen.cli import run_cli, script_parser, write_json
from hf_argen.evaluation import independent_categorical_log_likelihood


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--dataset_name", default="digits", help="digits, mnist, emoji, a folder or Hub id, ...")
    parser.add_argument("--split", default="test", help="split to evaluate (fitted on 'train')")
    parser.add_argument("--data_dir", default=None, help="IDX or emoji folder (else $HF_ARGEN_DATA_DIR)")
    parser.add_argument("--num_levels", type=int, default=None, help="default: 17 for digits, else 256")
    parser.add_argument("--num_channels", type=int, default=None, help="default: 3 for RGB images, else 1")
    parser.add_argument("--image_size", type=int, default=None, help="default: the images' size")
    parser.add_argument("--alpha", type=float, default=0.5, help="pseudo-count per level")
    parser.add_argument("--output_json", default=None, help="write the figures here as JSON ('-': stdout)")
    args = parser.parse_args(argv)
    if args.alpha <= 0:
        raise ValueError(f"--alpha must be > 0, got {args.alpha}.")

    from hf_argen import PixelCNNImageProcessor
    from hf_argen.data import encode_images, num_classes_of
    from hf_argen.recipes.datasets import load_images
    from hf_argen.recipes.pixelcnn import DEFAULT_LEVELS

    train = load_images(args.dataset_name, split="train", data_dir=args.data_dir)
    test = load_images(args.dataset_name, split=args.split, data_dir=args.data_dir)
    first = train[0]["image"]
    processor = PixelCNNImageProcessor(
        num_levels=args.num_levels or DEFAULT_LEVELS.get(args.dataset_name, 256),
        num_channels=args.num_channels or (3 if first.mode in ("RGB", "RGBA", "P") else 1),
        image_size=args.image_size or max(first.size),
    )
    x_train, x_test = (encode_images(d, processor).flatten(1) for d in (train, test))
    num_levels, dims = processor.num_levels, x_train.shape[1]

    def bits(ll: torch.Tensor) -> float:
        return round((-ll.mean() / (dims * math.log(2))).item(), 4)

    unconditional = independent_categorical_log_likelihood(x_train, x_test, num_levels, args.alpha)
    result = {"dataset": args.dataset_name, "split": args.split, "num_images": len(x_test), "alpha": args.alpha,
              "unconditional_bits_per_dim": bits(unconditional)}  # fmt: skip
    num_classes = num_classes_of(train)
    if num_classes is not None and "label" in test.column_names:
        y_train, y_test = torch.tensor(train["label"]), torch.tensor(test["label"])
        per_class = torch.stack([
            independent_categorical_log_likelihood(x_train[y_train == c], x_test, num_levels, args.alpha)
            for c in range(num_classes)
        ])  # (classes, N) log p(x | y = c)  # fmt: skip
        prior = torch.bincount(y_train, minlength=num_classes).double() / len(y_train)
        result["conditional_bits_per_dim"] = bits(per_class.gather(0, y_test[None]).squeeze(0))
        result["marginal_bits_per_dim"] = bits(torch.logsumexp(per_class + prior.log()[:, None], dim=0))
    write_json(args.output_json, result)
    if args.output_json != "-":
        for key, value in result.items():
            print(f"{key}: {value}")
    return result


if __name__ == "__main__":
    run_cli(main)
