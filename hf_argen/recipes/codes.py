"""The code maps of an image dataset under a VQ-VAE, encoded once and cached as a `datasets` dataset.

:func:`encode_dataset_codes` is what every recipe that trains on VQ-VAE codes uses (the class-conditional prior of
:mod:`.prior`, and any other: a text-to-image prior passes its caption column through)::

    codes = encode_dataset_codes(vqvae, images, columns=["label"])           # or ["text"], or []
    codes.with_format("torch")["codes"]                                       # (N, h, w) int32 code maps

The cache folder is ``<cache_dir>/<name>-<key>``: `key` hashes the VQ-VAE (config and every weight), the dataset
(`datasets`' fingerprint, which follows the data files: an edited folder gets a new one), the preprocessing (channels,
size, levels) and the columns kept, so a changed VQ-VAE or changed data is encoded again and an unchanged one never
is. It is written to a temporary folder and renamed into place, so two processes never see half a cache (the second
to finish keeps the first one's). `cache_dir` defaults to ``$HF_ARGEN_CACHE/codes``, else
``$XDG_CACHE_HOME/hf_argen/codes`` (``~/.cache/hf_argen/codes``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import datasets
import numpy as np
import torch
from tqdm.auto import tqdm

from ..models import PixelCNNImageProcessor
from .vqvae import levels_to_unit_range

logger = logging.getLogger(__name__)

CACHE_ENV = "HF_ARGEN_CACHE"
CODES_COLUMN = "codes"


def default_cache_dir() -> Path:
    """``$HF_ARGEN_CACHE/codes``, else ``$XDG_CACHE_HOME/hf_argen/codes`` (``~/.cache/hf_argen/codes``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser() / "codes"
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return root / "hf_argen" / "codes"


def vqvae_fingerprint(vqvae) -> str:
    """Short hash of a VQ-VAE's config and weights (every tensor of its state dict)."""
    digest = hashlib.sha256(vqvae.config.to_json_string(use_diff=False).encode())
    for name, tensor in sorted(vqvae.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def image_processor_of(vqvae) -> PixelCNNImageProcessor:
    """The preprocessing of the images a VQ-VAE encodes: its channels and size, 256 levels (then [-1, 1])."""
    config = vqvae.config
    return PixelCNNImageProcessor(num_levels=256, num_channels=config.num_channels, image_size=config.image_size)


def codes_cache_key(vqvae, dataset, image_column: str = "image", columns: Sequence[str] = ()) -> str:
    """The cache key of `dataset`'s codes under `vqvae`: a hash of the VQ-VAE (:func:`vqvae_fingerprint`), the
    dataset (its `datasets` fingerprint, which follows the data files), the preprocessing and the columns kept."""
    processor = image_processor_of(vqvae)
    parts = {
        "vqvae": vqvae_fingerprint(vqvae),
        "dataset": dataset._fingerprint,
        "rows": len(dataset),
        "preprocessing": {k: getattr(processor, k) for k in ("num_levels", "num_channels", "image_size")},
        "image_column": image_column,
        "columns": list(columns),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


@torch.no_grad()
def encode_images_to_codes(vqvae, dataset, image_column: str = "image", batch_size: int = 256, progress: bool = True):
    """`(N, h, w)` int32 numpy code maps of `dataset[image_column]` under `vqvae` (eval mode), decoded and
    preprocessed one batch at a time."""
    processor = image_processor_of(vqvae)
    was_training = vqvae.training
    vqvae.eval()
    side = vqvae.config.latent_size
    codes = np.zeros((len(dataset), side, side), dtype=np.int32)
    device = next(vqvae.parameters()).device
    try:
        for start in tqdm(range(0, len(dataset), batch_size), desc="encoding to codes", disable=not progress,
                          leave=False):  # fmt: skip
            images = dataset[start : start + batch_size][image_column]
            levels = processor(images, return_tensors="pt")["pixel_values"]
            batch = vqvae.encode(levels_to_unit_range(levels).to(device))
            codes[start : start + len(batch)] = batch.cpu().numpy()
    finally:
        vqvae.train(was_training)
    return codes


def _build_codes_dataset(codes: np.ndarray, dataset, columns: Sequence[str]) -> datasets.Dataset:
    features = datasets.Features({CODES_COLUMN: datasets.Array2D(shape=tuple(codes.shape[1:]), dtype="int32")})
    coded = datasets.Dataset.from_dict({CODES_COLUMN: codes}, features=features)
    if not columns:
        return coded
    kept = dataset.select_columns(list(columns)).flatten_indices()
    return datasets.concatenate_datasets([coded, kept], axis=1)


def _save_atomically(dataset: datasets.Dataset, path: Path) -> None:
    """`save_to_disk` into a temporary folder beside `path`, then one rename; if another process got there first,
    its folder stays and ours goes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        dataset.save_to_disk(str(temp))
        try:
            os.rename(temp, path)
        except OSError:
            if not (path / "dataset_info.json").is_file():
                raise
            logger.info("another process cached these codes first; keeping %s", path)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def encode_dataset_codes(
    vqvae,
    dataset: datasets.Dataset,
    columns: Sequence[str] = ("label",),
    image_column: str = "image",
    cache_dir: str | os.PathLike | None = None,
    cache: bool = True,
    name: str | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> datasets.Dataset:
    """The code maps of `dataset`'s images under `vqvae`, with `columns` passed through (features kept: class
    names, captions), as a `datasets.Dataset` (columns `codes` `(h, w)` int32, then `columns`).

    Loaded from ``cache_dir/<name>-<key>`` (:func:`codes_cache_key`; `cache_dir` defaults to
    :func:`default_cache_dir`) when there; else encoded batch by batch (a tqdm bar unless `progress=False`) and, when
    `cache`, written there atomically. `name` is a readable prefix of the folder (e.g. the dataset and split). In a
    multi-process run, call it under `accelerator.main_process_first()` so that one process encodes."""
    missing = [c for c in [image_column, *columns] if c not in dataset.column_names]
    if missing:
        raise ValueError(f"columns {missing} not in the dataset's columns {dataset.column_names}.")
    if len(dataset) == 0:
        raise ValueError("`dataset` is empty: no images to encode.")
    path = None
    if cache:
        prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", name or "codes").strip("._") or "codes"
        key = codes_cache_key(vqvae, dataset, image_column, columns)
        path = Path(cache_dir or default_cache_dir()).expanduser() / f"{prefix[-80:]}-{key}"
        if (path / "dataset_info.json").is_file():
            logger.info("loading cached codes from %s", path)
            return datasets.load_from_disk(str(path))
    logger.info("encoding %d images%s with the VQ-VAE", len(dataset), f" of {name}" if name else "")
    codes = encode_images_to_codes(vqvae, dataset, image_column, batch_size, progress)
    coded = _build_codes_dataset(codes, dataset, columns)
    if path is None:
        return coded
    _save_atomically(coded, path)
    logger.info("cached the codes in %s", path)
    return datasets.load_from_disk(str(path))


__all__ = [
    "CACHE_ENV",
    "CODES_COLUMN",
    "codes_cache_key",
    "default_cache_dir",
    "encode_dataset_codes",
    "encode_images_to_codes",
    "image_processor_of",
    "vqvae_fingerprint",
]
