#!/usr/bin/env python
"""Exact test bits/dim (and nats/image) of a saved PixelCNN on a dataset split.

    python scripts/evaluate_pixelcnn.py --model model_cards/pixelcnn-digits --dataset_name digits --split test

Several --model folders make an ensemble whose every sub-pixel conditional is the members' average.
"""

import argparse
import json
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
    parser.add_argument("--model", nargs="+", required=True, help="saved model folder(s) or Hub id(s)")
    parser.add_argument("--dataset_name", default="digits")
    parser.add_argument("--split", default="test")
    parser.add_argument("--data_dir", default=None, help="IDX folder for mnist/fashion_mnist")
    parser.add_argument("--image_column", default=None)
    parser.add_argument("--label_column", default=None)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--limit", type=int, default=None, help="evaluate the first N images only")
    parser.add_argument("--num_threads", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    args = parser.parse_args(argv)

    import torch

    from hf_argen import PixelCNNForImageGeneration, PixelCNNImageProcessor
    from hf_argen.data import encode_images, load_image_dataset
    from hf_argen.evaluation import pixelcnn_log_likelihood, pixelcnn_metrics

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    models = [PixelCNNForImageGeneration.from_pretrained(m).eval() for m in args.model]
    config = models[0].config
    for other in models[1:]:
        if (other.config.num_subpixels, other.config.num_levels) != (config.num_subpixels, config.num_levels):
            raise ValueError("--model: ensemble members must share image size, channels and levels.")
    processor = PixelCNNImageProcessor.from_model_config(config)
    dataset = load_image_dataset(
        args.dataset_name,
        split=args.split,
        data_dir=args.data_dir,
        image_column=args.image_column,
        label_column=args.label_column,
    )
    if args.limit:
        dataset = dataset.select(range(min(args.limit, len(dataset))))
    pixel_values = encode_images(dataset, processor)
    labels = None
    if config.num_classes is not None:
        labels = torch.as_tensor(dataset["label"], dtype=torch.long)
    start = time.perf_counter()
    ll = pixelcnn_log_likelihood(models, pixel_values, labels, batch_size=args.batch_size)
    metrics = pixelcnn_metrics(ll, config.num_subpixels)
    result = {
        "model": args.model,
        "dataset": args.dataset_name,
        "split": args.split,
        **metrics,
        "seconds": round(time.perf_counter() - start, 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"model(s):        {', '.join(args.model)}")
        print(
            f"data:            {args.dataset_name}:{args.split} ({metrics['num_images']} images, "
            f"{config.num_channels}x{config.image_size}x{config.image_size}, {config.num_levels} levels)"
        )
        print(f"test bits/dim:   {metrics['bits_per_dim']:.4f}")
        print(f"NLL nats/image:  {metrics['nats_per_image']:.3f}")
    return result


if __name__ == "__main__":
    main()
