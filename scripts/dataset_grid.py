#!/usr/bin/env python
"""A grid of real images of a dataset split, one column per class (the layout of `hf-argen generate`'s sample
grids, to set beside them): `--num_per_class` images of each class, drawn at random with `--seed`.

    python scripts/dataset_grid.py --dataset_name emoji --split test --num_per_class 4 --seed 0 --output real.png
"""

import numpy as np

from hf_argen.atomic import atomic_save_image
from hf_argen.cli import run_cli, script_parser


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--dataset_name", default="digits", help="digits, mnist, emoji, a folder or Hub id")
    parser.add_argument("--split", default="test", help="split to draw from")
    parser.add_argument("--data_dir", default=None, help="IDX / emoji folder (else $HF_ARGEN_DATA_DIR)")
    parser.add_argument("--num_per_class", type=int, default=4, help="images per class (rows)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw")
    parser.add_argument("--scale", type=int, default=None, help="upscaling of each image (default: to 64 pixels)")
    parser.add_argument("--output", default="real.png", help="PNG grid")
    args = parser.parse_args(argv)
    if args.num_per_class < 1:
        raise ValueError(f"--num_per_class must be >= 1, got {args.num_per_class}.")

    from hf_argen import make_grid
    from hf_argen.data import label_names_of
    from hf_argen.recipes.datasets import load_images

    dataset = load_images(args.dataset_name, split=args.split, data_dir=args.data_dir)
    names = label_names_of(dataset)
    if names is None:
        raise ValueError(f"{args.dataset_name}:{args.split} has no labels to sort its images by.")
    labels = np.asarray(dataset["label"])
    rng = np.random.default_rng(args.seed)
    picks = []
    for label in range(len(names)):
        index = np.flatnonzero(labels == label)
        if len(index) == 0:
            raise ValueError(f"class {names[label]!r} has no images in {args.dataset_name}:{args.split}.")
        picks.append(rng.choice(index, size=args.num_per_class, replace=len(index) < args.num_per_class))
    order = [int(picks[c][r]) for r in range(args.num_per_class) for c in range(len(names))]  # row = every class
    images = [dataset[i]["image"].convert("RGB") for i in order]
    grid = make_grid(images, num_columns=len(names), scale=args.scale or max(1, 64 // images[0].size[0]))
    atomic_save_image(grid, args.output)
    print(f"saved {len(images)} images ({len(names)} classes: {', '.join(names)}) to {args.output}")


if __name__ == "__main__":
    run_cli(main)
