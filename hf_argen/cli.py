"""What every `scripts/*.py` and `training/*.py` entry point shares: the device flag and one-line errors.

    from hf_argen.cli import resolve_device, run_cli

    def main(argv=None): ...
    if __name__ == "__main__":
        run_cli(main)      # ValueError/TypeError/OSError -> "error: <message>" on stderr, exit status 2
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import torch

logger = logging.getLogger(__name__)

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
            raise ValueError(
                f"--device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)."
            )
    elif resolved.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"--device {device!r}: MPS is not available on this machine (use --device cpu).")
    elif resolved.type != "cpu":
        raise ValueError(f"--device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}.")
    return resolved


def run_cli(main: Callable[..., object], argv: list[str] | None = None) -> None:
    """Run a script's `main(argv)`; turn a user error into one line on stderr and exit status 2 (no traceback).

    `ValueError`, `TypeError`, `OSError` (files, network) and `KeyboardInterrupt` are the user's to act on;
    anything else is a bug and keeps its traceback.
    """
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    try:
        status = main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except (ValueError, TypeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    sys.exit(status if isinstance(status, int) else 0)
