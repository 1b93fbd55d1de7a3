"""The `hf-argen` console command: one subcommand per user job, each parsed by `HfArgumentParser` over the shared
dataclasses of `hf_argen.cli.arguments` (`hf-argen <command> --help` lists its flags with their defaults).

    hf-argen generate --model model_cards/pixelcnn-digits --class_labels 0 1 2 --seed 0 --output digits.png
    hf-argen evaluate --model model_cards/pixelcnn-digits --dataset_name digits --split test
    hf-argen export --check model_cards/*
    hf-argen card --model out --metrics_json eval.json
    hf-argen push --model out --hub_model_id you/pixelcnn-digits --dry_run

Training runs through `accelerate launch training/train_<model>.py` (the same flag system).
A user error prints one line, `error: ...`, and exits with status 2.
"""

from __future__ import annotations

import sys

from . import card, evaluate, export, generate, push, run_cli

COMMANDS = {
    "generate": (generate.main, "sample images or text from a saved model folder or Hub id"),
    "evaluate": (evaluate.main, "measure a model's figures (pixelcnn, vqvae, prior, captioner, text), --write_card"),
    "export": (export.main, "re-export model folders' code (--check: exit 1 when stale), or build one from a run"),
    "card": (card.main, "write a model folder's card from the figures `evaluate --output_json` measured"),
    "push": (push.main, "upload a model folder to the Hub (--dry_run lists the files)"),
}


def usage() -> str:
    """The top-level `--help`: the commands, one line each."""
    lines = [f"  {name:<9} {summary}" for name, (_, summary) in COMMANDS.items()]
    return "usage: hf-argen <command> [flags]   (hf-argen <command> --help)\n\ncommands:\n" + "\n".join(lines)


def dispatch(argv: list[str] | None = None):
    """Run the subcommand named by `argv[0]` on the rest of `argv`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        raise ValueError(f"unknown command {name!r}; hf-argen's commands are {', '.join(COMMANDS)} (see --help).")
    return COMMANDS[name][0](rest)


def main(argv: list[str] | None = None) -> None:
    """The console entry point: :func:`dispatch` under `run_cli` (one-line errors, exit status 2)."""
    run_cli(dispatch, argv)


__all__ = ["COMMANDS", "dispatch", "main"]
