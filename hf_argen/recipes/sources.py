"""Where the recipes' datasets come from when they are not on the Hub: a data folder (`data_dir=`, else the
``HF_ARGEN_DATA_DIR`` environment variable), and whether the Hub may be asked at all."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "HF_ARGEN_DATA_DIR"


def data_roots(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """`[data_dir]` when given, then the folder of ``$HF_ARGEN_DATA_DIR`` when set."""
    roots = [Path(data_dir)] if data_dir else []
    if os.environ.get(DATA_DIR_ENV):
        roots.append(Path(os.environ[DATA_DIR_ENV]))
    return roots


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE`` is set to a true value."""
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


__all__ = ["DATA_DIR_ENV", "data_roots", "hub_offline"]
