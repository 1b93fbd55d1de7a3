"""Class consistency: a small MNIST CNN that tells which digit a sample shows, how it is trained, and how often it
recognises the requested class in a model's samples."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import encode_images
from ..models import PixelCNNImageProcessor
from .datasets import load_images


def build_mnist_classifier() -> torch.nn.Module:
    """The small CNN (two conv layers, 98.7 % MNIST test accuracy after 2 epochs) behind class consistency."""

    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )  # fmt: skip


def mnist_tensors(split: str, data_dir=None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST `split` as float images `(N, 1, 28, 28)` in [0, 1] and labels `(N,)`."""
    dataset = load_images("mnist", split=split, data_dir=data_dir)
    levels = encode_images(dataset, PixelCNNImageProcessor(num_levels=256))
    return levels.float() / 255.0, torch.as_tensor(dataset["label"])


def train_mnist_classifier(path, data_dir=None, epochs: int = 2, seed: int = 0, device="cpu") -> torch.nn.Module:
    """Train :func:`build_mnist_classifier` on the MNIST training split (Adam 1e-3, batches of 128), save its
    state dict at `path` and return it (on `device`)."""

    torch.manual_seed(seed)
    x, y = mnist_tensors("train", data_dir)
    model = build_mnist_classifier().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in tqdm(range(epochs), desc="training the MNIST classifier", unit="epoch"):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 128):
            index = order[start : start + 128]
            loss = torch.nn.functional.cross_entropy(model(x[index].to(device)), y[index].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model


def load_mnist_classifier(path, data_dir=None, device="cpu") -> torch.nn.Module:
    """The classifier saved at `path` (trained there by :func:`train_mnist_classifier` when missing), in eval mode."""

    if Path(path).is_file():
        model = build_mnist_classifier()
        state = torch.load(path, map_location="cpu", weights_only=True)  # noqa: TID251 (tensors only)
        model.load_state_dict(state)
        model.to(device)
    else:
        model = train_mnist_classifier(path, data_dir, device=device)
    return model.eval()


@torch.no_grad()
def classifier_accuracy(model, images: torch.Tensor, labels, batch_size: int = 1000) -> tuple[float, torch.Tensor]:
    """(accuracy, predictions `(N,)` on the CPU) of `model` on float `images` in [0, 1] on any device."""
    device = next(model.parameters()).device
    predictions = torch.cat(
        [
            model(images[i : i + batch_size].float().to(device)).argmax(-1).cpu()
            for i in range(0, len(images), batch_size)
        ]
    )
    labels = torch.as_tensor(labels).cpu()
    return (predictions == labels).float().mean().item(), predictions


def class_consistency(model, images: torch.Tensor, labels, num_classes: int = 10) -> dict:
    """How often `model` recognises the requested class in `images`: `{"consistency", "per_class"}`."""
    labels = torch.as_tensor(labels).cpu()
    consistency, predictions = classifier_accuracy(model, images, labels)
    per_class = [
        (predictions[labels == c] == c).float().mean().item() if (labels == c).any() else float("nan")
        for c in range(num_classes)
    ]
    return {"consistency": consistency, "per_class": per_class}


__all__ = [
    "build_mnist_classifier",
    "class_consistency",
    "classifier_accuracy",
    "load_mnist_classifier",
    "mnist_tensors",
    "train_mnist_classifier",
]
