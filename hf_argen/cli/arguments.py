"""The flags the `hf-argen` subcommands share, declared once as dataclasses for `HfArgumentParser`.

Each subcommand parses `(ModelArguments, RuntimeArguments, <its own dataclass>)` with :func:`parse_command`;
`defaults` set a subcommand's own defaults (shown by `--help`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..hub import check_model_reference
from . import DEVICE_HELP, CommandParser, resolve_device

DEFAULT_MODEL = "model_cards/pixelcnn-digits"  # the embedded default: ships with the repository, runs on a CPU


@dataclass
class ModelArguments:
    """Which saved model a command works on."""

    model: str | None = field(default=None, metadata={"help": "saved model folder or Hub id"})

    def required(self) -> str:
        """`--model`, checked before any download (:func:`hf_argen.hub.check_model_reference`: a local path that does
        not exist is an error naming it, not a Hub id), or a `ValueError` saying the command needs it."""
        if not self.model:
            raise ValueError("--model is required (a saved model folder or Hub id).")
        check_model_reference(self.model, "--model")
        return self.model


@dataclass
class RuntimeArguments:
    """Where and how a command runs, and where its figures go."""

    device: str | None = field(default=None, metadata={"help": DEVICE_HELP})
    seed: int = field(default=0, metadata={"help": "seed of sampling (and of any random split)"})
    num_threads: int | None = field(default=None, metadata={"help": "torch CPU threads (default: torch's choice)"})
    output_json: str | None = field(
        default=None, metadata={"help": "write the figures here as one JSON line ('-': to stdout instead)"}
    )

    def setup(self) -> torch.device:
        """Apply `--num_threads` and return the resolved `--device`."""
        if self.num_threads is not None:
            if self.num_threads < 1:
                raise ValueError(f"--num_threads must be >= 1, got {self.num_threads}.")
            torch.set_num_threads(self.num_threads)
        return resolve_device(self.device)


def command_parser(name: str, dataclass_types, description: str | None = None, positional: dict | None = None):
    """The parser of `hf-argen <name>`; `positional` (keyword arguments of `add_argument`, `dest` included) adds one
    positional argument."""
    parser = CommandParser(dataclass_types, prog=f"hf-argen {name}", description=description)
    if positional:
        positional = dict(positional)
        parser.add_argument(positional.pop("dest"), **positional)
    return parser


def parse_command(
    name: str,
    dataclass_types,
    argv: list[str] | None,
    description: str | None = None,
    positional: dict | None = None,
    **defaults,
):
    """Parse `argv` of `hf-argen <name>` into one instance per dataclass (then a namespace holding the `positional`
    argument, if any); `defaults` override field defaults. Errors are one line, exit status 2."""
    parser = command_parser(name, dataclass_types, description, positional)
    unknown = set(defaults) - {action.dest for action in parser._actions}
    if unknown:
        raise TypeError(f"Unknown flags in defaults: {sorted(unknown)}.")
    parser.set_defaults(**defaults)
    return parser.parse_args_into_dataclasses(args=argv)


def positive(name: str, value: int | float | None) -> None:
    """`ValueError` naming `--name` unless `value` is `None` or >= 1."""
    if value is not None and value < 1:
        raise ValueError(f"--{name} must be >= 1, got {value}.")


__all__ = ["DEFAULT_MODEL", "ModelArguments", "RuntimeArguments", "command_parser", "parse_command", "positive"]
