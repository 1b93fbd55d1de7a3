#!/usr/bin/env python
"""Sample images from a saved PixelCNN and save them as one PNG grid (one column per requested class).

    python scripts/generate.py --model model_cards/pixelcnn-digits --class_labels 0 1 2 3 4 5 6 7 8 9 \
        --num_images 1 --seed 0 --output digits.png
"""

import argparse
import sys
import time
from pathlib import Path

try:
    import hf_argen  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="model_cards/pixelcnn-digits", help="saved model folder or Hub id")
    parser.add_argument(
        "--class_labels",
        type=int,
        nargs="*",
        default=None,
        help="classes to draw (conditional models; default: every class)",
    )
    parser.add_argument(
        "--num_images", type=int, default=1, help="images per class (conditional) or in total (unconditional)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top_k", type=int, default=None)
    parser.add_argument("--top_p", type=float, default=None)
    parser.add_argument("--scale", type=int, default=None, help="upscaling of each image in the grid")
    parser.add_argument("--no_cache", action="store_true", help="use the naive sampler")
    parser.add_argument("--output", default="samples.png")
    args = parser.parse_args(argv)

    import torch

    from hf_argen import PixelCNNForImageGeneration, PixelCNNImageProcessor, make_grid

    if args.num_images < 1:
        raise ValueError(f"--num_images must be >= 1, got {args.num_images}.")
    model = PixelCNNForImageGeneration.from_pretrained(args.model).eval()
    config = model.config
    try:
        processor = PixelCNNImageProcessor.from_pretrained(args.model)
    except OSError:
        processor = PixelCNNImageProcessor.from_model_config(config)
    if config.num_classes is not None:
        classes = list(range(config.num_classes)) if args.class_labels is None else args.class_labels
        bad = [c for c in classes if not 0 <= c < config.num_classes]
        if not classes or bad:
            raise ValueError(f"--class_labels must be in [0, {config.num_classes}), got {classes}.")
        labels = torch.tensor(classes).repeat(args.num_images)  # row r = r-th image of every class
        columns = len(classes)
    else:
        if args.class_labels:
            raise ValueError("--class_labels given, but the model is unconditional.")
        labels, columns = None, min(args.num_images, 10)
    start = time.perf_counter()
    images = model.generate(
        class_labels=labels,
        num_images=None if labels is not None else args.num_images,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        use_cache=not args.no_cache,
    )
    seconds = time.perf_counter() - start
    scale = args.scale or max(1, 64 // config.image_size)
    grid = make_grid(processor.postprocess(images), num_columns=columns, scale=scale)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.output)
    print(f"saved {len(images)} samples ({columns} per row) to {args.output} in {seconds:.2f}s")


if __name__ == "__main__":
    main()
