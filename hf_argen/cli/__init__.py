"""What every command shares: the device flag, one-line errors, `--output_json`.

The `hf-argen` console command (`hf_argen.cli.main`) and its subcommands parse their flags with
:class:`CommandParser` (an `HfArgumentParser` over the dataclasses of `hf_argen.cli.arguments`); `training/*.py`,
`benchmarks/`, `experiments/` and the maintainer tools in `scripts/` run their `main` through :func:`run_cli` too::

    from hf_argen.cli import resolve_device, run_cli

    def main(argv=None): ...
    if __name__ == "__main__":
        run_cli(main)      # ValueError/TypeError/OSError -> "error: <message>" on stderr, exit status 2
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from huggingface_hub.errors import StrictDataclassError
from transformers import HfArgumentParser

from ..atomic import atomic_write_text
from ..devices import DEVICE_HELP, default_device, resolve_device  # noqa: F401  (the commands' names for them)
from ..training.arguments import FlagParser, HelpFormatter

logger = logging.getLogger(__name__)


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
    except (ValueError, TypeError, OSError, StrictDataclassError) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        sys.exit(2)
    sys.exit(status if isinstance(status, int) else 0)


class ScriptArgumentParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line, `error: ... (see --help)`, exit status 2, like `run_cli`."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


class CommandParser(FlagParser):
    """A :class:`~hf_argen.training.arguments.FlagParser` (flags from dataclass fields, one-line errors, defaults in
    `--help`) whose `False` booleans are plain switches and whose unknown flags are a one-line error."""

    @staticmethod
    def _parse_dataclass_field(parser, field):
        """A `bool` field that defaults to False is a plain switch (`--check FOLDER` must not read FOLDER as its
        value, as `HfArgumentParser`'s optional-value booleans would)."""
        if field.type is bool and field.default is False:
            parser.add_argument(f"--{field.name}", action="store_true", help=field.metadata.get("help"))
        else:
            HfArgumentParser._parse_dataclass_field(parser, field)

    def parse_args_into_dataclasses(self, args=None, **kwargs):
        """One instance per dataclass (then a namespace of any positional argument); a flag no dataclass declares is
        an error (one line, exit status 2) rather than `HfArgumentParser`'s ValueError."""
        *outputs, remaining = super().parse_args_into_dataclasses(args=args, return_remaining_strings=True, **kwargs)
        if remaining:
            self.error(f"unrecognized arguments: {' '.join(remaining)}")
        return tuple(outputs)


def script_parser(description: str | None) -> ScriptArgumentParser:
    """The parser every script starts from: docstring as description, defaults in `--help`, one-line errors."""
    return ScriptArgumentParser(description=description, formatter_class=HelpFormatter)


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """`--device` (default `None`: :func:`default_device`); pass the value through :func:`resolve_device`."""
    parser.add_argument("--device", default=None, help=DEVICE_HELP)


def add_hidden_alias(parser: argparse.ArgumentParser, flag: str, dest: str, **kwargs) -> None:
    """An old spelling of a flag that `--help` does not list (kept where published commands quote it)."""
    parser.add_argument(flag, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)


def write_json(path: str | None, data) -> None:
    """Write `data` as one line of JSON to `path` (`--output_json`); `"-"` means stdout, `None` does nothing."""
    if path is None:
        return
    text = json.dumps(data, default=str) + "\n"
    if path == "-":
        sys.stdout.write(text)
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
