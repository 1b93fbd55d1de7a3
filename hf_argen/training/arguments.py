"""The flags every `training/train_*.py` shares, as dataclasses parsed with `transformers.HfArgumentParser`
(as the `transformers` example scripts do). A script adds one dataclass of its model's flags::

    data, run, model = parse_training_args(PixelCNNFlags, argv, learning_rate=1e-3, num_train_epochs=20)

Keyword arguments set that script's defaults; ``--help`` shows every default.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import huggingface_hub
import torch
from transformers import HfArgumentParser
from transformers.utils import logging as hf_logging

from .. import hub
from ..data import parse_dataset_spec, validation_indices
from ..devices import resolve_device
from .loop import LoopArguments

logger = logging.getLogger(__name__)

VALIDATION = "validation"
VALIDATION_HELP = (
    "split to evaluate on during training: 'validation' = every 10th image of the training split "
    "(index %% 10 == 0), held out from training; 'test' or any split name of the dataset (then the whole "
    "training split trains); 'none' skips evaluation."
)


@dataclass
class DataArguments:
    """Which data trains and evaluates."""

    dataset_name: str = field(
        default="digits",
        metadata={
            "help": "digits | mnist | fashion_mnist | mnist_digits | emoji | a Hub id (e.g. uoft-cs/cifar10) | a "
            "local folder (imagefolder with "
            "class subfolders or metadata.jsonl, or save_to_disk); NAME:SPLIT picks a split."
        },
    )
    dataset_split: str = field(default="train", metadata={"help": "the training split."})
    eval_split: str = field(default=VALIDATION, metadata={"help": VALIDATION_HELP})
    data_dir: str | None = field(
        default=None,
        metadata={"help": "folder with MNIST/Fashion-MNIST IDX files or the emoji packages (else $HF_ARGEN_DATA_DIR)."},
    )
    image_column: str | None = field(default=None, metadata={"help": "image column (default: detected)."})
    label_column: str | None = field(default=None, metadata={"help": "label column (default: detected)."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "evaluate on the first N examples."})

    def record(self) -> dict:
        """What a trained model keeps of its data (in ``training_info.json``, for a later stage to default to): the
        dataset, split, data folder and columns, local paths made absolute so they hold from any folder."""
        return {
            "dataset_name": local_path_or_name(self.dataset_name),
            "dataset_split": self.dataset_split,
            "data_dir": None if self.data_dir is None else str(Path(self.data_dir).expanduser().resolve()),
            "image_column": self.image_column,
            "label_column": self.label_column,
        }

    def split_off_eval(self, train_set, load_split) -> tuple:
        """`(training rows, eval rows or None)` from `train_set`, the loaded training split (a `datasets.Dataset`):
        `--eval_split validation` holds every 10th row out of it, another split name is loaded by
        `load_split(split)`, 'none' gives None; the eval rows are cut to the first `--max_eval_samples`."""
        eval_set = None
        if self.eval_split == VALIDATION:
            train_index, eval_index = validation_indices(len(train_set))
            train_set, eval_set = train_set.select(train_index), train_set.select(eval_index)
        elif self.eval_split.lower() != "none":
            eval_set = load_split(self.eval_split)
        if eval_set is not None and self.max_eval_samples:
            eval_set = eval_set.select(range(min(self.max_eval_samples, len(eval_set))))
        return train_set, eval_set


def local_path_or_name(name: str | None) -> str | None:
    """`name` as an absolute path when it is a local folder or file, else unchanged (a dataset name or Hub id)."""
    if name is None:
        return None
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


@dataclass
class ImageModelArguments:
    """Flags every image model's recipe shares (PixelCNN, VQ-VAE): where the model starts and the images it is built
    for, read from the data unless given."""

    init_model: str | None = field(
        default=None,
        metadata={"help": "start from this saved model (fine-tuning): its image size and channels then hold "
                  "(default: a new model)."},
    )  # fmt: skip
    image_size: int | None = field(
        default=None, metadata={"help": "resize the images to this side (default: the first image's longer side)."}
    )
    num_channels: int | None = field(
        default=None,
        metadata={"help": "1 (grey) or 3 (RGB) (default: 3 if any of the first 256 images is in colour, else 1).",
                  "choices": [1, 3]},
    )  # fmt: skip


@dataclass
class DecoderArguments:
    """Size flags every token decoder's recipe shares (the causal LM, the latent prior, the captioner's decoder), with
    `transformers`' names; each script sets its own defaults (`--help` shows them)."""

    hidden_size: int = field(default=128, metadata={"help": "width of the embeddings and hidden states."})
    num_hidden_layers: int = field(default=4, metadata={"help": "number of layers (transformer blocks, RNN layers)."})
    num_attention_heads: int = field(
        default=4, metadata={"help": "attention heads per layer (attention models; hidden_size must divide by it)."}
    )
    dropout: float = field(default=0.0, metadata={"help": "dropout probability on the hidden states in training."})


@dataclass
class CausalLMSizeArguments(DecoderArguments):
    """:class:`DecoderArguments` plus the RNN's cell, for the recipes that build a transformer or an RNN."""

    cell_type: str = field(default="lstm", metadata={"help": "RNN cell (rnn models only).", "choices": ["lstm", "gru"]})


@dataclass
class RunArguments(LoopArguments):
    """The loop's options plus what every entry point does around it (threads, samples, the Hub)."""

    eval_batch_size: int = field(default=256, metadata={"help": "examples per evaluation batch."})
    no_samples: bool = field(default=False, metadata={"help": "write no sample grids."})
    num_threads: int | None = field(default=None, metadata={"help": "torch.set_num_threads for this process."})
    push_to_hub: bool = field(default=False, metadata={"help": "upload the trained model at the end."})
    hub_model_id: str | None = field(default=None, metadata={"help": "repo id on the Hub (user/name)."})
    hub_token: str | None = field(default=None, metadata={"help": "token (default: the logged-in one)."})
    hub_private_repo: bool = field(default=False, metadata={"help": "create the Hub repo private."})

    def __post_init__(self):
        super().__post_init__()
        if self.push_to_hub and not self.hub_model_id:
            raise ValueError("--push_to_hub needs --hub_model_id (user/name).")

    def loop_arguments(self, **overrides) -> LoopArguments:
        """The :class:`LoopArguments` part of these flags."""
        return LoopArguments.from_namespace(self, **overrides)

    def push(self, folder) -> None:
        """Upload the saved model `folder` to `--hub_model_id` when `--push_to_hub` is set (main process only)."""
        if self.push_to_hub:
            url = hub.push_to_hub(
                folder, repo_id=self.hub_model_id, token=self.hub_token, private=self.hub_private_repo
            )
            logger.info("pushed %s to %s", folder, url)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """`--help` keeps the docstring's layout and shows every default (unless the help text already names it)."""

    def _get_help_string(self, action):
        if "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class FlagParser(HfArgumentParser):
    """An `HfArgumentParser` (flags from dataclass fields) whose errors are one line, ``error: ... (see --help)``, exit
    status 2, and whose `--help` shows every default."""

    def __init__(self, dataclass_types, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(dataclass_types, **kwargs)

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def training_parser(model_class, description: str | None = None, **defaults) -> FlagParser:
    """The parser of a `training/train_*.py`: `(DataArguments, RunArguments, model_class)`, `defaults` overriding field
    defaults, and `model_class.shared_flag_help` (optional) a shared flag's help where the script means more."""
    parser = FlagParser((DataArguments, RunArguments, model_class), description=description)
    unknown = set(defaults) - {action.dest for action in parser._actions}
    if unknown:
        raise TypeError(f"Unknown flags in defaults: {sorted(unknown)}.")
    parser.set_defaults(**defaults)
    for action in parser._actions:  # a script's own help for a shared flag (e.g. where its default comes from)
        action.help = getattr(model_class, "shared_flag_help", {}).get(action.dest, action.help)
    return parser


def parse_training_args(model_class, argv: list[str] | None = None, description: str | None = None, **defaults):
    """Parse `argv` into `(DataArguments, RunArguments, model_class)`; `defaults` override field defaults."""
    data, run, model = training_parser(model_class, description, **defaults).parse_args_into_dataclasses(args=argv)
    if run.num_threads:
        torch.set_num_threads(run.num_threads)
    return data, run, model


def setup_logging() -> None:
    """INFO logs of hf_argen and the script; warnings only from `transformers` and `accelerate`."""

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    hf_logging.set_verbosity_warning()
    logging.getLogger("accelerate").setLevel(logging.WARNING)


def run_training(train, arguments_class, script: str, argv=None, description=None, defaults=None):
    """What every `training/train_*.py` does: parse the shared flags and `arguments_class`'s (with the recipe's
    `defaults`), set up logging, and return `train(data, run, flags, command=<the command that reproduces it>)`."""
    data, run, flags = parse_training_args(arguments_class, argv, description=description, **(defaults or {}))
    check_training_flags(data, run, flags)
    setup_logging()
    return train(data, run, flags, command=launch_command(script, argv))


def check_training_flags(data: DataArguments, run: RunArguments, flags) -> None:
    """What can be checked before a run builds its `Accelerator` (so no process group starts), in every process: a
    local `--dataset_name` that does not exist, a `--device` this machine lacks, a missing `--init_model` / `--vqvae`,
    and, with `--push_to_hub`, the Hub token (a missing one everywhere; the Hub asked once, by the first process).
    Each error is a ValueError or OSError naming the flag (one line from `run_cli`)."""
    name = parse_dataset_spec(data.dataset_name)[0] if data.dataset_name else None
    if name and hub.looks_like_local_path(name) and not Path(name).expanduser().exists():
        raise ValueError(f"--dataset_name {data.dataset_name!r}: the folder {name!r} does not exist.")
    if run.device is not None:
        resolve_device(run.device)
    for flag in ("init_model", "vqvae"):
        if getattr(flags, flag, None):
            hub.check_model_reference(getattr(flags, flag), f"--{flag}")
    if run.push_to_hub:
        if int(os.environ.get("RANK", "0")) == 0:
            user = hub.check_hub_token(run.hub_token)
            logger.info("--push_to_hub: logged in to the Hub as %s; the model goes to %s", user, run.hub_model_id)
        elif not (run.hub_token or huggingface_hub.get_token()):
            raise OSError(hub.NO_TOKEN)


def launch_command(script: str, argv: list[str] | None = None) -> str:
    """The command that reproduces this run: ``accelerate launch <script> <flags>``."""
    flags = sys.argv[1:] if argv is None else argv
    return f"accelerate launch {script} " + " ".join(shlex.quote(a) for a in flags)


__all__ = [
    "VALIDATION",
    "check_training_flags",
    "CausalLMSizeArguments",
    "DataArguments",
    "DecoderArguments",
    "FlagParser",
    "HelpFormatter",
    "ImageModelArguments",
    "RunArguments",
    "launch_command",
    "parse_training_args",
    "run_training",
    "setup_logging",
    "training_parser",
]
