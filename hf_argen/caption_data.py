"""Captioned image datasets, always returned as a `datasets.Dataset` with an `image` column (PIL) and a `text`
column (the caption). Generic: named datasets (``mnist_scenes``, ``emoji``) are the recipes'
(:func:`hf_argen.recipes.datasets.load_captions`).

:func:`load_caption_dataset` loads a local folder, a `save_to_disk` folder or an `imagefolder` whose
``metadata.jsonl`` holds a caption column (``{"file_name": "0001.png", "text": "a red circle"}``), or a Hub dataset
id. The caption column is `caption_column` (default ``"text"``; also found as ``caption``/``captions``/``sentence``).
"""

from __future__ import annotations

import datasets

from .data import image_column_of, load_dataset_split

_CAPTION_COLUMNS = ("text", "caption", "captions", "sentence", "sentences")


def load_caption_dataset(
    name: str,
    split: str = "train",
    caption_column: str | None = None,
    image_column: str | None = None,
    cache_dir: str | None = None,
) -> datasets.Dataset:
    """Load `split` of a captioned image dataset as a `datasets.Dataset` with columns `image` and `text`.

    Args:
        name: a local `save_to_disk`/`imagefolder` folder, or a Hub dataset id.
        split: split name.
        caption_column / image_column: source columns (detected when `None`).
    """
    dataset = load_dataset_split(name, split, cache_dir)
    return standardize_caption_columns(dataset, caption_column, image_column)


def standardize_caption_columns(dataset, caption_column: str | None = None, image_column: str | None = None):
    """Keep the image column (renamed `image`) and the caption column (renamed `text`, strings)."""
    features = dataset.features
    image_column = image_column_of(features, image_column)
    if caption_column is None:
        caption_column = next((c for c in _CAPTION_COLUMNS if c in features), None)
        if caption_column is None:
            raise ValueError(
                f"No caption column found in {list(features)}; pass `caption_column` (an imagefolder needs a "
                'metadata.jsonl with a caption per `file_name`, e.g. {"file_name": "0001.png", "text": "..."}).'
            )
    elif caption_column not in features:
        raise ValueError(f"`caption_column` {caption_column!r} not in the dataset columns {list(features)}.")
    feature = features[caption_column]
    if not (isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string")):
        raise ValueError(f"`caption_column` {caption_column!r} must hold strings, got {feature}.")
    dataset = dataset.select_columns([image_column, caption_column])
    if image_column != "image":
        dataset = dataset.rename_column(image_column, "image")
    if caption_column != "text":
        dataset = dataset.rename_column(caption_column, "text")
    return dataset


def captioned_image_dataset(rows: list[dict], **extra_features: str) -> datasets.Dataset:
    """A captioned image dataset from `rows`, one dict per example: `"image"` (a PNG cell or PIL image), `"text"` (its
    caption) and one entry per `extra_features` item `name="dtype"` (a `datasets.Value` dtype: ``vendor="string"``)."""
    features = {"image": datasets.Image(), "text": datasets.Value("string")}
    features.update({name: datasets.Value(dtype) for name, dtype in extra_features.items()})
    return datasets.Dataset.from_list(rows, features=datasets.Features(features))


__all__ = ["captioned_image_dataset", "load_caption_dataset", "standardize_caption_columns"]
