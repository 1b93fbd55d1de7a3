"""hf-argen export: write shippable model folders.

    hf-argen export model_cards/*                      # rewrite each folder's code and config.json from the package
    hf-argen export --check model_cards/*              # exit 1 and list the folders whose code or config is stale
    hf-argen export --checkpoint out/checkpoint-3000 --ema --output exported           # a checkpoint's EMA weights
    hf-argen export --checkpoint out/checkpoint-2500 out/checkpoint-3000 --output avg  # checkpoint averaging
    hf-argen export --model out --output model_cards/captioner-emoji --float16         # float16 on disk
    hf-argen export --model out --checkpoint out/checkpoint-500 out/checkpoint-1000 --output avg
    hf-argen export --model out --image_size 64 --output out-64                        # a captioner re-gridded

FOLDER... are re-exported by `hf_argen.export` (code and config as `save_pretrained` writes them today; weights,
processor files and card kept). With `--output`, a folder is built from a training run: the model of `--model` (a
saved folder, e.g. the run's output_dir) or of the last `--checkpoint`'s config.json, with the weights of
`--checkpoint` (several are averaged; `--ema`: their EMA weights), and its processor or tokenizer. `--float16` stores
the weights in float16 (they load as float32: `config.dtype` stays float32), which halves the folder.
`--image_size` (captioners) interpolates the encoder's learned grid positions (bicubic) to another input size and
makes the processor resize to it (fine-tune the result with `train_captioner.py --init_model`).
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoConfig

from ..atomic import atomic_save_pretrained, atomic_write_text
from ..auto import auto_class_for, saved_processors
from ..export import code_drift, export_folder
from ..models import CaptionerForConditionalGeneration, PixelCNNForImageGeneration, PixelCNNImageProcessor
from ..training import load_checkpoint_weights
from .arguments import ModelArguments, parse_command

logger = logging.getLogger(__name__)


@dataclass
class ExportArguments:
    """Re-export FOLDER...; or build `--output` from a training run."""

    check: bool = field(default=False, metadata={"help": "change nothing; exit 1 when a FOLDER is stale"})
    output: str | None = field(default=None, metadata={"help": "the model folder to write from a training run"})
    checkpoint: list[str] | None = field(
        default=None, metadata={"help": "checkpoint folder(s) whose weights the folder gets; several are averaged"}
    )
    ema: bool = field(default=False, metadata={"help": "use the EMA weights stored in the checkpoint(s)"})
    config: str | None = field(default=None, metadata={"help": "config.json (default: the last checkpoint's)"})
    processor: str | None = field(
        default=None, metadata={"help": "folder with the processor or tokenizer (default: --model)"}
    )
    float16: bool = field(default=False, metadata={"help": "store the weights in float16"})
    image_size: int | None = field(
        default=None, metadata={"help": "captioners: the input side to re-grid the model and its processor to"}
    )


def auto_class(config):
    """The Auto class that builds the full model (with its head) of `config`."""
    try:
        return auto_class_for(config)
    except ValueError as error:
        raise ValueError(f"--model / --checkpoint: {error}") from error


def average_into(model, checkpoints: list[str], ema: bool) -> None:
    """Load the mean of the checkpoints' weights into `model` (tied weights follow their source)."""
    weights = [load_checkpoint_weights(folder, ema=ema) for folder in checkpoints]
    mismatched = [folder for folder, w in zip(checkpoints, weights) if set(w) != set(weights[0])]
    if mismatched:
        raise ValueError(f"--checkpoint: {mismatched} do not hold the same tensors as {checkpoints[0]}.")
    averaged = {k: sum(w[k].double() for w in weights) / len(weights) for k in weights[0]}
    # Through load_state_dict, so that a model's key pre-hook maps names saved before a module split.
    result = model.load_state_dict(averaged, strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or ())
    missing = [key for key in result.missing_keys if key not in tied]
    if missing:
        raise ValueError(
            f"--checkpoint: {checkpoints[0]} lacks {len(missing)} tensors of the model "
            f"(e.g. {', '.join(missing[:3])}): it holds the weights of another model."
        )


def resize_image_grid(model, processor, image_size: int) -> None:
    """Set a captioner's and its processor's `image_size` and interpolate the encoder's learned positions
    `(grid**2, hidden)` bicubically to the new grid (in place)."""
    config = model.config
    factor = config.image_size // config.grid_size  # the encoder's downsampling
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < factor or image_size % factor:
        raise ValueError(
            f"--image_size must be a positive multiple of {factor} (the encoder's downsampling), got {image_size!r}."
        )
    old, new = config.grid_size, image_size // factor
    grid = model.encoder.embed_positions.data.float().T.reshape(1, -1, old, old)  # (1, hidden, old, old)
    resized = F.interpolate(grid, size=(new, new), mode="bicubic", align_corners=False)
    model.encoder.embed_positions = torch.nn.Parameter(resized.reshape(-1, new * new).T.contiguous())
    config.image_size = image_size
    processor.image_processor.image_size = image_size


def build_model(model_name: str | None, args: ExportArguments):
    """The model to ship and its processors: `--model`'s, or built from the last checkpoint's config."""
    if model_name:
        config = AutoConfig.from_pretrained(model_name)
        model = auto_class(config).from_pretrained(model_name, dtype=torch.float32)
    else:
        config = AutoConfig.from_pretrained(args.config or args.checkpoint[-1])
        model = auto_class(config).from_config(config)
    processor_folder = args.processor or model_name
    processors = saved_processors(processor_folder) if processor_folder else []
    if not processors and isinstance(model, PixelCNNForImageGeneration):
        processors = [PixelCNNImageProcessor.from_model_config(config)]
    return model, processors


def export_run(model_name: str | None, args: ExportArguments) -> Path:
    """Write `--output` from a training run (see the module docstring)."""
    if not model_name and not args.checkpoint:
        raise ValueError("--output needs --model (a saved folder) or --checkpoint (checkpoint folders).")
    model, processors = build_model(model_name, args)
    if args.checkpoint:
        average_into(model, args.checkpoint, args.ema)
    if args.image_size is not None:
        if not isinstance(model, CaptionerForConditionalGeneration) or not processors:
            raise ValueError("--image_size re-grids a captioner (with its processor); --model is not one.")
        resize_image_grid(model, processors[0], args.image_size)
    output = Path(args.output)
    if args.float16:
        model.to(torch.float16)
    atomic_save_pretrained(model, output)
    for processor in processors:
        tokenizer = getattr(processor, "tokenizer", processor)
        if hasattr(tokenizer, "init_kwargs"):  # how it was loaded here, not part of it
            tokenizer.init_kwargs.pop("local_files_only", None)
        atomic_save_pretrained(processor, output)
    if args.float16:  # float16 on disk, float32 when loaded
        config = json.loads((output / "config.json").read_text())
        config["dtype"] = "float32"
        atomic_write_text(output / "config.json", json.dumps(config, indent=2, sort_keys=True) + "\n")
    size = sum(f.stat().st_size for f in output.iterdir() if f.is_file())
    sources = f" from {len(args.checkpoint)} checkpoint(s)" if args.checkpoint else ""
    print(f"wrote {output} ({size / 1e6:.1f} MB){sources}{' (EMA weights)' if args.ema else ''}")
    return output


def export_folders(folders: list[str], check: bool) -> int:
    """Re-export (or with `check`, only list) the stale folders; 1 when `check` finds any, else 0."""
    stale = 0
    for folder in folders:
        if not (Path(folder) / "config.json").is_file():
            raise ValueError(f"FOLDER {folder!r} is not a saved model folder (no config.json).")
        changed = code_drift(folder) if check else export_folder(folder)
        if changed:
            stale += 1
            print(f"{folder}: {'stale' if check else 'rewrote'} {', '.join(changed)}")
    if check and stale:
        print(f"{stale} of {len(folders)} folder(s) stale: run `hf-argen export FOLDER...`", file=sys.stderr)
    return 1 if check and stale else 0


def main(argv: list[str] | None = None) -> int:
    positional = {"dest": "folders", "nargs": "*", "metavar": "FOLDER", "help": "saved model folders to re-export"}
    model_args, args, rest = parse_command(
        "export", (ModelArguments, ExportArguments), argv, __doc__, positional=positional
    )
    if rest.folders:
        if args.output or model_args.model or args.checkpoint:
            raise ValueError("FOLDER... re-exports folders in place; --output, --model and --checkpoint build one.")
        return export_folders(rest.folders, args.check)
    if args.check:
        raise ValueError("--check needs FOLDER... to check.")
    if not args.output:
        raise ValueError("give FOLDER... to re-export, or --output to build a folder from a training run.")
    export_run(model_args.model, args)
    return 0


__all__ = ["ExportArguments", "export_folders", "export_run", "main"]
