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
        train_dataset=TensorDictDataset(pixel_values=x, class_labels=y),  # or any map-style dataset
        collate_fn=None,                         # batch builder; identity for TensorDictDataset
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
sums are reduced); `sample_fn` runs on the main process only and its image is written to
``output_dir/samples/step-XXXXXXX.png`` (and to TensorBoard when ``report_to="tensorboard"``).

Behaviour
---------
* Data order: one global batch holds ``train_batch_size * num_processes`` examples; process ``r`` takes slice
  ``r`` of it. Epoch ``e`` is a permutation drawn from ``seed + e``; incomplete global batches (and
  incomplete accumulation groups) at the end of an epoch are dropped, so every step has the same size.
* Randomness (dropout, ...) is re-seeded from ``(seed, step, process)`` before every optimizer step, so
  a run's result depends only on its seed, never on where it was interrupted.
* Checkpoints: every ``checkpointing_steps`` optimizer steps, ``accelerator.save_state`` writes to
  ``output_dir/.tmp-checkpoint-<step>``, which is renamed to ``output_dir/checkpoint-<step>`` once
  complete (a rename is atomic), so a kill at any moment leaves only complete checkpoints. The oldest are
  deleted beyond ``checkpoints_total_limit`` (each deletion is logged; renamed to a ``.tmp-`` name first, so a
  kill during a deletion does not leave a partial checkpoint either). ``resume_from_checkpoint`` = a path
  or ``"latest"`` restores model, optimizer, LR scheduler, EMA and RNG state and skips the batches already
  seen; a resumed run ends with the same weights as an uninterrupted one. Every pickle of a checkpoint is read
  with ``torch.load(weights_only=True)`` (model weights are safetensors); ``.tmp-checkpoint-*`` folders left by
  a killed run are deleted at the next start. Final files (model, processors, ``train_results.json``, sample
  grids) are written through :mod:`hf_argen.atomic` (temporary name, then rename). A checkpoint at or past
  ``max_train_steps`` just leads to the final save.
* EMA (``ema_decay``): a `torch.optim.swa_utils.AveragedModel` of parameters *and* buffers, updated after
  every optimizer step (float tensors averaged with a warm-up decay ``min(decay, (1 + n) / (10 + n))``,
  integer buffers copied), checkpointed, evaluated and saved in place of the raw weights.
* Logs: a warm-up longer than the run is a warning; evaluation shows a tqdm bar on the main process.
* Speed: nothing is added on top of the step. The loss is accumulated on the device and read (a host sync)
  only at logging steps; on CUDA, batches are pinned and copied with ``non_blocking=True``
  (``dataloader_num_workers`` prefetches in worker processes) and the default AdamW is the fused one.
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
import json
import logging
import os
import pickle
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader, Dataset, Sampler

from ..atomic import atomic_save_image, atomic_save_pretrained, atomic_write_text

logger = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "checkpoint-"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
TRAINER_STATE = "trainer_state.json"


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


class EpochBatchSampler(Sampler):
    """This process's batches of epoch `epoch`, from `start_batch` on (see the module doc for the order)."""

    def __init__(
        self, num_samples: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1, group: int = 1
    ):
        self.num_samples, self.batch_size, self.seed = num_samples, batch_size, seed
        self.rank, self.world_size, self.group = rank, world_size, group
        self.epoch, self.start_batch = 0, 0

    def batches_per_epoch(self) -> int:
        global_batches = self.num_samples // (self.batch_size * self.world_size)
        return global_batches - global_batches % self.group

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def __len__(self) -> int:
        return self.batches_per_epoch() - self.start_batch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.num_samples, generator=generator)
        size = self.batch_size * self.world_size
        for batch in range(self.start_batch, self.batches_per_epoch()):
            start = batch * size + self.rank * self.batch_size
            yield order[start : start + self.batch_size].tolist()


def shard_indices(num_samples: int, accelerator) -> range:
    """Indices `rank, rank + world, ...` of `num_samples`: disjoint shards covering every index once."""
    return range(accelerator.process_index, num_samples, accelerator.num_processes)


# ----------------------------------------------------------------------------------------------------------
# EMA
# ----------------------------------------------------------------------------------------------------------
def ema_multi_avg_fn(decay: float) -> Callable:
    """`AveragedModel` update: EMA (`get_ema_multi_avg_fn`) of float tensors with the warm-up decay
    ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates; integer/bool buffers (counters, flags) are copied."""
    from torch.optim.swa_utils import get_ema_multi_avg_fn

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


# ----------------------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------------------
def list_checkpoints(output_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """Complete checkpoints `(step, path)` in `output_dir`, oldest first (temporary folders are ignored)."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        match = _CHECKPOINT_RE.match(child.name)
        if match and child.is_dir() and (child / TRAINER_STATE).is_file():
            found.append((int(match.group(1)), child))
    return sorted(found)


def resolve_checkpoint(output_dir: str | os.PathLike, resume_from_checkpoint: str | None) -> Path | None:
    """`"latest"` -> newest complete checkpoint in `output_dir` (None if none); a path -> that path."""
    if resume_from_checkpoint is None:
        return None
    if resume_from_checkpoint == "latest":
        checkpoints = list_checkpoints(output_dir)
        return checkpoints[-1][1] if checkpoints else None
    path = Path(resume_from_checkpoint)
    if not (path / TRAINER_STATE).is_file():
        raise ValueError(
            f"`resume_from_checkpoint` {str(path)!r} is not a complete checkpoint folder "
            f"(no {TRAINER_STATE}); pass a checkpoint-<step> folder or 'latest'."
        )
    return path


def load_checkpoint_weights(checkpoint: str | os.PathLike, ema: bool = False) -> dict:
    """Weights of a checkpoint folder: `model.safetensors`, or with `ema=True` the EMA weights (and buffers)."""
    checkpoint = Path(checkpoint)
    if not ema:
        from safetensors.torch import load_file

        return load_file(str(checkpoint / "model.safetensors"))
    for path in sorted(checkpoint.glob("custom_checkpoint_*.pkl")):
        state = _safe_torch_load(path)
        if isinstance(state, dict) and "n_averaged" in state:  # AveragedModel: "module." + model keys
            return {k.removeprefix("module."): v for k, v in state.items() if k.startswith("module.")}
        if isinstance(state, dict) and "shadow" in state:  # checkpoints of the earlier hand-written EMA
            return dict(state["shadow"])
    raise ValueError(f"{checkpoint} holds no EMA weights (the run had no `ema_decay`).")


def _safe_torch_load(path: str | os.PathLike, map_location="cpu"):
    """`torch.load(..., weights_only=True)`: tensors and plain containers only, never arbitrary pickled objects;
    a file that needs more is refused with an `OSError` naming it."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
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
# The loop
# ----------------------------------------------------------------------------------------------------------
def default_compute_loss(model, batch):
    return model(**batch).loss


def _default_save(model, output_dir: str) -> None:
    atomic_save_pretrained(model, output_dir)


def make_accelerator(args: LoopArguments):
    """The `Accelerator` of a run (create it before loading data to use `main_process_first`)."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration

    if args.device is None:
        cpu = not _has_accelerator_device()
    else:
        from ..cli import resolve_device

        cpu = resolve_device(args.device).type == "cpu"
    return Accelerator(
        cpu=cpu,
        mixed_precision=args.mixed_precision,
        log_with=None if args.report_to == "none" else args.report_to,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=args.ddp_find_unused_parameters)],
        project_config=ProjectConfiguration(
            project_dir=args.output_dir, logging_dir=os.path.join(args.output_dir, "logs")
        ),
    )


def evaluate_across_processes(
    accelerator, num_examples: int, batch_size: int, statistics_fn: Callable, desc: str = "evaluating"
) -> dict:
    """Sum `statistics_fn(indices)` (a dict of summable tensors for the examples `indices`) over batches of
    this process's shard (:func:`shard_indices`), then over processes (`accelerator.reduce`): the totals of
    the whole set, in float64 on the CPU, on every process. A tqdm bar shows on the main process."""
    from tqdm.auto import tqdm

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
    return {
        name: accelerator.reduce(value.to(accelerator.device), reduction="sum").cpu()
        for name, value in sorted(totals.items())
    }


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
        if len(train_dataset) < args.train_batch_size * self.accelerator.num_processes:
            raise ValueError(
                f"`train_dataset` has {len(train_dataset)} examples, fewer than one global batch "
                f"({args.train_batch_size} x {self.accelerator.num_processes} processes): lower "
                f"--train_batch_size to at most {len(train_dataset) // self.accelerator.num_processes}."
            )
        self.train_dataset = train_dataset
        if collate_fn is None and isinstance(train_dataset, TensorDictDataset):
            collate_fn = _identity
        self.collate_fn = collate_fn
        self.compute_loss = compute_loss or default_compute_loss
        self.eval_fn, self.sample_fn = eval_fn, sample_fn
        self.save_fn = save_fn or _default_save
        self.processors = list(processors or [])
        self.tracker_config = tracker_config or {}
        torch.manual_seed(args.seed)
        device = self.accelerator.device
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
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)
        self.sampler = EpochBatchSampler(
            len(train_dataset),
            args.train_batch_size,
            args.seed,
            self.accelerator.process_index,
            self.accelerator.num_processes,
            group=args.gradient_accumulation_steps,
        )
        self.steps_per_epoch = self.sampler.batches_per_epoch() // args.gradient_accumulation_steps
        if self.steps_per_epoch == 0:
            raise ValueError(
                "An epoch holds no complete optimizer step: lower `train_batch_size` or `gradient_accumulation_steps`."
            )
        self.max_train_steps = args.max_train_steps or args.num_train_epochs * self.steps_per_epoch
        from transformers import get_scheduler

        # The scheduler is stepped once per optimizer step (not prepared: Accelerate would step it once per
        # process); it is registered so its state is checkpointed.
        self.lr_scheduler = get_scheduler(
            args.lr_scheduler,
            optimizer=self.optimizer.optimizer,
            num_warmup_steps=args.lr_warmup_steps,
            num_training_steps=self.max_train_steps,
        )
        self.accelerator.register_for_checkpointing(self.lr_scheduler)
        self._custom_states = [self.lr_scheduler]  # in registration order: custom_checkpoint_<i>.pkl
        if args.lr_warmup_steps >= self.max_train_steps:
            logger.warning(
                "lr_warmup_steps (%d) >= the run's %d optimizer steps: the learning rate never reaches %g.",
                args.lr_warmup_steps,
                self.max_train_steps,
                args.learning_rate,
            )
        self.ema = None
        if args.ema_decay is not None:
            self.ema = make_ema(self.unwrapped_model, args.ema_decay)
            self.accelerator.register_for_checkpointing(self.ema)
            self._custom_states.append(self.ema)
        # Compiled last, and as a wrapper: `self.model` (what is checkpointed), the EMA copy (deep-copied above)
        # and the hooks keep the plain module; only the training forward goes through `self.train_model`.
        self.torch_compile = compile_enabled(args.torch_compile, device)
        self.train_model = torch.compile(self.model) if self.torch_compile else self.model
        self.global_step = 0

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
        final, temp = (
            output_dir / f"{CHECKPOINT_PREFIX}{step}",
            output_dir / f".tmp-{CHECKPOINT_PREFIX}{step}",
        )
        if accelerator.is_main_process:
            output_dir.mkdir(parents=True, exist_ok=True)
            if temp.exists():
                shutil.rmtree(temp)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(temp))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            config = getattr(self.unwrapped_model, "config", None)
            if hasattr(config, "to_json_file"):  # makes the checkpoint loadable with from_pretrained
                config.to_json_file(str(temp / "config.json"))
            state = {
                "global_step": step,
                "steps_per_epoch": self.steps_per_epoch,
                "max_train_steps": self.max_train_steps,
                "num_processes": accelerator.num_processes,
                "args": asdict(self.args),
            }
            with open(temp / TRAINER_STATE, "w") as handle:
                json.dump(state, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            if final.exists():
                delete_checkpoint(final)
            os.replace(temp, final)
            limit = self.args.checkpoints_total_limit
            if limit is not None:
                for _, old in list_checkpoints(output_dir)[:-limit]:
                    logger.info("checkpoints_total_limit=%d: deleting %s", limit, old)
                    delete_checkpoint(old)
        accelerator.wait_for_everyone()
        return final

    def _resume(self) -> None:
        path = resolve_checkpoint(self.args.output_dir, self.args.resume_from_checkpoint)
        if path is None:
            if self.args.resume_from_checkpoint is not None:
                logger.info("No checkpoint in %s; starting a new run.", self.args.output_dir)
            return
        state = json.loads((path / TRAINER_STATE).read_text())
        if state.get("num_processes", 1) != self.accelerator.num_processes:
            logger.warning(
                "Checkpoint written with %s processes, resuming with %s: the data order differs.",
                state.get("num_processes"),
                self.accelerator.num_processes,
            )
        self._load_state(path)
        self.global_step = int(state["global_step"])
        logger.info("Resumed from %s at step %d.", path, self.global_step)

    def _load_state(self, path: Path) -> None:
        """`accelerator.load_state(path)` with every pickle read with `weights_only=True` (Accelerate reads
        registered custom objects with `weights_only=False`): model from safetensors, optimizer, scaler and RNG
        states through Accelerate's loader, the LR scheduler and EMA states here."""
        from accelerate.checkpointing import load_accelerator_state

        accelerator = self.accelerator
        map_location = "on_device" if accelerator.num_processes > 1 and accelerator.device.type != "cpu" else "cpu"
        load_accelerator_state(
            str(path),
            accelerator._models,
            accelerator._optimizers,
            [],  # the LR scheduler is not prepared; it is a custom state below
            [],  # the loop's own sampler resumes from the step count
            accelerator.process_index,
            accelerator.scaler,
            map_location,
            {"weights_only": True},
        )
        for index, obj in enumerate(self._custom_states):
            file = path / f"custom_checkpoint_{index}.pkl"
            if not file.is_file():
                raise OSError(f"Checkpoint {str(path)!r} lacks {file.name}: it was not written by this run's set-up.")
            obj.load_state_dict(_safe_torch_load(file))

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
                    import numpy as np

                    tracker = self.accelerator.get_tracker("tensorboard", unwrap=True)
                    array = np.asarray(image.convert("RGB"))
                    tracker.add_image("samples", array, step, dataformats="HWC")
        self.accelerator.wait_for_everyone()
        return path

    # ---- training -----------------------------------------------------------------------------------
    def train(self) -> TrainResult:
        from tqdm.auto import tqdm

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
        cuda = accelerator.device.type == "cuda"
        loader = DataLoader(
            self.train_dataset,
            batch_sampler=self.sampler,
            collate_fn=self.collate_fn,
            num_workers=args.dataloader_num_workers,
            pin_memory=cuda,  # page-locked batches: the copy below is asynchronous
        )
        accum = args.gradient_accumulation_steps
        progress = tqdm(
            total=self.max_train_steps,
            initial=min(self.global_step, self.max_train_steps),
            disable=not accelerator.is_local_main_process,
            desc="steps",
        )
        self.model.train()
        running_loss, running_count = torch.zeros((), device=accelerator.device), 0
        metrics: dict = {}
        while self.global_step < self.max_train_steps:
            epoch, step_in_epoch = divmod(self.global_step, self.steps_per_epoch)
            self.sampler.set_epoch(epoch, start_batch=step_in_epoch * accum)
            iterator = iter(loader)
            for _ in range(step_in_epoch, self.steps_per_epoch):
                self._seed_step(self.global_step)
                for micro in range(accum):
                    batch = _to_device(next(iterator), accelerator.device, non_blocking=cuda)
                    sync = micro == accum - 1
                    context = contextlib.nullcontext() if sync else accelerator.no_sync(self.model)
                    with context:
                        with accelerator.autocast():
                            loss = self.compute_loss(self.train_model, batch)
                        accelerator.backward(loss / accum)
                    running_loss += loss.detach().float() / accum
                if args.max_grad_norm is not None:
                    accelerator.clip_grad_norm_(self.model.parameters(), args.max_grad_norm)
                self.optimizer.step()
                # fp16: a step the grad scaler skipped (inf/NaN gradients) moves neither the schedule nor the EMA.
                skipped = bool(getattr(self.optimizer, "step_was_skipped", False))
                if not skipped:
                    self.lr_scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                if self.ema is not None and not skipped:
                    self.ema.update_parameters(self.unwrapped_model)
                self.global_step += 1
                running_count += 1
                progress.update(1)
                step = self.global_step
                if step % args.logging_steps == 0 or step == self.max_train_steps:
                    mean_loss = accelerator.reduce(running_loss / running_count, reduction="mean").item()
                    progress.set_postfix(loss=f"{mean_loss:.4f}")
                    self._log({"train_loss": mean_loss, "lr": self.lr_scheduler.get_last_lr()[0]}, step)
                    running_loss.zero_()
                    running_count = 0
                if args.checkpointing_steps and step % args.checkpointing_steps == 0:
                    self.save_checkpoint(step)
                if args.eval_steps and step % args.eval_steps == 0 and step < self.max_train_steps:
                    metrics = self.evaluate()
                    self._log(metrics, step)
                if args.sample_steps and step % args.sample_steps == 0 and step < self.max_train_steps:
                    self.sample(step)
                if step >= self.max_train_steps:
                    break
        progress.close()
        return self._finish()

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
        accelerator.end_training()
        return TrainResult(global_step=self.global_step, metrics=metrics, output_dir=args.output_dir)


def _has_accelerator_device() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return torch.cuda.is_available() or bool(mps is not None and mps.is_available())


def _to_device(batch, device, non_blocking: bool = False):
    from accelerate.utils import send_to_device

    return send_to_device(batch, device, non_blocking=non_blocking)


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
    "EpochBatchSampler",
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
    "num_update_steps",
    "resolve_checkpoint",
    "shard_indices",
]
