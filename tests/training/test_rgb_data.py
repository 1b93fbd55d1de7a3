"""RGB data for the PixelCNN: the CIFAR-10 path (Hub id `uoft-cs/cifar10`, never downloaded: a tiny dataset with
CIFAR-10's features stands in for it) and the `emoji` images with their categories (a tiny fake npm package)."""

import json

import numpy as np
import pytest
import torch
from fake_emoji import FAKE_EMOJI, fake_emoji_package
from PIL import Image

from hf_argen import PixelCNNImageProcessor
from hf_argen.data import encode_images
from hf_argen.recipes.datasets import load_images
from hf_argen.recipes.emoji import emoji_image, emoji_test_names, load_emoji_image_dataset
from hf_argen.recipes.sources import DATA_DIR_ENV

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TINY = ["--hidden_size", "4", "--num_hidden_layers", "1", "--output_hidden_size", "4", "--first_kernel_size", "3"]


# ----------------------------------------------------------------------------------------------------------
# CIFAR-10
# ----------------------------------------------------------------------------------------------------------
def _cifar_like(num_train=20, num_test=10, size=32):
    """A DatasetDict with exactly CIFAR-10's features: `img` (Image) and `label` (ClassLabel of its 10 names)."""
    import datasets

    features = datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(names=CIFAR_CLASSES)})
    rng = np.random.default_rng(0)

    def split(count):
        labels = [i % 10 for i in range(count)]
        images = []
        for label in labels:  # structured: a class colour plus noise
            base = np.array([25 * label, 255 - 25 * label, 128], dtype=np.int64)
            noise = rng.integers(-20, 21, size=(size, size, 3))
            images.append(Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), mode="RGB"))
        return datasets.Dataset.from_dict({"img": images, "label": labels}, features=features)

    return datasets.DatasetDict({"train": split(num_train), "test": split(num_test)})


@pytest.fixture
def fake_cifar_hub(tmp_path, monkeypatch):
    """`datasets.load_dataset("uoft-cs/cifar10", split=...)` answered by a tiny local dataset (no download);
    records every id asked for."""
    import datasets

    cifar = _cifar_like()
    cifar.save_to_disk(str(tmp_path / "cifar_saved"))
    asked = []
    real = datasets.load_dataset

    def load_dataset(path, *args, split=None, **kwargs):
        if path != "uoft-cs/cifar10":
            return real(path, *args, split=split, **kwargs)
        asked.append((path, split))
        return cifar[split] if split else cifar

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return tmp_path / "cifar_saved", asked


def test_cifar10_hub_id_and_alias_are_standardized(fake_cifar_hub):
    saved, asked = fake_cifar_hub
    for name in ("uoft-cs/cifar10", "cifar10"):
        dataset = load_images(name, split="test")
        assert dataset.column_names == ["image", "label"] and len(dataset) == 10
        assert dataset.features["label"].names == CIFAR_CLASSES
        assert dataset[0]["image"].mode == "RGB" and dataset[0]["image"].size == (32, 32)
    assert asked == [("uoft-cs/cifar10", "test"), ("uoft-cs/cifar10", "test")]
    # The same data saved with `save_to_disk` loads to the same columns and levels
    from_disk = load_images(str(saved), split="test")
    assert from_disk.column_names == ["image", "label"] and from_disk["label"] == dataset["label"]
    processor = PixelCNNImageProcessor(num_levels=256, num_channels=3, image_size=32)
    assert torch.equal(encode_images(from_disk, processor), encode_images(dataset, processor))


def test_train_evaluate_and_sample_through_the_cifar10_hub_id(fake_cifar_hub, tmp_path):
    """The documented CIFAR-10 command, on a tiny model: RGB detected, 256 levels, class names in the config;
    the saved folder evaluates (conditional and marginal) and samples a class by name."""

    from hf_argen import PixelCNNForImageGeneration
    from training.train_pixelcnn import main

    out = tmp_path / "out"
    result = main(["--dataset_name", "uoft-cs/cifar10", "--output_dir", str(out), "--train_batch_size", "4",
                   "--max_train_steps", "2", "--checkpointing_steps", "2", "--no_samples", *TINY])  # fmt: skip
    assert result.global_step == 2
    config = json.loads((out / "config.json").read_text())
    assert (config["num_channels"], config["num_levels"], config["image_size"], config["num_classes"]) == (
        3, 256, 32, 10)  # fmt: skip
    assert config["id2label"]["3"] == "cat"
    info = json.loads((out / "training_info.json").read_text())
    assert info["train_data"] == [{"dataset": "uoft-cs/cifar10:train", "examples": 18}]  # 2 of 20 validate
    assert np.isfinite(info["eval_bits_per_dim"])
    model = PixelCNNForImageGeneration.from_pretrained(out)
    images = model.generate(class_labels=["cat", "ship"], seed=0)
    assert images.shape == (2, 3, 32, 32) and images.dtype == torch.long and 0 <= images.min() <= images.max() < 256

    from hf_argen.cli import evaluate

    figures = evaluate.main(["--model", str(out), "--dataset_name", "uoft-cs/cifar10", "--split", "test",
                             "--device", "cpu", "--output_json", "-"])  # fmt: skip
    assert figures["num_images"] == 10 and figures["class_prior_probs"] == [0.1] * 10
    # -log sum_y p(y) p(x|y) <= -log p(y_x) p(x|y_x): at most log2(10) bits per image above the conditional
    assert np.isfinite(figures["marginal_bits_per_dim"])
    assert figures["marginal_bits_per_dim"] <= figures["bits_per_dim"] + np.log2(10) / (3 * 32 * 32) + 1e-9


# ----------------------------------------------------------------------------------------------------------
# Emoji
# ----------------------------------------------------------------------------------------------------------
def test_emoji_test_names_are_a_fixed_tenth_of_sorted_names():
    names = [f"emoji {i:02d}" for i in range(25)]
    held = emoji_test_names(reversed(names))
    assert held == {"emoji 00", "emoji 10", "emoji 20"}
    assert emoji_test_names(names + ["EMOJI 00"]) == held  # case and duplicates do not move it


def test_emoji_image_composites_on_white_then_area_resizes(tmp_path):
    rgba = np.zeros((64, 64, 4), dtype=np.uint8)  # transparent everywhere ...
    rgba[:, 32:] = (255, 0, 0, 128)  # ... but a half-transparent red right half
    rgba[0:2, 0:2] = [[(0, 0, 0, 255), (255, 255, 255, 255)], [(255, 255, 255, 255), (0, 0, 0, 255)]]
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "e.png")
    image = emoji_image(tmp_path / "e.png")
    assert image.mode == "RGB" and image.size == (32, 32)
    pixels = np.asarray(image).astype(int)
    assert (pixels[5:, :16] == 255).all()  # transparent -> white
    np.testing.assert_allclose(pixels[:, 16:], np.broadcast_to([255, 127, 127], (32, 16, 3)), atol=1)
    np.testing.assert_allclose(pixels[0, 0], [128, 128, 128], atol=1)  # 2x2 area average of black and white
    assert emoji_image(tmp_path / "e.png", image_size=64).size == (64, 64)


def test_emoji_dataset_splits_by_name_across_vendors_with_category_labels(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    fake_emoji_package(tmp_path)
    train = load_images("emoji", "train", data_dir=tmp_path)
    test = load_emoji_image_dataset("test", data_dir=tmp_path / "package")
    categories = sorted({c for _, c, _ in FAKE_EMOJI})
    assert train.features["label"].names == categories == test.features["label"].names
    held = emoji_test_names(n for n, _, _ in FAKE_EMOJI)  # sorted: airplane, cat face, ..., thumbs up sign, ...
    assert held == {"airplane", "thumbs up sign"}
    assert set(test["name"]) == held and not held & set(train["name"])
    assert sorted(test["vendor"]) == ["apple", "apple", "google", "google"]  # every vendor's drawing held out
    assert len(train) + len(test) == 12 + 11  # google lacks one; skin tones left out by default
    category = {n.lower(): c for n, c, _ in FAKE_EMOJI}
    for row_name, label in zip(train["name"], train["label"]):
        assert categories[label] == category[row_name]
    first = train[0]["image"]
    assert first.mode == "RGB" and first.size == (32, 32)
    assert np.asarray(first)[0, 0].tolist() == [255, 255, 255]  # the transparent border, composited on white
    assert train["vendor"][:10] == ["apple"] * 10  # rows go vendor by vendor
    levels = encode_images(train, PixelCNNImageProcessor(num_levels=256, num_channels=3, image_size=32))
    assert levels.shape == (len(train), 3, 32, 32)
    # Skin tones, when asked for, follow their base emoji (train) and category
    with_tones = load_emoji_image_dataset("train", data_dir=tmp_path, skin_variations=True)
    tones = [n for n in with_tones["name"] if n.startswith("waving hand sign:")]
    assert sorted(tones) == sorted(["waving hand sign: light skin tone", "waving hand sign: dark skin tone"] * 2)
    assert len(with_tones) == len(train) + 4
    assert load_emoji_image_dataset("train", data_dir=tmp_path, vendors=["google"])["vendor"] == ["google"] * 9


def test_emoji_bad_arguments(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    fake_emoji_package(tmp_path)
    with pytest.raises(ValueError, match="`split`"):
        load_emoji_image_dataset("validation", data_dir=tmp_path)
    with pytest.raises(ValueError, match="`vendors`"):
        load_emoji_image_dataset("train", data_dir=tmp_path, vendors=["microsoft"])
    with pytest.raises(ValueError, match="`image_size`"):
        load_emoji_image_dataset("train", data_dir=tmp_path, image_size=0)
    with pytest.raises(ValueError, match="facebook"):  # no facebook images in the fake package
        load_emoji_image_dataset("train", data_dir=tmp_path, vendors=["facebook"])
    with pytest.raises(ValueError, match="npm pack"):
        load_images("emoji", "train", data_dir=tmp_path / "nothing")


def test_train_pixelcnn_on_emoji(tmp_path, monkeypatch):
    """`--dataset_name emoji`: 32x32 RGB, 256 levels, one class per category of emoji.json, names in the config."""
    from training.train_pixelcnn import main

    fake_emoji_package(tmp_path)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    out = tmp_path / "out"
    result = main(["--dataset_name", "emoji", "--output_dir", str(out), "--train_batch_size", "4",
                   "--max_train_steps", "1", "--checkpointing_steps", "1", "--no_samples", *TINY])  # fmt: skip
    assert result.global_step == 1
    config = json.loads((out / "config.json").read_text())
    categories = sorted({c for _, c, _ in FAKE_EMOJI})
    assert (config["num_channels"], config["num_levels"], config["image_size"]) == (3, 256, 32)
    assert config["num_classes"] == len(categories) and list(config["id2label"].values()) == categories
    info = json.loads((out / "training_info.json").read_text())
    assert info["train_data"] == [{"dataset": "emoji:train", "examples": 17}]  # 19 train images, 2 validate


def test_dataset_grid_script_draws_every_class_in_columns(tmp_path, monkeypatch):
    import importlib.util
    from pathlib import Path

    fake_emoji_package(tmp_path)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    path = Path(__file__).resolve().parents[2] / "scripts" / "dataset_grid.py"
    spec = importlib.util.spec_from_file_location("dataset_grid", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(["--dataset_name", "emoji", "--split", "train", "--num_per_class", "2", "--output",
                 str(tmp_path / "real.png")])  # fmt: skip
    categories = sorted({c for _, c, _ in FAKE_EMOJI})
    with Image.open(tmp_path / "real.png") as grid:  # 32x32 images scaled 2x, 1-pixel padding
        assert grid.size == (len(categories) * 65 + 1, 2 * 65 + 1)
    with pytest.raises(ValueError, match="--num_per_class"):
        script.main(["--dataset_name", "emoji", "--num_per_class", "0"])


def test_pixel_baseline_script_on_digits():
    """The independent per-sub-pixel categorical floor (per class: the `independent` row of
    `benchmarks/benchmark_model_families.py`)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "experiments" / "pixel_baseline.py"
    spec = importlib.util.spec_from_file_location("pixel_baseline", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    result = script.main(["--dataset_name", "digits", "--split", "test", "--output_json", "-"])
    assert result["num_images"] == 360 and result["unconditional_bits_per_dim"] == pytest.approx(2.436, abs=1e-3)
    assert result["conditional_bits_per_dim"] < result["unconditional_bits_per_dim"]
    assert result["marginal_bits_per_dim"] < result["unconditional_bits_per_dim"]
