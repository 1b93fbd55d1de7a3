"""The `--device` flag's meaning, shared by the training loop and every command."""

from __future__ import annotations

import torch

DEVICE_HELP = "device to run on: 'cpu', 'cuda', 'cuda:N' or 'mps' (default: CUDA when available, else CPU)"


def default_device() -> str:
    """`"cuda"` when a CUDA device is available, else `"cpu"`."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """`--device` -> a `torch.device` that exists here; `None` means :func:`default_device`.

    Raises `ValueError` naming `--device` for an unknown name or a device this machine does not have.
    """
    if device is None or device == "":
        return torch.device(default_device())
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"--device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}.") from error
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device!r}: CUDA is not available on this machine (use --device cpu).")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"--device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s).")
    elif resolved.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"--device {device!r}: MPS is not available on this machine (use --device cpu).")
    elif resolved.type != "cpu":
        raise ValueError(f"--device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}.")
    return resolved


__all__ = ["DEVICE_HELP", "default_device", "resolve_device"]
