"""Dataset loading: digits split, IDX parsing, MNIST -> digits format, imagefolder / save_to_disk RGB path."""

import gzip
import json

import numpy as np
import pytest
import torch
from PIL import Image

from hf_argen import PixelCNNImageProcessor
from hf_argen.data import encode_images, num_classes_of
from hf_argen.recipes.datasets import load_images
from hf_argen.recipes.mnist import find_idx_dir, mnist_to_digits_levels, read_idx
from hf_argen.recipes.sources import DATA_DIR_ENV


def _write_idx(path, array: np.ndarray, compress: bool = False):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        data = gzip.compress(data)
    path.write_bytes(data)


def test_digits_fixed_split_sizes_labels_and_levels():
    from sklearn.datasets import load_digits

    train, test = load_images("digits", "train"), load_images("digits", "test")
    assert (len(train), len(test)) == (1437, 360)
    assert num_classes_of(train) == 10 and set(train["source"]) == {"digits"}
    processor = PixelCNNImageProcessor(num_levels=17)
    levels = encode_images(test, processor)
    digits = load_digits()
    assert levels.shape == (360, 1, 8, 8) and levels.dtype == torch.long
    np.testing.assert_array_equal(levels[:, 0].numpy(), digits.images[::5])  # test = index % 5 == 0, exact levels
    assert test["label"] == digits.target[::5].tolist()
    np.testing.assert_array_equal(encode_images(train, processor)[:4, 0].numpy(), digits.images[[1, 2, 3, 4]])
    with pytest.raises(ValueError, match="split"):
        load_images("digits", "validation")


def test_read_idx_plain_gzip_and_corrupt(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a-idx3-ubyte", array)
    _write_idx(tmp_path / "b-idx3-ubyte.gz", array, compress=True)
    np.testing.assert_array_equal(read_idx(tmp_path / "a-idx3-ubyte"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "b-idx3-ubyte.gz"), array)
    (tmp_path / "c").write_bytes((tmp_path / "a-idx3-ubyte").read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "c")
    (tmp_path / "d").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "d")


def test_mnist_from_tiny_idx_files_via_data_dir_and_env(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28)).astype(np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for prefix in ("train", "t10k"):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    dataset = load_images("mnist", "test", data_dir=tmp_path)  # finds the `mnist` subfolder
    assert len(dataset) == 5 and dataset["label"] == labels.tolist()
    np.testing.assert_array_equal(np.asarray(dataset[2]["image"]), images[2])
    monkeypatch.setenv(DATA_DIR_ENV, str(folder))
    assert len(load_images("ylecun/mnist", "train")) == 5
    converted = load_images("mnist_digits", "train")
    assert set(converted["source"]) == {"mnist"}
    assert encode_images(converted, PixelCNNImageProcessor(num_levels=17)).max() <= 16


def test_data_dir_env_pointing_at_mnist_never_stands_in_for_fashion_mnist(tmp_path, monkeypatch):
    """Fashion-MNIST's IDX files have MNIST's names: an MNIST folder in the environment must not serve both."""
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    for prefix in ("train", "t10k"):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", np.array([1, 2], dtype=np.uint8))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert find_idx_dir("mnist") == tmp_path
    try:
        found = find_idx_dir("fashion_mnist")
    except ValueError:
        found = None
    assert found != tmp_path
    assert find_idx_dir("fashion_mnist", data_dir=tmp_path) == tmp_path  # an explicit folder is taken as given


def test_missing_idx_files_error_names_both_ways(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    with pytest.raises(ValueError) as error:
        load_images("mnist", "train", data_dir=tmp_path / "nothing")
    assert "--data_dir" in str(error.value) and DATA_DIR_ENV in str(error.value)


def test_mnist_to_digits_levels_block_counts():
    full = np.full((1, 28, 28), 255, dtype=np.uint8)
    padded = mnist_to_digits_levels(full, fit="pad")[0]
    assert padded[0, 0] == 4 and padded[0, 1] == 8 and padded[3, 3] == 16  # 2-pixel border, 4x4 blocks
    height = mnist_to_digits_levels(full)[0]  # fills the height, width capped at 24 of 32 columns
    assert (height[:, 1:7] == 16).all() and (height[:, [0, 7]] == 0).all()
    assert mnist_to_digits_levels(np.zeros((2, 28, 28), np.uint8)).sum() == 0
    with pytest.raises(ValueError, match="images"):
        mnist_to_digits_levels(np.zeros((28, 28), np.uint8))


def _rgb_images(count=6, size=6):
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, size=(size, size, 3)).astype(np.uint8) for _ in range(count)]


def test_imagefolder_rgb_with_metadata(tmp_path):
    arrays = _rgb_images()
    folder = tmp_path / "train"
    folder.mkdir()
    with open(folder / "metadata.jsonl", "w") as handle:
        for i, array in enumerate(arrays):
            Image.fromarray(array).save(folder / f"{i}.png")
            handle.write(json.dumps({"file_name": f"{i}.png", "label": i % 3}) + "\n")
    dataset = load_images(str(tmp_path), "train")
    assert set(dataset.column_names) == {"image", "label"} and len(dataset) == 6
    levels = encode_images(dataset, PixelCNNImageProcessor(num_levels=256, num_channels=3))
    assert levels.shape == (6, 3, 6, 6)
    by_label = sorted(zip(dataset["label"], levels.tolist()))
    expected = sorted((i % 3, np.moveaxis(a, -1, 0).tolist()) for i, a in enumerate(arrays))
    assert by_label == expected


def test_save_to_disk_rgb_and_columns(tmp_path):
    import datasets

    arrays = _rgb_images(4)
    source = datasets.Dataset.from_dict(
        {"img": [Image.fromarray(a) for a in arrays], "fine": [0, 1, 2, 3]},
        features=datasets.Features({"img": datasets.Image(), "fine": datasets.Value("int64")}),
    )
    datasets.DatasetDict({"train": source}).save_to_disk(str(tmp_path / "saved"))
    dataset = load_images(str(tmp_path / "saved"), "train", label_column="fine")
    assert dataset.column_names == ["image", "label"] and dataset["label"] == [0, 1, 2, 3]
    levels = encode_images(dataset, PixelCNNImageProcessor(num_levels=4, num_channels=3))
    np.testing.assert_array_equal(levels[1].numpy(), np.moveaxis(arrays[1], -1, 0).astype(np.int64) * 4 // 256)
    with pytest.raises(ValueError, match="image_column"):
        load_images(str(tmp_path / "saved"), "train", image_column="nope")


def test_train_pixelcnn_on_rgb_imagefolder(tmp_path):
    """The RGB code path end to end (num_channels detected as 3, 256 levels), as CIFAR-10 would take it."""
    from training.train_pixelcnn import main

    folder = tmp_path / "data" / "train"
    folder.mkdir(parents=True)
    with open(folder / "metadata.jsonl", "w") as handle:
        for i, array in enumerate(_rgb_images(8, size=4)):
            Image.fromarray(array).save(folder / f"{i}.png")
            handle.write(json.dumps({"file_name": f"{i}.png", "label": i % 2}) + "\n")
    result = main(
        [
            "--dataset_name",
            str(tmp_path / "data"),
            "--output_dir",
            str(tmp_path / "out"),
            "--hidden_size",
            "6",
            "--num_hidden_layers",
            "1",
            "--output_hidden_size",
            "6",
            "--first_kernel_size",
            "3",
            "--train_batch_size",
            "4",
            "--max_train_steps",
            "2",
            "--eval_split",
            "none",
            "--no_samples",
            "--checkpointing_steps",
            "2",
        ]
    )
    assert result.global_step == 2
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert (config["num_channels"], config["num_levels"], config["image_size"], config["num_classes"]) == (
        3,
        256,
        4,
        2,
    )


def test_joint_training_set_records_its_sources(tmp_path, monkeypatch):
    """digits (repeated) + converted MNIST rows: the mix and its sources land in training_info.json."""
    from hf_argen.recipes.pixelcnn import parse_dataset_spec
    from training.train_pixelcnn import main

    assert parse_dataset_spec("mnist_digits:test") == ("mnist_digits", "test")
    assert parse_dataset_spec("user/data") == ("user/data", "train")
    assert parse_dataset_spec("/data/a:b/c") == ("/data/a:b/c", "train")
    folder = tmp_path / "idx"
    folder.mkdir()
    images = np.zeros((7, 28, 28), dtype=np.uint8)
    images[:, 4:24, 10:18] = 255
    _write_idx(folder / "train-images-idx3-ubyte", images)
    _write_idx(folder / "train-labels-idx1-ubyte", np.arange(7, dtype=np.uint8))
    monkeypatch.setenv(DATA_DIR_ENV, str(folder))
    main(
        [
            "--dataset_name",
            "digits",
            "--extra_train_datasets",
            "mnist_digits:train",
            "--train_repeats",
            "2",
            "--output_dir",
            str(tmp_path / "out"),
            "--hidden_size",
            "4",
            "--num_hidden_layers",
            "1",
            "--output_hidden_size",
            "4",
            "--first_kernel_size",
            "3",
            "--max_train_steps",
            "1",
            "--eval_split",
            "none",
            "--no_samples",
            "--train_batch_size",
            "8",
        ]
    )
    info = json.loads((tmp_path / "out" / "training_info.json").read_text())
    assert info["train_data"] == [
        {"dataset": "digits:train", "examples": 2 * 1437},
        {"dataset": "mnist_digits:train", "examples": 7},
    ]
    assert info["command"].startswith("accelerate launch training/train_pixelcnn.py --dataset_name digits")


@pytest.mark.parametrize("labels", [["square", "circle", "square"], [2, 0, 2]], ids=["strings", "integers"])
def test_imagefolder_metadata_labels_become_classes(tmp_path, labels):
    """String labels in metadata.jsonl become sorted class names; integer labels stay ids with names "0".."max"."""
    from hf_argen.data import label_names_of

    folder = tmp_path / "train"
    folder.mkdir()
    with open(folder / "metadata.jsonl", "w") as handle:
        for i, (array, label) in enumerate(zip(_rgb_images(3), labels)):
            Image.fromarray(array).save(folder / f"{i}.png")
            handle.write(json.dumps({"file_name": f"{i}.png", "label": label}) + "\n")
    dataset = load_images(str(tmp_path), "train")
    if isinstance(labels[0], str):
        assert label_names_of(dataset) == ["circle", "square"] and dataset["label"] == [1, 0, 1]
    else:
        assert label_names_of(dataset) == ["0", "1", "2"] and dataset["label"] == [2, 0, 2]
    with pytest.raises(ValueError, match="no 'test' split"):
        load_images(str(tmp_path), "test")


def test_validation_indices_are_every_tenth():
    from hf_argen.data import validation_indices

    train, validation = validation_indices(25)
    assert validation.tolist() == [0, 10, 20] and len(train) == 22
    assert not set(train.tolist()) & set(validation.tolist())
