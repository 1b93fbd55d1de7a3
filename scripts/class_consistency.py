#!/usr/bin/env python
"""Class consistency of a class-conditional MNIST PixelCNN: how often a separately trained MNIST classifier
recognises the requested class in the model's samples.

    python scripts/class_consistency.py --model model_cards/pixelcnn-mnist --num_per_class 100 --seed 0

The classifier (a small CNN, `hf_argen.recipes.classifier.build_mnist_classifier`) is trained on the MNIST training
split on first use and cached at --classifier_path; its own test accuracy is printed next to the figure.
"""

import time

import torch

from hf_argen.atomic import atomic_save_image
from hf_argen.cli import add_device_argument, resolve_device, run_cli, script_parser, write_json


def parse_args(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--model", default="model_cards/pixelcnn-mnist", help="a class-conditional MNIST PixelCNN")
    parser.add_argument("--num_per_class", type=int, default=100, help="samples per class")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    parser.add_argument("--data_dir", default=None, help="MNIST IDX folder (else $HF_ARGEN_DATA_DIR / the Hub)")
    parser.add_argument("--classifier_path", default=".cache/mnist_classifier.pt", help="cached MNIST classifier")
    parser.add_argument("--grid", default=None, help="also save the samples as a PNG grid here")
    parser.add_argument("--output_json", default=None, help="write the figures here as JSON ('-': stdout)")
    parser.add_argument("--num_threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    if args.num_per_class < 1:
        raise ValueError(f"--num_per_class must be >= 1, got {args.num_per_class}.")
    return args


def main(argv=None):
    args = parse_args(argv)
    device = resolve_device(args.device)

    from hf_argen import PixelCNNForImageGeneration, PixelCNNImageProcessor, make_grid
    from hf_argen.recipes.classifier import class_consistency, classifier_accuracy, load_mnist_classifier, mnist_tensors

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    model = PixelCNNForImageGeneration.from_pretrained(args.model).to(device).eval()
    config = model.config
    if config.num_classes != 10 or config.image_size != 28 or config.num_channels != 1:
        raise ValueError("--model must be a class-conditional 1x28x28 MNIST model with 10 classes.")
    classifier = load_mnist_classifier(args.classifier_path, args.data_dir, device=device)
    test_x, test_y = mnist_tensors("test", args.data_dir)
    test_accuracy, _ = classifier_accuracy(classifier, test_x, test_y)

    labels = torch.arange(10).repeat(args.num_per_class)
    start = time.perf_counter()
    samples = model.generate(class_labels=labels.to(device), seed=args.seed, temperature=args.temperature).cpu()
    seconds = time.perf_counter() - start
    images = samples.float() / (config.num_levels - 1)
    result = class_consistency(classifier, images, labels)
    if args.grid:
        processor = PixelCNNImageProcessor.from_model_config(config)
        atomic_save_image(make_grid(processor.postprocess(samples), num_columns=10, scale=2), args.grid)
    print(f"classifier test accuracy (MNIST test): {100 * test_accuracy:.2f}%")
    print(f"samples: {len(labels)} ({args.num_per_class}/class, seed {args.seed}), sampled in {seconds:.1f}s")
    print(f"class consistency: {100 * result['consistency']:.1f}% of samples recognised as the requested class")
    print("per class: " + ", ".join(f"{c}: {100 * p:.0f}%" for c, p in enumerate(result["per_class"])))
    figures = {
        "model": args.model,
        "num_samples": len(labels),
        "seed": args.seed,
        "temperature": args.temperature,
        "classifier_accuracy": test_accuracy,
        **result,
        "seconds": round(seconds, 2),
        "device": str(device),
    }
    write_json(args.output_json, figures)
    return figures


if __name__ == "__main__":
    run_cli(main)
