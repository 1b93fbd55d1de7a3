"""The shipped digits PixelCNN: its remote code is the package's, its card's figure is what it measures, and it meets
the <= 1.60 test bits/dim target."""

from pathlib import Path

import torch
import yaml
from transformers import AutoModel

import hf_argen  # noqa: F401
from hf_argen import PixelCNNImageProcessor
from hf_argen.data import encode_images
from hf_argen.evaluation import pixelcnn_log_likelihood, pixelcnn_metrics
from hf_argen.recipes.mnist import load_digits_dataset

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "model_cards" / "pixelcnn-digits"


def test_card_figure_is_the_measured_test_bits_per_dim():
    card = (FOLDER / "README.md").read_text().split("---")[1]
    metrics = yaml.safe_load(card)["model-index"][0]["results"][0]["metrics"]
    claimed = next(m["value"] for m in metrics if m["type"] == "bits_per_dim")
    model = AutoModel.from_pretrained(FOLDER).eval()
    test = load_digits_dataset("test")
    pixel_values = encode_images(test, PixelCNNImageProcessor.from_pretrained(FOLDER))
    labels = torch.tensor(test["label"])
    measured = pixelcnn_metrics(pixelcnn_log_likelihood(model, pixel_values, labels), model.config.num_subpixels)
    assert measured["num_images"] == 360
    assert abs(measured["bits_per_dim"] - claimed) < 5e-4
    assert measured["bits_per_dim"] <= 1.60  # the shipped digits model's target


def test_generates_every_class():
    model = AutoModel.from_pretrained(FOLDER).eval()
    images = model.generate(class_labels=list(range(10)), seed=0)
    assert images.shape == (10, 1, 8, 8) and images.max() < 17
