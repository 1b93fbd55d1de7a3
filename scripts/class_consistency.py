#!/usr/bin/env python
"""Class consistency of a class-conditional MNIST PixelCNN: how often a separately trained MNIST classifier
recognises the requested class in the model's samples.

    python scripts/class_consistency.py --model model_cards/pixelcnn-mnist --num_per_class 10 --seed 0

The classifier (a small CNN) is trained on the MNIST training split on first use and cached at
--classifier_path; its own test accuracy is printed next to the figure.
"""

import argparse
import sys
import time
from pathlib import Path

try:
    import hf_argen  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build_classifier():
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )  # fmt: skip


def mnist_tensors(split, data_dir):
    import torch

    from hf_argen import PixelCNNImageProcessor
    from hf_argen.data import encode_images, load_image_dataset

    dataset = load_image_dataset("mnist", split=split, data_dir=data_dir)
    levels = encode_images(dataset, PixelCNNImageProcessor(num_levels=256))
    return levels.float() / 255.0, torch.as_tensor(dataset["label"])


def train_classifier(path, data_dir, epochs=2, seed=0):
    import torch

    torch.manual_seed(seed)
    x, y = mnist_tensors("train", data_dir)
    model = build_classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 128):
            index = order[start : start + 128]
            loss = torch.nn.functional.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model


def accuracy(model, x, y, batch=1000):
    import torch

    with torch.no_grad():
        predictions = torch.cat([model(x[i : i + batch]).argmax(-1) for i in range(0, len(x), batch)])
    return (predictions == y).float().mean().item(), predictions


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="model_cards/pixelcnn-mnist")
    parser.add_argument("--num_per_class", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument(
        "--data_dir", default=None, help="MNIST IDX folder (else $HF_ARGEN_DATA_DIR / the Hub)"
    )
    parser.add_argument("--classifier_path", default=".cache/mnist_classifier.pt")
    parser.add_argument("--save_grid", default=None, help="also save the samples as a PNG grid")
    parser.add_argument("--num_threads", type=int, default=None)
    args = parser.parse_args(argv)

    import torch

    from hf_argen import PixelCNNForImageGeneration, PixelCNNImageProcessor, make_grid

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    if Path(args.classifier_path).is_file():
        classifier = build_classifier()
        classifier.load_state_dict(torch.load(args.classifier_path))
    else:
        classifier = train_classifier(args.classifier_path, args.data_dir)
    classifier.eval()
    test_x, test_y = mnist_tensors("test", args.data_dir)
    test_accuracy, _ = accuracy(classifier, test_x, test_y)

    model = PixelCNNForImageGeneration.from_pretrained(args.model).eval()
    config = model.config
    if config.num_classes != 10 or config.image_size != 28 or config.num_channels != 1:
        raise ValueError("--model must be a class-conditional 1x28x28 MNIST model with 10 classes.")
    labels = torch.arange(10).repeat(args.num_per_class)
    start = time.perf_counter()
    samples = model.generate(class_labels=labels, seed=args.seed, temperature=args.temperature)
    seconds = time.perf_counter() - start
    images = samples.float() / (config.num_levels - 1)
    consistency, predictions = accuracy(classifier, images, labels)
    per_class = [(predictions[labels == c] == c).float().mean().item() for c in range(10)]
    if args.save_grid:
        processor = PixelCNNImageProcessor.from_model_config(config)
        make_grid(processor.postprocess(samples), num_columns=10, scale=2).save(args.save_grid)
    print(f"classifier test accuracy (MNIST test): {100 * test_accuracy:.2f}%")
    print(f"samples: {len(labels)} ({args.num_per_class}/class, seed {args.seed}), sampled in {seconds:.1f}s")
    print(f"class consistency: {100 * consistency:.1f}% of samples recognised as the requested class")
    print("per class: " + ", ".join(f"{c}: {100 * p:.0f}%" for c, p in enumerate(per_class)))


if __name__ == "__main__":
    main()
