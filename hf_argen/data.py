"""Image datasets for hf_argen, always returned as `datasets.Dataset` with an `image` column (PIL) and, where the
source has one, an integer `label` column. Generic: named datasets (digits, MNIST, emoji, ...) are the recipes'
(:func:`hf_argen.recipes.datasets.load_images`).

* :func:`load_image_dataset` loads a local folder, a `save_to_disk` folder (`load_from_disk`) or an `imagefolder`
  (labels from class subfolder names, ``circle/*.png``, ``square/*.png``, or from string or integer labels in
  ``metadata.jsonl``; string labels become class ids in sorted order of the names, over all of the folder's
  splits), or a Hub dataset id (for example ``"uoft-cs/cifar10"``); :func:`standardize_columns` detects the image
  and label columns.
* Validation split: training carves a fixed validation split from the training images, every
  ``VALIDATION_EVERY``-th image (index % 10 == 0), held out from training (:func:`validation_indices`). It is never
  called "test"; the test split is only the dataset's own.
* :class:`ImageRows` is how training reads images: they stay in the datasets' (memory-mapped) Arrow tables and
  ``rows[indices]`` decodes only those rows, one batch at a time (in `DataLoader` workers when there are any), so
  memory does not grow with the dataset. :func:`encode_images` turns a whole dataset's images into a
  `torch.LongTensor` of levels at once (for small evaluation sets).
"""

from __future__ import annotations

import io
from pathlib import Path

import datasets
import numpy as np
import torch
from PIL import Image

VALIDATION_EVERY = 10
VALIDATION_SPLIT = "validation"


def parse_dataset_spec(spec: str, default_split: str = "train") -> tuple[str, str]:
    """`"name"` or `"name:split"` -> `(name, split)` (split after the last ':', if it holds no '/')."""
    name, sep, split = spec.rpartition(":")
    if sep and name and split and "/" not in split:
        return name, split
    return spec, default_split


def load_dataset_split(name: str, split: str = "train", cache_dir: str | None = None) -> datasets.Dataset:
    """`split` of a `save_to_disk` folder, an `imagefolder` or a Hub dataset id, columns as stored. A local folder
    without a ``validation`` split has the one training carves: every 10th training image (:func:`carved_splits`)."""
    path = Path(name)
    if not path.is_dir():
        return datasets.load_dataset(name, split=split, cache_dir=cache_dir)
    if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
        dataset = datasets.load_from_disk(str(path))
        if isinstance(dataset, datasets.DatasetDict):
            return carved_splits(dataset, repr(str(path)), split)[split]
        return dataset
    return _imagefolder_splits(path, cache_dir, split)[split]


def carved_splits(splits, name: str, split: str):
    """`splits` (a dict of split name -> Dataset) holding `split`, with ``validation`` added where it is missing: every
    10th image of ``train`` (index % 10 == 0), the images training holds out (`--eval_split validation`). A
    ValueError naming the splits there are when `split` is not one of them."""
    if VALIDATION_SPLIT not in splits and "train" in splits:
        train = splits["train"]
        splits = {**splits, VALIDATION_SPLIT: train.select(validation_indices(len(train))[1])}
    if split not in splits:
        raise ValueError(
            f"{name} has no {split!r} split (it has {sorted(splits)}); 'validation' is every 10th training image "
            "(index % 10 == 0), the images training holds out by default (`--eval_split validation`)."
        )
    return splits


def _imagefolder_splits(path: Path, cache_dir: str | None, split: str) -> dict:
    disabled = datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()  # a local folder: no "Downloading data: N files" bars
    try:
        splits = datasets.load_dataset("imagefolder", data_dir=str(path), cache_dir=cache_dir)
    finally:
        if not disabled:
            datasets.utils.enable_progress_bars()
    return carved_splits(dict(splits), f"the image folder {str(path)!r}", split)


def load_image_dataset(
    name: str,
    split: str = "train",
    image_column: str | None = None,
    label_column: str | None = None,
    cache_dir: str | None = None,
) -> datasets.Dataset:
    """Load `split` of an image dataset as a `datasets.Dataset` with columns `image` and (if any) `label`.

    Args:
        name: a local `save_to_disk` or `imagefolder` folder, or a Hub dataset id (e.g. ``"uoft-cs/cifar10"``).
        split: split name (``"train"``/``"test"``, ...).
        image_column / label_column: source column names; detected from the features when `None`
            (the first `Image` column; a `ClassLabel` column or one named `label`/`labels`/`fine_label`).
    """
    path = Path(name)
    if path.is_dir() and not ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file()):
        splits = _imagefolder_splits(path, cache_dir, split)
        dataset, names = splits[split], _string_label_names(splits, label_column)
        if names is not None:  # string labels: the same class ids in every split
            dataset = dataset.cast_column(label_column or "label", datasets.ClassLabel(names=names))
        return standardize_columns(dataset, image_column, label_column)
    return standardize_columns(load_dataset_split(name, split, cache_dir), image_column, label_column)


def _string_label_names(splits, label_column: str | None) -> list[str] | None:
    """Sorted label names over every split when the label column holds strings, else None."""
    first = next(iter(splits.values()))
    column = label_column or ("label" if "label" in first.column_names else None)
    if column is None or column not in first.features:
        return None
    feature = first.features[column]
    if not (isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string")):
        return None
    return sorted({str(v) for part in splits.values() for v in part[column] if v is not None})


def image_column_of(features, image_column: str | None = None) -> str:
    """`image_column` checked against `features`, or the first `Image` column; ValueError naming the columns."""
    if image_column is None:
        image_column = next((c for c, f in features.items() if isinstance(f, datasets.Image)), None)
        if image_column is None:
            raise ValueError(f"No image column found in {list(features)}; pass `image_column`.")
    elif image_column not in features:
        raise ValueError(f"`image_column` {image_column!r} not in the dataset columns {list(features)}.")
    return image_column


def standardize_columns(dataset, image_column: str | None = None, label_column: str | None = None):
    """Keep the image column (renamed `image`) and the label column if any (renamed `label`)."""
    features = dataset.features
    image_column = image_column_of(features, image_column)
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


def png_cell(image) -> dict:
    """A PIL image or a uint8 array `(H, W[, C])` -> a `datasets.Image` cell of PNG bytes (fast compression)."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return {"bytes": buffer.getvalue(), "path": None}


def encode_images(dataset, image_processor, batch_size: int = 1000) -> torch.LongTensor:
    """Images of `dataset["image"]` -> `torch.LongTensor (N, C, H, W)` of levels via `image_processor`."""
    chunks = []
    for start in range(0, len(dataset), batch_size):
        images = dataset[start : start + batch_size]["image"]
        chunks.append(image_processor(images, return_tensors="pt")["pixel_values"])
    if not chunks:
        raise ValueError("`dataset` is empty.")
    return torch.cat(chunks).long()


class ImageRows(torch.utils.data.Dataset):
    """The images of one or more `datasets.Dataset` (concatenated in order), read as model inputs one batch at a time.

    ``rows[indices]`` (or ``rows.__getitems__(indices)``, which a `DataLoader` calls with a whole batch of indices)
    reads those rows from the datasets' Arrow tables (memory-mapped for a `save_to_disk` folder, an imagefolder or a
    Hub dataset), decodes their images with `image_processor` and returns ``{"pixel_values": LongTensor (B, C, H, W)
    of levels[, "class_labels": LongTensor (B,)]}``; `pixel_transform` (a picklable callable, e.g. levels ->
    [-1, 1]) is applied to the levels. Nothing is decoded up front: only `class_labels` (one int64 per row) is held
    in memory. Batches come whole (``batched = True``): a `DataLoader` over it needs an identity `collate_fn`,
    which :class:`hf_argen.training.TrainingLoop` passes itself.

    Args:
        parts: a `datasets.Dataset` or a list of them (each with `image_column`), concatenated in order.
        image_processor: images -> ``pixel_values`` levels (a `PixelCNNImageProcessor`).
        class_labels: labels of every row, `(len(rows),)`, or None (no ``class_labels`` in the batches).
    """

    batched = True

    def __init__(self, parts, image_processor, class_labels=None, pixel_transform=None, image_column: str = "image"):
        parts = list(parts) if isinstance(parts, (list, tuple)) else [parts]
        self.parts = [part.select_columns([image_column]) for part in parts]
        self.image_column = image_column
        self.starts = np.cumsum([0] + [len(part) for part in self.parts])
        self.image_processor = image_processor
        self.pixel_transform = pixel_transform
        self.class_labels = None if class_labels is None else torch.as_tensor(class_labels, dtype=torch.long)
        if self.class_labels is not None and self.class_labels.shape != (len(self),):
            shape = tuple(self.class_labels.shape)
            raise ValueError(f"`class_labels` must hold one label per row ({len(self)}), got shape {shape}.")
        if len(self) == 0:
            raise ValueError("`parts` hold no images.")

    def __len__(self) -> int:
        return int(self.starts[-1])

    def images(self, indices) -> list:
        """The PIL images of rows `indices`, in that order (one Arrow read per part)."""
        index = np.asarray(indices, dtype=np.int64).reshape(-1)
        if index.size and (index.min() < -len(self) or index.max() >= len(self)):
            raise IndexError(f"row index out of range for {len(self)} rows.")
        index = index % len(self)
        part_of = np.searchsorted(self.starts, index, side="right") - 1
        images = [None] * len(index)
        for part in np.unique(part_of):
            where = np.flatnonzero(part_of == part)
            rows = self.parts[part][(index[where] - self.starts[part]).tolist()][self.image_column]
            for position, image in zip(where.tolist(), rows):
                images[position] = image
        return images

    def __getitems__(self, indices) -> dict:
        index = torch.as_tensor(np.asarray(indices, dtype=np.int64).reshape(-1))
        if len(index) == 0:
            raise ValueError("`indices` is empty: pass at least one row.")
        pixel_values = self.image_processor(self.images(index.numpy()), return_tensors="pt")["pixel_values"].long()
        batch = {"pixel_values": pixel_values if self.pixel_transform is None else self.pixel_transform(pixel_values)}
        if self.class_labels is not None:
            batch["class_labels"] = self.class_labels[index]
        return batch

    def __getitem__(self, index) -> dict:
        """One row (an int: tensors without the batch dimension) or a batch (a sequence or tensor of ints)."""
        if isinstance(index, (int, np.integer)):
            return {name: value[0] for name, value in self.__getitems__([int(index)]).items()}
        return self.__getitems__(index)


def column_array(dataset, column: str) -> np.ndarray:
    """One column of a `datasets.Dataset` as a numpy array, read without touching the other columns (images)."""
    return np.asarray(dataset.select_columns([column]).with_format("numpy")[:][column])  # one slice, not row by row


GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def detect_num_channels(images, limit: int = 256) -> int:
    """1 when the first `limit` PIL images are all grey ("1", "L", "LA", "I", "F"), else 3."""
    for index, image in enumerate(images):
        if index >= limit:
            break
        if image.mode not in GREY_MODES:
            return 3
    return 1


def image_shape_of(dataset, limit: int = 256) -> tuple[int, int]:
    """`(num_channels, image_size)` of an image dataset as stored: 3 if any of the first `limit` images is in colour
    (else 1), and the longer side of the first image."""
    head = dataset.select(range(min(limit, len(dataset))))["image"]
    if not head:
        raise ValueError("`dataset` is empty.")
    return detect_num_channels(head, limit), max(head[0].size)


def validation_indices(num_examples: int, every: int = VALIDATION_EVERY) -> tuple[np.ndarray, np.ndarray]:
    """`(train, validation)` indices of the fixed validation split: validation = `i % every == 0`."""
    index = np.arange(num_examples)
    return index[index % every != 0], index[index % every == 0]


def label_names_of(dataset) -> list[str] | None:
    """Class names of the `label` column (ClassLabel names, else "0".."max"), or None without labels."""
    if "label" not in dataset.column_names:
        return None
    feature = dataset.features["label"]
    if isinstance(feature, datasets.ClassLabel):
        return list(feature.names)
    return [str(i) for i in range(int(max(dataset["label"])) + 1)]


def num_classes_of(dataset) -> int | None:
    """Number of classes of the `label` column (ClassLabel names, else max + 1), or None without labels."""
    names = label_names_of(dataset)
    return None if names is None else len(names)


__all__ = [
    "VALIDATION_EVERY",
    "ImageRows",
    "column_array",
    "detect_num_channels",
    "encode_images",
    "image_column_of",
    "image_shape_of",
    "label_names_of",
    "load_dataset_split",
    "load_image_dataset",
    "num_classes_of",
    "parse_dataset_spec",
    "png_cell",
    "standardize_columns",
    "validation_indices",
]
