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

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
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


@dataclass
class CodesCacheArguments:
    """The flag of the commands that encode images to VQ-VAE codes (`training/train_prior.py`, `hf-argen evaluate`)."""

    cache_dir: str | None = field(
        default=None,
        metadata={"help": "where the encoded code datasets are cached, keyed by the VQ-VAE and the data, and reused "
                  "by train_prior.py and hf-argen evaluate (default: $HF_ARGEN_CACHE/codes, else "
                  "~/.cache/hf_argen/codes)."},
    )  # fmt: skip


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


class CodeEncoder:
    """`datasets` batch function: the images of a batch -> their `(B, h, w)` int32 code maps under `vqvae` (eval mode
    is the caller's), preprocessed as :func:`image_processor_of` says."""

    def __init__(self, vqvae, image_column: str = "image"):
        self.vqvae, self.image_column = vqvae, image_column
        self.processor = image_processor_of(vqvae)
        self.device = next(vqvae.parameters()).device

    @torch.no_grad()
    def encode(self, images) -> np.ndarray:
        levels = self.processor(images, return_tensors="pt")["pixel_values"]
        return self.vqvae.encode(levels_to_unit_range(levels).to(self.device)).to(torch.int32).cpu().numpy()

    def __call__(self, batch: dict) -> dict:
        return {CODES_COLUMN: self.encode(batch[self.image_column])}


@contextlib.contextmanager
def _eval_mode(model):
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def encode_images_to_codes(vqvae, dataset, image_column: str = "image", batch_size: int = 256, progress: bool = True):
    """`(N, h, w)` int32 numpy code maps of `dataset[image_column]` under `vqvae` (eval mode), decoded and
    preprocessed one batch at a time (all N maps in memory: :func:`encode_dataset_codes` writes them to disk as
    they come)."""
    encoder = CodeEncoder(vqvae, image_column)
    side = vqvae.config.latent_size
    codes = np.zeros((len(dataset), side, side), dtype=np.int32)
    with _eval_mode(vqvae):
        for start in tqdm(range(0, len(dataset), batch_size), desc="encoding to codes", disable=not progress,
                          leave=False):  # fmt: skip
            codes[start : start + batch_size] = encoder.encode(dataset[start : start + batch_size][image_column])
    return codes


def _encode_to_arrow(vqvae, dataset, columns, image_column, batch_size, progress, cache_file, fingerprint):
    """`datasets.Dataset.map` of :class:`CodeEncoder`: the code maps written to `cache_file` one batch at a time (in
    memory when `cache_file` is None), columns `codes`, then `columns`."""
    side = vqvae.config.latent_size
    features = datasets.Features({CODES_COLUMN: datasets.Array2D(shape=(side, side), dtype="int32")})
    features.update({column: dataset.features[column] for column in columns})
    disabled = datasets.utils.are_progress_bars_disabled()
    if not progress:
        datasets.utils.disable_progress_bars()
    try:
        with _eval_mode(vqvae):
            coded = dataset.select_columns([image_column, *columns]).map(
                CodeEncoder(vqvae, image_column),
                batched=True,
                batch_size=batch_size,
                remove_columns=[image_column],
                features=features,
                cache_file_name=None if cache_file is None else str(cache_file),
                keep_in_memory=cache_file is None,
                new_fingerprint=fingerprint,
                desc="encoding to codes",
            )
    finally:
        if not progress and not disabled:
            datasets.utils.enable_progress_bars()
    return coded.select_columns([CODES_COLUMN, *columns])


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
    :func:`default_cache_dir`) when there; else encoded batch by batch (`datasets.Dataset.map`, a progress bar unless
    `progress=False`), each batch's codes written to disk as they come (memory does not grow with the dataset), and,
    when `cache`, saved there atomically (without `cache`: kept in memory). `name` is a readable prefix of the folder
    (e.g. the dataset and split). In a multi-process run, call it under `accelerator.main_process_first()` so that
    one process encodes."""
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
    if path is None:
        return _encode_to_arrow(vqvae, dataset, columns, image_column, batch_size, progress, None, uuid.uuid4().hex)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".tmp-encoding-{os.getpid()}-", dir=path.parent) as scratch:
        coded = _encode_to_arrow(vqvae, dataset, columns, image_column, batch_size, progress,
                                 Path(scratch) / "codes.arrow", key)  # fmt: skip
        _save_atomically(coded, path)
    logger.info("cached the codes in %s", path)
    return datasets.load_from_disk(str(path))


__all__ = [
    "CACHE_ENV",
    "CODES_COLUMN",
    "CodeEncoder",
    "CodesCacheArguments",
    "codes_cache_key",
    "default_cache_dir",
    "encode_dataset_codes",
    "encode_images_to_codes",
    "image_processor_of",
    "vqvae_fingerprint",
]
