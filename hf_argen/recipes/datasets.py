"""The named datasets of the recipes, beside whatever the generic loaders of `hf_argen.data`,
`hf_argen.caption_data` and `hf_argen.text_data` load (folders, `save_to_disk` folders, Hub ids).

* :func:`load_images` (image models): ``"digits"``, ``"mnist"``, ``"fashion_mnist"`` (or the Hub ids
  ``"ylecun/mnist"``, ``"zalando-datasets/fashion_mnist"``), ``"mnist_digits"`` (:mod:`.mnist`), ``"emoji"``
  (:mod:`.emoji`), ``"cifar10"`` (``"uoft-cs/cifar10"``), ``"mnist_scenes"`` (the scenes' images alone).
* :func:`load_captions` (the captioner): ``"mnist_scenes"`` (:func:`.mnist.make_mnist_scenes`), ``"emoji"``
  (:func:`.emoji.load_emoji_dataset`).
* :func:`load_texts` (causal LMs): ``"fortunes"``, Debian's `fortunes` package (:func:`read_fortunes`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

import datasets

from ..caption_data import load_caption_dataset
from ..data import load_image_dataset
from ..text_data import load_text_dataset
from .emoji import load_emoji_dataset, load_emoji_image_dataset
from .mnist import HUB_IDS, load_digits_dataset, load_mnist_dataset, load_mnist_digits_dataset, make_mnist_scenes

_ALIASES = {
    "ylecun/mnist": "mnist",
    "zalando-datasets/fashion_mnist": "fashion_mnist",
    "fashion-mnist": "fashion_mnist",
}
# Short names of Hub datasets with nothing special about their loading.
HUB_ALIASES = {"cifar10": "uoft-cs/cifar10"}
# Default number of levels per dataset name (17 for scikit-learn digits and MNIST in digits format).
DEFAULT_LEVELS = {"digits": 17, "mnist_digits": 17}
CAPTION_DATASETS = ("mnist_scenes", "emoji")
FORTUNES_DIR = "/usr/share/games/fortunes"


def load_images(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    image_column: str | None = None,
    label_column: str | None = None,
    cache_dir: str | None = None,
) -> datasets.Dataset:
    """Load `split` of a named image dataset or of anything :func:`hf_argen.data.load_image_dataset` loads, as a
    `datasets.Dataset` with columns `image` and (if any) `label`.

    Args:
        name: ``"digits"``, ``"mnist"``, ``"fashion_mnist"``, ``"mnist_digits"``, ``"emoji"``, ``"cifar10"``,
            ``"mnist_scenes"`` (the images of the captioned scenes, no label), a local
            `save_to_disk` or `imagefolder` folder, or a Hub dataset id.
        split: split name (``"train"``/``"test"``; for `digits` the fixed index split).
        data_dir: folder with IDX files for `mnist`/`fashion_mnist`, or the emoji packages for `emoji` (else
            ``$HF_ARGEN_DATA_DIR``).
        image_column / label_column: source column names, detected when `None`.
    """
    key = _ALIASES.get(name, name)
    if key == "digits":
        return load_digits_dataset(split)
    if key == "mnist_digits":
        return load_mnist_digits_dataset(split, data_dir=data_dir)
    if key == "emoji":
        return load_emoji_image_dataset(split, data_dir=data_dir)
    if key == "mnist_scenes":  # the scenes' images alone (an image model of them: a VQ-VAE, say)
        return make_mnist_scenes(split, data_dir=data_dir).select_columns(["image"])
    if key in HUB_IDS:
        return load_mnist_dataset(key, split, data_dir, image_column, label_column, cache_dir)
    return load_image_dataset(HUB_ALIASES.get(name, name), split, image_column, label_column, cache_dir)


def load_captions(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    caption_column: str | None = None,
    image_column: str | None = None,
    cache_dir: str | None = None,
    **kwargs,
) -> datasets.Dataset:
    """Load `split` of a named captioned dataset (``"mnist_scenes"``, ``"emoji"``; `kwargs` are their options:
    :func:`.mnist.make_mnist_scenes`, :func:`.emoji.load_emoji_dataset`) or of anything
    :func:`hf_argen.caption_data.load_caption_dataset` loads, with columns `image` and `text`."""
    if name == "mnist_scenes":
        return make_mnist_scenes(split, data_dir=data_dir, **kwargs)
    if name == "emoji":
        return load_emoji_dataset(split, data_dir=data_dir, **kwargs)
    if kwargs:
        raise ValueError(f"Unexpected options {sorted(kwargs)} for dataset {name!r}.")
    return load_caption_dataset(name, split, caption_column, image_column, cache_dir)


def read_fortunes(directory: str = FORTUNES_DIR, exclude: Iterable[str] = ("ascii-art", "translate-me")) -> list[str]:
    """The texts of Debian's `fortunes` files (entries separated by lines holding only '%'), stripped."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"No fortunes directory at {directory!r}: install Debian's `fortunes` package "
            "(apt-get install fortunes) or pass another dataset."
        )
    texts = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if "." in name or name in exclude or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            entries = re.split(r"^%$", handle.read(), flags=re.MULTILINE)
        texts.extend(entry.strip("\n") for entry in entries if entry.strip())
    return texts


def load_texts(name_or_path: str, split: str = "train", text_column: str = "text") -> datasets.Dataset:
    """``"fortunes"`` (offline, Debian) or anything :func:`hf_argen.text_data.load_text_dataset` loads, as a
    `datasets.Dataset` with a `text_column`."""
    if name_or_path == "fortunes":
        return datasets.Dataset.from_dict({text_column: read_fortunes()})
    return load_text_dataset(name_or_path, split, text_column)


__all__ = [
    "CAPTION_DATASETS",
    "DEFAULT_LEVELS",
    "HUB_ALIASES",
    "load_captions",
    "load_images",
    "load_texts",
    "read_fortunes",
]
