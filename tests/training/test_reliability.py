"""Safe loading, config-derived masks, atomic saves and the multi-kill run (issue "Reliability and security")."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import pickle
import random
import signal
import time
from pathlib import Path

import pytest
import torch
from process_groups import run_process_group
from reliability_models import launch_two_ranks, pixelcnn, train_tiny
from safetensors.torch import load_file, save_file

from hf_argen import PixelCNNForImageGeneration
from hf_argen.atomic import atomic_save_image, atomic_save_pretrained, atomic_write_text
from hf_argen.training.loop import (
    clean_stale_temporary_checkpoints,
    list_checkpoints,
    load_checkpoint_weights,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "model_cards" / "pixelcnn-digits"


def _inputs(model, batch=2, seed=0):
    config = model.config
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, config.num_channels, config.image_size, config.image_size)
    pixels = torch.randint(0, config.num_levels, shape, generator=generator)
    labels = torch.arange(batch) % config.num_classes if config.num_classes else None
    return pixels, labels


def _assert_causal(model):
    """Changing sub-pixel k changes no logit of a sub-pixel <= k (raster order, then R, G, B)."""
    pixels, labels = _inputs(model, batch=1)
    with torch.no_grad():
        base = model(pixels, class_labels=labels).logits
        channels, size = model.config.num_channels, model.config.image_size
        for row, column, channel in [(0, 0, 0), (size // 2, size // 2, channels - 1), (size - 1, 0, 0)]:
            changed = pixels.clone()
            changed[0, channel, row, column] = (changed[0, channel, row, column] + 1) % model.config.num_levels
            diff = (model(changed, class_labels=labels).logits - base).abs().amax(-1)[0]  # (C, H, W)
            order = torch.arange(channels * size * size).reshape(size, size, channels).permute(2, 0, 1)
            position = order[channel, row, column]
            assert diff[order <= position].max() == 0, (row, column, channel)


# ---- masks ------------------------------------------------------------------------------------------------
def test_masks_are_not_in_the_state_dict_and_survive_meta_loading(tmp_path):
    model = pixelcnn()
    assert not [key for key in model.state_dict() if key.endswith("mask")]
    model.save_pretrained(tmp_path)
    assert not [key for key in load_file(str(tmp_path / "model.safetensors")) if key.endswith("mask")]
    loaded = PixelCNNForImageGeneration.from_pretrained(tmp_path).eval()
    pixels, labels = _inputs(model)
    torch.testing.assert_close(loaded(pixels, class_labels=labels).logits, model(pixels, class_labels=labels).logits,
                               rtol=0, atol=0)  # fmt: skip
    _assert_causal(loaded)


@pytest.mark.parametrize("how", ["from_pretrained", "load_state_dict"])
def test_tampered_mask_tensors_are_ignored_and_the_model_stays_causal(tmp_path, how):
    model = pixelcnn()
    weights = dict(model.state_dict())
    for name, module in model.named_modules():
        if hasattr(module, "mask") and isinstance(module.mask, torch.Tensor):
            weights[f"{name}.mask"] = torch.ones_like(module.mask)  # every connection open: would see the future
    assert any(key.endswith("mask") for key in weights)
    if how == "from_pretrained":
        model.save_pretrained(tmp_path)
        save_file({k: v.contiguous() for k, v in weights.items()}, str(tmp_path / "model.safetensors"),
                  metadata={"format": "pt"})  # fmt: skip
        loaded = PixelCNNForImageGeneration.from_pretrained(tmp_path).eval()
    else:
        loaded = PixelCNNForImageGeneration(model.config).eval()
        loaded.load_state_dict(weights)
    pixels, labels = _inputs(model)
    torch.testing.assert_close(loaded(pixels, class_labels=labels).logits, model(pixels, class_labels=labels).logits,
                               rtol=0, atol=0)  # fmt: skip
    _assert_causal(loaded)


def test_shipped_folder_with_stored_masks_loads_and_ignores_them():
    """`model_cards/pixelcnn-digits` was saved when masks were buffers: they are in its file and are ignored;
    the model equals one built from the config with the file's weights (logits checked identical to the
    previous code's when the change was made)."""
    stored = load_file(str(SHIPPED / "model.safetensors"))
    assert any(key.endswith(".mask") for key in stored)
    loaded = PixelCNNForImageGeneration.from_pretrained(SHIPPED).eval()
    for name, module in loaded.named_modules():
        if f"{name}.mask" in stored:
            assert torch.equal(stored[f"{name}.mask"].bool(), module.mask.cpu())
    fresh = PixelCNNForImageGeneration(loaded.config).eval()
    fresh.load_state_dict(stored)
    pixels, labels = _inputs(loaded)
    torch.testing.assert_close(fresh(pixels, class_labels=labels).logits, loaded(pixels, class_labels=labels).logits,
                               rtol=0, atol=0)  # fmt: skip


def test_masks_follow_the_model_across_devices_and_dtypes():
    model = pixelcnn().to(torch.float64)
    pixels, labels = _inputs(model)
    assert model(pixels, class_labels=labels).logits.dtype == torch.float64
    assert all(module.mask.dtype == torch.bool for module in model.modules() if hasattr(module, "_mask_fn"))


# ---- checkpoints: weights_only, stale temporary folders ----------------------------------------------------
class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_checkpoint_with_pickled_objects_is_refused(tmp_path):
    torch.save({"n_averaged": torch.tensor(1), "module.x": torch.zeros(1), "payload": _Evil()},
               tmp_path / "custom_checkpoint_0.pkl")  # fmt: skip
    with pytest.raises(OSError, match="weights_only"):
        load_checkpoint_weights(tmp_path, ema=True)


class _Marker:
    """Unpickling it creates the file `path`: proof that a loader ran code from a checkpoint."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


@pytest.mark.parametrize("name", ["optimizer.bin", "scheduler.bin", "random_states_0.pkl"])
def test_resuming_never_unpickles_objects_of_a_checkpoint(tmp_path, name):
    """`accelerator.load_state` (the loop registers no custom objects, which Accelerate reads with
    weights_only=False) refuses a checkpoint file that holds a pickled object instead of running it."""
    from hf_argen.training import LoopArguments, TensorDictDataset, TrainingLoop

    def run(steps, resume):
        args = LoopArguments(output_dir=str(tmp_path / "run"), max_train_steps=steps, checkpointing_steps=2,
                             train_batch_size=4, ema_decay=0.9, device="cpu",
                             resume_from_checkpoint="latest" if resume else None)  # fmt: skip
        loop = TrainingLoop(torch.nn.Linear(2, 1), args, TensorDictDataset(x=torch.randn(32, 2)),
                            compute_loss=lambda m, b: m(b["x"]).pow(2).mean(), save_fn=lambda m, out: None)  # fmt: skip
        return loop.train()

    run(2, resume=False)
    marker = tmp_path / "ran"
    torch.save({"state": _Marker(marker)}, tmp_path / "run" / "checkpoint-2" / name)
    refused = False
    try:
        run(4, resume=True)
    except pickle.UnpicklingError:
        refused = True
    assert not marker.exists()
    assert refused or name.startswith("random_states")  # (Accelerate skips unreadable RNG states with a log line)


def test_stale_temporary_checkpoints_are_cleaned(tmp_path):
    (tmp_path / ".tmp-checkpoint-7").mkdir()
    (tmp_path / ".tmp-checkpoint-7" / "optimizer.bin").write_bytes(b"half")
    (tmp_path / "checkpoint-5").mkdir()
    removed = clean_stale_temporary_checkpoints(tmp_path)
    assert [path.name for path in removed] == [".tmp-checkpoint-7"]
    assert (tmp_path / "checkpoint-5").is_dir() and not (tmp_path / ".tmp-checkpoint-7").exists()


# ---- atomic saves ------------------------------------------------------------------------------------------
def test_atomic_writers_leave_only_complete_files(tmp_path):
    from PIL import Image

    atomic_write_text(tmp_path / "a.json", json.dumps({"x": 1}))
    atomic_save_image(Image.new("L", (3, 3)), tmp_path / "grid.png")
    model = pixelcnn()
    atomic_save_pretrained(model, tmp_path / "model")  # new folder: appears in one rename
    atomic_save_pretrained(model, tmp_path / "model")  # existing folder: file by file
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.json", "grid.png", "model"]
    assert not [path for path in (tmp_path / "model").iterdir() if path.name.startswith(".tmp-")]
    PixelCNNForImageGeneration.from_pretrained(tmp_path / "model")
    with pytest.raises(ValueError, match="suffix"):
        atomic_save_image(Image.new("L", (3, 3)), tmp_path / "grid")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_saved_weights_get_the_mode_of_the_other_files(tmp_path):
    """safetensors writes model.safetensors with mode 0600 under any umask; a saved folder is readable alike."""
    atomic_save_pretrained(pixelcnn(), tmp_path / "new")
    atomic_save_pretrained(pixelcnn(), tmp_path / "new")  # into an existing folder
    config_mode = (tmp_path / "new" / "config.json").stat().st_mode & 0o777
    assert (tmp_path / "new" / "model.safetensors").stat().st_mode & 0o777 == config_mode
    assert not list((tmp_path / "new").glob(".tmp-*")) and not list(tmp_path.glob(".tmp-*"))


def test_a_failing_save_leaves_the_previous_file(tmp_path):
    target = tmp_path / "train_results.json"
    target.write_text("old")

    with pytest.raises((OSError, TypeError)):
        atomic_write_text(target, 12345)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["train_results.json"]


# ---- multi-kill ------------------------------------------------------------------------------------------
STEPS, EVERY, STEP_SLEEP = 60, 5, 0.01
KILL_AFTER = (10, 20, 30, 40, 50)  # checkpoints; each leaves >= 10 steps (each >= STEP_SLEEP s), so the run is alive
# The runs start from a fork server that has imported `reliability_models` (torch, transformers, hf_argen) once:
# as fast as forking this process, without forking a pytest process whose earlier tests left threads behind
# (OpenMP pools, servers), which can hang a child on a lock held at fork time.
FORKSERVER = multiprocessing.get_context("forkserver")
FORKSERVER.set_forkserver_preload(["reliability_models", "hf_argen.training"])


def _start_from_forkserver(target, *args, **kwargs):
    process = FORKSERVER.Process(target=target, args=args, kwargs=kwargs)
    process.start()
    return process


def _start(output_dir, resume):
    return _start_from_forkserver(train_tiny, str(output_dir), resume, steps=STEPS, every=EVERY, step_sleep=STEP_SLEEP)


def _wait_for_checkpoint(output_dir: Path, target: int, process, timeout: float = 120) -> None:
    """Return once `output_dir` holds checkpoint `target` or a later one, while `process` runs."""
    deadline = time.time() + timeout
    while time.time() < deadline and process.is_alive():
        checkpoints = list_checkpoints(output_dir)
        if checkpoints and checkpoints[-1][0] >= target:
            return
        time.sleep(0.005)
    found = [step for step, _ in list_checkpoints(output_dir)]
    state = "still running" if process.is_alive() else f"ended with exit code {process.exitcode}"
    _kill_group(process)
    raise AssertionError(f"no checkpoint >= {target} after {timeout} s; checkpoints {found}; the run {state}")


def _kill_group(process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
    process.join(30)


def _assert_complete_checkpoints_only(output_dir: Path, num_processes: int = 1) -> None:
    assert not (output_dir / "model.safetensors").exists()
    for _, folder in list_checkpoints(output_dir):  # only complete checkpoints carry the name
        assert (folder / "model.safetensors").is_file() and (folder / "ema.safetensors").is_file()
        assert (folder / "loop_state.json").is_file() and (folder / "scheduler.bin").is_file()
        assert (folder / f"random_states_{num_processes - 1}.pkl").is_file()


def _assert_same_weights(reference: Path, resumed: Path) -> None:
    want, got = load_file(str(reference / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert want.keys() == got.keys()
    for key in want:
        assert torch.equal(got[key], want[key]), (key, (got[key] - want[key]).abs().max())


def _join(process, timeout: float = 180) -> int:
    """The exit code of `process`, which must end within `timeout` seconds (else its group is killed)."""
    process.join(timeout)
    if process.exitcode is None:
        _kill_group(process)
        raise AssertionError(f"the run did not end within {timeout} s")
    return process.exitcode


def test_sigkill_at_five_points_then_resume_gives_the_uninterrupted_weights(tmp_path):
    assert _join(_start(tmp_path / "reference", False)) == 0

    killed, rng, kills = tmp_path / "killed", random.Random(0), []
    for target in KILL_AFTER:
        process = _start(killed, resume=True)
        _wait_for_checkpoint(killed, target, process)
        time.sleep(rng.uniform(0, 4 * STEP_SLEEP))
        os.kill(process.pid, signal.SIGKILL)
        assert _join(process, 30) == -signal.SIGKILL, f"the run ended before kill {len(kills) + 1}"
        kills.append(list_checkpoints(killed)[-1][0])
        _assert_complete_checkpoints_only(killed)
    assert len(kills) == 5 and kills == sorted(kills)
    assert _join(_start(killed, resume=True)) == 0
    _assert_same_weights(tmp_path / "reference", killed)
    assert not list(killed.glob(".tmp-*"))


# ---- multi-kill, 2 processes (DDP on gloo) -------------------------------------------------------------------
# `accelerate launch` takes ~25 s to start 2 processes here (each imports torch, transformers and hf_argen), so
# the reference run uses it once and the 6 killed/resumed runs are started by `launch_two_ranks` from the fork
# server: the same contract as `accelerate launch`/torchrun, with the ranks forked from a process that has already
# imported everything.
TWO_STEP_SLEEP = 0.02


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _launch_two(output_dir: Path, resume: bool):
    """A process that leads its own process group and runs 2 ranks of `train_tiny` (see `launch_two_ranks`)."""
    return _start_from_forkserver(launch_two_ranks, str(output_dir), resume, _free_port(), STEPS, EVERY, TWO_STEP_SLEEP)


def test_two_process_sigkill_at_five_points_then_resume_gives_the_uninterrupted_weights(tmp_path):
    """DDP on 2 CPU processes (gloo): the uninterrupted `accelerate launch --num_processes 2` run and a run whose
    whole process group is SIGKILLed after checkpoints 10, 20, 30, 40 and 50 and resumed with `latest` each time
    end with bitwise identical weights."""
    import shutil
    import sys

    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or "accelerate"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    reference = run_process_group(
        [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision",
         "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
         str(ROOT / "tests" / "reliability_models.py"), str(tmp_path / "reference"), "--steps", str(STEPS),
         "--every", str(EVERY), "--step_sleep", "0"],
        timeout=300, env=env,
    )  # fmt: skip
    assert reference.returncode == 0, reference.stderr[-3000:]
    assert (tmp_path / "reference" / f"checkpoint-{STEPS}" / "random_states_1.pkl").is_file()  # really 2 processes

    killed, rng, kills = tmp_path / "killed", random.Random(0), []
    for target in KILL_AFTER:
        launcher = _launch_two(killed, resume=True)
        _wait_for_checkpoint(killed, target, launcher)
        time.sleep(rng.uniform(0, 4 * TWO_STEP_SLEEP))
        os.killpg(launcher.pid, signal.SIGKILL)
        assert _join(launcher, 30) == -signal.SIGKILL, f"the run ended before kill {len(kills) + 1}"
        kills.append(list_checkpoints(killed)[-1][0])
        _assert_complete_checkpoints_only(killed, num_processes=2)
    assert len(kills) == 5 and kills == sorted(kills) and kills[0] >= KILL_AFTER[0]
    assert _join(_launch_two(killed, resume=True)) == 0
    _assert_same_weights(tmp_path / "reference", killed)
    assert not list(killed.glob(".tmp-*"))


# ---- data: no silent switch of source ------------------------------------------------------------------------
@pytest.mark.parametrize("error, falls_back", [(ConnectionError("unreachable"), True), (RuntimeError("bug"), False)])
def test_hub_failure_falls_back_to_local_files_only_when_unreachable(monkeypatch, caplog, error, falls_back):
    import datasets

    import hf_argen.recipes.mnist as mnist
    from hf_argen.recipes.datasets import load_images
    from hf_argen.recipes.sources import DATA_DIR_ENV

    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", DATA_DIR_ENV):
        monkeypatch.delenv(name, raising=False)

    def unreachable(*args, **kwargs):
        raise error

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    monkeypatch.setattr(mnist, "find_idx_dir", lambda name: "a folder")
    monkeypatch.setattr(mnist, "load_idx_dataset", lambda name, split, data_dir: "local IDX files")
    if falls_back:
        with caplog.at_level("WARNING", logger="hf_argen.recipes.mnist"):
            assert load_images("mnist", "test") == "local IDX files"
        assert "local IDX files instead" in caplog.text
    else:
        with pytest.raises(RuntimeError, match="bug"):
            load_images("mnist", "test")
