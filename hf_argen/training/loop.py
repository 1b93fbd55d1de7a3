"""The shared Accelerate training loop of hf_argen: model-agnostic, resumable, deterministic.

API
---
::

    from hf_argen.training import LoopArguments, TensorDictDataset, TrainingLoop

    args = LoopArguments(output_dir="out", train_batch_size=64, learning_rate=1e-3, max_train_steps=1000,
                         checkpointing_steps=200, resume_from_checkpoint="latest", eval_steps=200)
    loop = TrainingLoop(
        model,                                   # any torch.nn.Module (a PreTrainedModel for save_pretrained)
        args,
        train_dataset=TensorDictDataset(pixel_values=x, class_labels=y),  # or hf_argen.data.ImageRows, or any
                                                 # map-style dataset
        collate_fn=None,                         # batch builder; identity for datasets that return whole batches
        compute_loss=None,                       # (model, batch) -> scalar loss; default model(**batch).loss
        eval_fn=my_eval,                         # (model, accelerator) -> {"name": float}, on every process
        sample_fn=my_samples,                    # (model, step) -> PIL.Image | None, main process only
        save_fn=None,                            # (model, output_dir) -> None; default model.save_pretrained
        processors=[image_processor],            # extra objects with save_pretrained, saved with the model
        accelerator=None,                        # an `Accelerator` made with `make_accelerator(args)`, or None
    )
    result = loop.train()                        # TrainResult(global_step, metrics, output_dir)

The hooks get the *unwrapped* model (no DDP wrapper) in eval mode, or its EMA copy when `ema_decay` is set.
`eval_fn` runs on every process (use :func:`evaluate_across_processes`: each process scores its shard, the
totals are gathered); `sample_fn` runs on the main process only and its image is written to
``output_dir/samples/step-XXXXXXX.png`` (and to TensorBoard when ``report_to="tensorboard"``).

Behaviour
---------
The loop is written on Accelerate's public API: a prepared `DataLoader`, ``accelerator.accumulate``,
``accelerator.skip_first_batches``, a prepared LR scheduler, ``accelerator.save_state`` / ``load_state`` and
``accelerator.gather_for_metrics``; :func:`make_accelerator` builds the `Accelerator` it needs.

* Data order: the prepared `DataLoader` draws epoch ``e`` as a permutation from ``seed + e`` (Accelerate's
  seedable sampler, ``set_epoch``), cut to whole global accumulation groups, so every optimizer step has the
  same size. A global batch holds ``train_batch_size * num_processes`` examples; process ``r`` takes slice
  ``r`` of it (Accelerate's batch sharding). A resumed run skips the batches already seen with
  ``accelerator.skip_first_batches`` (indices only: no skipped example is loaded).
* Data: any map-style dataset. One whose ``__getitems__`` returns a whole batch (``batched = True``:
  :class:`TensorDictDataset`, :class:`hf_argen.data.ImageRows`, which decodes a batch's images from the datasets'
  memory-mapped Arrow files) is read one batch per call, with no collate, in the `DataLoader`'s worker processes
  with ``dataloader_num_workers``: training memory does not grow with the dataset.
* Randomness (dropout, ...) is re-seeded from ``(seed, step, process)`` before every optimizer step, so
  a run's result depends only on its seed, never on where it was interrupted.
* Accumulation: ``accelerator.accumulate(model)`` (no gradient all-reduce on the micro-steps before the last);
  the LR scheduler is prepared, so Accelerate steps it once per process at every optimizer step that the fp16
  grad scaler did not skip: it is built for ``num_processes`` times the warm-up and the run, the usual
  Accelerate convention, which gives every step the learning rate of a one-process run.
* Checkpoints: every ``checkpointing_steps`` optimizer steps, ``accelerator.save_state`` (model as safetensors,
  optimizer, LR scheduler, grad scaler, RNG states) writes to ``output_dir/.tmp-checkpoint-<step>``; the loop
  adds ``ema.safetensors`` (the EMA), ``config.json`` and ``loop_state.json`` (step, run shape, arguments) and
  renames the folder to ``output_dir/checkpoint-<step>`` once complete (a rename is atomic), so a kill at any
  moment leaves only complete checkpoints. (Accelerate's ``automatic_checkpoint_naming`` is not used: it names
  folders ``checkpoints/checkpoint_<save count>``, not by step, and writes and deletes in place.) The oldest are
  deleted beyond ``checkpoints_total_limit`` (each deletion is logged; renamed to a ``.tmp-`` name first, so a
  kill during a deletion does not leave a partial checkpoint either). ``resume_from_checkpoint`` = a path or
  ``"latest"`` restores all of it with ``accelerator.load_state`` and skips the batches already seen; a resumed
  run ends with the same weights as an uninterrupted one. Every pickle is read with ``weights_only=True``
  (Accelerate's loader; the loop registers no custom objects, which Accelerate would unpickle unrestricted).
  ``.tmp-checkpoint-*`` folders left by a killed run are deleted at the next start. Checkpoints of earlier
  versions (``trainer_state.json``) are refused with a message naming the file; their weights still load with
  :func:`load_checkpoint_weights`. Final files (model, processors, ``train_results.json``, sample grids) are
  written through :mod:`hf_argen.atomic`. A checkpoint at or past ``max_train_steps`` just leads to the final save.
* EMA (``ema_decay``): a `torch.optim.swa_utils.AveragedModel` of parameters *and* buffers, updated after
  every optimizer step (float tensors averaged with a warm-up decay ``min(decay, (1 + n) / (10 + n))``,
  integer buffers copied), checkpointed, evaluated and saved in place of the raw weights.
* Logs: a warm-up longer than the run is a warning; evaluation shows a tqdm bar on the main process.
* Speed: nothing is added on top of the step. The loss is accumulated on the device and read (a host sync)
  only at logging steps; on CUDA, batches are pinned and copied with ``non_blocking=True`` by the prepared
  `DataLoader` (``dataloader_num_workers`` prefetches in worker processes) and the default AdamW is the fused one.
  ``torch_compile`` (``"auto"``: on for CUDA) compiles a wrapper used for the training forward only: the
  prepared module itself stays plain, so checkpoints, ``save_pretrained``, the EMA copy and the hooks see its
  own ``state_dict`` keys (no ``_orig_mod.``), and evaluation runs eagerly. ``channels_last`` converts the
  model's 4-D weights, which makes cuDNN/oneDNN pick NHWC convolutions.
* The end: final evaluation, then (main process) ``save_fn(model, output_dir)`` — by default
  ``save_pretrained`` (safetensors) — plus ``save_pretrained`` of every object in ``processors``, and
  ``output_dir/train_results.json`` with the step count and final metrics.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import pickle
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, DistributedDataParallelKwargs, ProjectConfiguration
from safetensors.torch import load_file, save_file
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset, RandomSampler
from tqdm.auto import tqdm
from transformers import get_scheduler

from ..atomic import atomic_save_image, atomic_save_pretrained, atomic_write_text
from ..devices import resolve_device

logger = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "checkpoint-"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
LOOP_STATE = "loop_state.json"
EMA_WEIGHTS = "ema.safetensors"
LEGACY_STATE = "trainer_state.json"  # the state file of checkpoints written by earlier versions of this loop


# ----------------------------------------------------------------------------------------------------------
# Arguments and results
# ----------------------------------------------------------------------------------------------------------
def _flag(default, help: str, **metadata):
    return field(default=default, metadata={"help": help, **metadata})


@dataclass
class LoopArguments:
    """Options of the shared loop (names follow the `diffusers` example scripts); also the shared training
    flags of every `training/train_*.py` (see :mod:`hf_argen.training.arguments`)."""

    output_dir: str = field(metadata={"help": "where checkpoints, samples and the trained model go."})
    train_batch_size: int = _flag(16, "examples per process and micro-step.")
    learning_rate: float = _flag(1e-3, "peak learning rate (AdamW).")
    weight_decay: float = _flag(0.0, "AdamW weight decay.")
    adam_beta1: float = _flag(0.9, "AdamW beta1.")
    adam_beta2: float = _flag(0.999, "AdamW beta2.")
    adam_epsilon: float = _flag(1e-8, "AdamW epsilon.")
    lr_scheduler: str = _flag("constant", "any `transformers.get_scheduler` name: constant, cosine, linear, ...")
    lr_warmup_steps: int = _flag(0, "linear warm-up steps (a warm-up longer than the run is logged).")
    num_train_epochs: int = _flag(1, "epochs, unless --max_train_steps is given.")
    max_train_steps: int | None = _flag(None, "optimizer steps; overrides --num_train_epochs.")
    gradient_accumulation_steps: int = _flag(1, "micro-batches per optimizer step.")
    max_grad_norm: float | None = _flag(1.0, "gradient clipping norm (None: no clipping).")
    mixed_precision: str = _flag("no", "autocast precision.", choices=["no", "fp16", "bf16"])
    checkpointing_steps: int | None = _flag(500, "save a resumable checkpoint every N optimizer steps.")
    checkpoints_total_limit: int | None = _flag(None, "keep only the newest N checkpoints (deletions are logged).")
    resume_from_checkpoint: str | None = _flag(None, "a checkpoint-<step> folder or 'latest' (of --output_dir).")
    seed: int = _flag(0, "seed of the data order, initialisation and dropout.")
    report_to: str = _flag("none", "experiment tracker.", choices=["none", "tensorboard"])
    tracker_project_name: str = _flag("hf_argen", "project name for the tracker.")
    logging_steps: int = _flag(50, "log the training loss every N steps.")
    eval_steps: int | None = _flag(None, "evaluate every N steps (always at the end when there is an eval set).")
    sample_steps: int | None = _flag(None, "write a sample grid every N steps (and at the end).")
    ema_decay: float | None = _flag(None, "keep an EMA of weights and buffers with this decay; saved instead.")
    dataloader_num_workers: int = _flag(0, "DataLoader worker processes.")
    ddp_find_unused_parameters: bool = _flag(False, "DDP: for models with parameters outside the loss graph.")
    device: str | None = _flag(None, "cpu | cuda | cuda:N | mps (default: CUDA when available, else CPU).")
    torch_compile: str = _flag(
        "auto",
        "compile the training forward with torch.compile: 'true', 'false', or 'auto' = on for CUDA, off elsewhere "
        "(saved weights, checkpoints and EMA keep the plain module's keys).",
        choices=["auto", "true", "false"],
        nargs="?",
        const="true",
    )
    channels_last: bool = _flag(False, "keep 4-D weights (and so conv activations) in channels_last memory format.")

    @classmethod
    def from_namespace(cls, *namespaces, **overrides) -> LoopArguments:
        """Build from parsed flags (namespaces or dataclasses): every field with a same-named flag, then
        `overrides`."""
        names = {f.name for f in fields(cls)}
        values = {}
        for namespace in namespaces:
            values.update({k: v for k, v in vars(namespace).items() if k in names})
        return cls(**{**values, **overrides})

    def __post_init__(self):
        positive = ["train_batch_size", "num_train_epochs", "gradient_accumulation_steps", "logging_steps"]
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        for name in (
            "max_train_steps",
            "checkpointing_steps",
            "checkpoints_total_limit",
            "eval_steps",
            "sample_steps",
        ):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"`{name}` must be a positive integer or None, got {value!r}.")
        if not self.learning_rate > 0:
            raise ValueError(f"`learning_rate` must be > 0, got {self.learning_rate}.")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ValueError(f"`mixed_precision` must be 'no', 'fp16' or 'bf16', got {self.mixed_precision!r}.")
        if self.report_to not in ("none", "tensorboard"):
            raise ValueError(f"`report_to` must be 'none' or 'tensorboard', got {self.report_to!r}.")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ValueError(f"`ema_decay` must be in (0, 1) or None, got {self.ema_decay}.")
        compile_values = {None: "auto", True: "true", False: "false"}
        if isinstance(self.torch_compile, bool) or self.torch_compile is None:
            self.torch_compile = compile_values[self.torch_compile]
        if self.torch_compile not in ("auto", "true", "false"):
            raise ValueError(f"`torch_compile` must be 'auto', 'true' or 'false', got {self.torch_compile!r}.")


@dataclass
class TrainResult:
    global_step: int
    metrics: dict = field(default_factory=dict)
    output_dir: str = ""


# ----------------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------------
class TensorDictDataset(Dataset):
    """Named tensors of equal length as a map-style dataset; batches are dicts of tensors (batched path)."""

    batched = True  # `__getitems__` returns a whole batch: the loop's DataLoader collates nothing

    def __init__(self, **tensors: torch.Tensor):
        lengths = {len(t) for t in tensors.values()}
        if len(lengths) != 1:
            raise ValueError(f"tensors must have equal lengths, got { {k: len(t) for k, t in tensors.items()} }.")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(next(iter(self.tensors.values())))

    def __getitem__(self, index):
        return {name: tensor[index] for name, tensor in self.tensors.items()}

    def __getitems__(self, indices):  # used by DataLoader for a whole batch at once
        index = torch.as_tensor(indices, dtype=torch.long)
        return {name: tensor[index] for name, tensor in self.tensors.items()}


def _identity(batch):
    return batch


def make_train_loader(dataset, args: LoopArguments, accelerator, collate_fn: Callable | None = None) -> DataLoader:
    """The prepared training `DataLoader` (see the module doc for the order): `len(loader)` micro-batches of
    `train_batch_size` per process and epoch, a whole number of accumulation groups; call `set_epoch(e)` first."""
    steps = num_update_steps(
        len(dataset), args.train_batch_size, accelerator.num_processes, args.gradient_accumulation_steps
    )
    if steps == 0:
        raise ValueError(
            "An epoch holds no complete optimizer step: lower `train_batch_size` or `gradient_accumulation_steps`."
        )
    used = steps * args.gradient_accumulation_steps * args.train_batch_size * accelerator.num_processes
    loader = DataLoader(
        dataset,
        batch_size=args.train_batch_size,
        sampler=RandomSampler(dataset, num_samples=used),  # the first `used` of each epoch's permutation
        collate_fn=collate_fn,
        drop_last=True,
        num_workers=args.dataloader_num_workers,
        pin_memory=accelerator.device.type == "cuda",  # page-locked batches: the copy to the device is asynchronous
    )
    return accelerator.prepare(loader)


def shard_indices(num_samples: int, accelerator) -> range:
    """Indices `rank, rank + world, ...` of `num_samples`: disjoint shards covering every index once."""
    return range(accelerator.process_index, num_samples, accelerator.num_processes)


# ----------------------------------------------------------------------------------------------------------
# EMA
# ----------------------------------------------------------------------------------------------------------
def ema_multi_avg_fn(decay: float) -> Callable:
    """`AveragedModel` update: EMA (`get_ema_multi_avg_fn`) of float tensors with the warm-up decay
    ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates; integer/bool buffers (counters, flags) are copied."""

    def update(averaged: list, current: list, num_averaged) -> None:
        if not (torch.is_floating_point(averaged[0]) or torch.is_complex(averaged[0])):
            for target, source in zip(averaged, current):
                target.copy_(source)
            return
        n = int(num_averaged) + 1
        get_ema_multi_avg_fn(min(decay, (1 + n) / (10 + n)))(averaged, current, num_averaged)

    return update


class SyncFreeAveragedModel(AveragedModel):
    """`AveragedModel` (parameters and buffers) whose update never waits for the device: the update count
    `n_averaged` stays on the CPU and is read there, where torch's own update copies it to the parameters'
    device on every step (a blocking copy on CUDA). Same `state_dict` as `AveragedModel`."""

    @torch.no_grad()
    def update_parameters(self, model: torch.nn.Module) -> None:
        averaged = [t.detach() for t in (*self.module.parameters(), *self.module.buffers())]
        current = [t.detach() for t in (*model.parameters(), *model.buffers())]
        count = int(self.n_averaged)  # a CPU tensor
        if count == 0:
            torch._foreach_copy_(averaged, [c.to(a.device) for a, c in zip(averaged, current)])
        else:
            groups: dict = {}
            for a, c in zip(averaged, current):
                pair = groups.setdefault((a.device, a.dtype), ([], []))
                pair[0].append(a)
                pair[1].append(c.to(a.device))
            for group_averaged, group_current in groups.values():
                self.multi_avg_fn(group_averaged, group_current, count)
        self.n_averaged += 1


def make_ema(model: torch.nn.Module, decay: float) -> torch.nn.Module:
    """`torch.optim.swa_utils.AveragedModel` holding the EMA of `model`'s parameters *and* buffers (a VQ
    codebook's running statistics included; a :class:`SyncFreeAveragedModel`); checkpointable with its `state_dict`."""
    return SyncFreeAveragedModel(model, multi_avg_fn=ema_multi_avg_fn(decay), use_buffers=True)


def save_ema(ema: torch.nn.Module, path: str | os.PathLike) -> None:
    """The EMA's `state_dict` (`n_averaged` and `module.<key>`) as safetensors; tied tensors are stored once each."""
    state = {key: value.detach().to("cpu", copy=True).contiguous() for key, value in ema.state_dict().items()}
    save_file(state, str(path), metadata={"format": "pt"})


# ----------------------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------------------
def _is_checkpoint(folder: Path) -> bool:
    return (folder / LOOP_STATE).is_file() or (folder / LEGACY_STATE).is_file()


def list_checkpoints(output_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """Complete checkpoints `(step, path)` in `output_dir`, oldest first (temporary folders are ignored; those of
    earlier versions, with `trainer_state.json`, are listed, so that `latest` names them rather than skip them)."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        match = _CHECKPOINT_RE.match(child.name)
        if match and child.is_dir() and _is_checkpoint(child):
            found.append((int(match.group(1)), child))
    return sorted(found)


def resolve_checkpoint(output_dir: str | os.PathLike, resume_from_checkpoint: str | None) -> Path | None:
    """`"latest"` -> newest complete checkpoint in `output_dir` (None if none); a path -> that path. A checkpoint
    of an earlier version of the loop (`trainer_state.json`, no `loop_state.json`) raises a `ValueError`."""
    if resume_from_checkpoint is None:
        return None
    if resume_from_checkpoint == "latest":
        checkpoints = list_checkpoints(output_dir)
        path = checkpoints[-1][1] if checkpoints else None
    else:
        path = Path(resume_from_checkpoint)
        if not _is_checkpoint(path):
            raise ValueError(
                f"`resume_from_checkpoint` {str(path)!r} is not a complete checkpoint folder "
                f"(no {LOOP_STATE}); pass a checkpoint-<step> folder or 'latest'."
            )
    if path is not None and not (path / LOOP_STATE).is_file():
        raise ValueError(
            f"`resume_from_checkpoint`: {str(path / LEGACY_STATE)!r} belongs to a checkpoint of an earlier version "
            f"of the hf_argen loop (LR schedule and EMA in custom_checkpoint_*.pkl), which this version cannot resume "
            f"(its checkpoints hold {LOOP_STATE}). Resume it with the version that wrote it, or start a new run from "
            "its weights: `hf_argen.training.load_checkpoint_weights(folder, ema=...)`."
        )
    return path


def load_checkpoint_weights(checkpoint: str | os.PathLike, ema: bool = False) -> dict:
    """Weights of a checkpoint folder: `model.safetensors`, or with `ema=True` the EMA weights (and buffers)."""
    checkpoint = Path(checkpoint)
    if not ema:
        return load_file(str(checkpoint / "model.safetensors"))
    if (checkpoint / EMA_WEIGHTS).is_file():
        state = load_file(str(checkpoint / EMA_WEIGHTS))
        return {k.removeprefix("module."): v for k, v in state.items() if k.startswith("module.")}
    for path in sorted(checkpoint.glob("custom_checkpoint_*.pkl")):  # checkpoints of earlier versions
        state = _safe_torch_load(path)
        if isinstance(state, dict) and "n_averaged" in state:  # AveragedModel: "module." + model keys
            return {k.removeprefix("module."): v for k, v in state.items() if k.startswith("module.")}
        if isinstance(state, dict) and "shadow" in state:  # the hand-written EMA before AveragedModel
            return dict(state["shadow"])
    raise ValueError(f"{checkpoint} holds no EMA weights (the run had no `ema_decay`).")


def _safe_torch_load(path: str | os.PathLike, map_location="cpu"):
    """`torch.load(..., weights_only=True)`: tensors and plain containers only, never arbitrary pickled objects;
    a file that needs more is refused with an `OSError` naming it."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)  # noqa: TID251 (tensors only)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        raise OSError(
            f"{str(path)!r} cannot be loaded safely (weights_only=True): it is truncated, corrupt or holds "
            f"pickled objects other than tensors and plain containers ({error})."
        ) from error


def delete_checkpoint(folder: Path) -> None:
    """Delete a checkpoint folder so that a kill midway never leaves a partial `checkpoint-<step>`: rename it to
    `.tmp-checkpoint-<step>-deleted` first (one atomic step; a later start deletes what a kill left), then delete."""
    doomed = folder.with_name(f".tmp-{folder.name}-deleted")
    if doomed.exists():
        shutil.rmtree(doomed)
    os.replace(folder, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def prune_checkpoints(output_dir: str | os.PathLike, total_limit: int | None) -> None:
    """Delete (and log) all but the newest `total_limit` checkpoints of `output_dir`; None keeps all."""
    if total_limit is None:
        return
    for _, old in list_checkpoints(output_dir)[:-total_limit]:
        logger.info("checkpoints_total_limit=%d: deleting %s", total_limit, old)
        delete_checkpoint(old)


def clean_stale_temporary_checkpoints(output_dir: str | os.PathLike) -> list[Path]:
    """Delete the `.tmp-checkpoint-<step>` folders a killed run left in `output_dir` (each is logged)."""
    folder = Path(output_dir)
    removed = []
    if folder.is_dir():
        for child in sorted(folder.glob(f".tmp-{CHECKPOINT_PREFIX}*")):
            logger.info("Deleting %s, an incomplete checkpoint of an interrupted run.", child)
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


# ----------------------------------------------------------------------------------------------------------
# The accelerator, evaluation
# ----------------------------------------------------------------------------------------------------------
def default_compute_loss(model, batch):
    return model(**batch).loss


def _default_save(model, output_dir: str) -> None:
    atomic_save_pretrained(model, output_dir)


def _has_accelerator_device() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return torch.cuda.is_available() or bool(mps is not None and mps.is_available())


def make_accelerator(args: LoopArguments) -> Accelerator:
    """The `Accelerator` of a run (create it before loading data to use `main_process_first`): device, mixed
    precision, gradient accumulation, the seeded data order, trackers and the project folder of `args`."""
    cpu = not _has_accelerator_device() if args.device is None else resolve_device(args.device).type == "cpu"
    return Accelerator(
        cpu=cpu,
        mixed_precision=args.mixed_precision,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        log_with=None if args.report_to == "none" else args.report_to,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=args.ddp_find_unused_parameters)],
        project_config=ProjectConfiguration(
            project_dir=args.output_dir,
            logging_dir=os.path.join(args.output_dir, "logs"),
            total_limit=args.checkpoints_total_limit,  # applied by the loop (see the module doc)
        ),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=args.seed, non_blocking=True),
    )


def _check_accelerator(accelerator: Accelerator, args: LoopArguments) -> None:
    """The loop's guarantees need the data order and accumulation of :func:`make_accelerator`."""
    seeded = accelerator.use_seedable_sampler and accelerator.dataloader_config.data_seed == args.seed
    if not seeded or accelerator.gradient_accumulation_steps != args.gradient_accumulation_steps:
        raise ValueError(
            "`accelerator` must be made with `make_accelerator(args)` (a seedable sampler with data_seed=args.seed, "
            f"gradient_accumulation_steps={args.gradient_accumulation_steps}); got use_seedable_sampler="
            f"{accelerator.use_seedable_sampler}, data_seed={accelerator.dataloader_config.data_seed}, "
            f"gradient_accumulation_steps={accelerator.gradient_accumulation_steps}."
        )


def evaluate_across_processes(
    accelerator, num_examples: int, batch_size: int, statistics_fn: Callable, desc: str = "evaluating"
) -> dict:
    """Sum `statistics_fn(indices)` (a dict of summable tensors for the examples `indices`) over batches of
    this process's shard (:func:`shard_indices`: disjoint, nothing duplicated), then over processes
    (`accelerator.gather_for_metrics` of each process's totals, summed): the totals of the whole set, in float64
    on the CPU, on every process. A tqdm bar shows on the main process."""
    shard = torch.as_tensor(list(shard_indices(num_examples, accelerator)), dtype=torch.long)
    totals: dict = {}
    starts = range(0, len(shard), batch_size)
    for start in tqdm(starts, desc=desc, disable=not accelerator.is_local_main_process, leave=False):
        for name, value in statistics_fn(shard[start : start + batch_size]).items():
            value = torch.as_tensor(value, dtype=torch.float64).detach().cpu()
            totals[name] = totals[name] + value if name in totals else value
    if not totals:  # an empty shard: ask for the keys and shapes with zero examples
        totals = {
            name: torch.zeros_like(torch.as_tensor(value, dtype=torch.float64).cpu())
            for name, value in statistics_fn(shard[:0]).items()
        }
    # One row per process, (num_processes, *shape) once gathered. (The loop's training loader drops its
    # remainder, so `gather_for_metrics` never trims these rows, even when called at the end of an epoch.)
    rows = {name: value.to(accelerator.device)[None] for name, value in sorted(totals.items())}
    return {name: value.sum(0).cpu() for name, value in accelerator.gather_for_metrics(rows).items()}


# ----------------------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------------------
class TrainingLoop:
    """Model-agnostic Accelerate training loop; see the module docstring for the API and its guarantees."""

    def __init__(
        self,
        model: torch.nn.Module,
        args: LoopArguments,
        train_dataset,
        collate_fn: Callable | None = None,
        compute_loss: Callable | None = None,
        eval_fn: Callable | None = None,
        sample_fn: Callable | None = None,
        save_fn: Callable | None = None,
        processors: list | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        tracker_config: dict | None = None,
        accelerator=None,
    ):
        self.args = args
        self.accelerator = accelerator if accelerator is not None else make_accelerator(args)
        _check_accelerator(self.accelerator, args)
        if len(train_dataset) < args.train_batch_size * self.accelerator.num_processes:
            raise ValueError(
                f"`train_dataset` has {len(train_dataset)} examples, fewer than one global batch "
                f"({args.train_batch_size} x {self.accelerator.num_processes} processes): lower "
                f"--train_batch_size to at most {len(train_dataset) // self.accelerator.num_processes}."
            )
        self.train_dataset = train_dataset
        if collate_fn is None and getattr(train_dataset, "batched", False):  # whole batches from `__getitems__`
            collate_fn = _identity
        self.collate_fn = collate_fn
        self.compute_loss = compute_loss or default_compute_loss
        self.eval_fn, self.sample_fn = eval_fn, sample_fn
        self.save_fn = save_fn or _default_save
        self.processors = list(processors or [])
        self.tracker_config = tracker_config or {}
        torch.manual_seed(args.seed)
        self.train_loader = make_train_loader(train_dataset, args, self.accelerator, collate_fn)
        self.steps_per_epoch = len(self.train_loader) // args.gradient_accumulation_steps
        self.max_train_steps = args.max_train_steps or args.num_train_epochs * self.steps_per_epoch
        self.model, self.optimizer, self.lr_scheduler = self._prepare(model, optimizer)
        self.ema = make_ema(self.unwrapped_model, args.ema_decay) if args.ema_decay is not None else None
        # Compiled last, and as a wrapper: `self.model` (what is checkpointed), the EMA copy (deep-copied above)
        # and the hooks keep the plain module; only the training forward goes through `self.train_model`.
        self.torch_compile = compile_enabled(args.torch_compile, self.accelerator.device)
        self.train_model = torch.compile(self.model) if self.torch_compile else self.model
        self.global_step = 0
        self._running_loss, self._running_count = None, 0

    def _prepare(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None) -> tuple:
        """Model, optimizer (AdamW by default, fused on CUDA) and LR scheduler, prepared by Accelerate."""
        args, device = self.args, self.accelerator.device
        if args.channels_last:
            model.to(memory_format=torch.channels_last)
        if optimizer is None:
            model.to(device)  # (prepare would move it anyway) so that the fused optimizer sees CUDA parameters
            optimizer = torch.optim.AdamW(
                model.parameters(),
                lr=args.learning_rate,
                weight_decay=args.weight_decay,
                betas=(args.adam_beta1, args.adam_beta2),
                eps=args.adam_epsilon,
                fused=True if device.type == "cuda" else None,
            )
        if args.lr_warmup_steps >= self.max_train_steps:
            logger.warning(
                "lr_warmup_steps (%d) >= the run's %d optimizer steps: the learning rate never reaches %g.",
                args.lr_warmup_steps,
                self.max_train_steps,
                args.learning_rate,
            )
        # A prepared scheduler is stepped once per process at each optimizer step (see the module doc).
        processes = self.accelerator.num_processes
        lr_scheduler = get_scheduler(
            args.lr_scheduler,
            optimizer=optimizer,
            num_warmup_steps=args.lr_warmup_steps * processes,
            num_training_steps=self.max_train_steps * processes,
        )
        return self.accelerator.prepare(model, optimizer, lr_scheduler)

    # ---- helpers ------------------------------------------------------------------------------------
    @property
    def unwrapped_model(self):
        return self.accelerator.unwrap_model(self.model)

    @property
    def final_model(self):
        """The model that is evaluated and saved: the EMA copy when `ema_decay` is set, else the model."""
        return self.ema.module if self.ema is not None else self.unwrapped_model

    @contextlib.contextmanager
    def _eval_model(self):
        model = self.final_model
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                yield model
        finally:
            model.train(was_training)

    def _seed_step(self, step: int) -> None:
        seed = (self.args.seed * 1_000_003 + step) * 1024 + self.accelerator.process_index
        torch.manual_seed(seed % (2**63 - 1))

    def _log(self, metrics: dict, step: int) -> None:
        if self.args.report_to != "none":
            self.accelerator.log(metrics, step=step)
        if self.accelerator.is_main_process:
            logger.info("step %d: %s", step, ", ".join(f"{k}={v:.5g}" for k, v in metrics.items()))

    # ---- checkpoints --------------------------------------------------------------------------------
    def save_checkpoint(self, step: int) -> Path:
        """Write `checkpoint-<step>` atomically (temp folder + rename); prune beyond the total limit."""
        accelerator = self.accelerator
        output_dir = Path(self.args.output_dir)
        final = output_dir / f"{CHECKPOINT_PREFIX}{step}"
        temp = output_dir / f".tmp-{CHECKPOINT_PREFIX}{step}"
        if accelerator.is_main_process:
            output_dir.mkdir(parents=True, exist_ok=True)
            if temp.exists():
                shutil.rmtree(temp)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(temp))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            self._write_loop_files(temp, step)
            if final.exists():
                delete_checkpoint(final)
            os.replace(temp, final)
            prune_checkpoints(output_dir, self.args.checkpoints_total_limit)
        accelerator.wait_for_everyone()
        return final

    def _write_loop_files(self, folder: Path, step: int) -> None:
        """What `save_state` does not write: config.json, the EMA and, last, `loop_state.json`."""
        config = getattr(self.unwrapped_model, "config", None)
        if hasattr(config, "to_json_file"):  # makes the checkpoint loadable with from_pretrained
            config.to_json_file(str(folder / "config.json"))
        if self.ema is not None:
            save_ema(self.ema, folder / EMA_WEIGHTS)
        state = {
            "global_step": step,
            "steps_per_epoch": self.steps_per_epoch,
            "max_train_steps": self.max_train_steps,
            "num_processes": self.accelerator.num_processes,
            "args": asdict(self.args),
        }
        with open(folder / LOOP_STATE, "w") as handle:
            json.dump(state, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())

    def _resume(self) -> None:
        path = resolve_checkpoint(self.args.output_dir, self.args.resume_from_checkpoint)
        if path is None:
            if self.args.resume_from_checkpoint is not None:
                logger.info("No checkpoint in %s; starting a new run.", self.args.output_dir)
            return
        state = json.loads((path / LOOP_STATE).read_text())
        if state.get("num_processes", 1) != self.accelerator.num_processes:
            logger.warning(
                "Checkpoint written with %s processes, resuming with %s: the data order differs.",
                state.get("num_processes"),
                self.accelerator.num_processes,
            )
        self.accelerator.load_state(str(path))  # every pickle with weights_only=True: no custom objects registered
        if self.ema is not None:
            if not (path / EMA_WEIGHTS).is_file():
                raise OSError(f"Checkpoint {str(path)!r} lacks {EMA_WEIGHTS}: it was written without `ema_decay`.")
            self.ema.load_state_dict(load_file(str(path / EMA_WEIGHTS)))
        self.global_step = int(state["global_step"])
        logger.info("Resumed from %s at step %d.", path, self.global_step)

    # ---- evaluation / samples -----------------------------------------------------------------------
    def evaluate(self) -> dict:
        if self.eval_fn is None:
            return {}
        with self._eval_model() as model:
            return {k: float(v) for k, v in self.eval_fn(model, self.accelerator).items()}

    def sample(self, step: int) -> Path | None:
        if self.sample_fn is None:
            return None
        path = None
        if self.accelerator.is_main_process:
            with self._eval_model() as model:
                image = self.sample_fn(model, step)
            if image is not None:
                path = Path(self.args.output_dir) / "samples" / f"step-{step:07d}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_save_image(image, path)
                if self.args.report_to == "tensorboard":
                    tracker = self.accelerator.get_tracker("tensorboard", unwrap=True)
                    array = np.asarray(image.convert("RGB"))
                    tracker.add_image("samples", array, step, dataformats="HWC")
        self.accelerator.wait_for_everyone()
        return path

    # ---- training -----------------------------------------------------------------------------------
    def train(self) -> TrainResult:
        args, accelerator = self.args, self.accelerator
        if args.report_to != "none":
            config = {
                k: v
                for k, v in {**asdict(args), **self.tracker_config}.items()
                if isinstance(v, (int, float, str, bool))
            }
            accelerator.init_trackers(args.tracker_project_name, config=config)
        if accelerator.is_main_process:
            clean_stale_temporary_checkpoints(args.output_dir)
        accelerator.wait_for_everyone()
        self._resume()
        progress = tqdm(
            total=self.max_train_steps,
            initial=min(self.global_step, self.max_train_steps),
            disable=not accelerator.is_local_main_process,
            desc="steps",
        )
        self.model.train()
        self._running_loss, self._running_count = torch.zeros((), device=accelerator.device), 0
        while self.global_step < self.max_train_steps:
            self._train_epoch(progress)
        progress.close()
        return self._finish()

    def _train_epoch(self, progress) -> None:
        """Optimizer steps from `global_step` to the end of its epoch or to `max_train_steps`."""
        args, accelerator = self.args, self.accelerator
        accumulation = args.gradient_accumulation_steps
        epoch, step_in_epoch = divmod(self.global_step, self.steps_per_epoch)
        self.train_loader.set_epoch(epoch)
        loader = self.train_loader
        if step_in_epoch:  # resumed mid-epoch: skip the micro-batches already trained on
            loader = accelerator.skip_first_batches(self.train_loader, step_in_epoch * accumulation)
        for index, batch in enumerate(loader):
            if index % accumulation == 0:
                self._seed_step(self.global_step)
            with accelerator.accumulate(self.model):
                with accelerator.autocast():
                    loss = self.compute_loss(self.train_model, batch)
                accelerator.backward(loss)  # divided by the accumulation steps
                self._running_loss += loss.detach().float() / accumulation
                # Only on the last micro-step of a group: the prepared optimizer and scheduler would ignore the
                # calls of the others, but not for free (Accelerate's optimizer step looks up a package per call).
                if accelerator.sync_gradients:
                    if args.max_grad_norm is not None:
                        accelerator.clip_grad_norm_(self.model.parameters(), args.max_grad_norm)
                    self.optimizer.step()
                    self.lr_scheduler.step()
                    self.optimizer.zero_grad(set_to_none=True)
            if accelerator.sync_gradients:
                self._end_step(progress)
                if self.global_step >= self.max_train_steps:
                    loader.end()  # left mid-iteration: unregister it from Accelerate's state, as its end does
                    return

    def _end_step(self, progress) -> None:
        """After an optimizer step: EMA, step count, logging, checkpoint, evaluation, samples."""
        args, accelerator = self.args, self.accelerator
        # fp16: a step the grad scaler skipped (inf/NaN gradients) moves neither the EMA nor (Accelerate) the schedule.
        if self.ema is not None and not self.optimizer.step_was_skipped:
            self.ema.update_parameters(self.unwrapped_model)
        self.global_step += 1
        self._running_count += 1
        progress.update(1)
        step = self.global_step
        if step % args.logging_steps == 0 or step == self.max_train_steps:
            loss = self._running_loss / self._running_count
            mean_loss = accelerator.reduce(loss, reduction="mean").item()
            progress.set_postfix(loss=f"{mean_loss:.4f}")
            self._log({"train_loss": mean_loss, "lr": self.lr_scheduler.get_last_lr()[0]}, step)
            self._running_loss.zero_()
            self._running_count = 0
        if args.checkpointing_steps and step % args.checkpointing_steps == 0:
            self.save_checkpoint(step)
        if args.eval_steps and step % args.eval_steps == 0 and step < self.max_train_steps:
            self._log(self.evaluate(), step)
        if args.sample_steps and step % args.sample_steps == 0 and step < self.max_train_steps:
            self.sample(step)

    def _finish(self) -> TrainResult:
        args, accelerator = self.args, self.accelerator
        metrics = self.evaluate()
        if metrics:
            self._log(metrics, self.global_step)
        self.sample(self.global_step)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            self.save_fn(self.final_model, args.output_dir)
            for processor in self.processors:
                atomic_save_pretrained(processor, args.output_dir)
            results = {"global_step": self.global_step, "max_train_steps": self.max_train_steps, **metrics}
            atomic_write_text(Path(args.output_dir, "train_results.json"), json.dumps(results, indent=2))
        accelerator.wait_for_everyone()
        # Free the DDP wrapper (its reducer holds the process group) while every rank is still here: freed after
        # `end_training`, on a rank whose peer has exited, the gloo group's destructor can wait forever.
        if self.unwrapped_model is not self.model:
            self.model = self.train_model = self.unwrapped_model
        accelerator.free_memory()
        gc.collect()  # the wrapper may sit in reference cycles (its hooks)
        accelerator.end_training()
        return TrainResult(global_step=self.global_step, metrics=metrics, output_dir=args.output_dir)


def compile_enabled(torch_compile: str | bool | None, device) -> bool:
    """`--torch_compile` -> whether to compile: `"true"`/`True`, `"false"`/`False`; `"auto"`/`None` = on CUDA only."""
    if torch_compile in (True, "true"):
        return True
    if torch_compile in (False, "false"):
        return False
    if torch_compile in (None, "auto"):
        return torch.device(device).type == "cuda"
    raise ValueError(f"`torch_compile` must be 'auto', 'true' or 'false', got {torch_compile!r}.")


def num_update_steps(num_samples: int, batch_size: int, num_processes: int = 1, accumulation: int = 1) -> int:
    """Optimizer steps per epoch under the loop's drop-incomplete rule."""
    batches = num_samples // (batch_size * num_processes)
    return batches // accumulation if batches else 0


__all__ = [
    "LoopArguments",
    "TensorDictDataset",
    "TrainResult",
    "TrainingLoop",
    "compile_enabled",
    "clean_stale_temporary_checkpoints",
    "default_compute_loss",
    "evaluate_across_processes",
    "list_checkpoints",
    "load_checkpoint_weights",
    "make_accelerator",
    "make_ema",
    "make_train_loader",
    "num_update_steps",
    "prune_checkpoints",
    "resolve_checkpoint",
    "shard_indices",
]
