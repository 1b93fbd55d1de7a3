"""Checks around `PreTrainedModel.from_pretrained` shared by every hf_argen model (copied into each model's folder,
which must import only from itself): weights load from safetensors only, and a folder that is not a complete,
matching save of the model fails with an `OSError`/`ValueError` naming the file at fault, never deep in torch.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import SafetensorError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


def check_local_folder(cls, folder: Path) -> None:
    """Refuse a local folder without a readable `config.json` of `cls`'s model type, or without safetensors
    weights (a folder holding only pickle weights is refused: unpickling can run arbitrary code)."""
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise OSError(f"{str(config_file)!r} is missing: {str(folder)!r} is not a saved model folder.")
    try:
        config = json.loads(config_file.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise OSError(f"{str(config_file)!r} is not valid JSON ({error}); re-save or re-download the model.") from error
    if not isinstance(config, dict):
        raise OSError(f"{str(config_file)!r} must hold a JSON object, got {type(config).__name__}.")
    expected = getattr(cls.config_class, "model_type", None)
    if expected and config.get("model_type") != expected:
        raise ValueError(
            f"{str(config_file)!r} has model_type {config.get('model_type')!r}, but {cls.__name__} loads "
            f"model_type {expected!r}: this folder holds another kind of model (or a config without `model_type`)."
        )
    names = [path.name for path in folder.iterdir() if path.is_file()]
    if any(name.endswith(".safetensors") or name.endswith(".safetensors.index.json") for name in names):
        return
    pickles = sorted(name for name in names if name.endswith(PICKLE_SUFFIXES))
    if pickles:
        raise OSError(
            f"{str(folder)!r} holds only pickle weights ({', '.join(pickles)}) and no model.safetensors: hf_argen "
            "loads safetensors only, because unpickling a file can run arbitrary code. Convert the weights in a "
            "trusted environment (load them, then `save_pretrained`)."
        )
    raise OSError(f"{str(folder / 'model.safetensors')!r} is missing: the folder has a config but no weights.")


def checked_from_pretrained(load, cls, pretrained_model_name_or_path, *args, **kwargs):
    """`load(pretrained_model_name_or_path, *args, **kwargs)` (the base class's `from_pretrained`) with
    safetensors only, folder checks (`check_local_folder`), and weights that do not fit the configuration
    (truncated or corrupt file, missing tensors, wrong shapes) raised as an `OSError` naming the file. A caller
    passing `output_loading_info=True` gets `(model, info)` instead and judges missing/mismatched keys itself."""
    path = Path(str(pretrained_model_name_or_path))
    subfolder = kwargs.get("subfolder") or ""
    local = path / subfolder
    if local.is_dir() and kwargs.get("state_dict") is None:
        check_local_folder(cls, local)
    kwargs.setdefault("use_safetensors", True)
    wants_info = kwargs.pop("output_loading_info", False)
    weights = f"{str(local / 'model.safetensors')!r}" if local.is_dir() else f"the weights of {str(path)!r}"
    try:
        model, info = load(pretrained_model_name_or_path, *args, output_loading_info=True, **kwargs)
    except SafetensorError as error:
        raise OSError(f"{weights} is corrupt or truncated ({error}); re-save or re-download the model.") from error
    except RuntimeError as error:
        if "mismatch" not in str(error).lower():
            raise
        raise OSError(
            f"{weights} does not fit its config.json (tensor shapes differ: {error}); the two files come from "
            "different models."
        ) from error
    missing = sorted(info.get("missing_keys") or [])
    mismatched = info.get("mismatched_keys") or []
    if (missing or mismatched) and not wants_info:
        shown = missing[:5] + [str(key[0] if isinstance(key, tuple) else key) for key in mismatched][:5]
        raise OSError(
            f"{weights} does not fit its config.json: {len(missing)} tensors missing, {len(mismatched)} with "
            f"other shapes (e.g. {', '.join(shown)}). The file is incomplete or comes from another model."
        )
    return (model, info) if wants_info else model


class SafeLoadingMixin:
    """Listed before `PreTrainedModel` in a model's bases, it makes `from_pretrained` the checked loading above."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """`PreTrainedModel.from_pretrained`, safetensors only; a folder that is not a complete save of this model
        (wrong `model_type`, pickle weights only, truncated/corrupt/incomplete weights) raises an error naming
        the file."""
        return checked_from_pretrained(super().from_pretrained, cls, pretrained_model_name_or_path, *args, **kwargs)
