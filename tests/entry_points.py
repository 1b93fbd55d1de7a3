"""The training scripts as modules: `load_entry_point("vqvae").main(argv)` runs `training/train_vqvae.py` in this
process (no interpreter start-up, which costs seconds per run on a small CPU)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_entry_point(name: str):
    """The module `training/train_<name>.py`, loaded from its file."""
    spec = importlib.util.spec_from_file_location(f"train_{name}", ROOT / "training" / f"train_{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
