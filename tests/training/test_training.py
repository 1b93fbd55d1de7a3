"""The shared training loop: exact kill-and-resume, resume past the end, 2-process DDP, checkpoint hygiene."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from entry_points import load_entry_point
from process_groups import run_process_group
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "training" / "train_pixelcnn.py"
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "OMP_NUM_THREADS": "1",
    "PYTHONPATH": str(ROOT),
    "TOKENIZERS_PARALLELISM": "false",
}
TINY = [
    "--dataset_name",
    "digits",
    "--hidden_size",
    "8",
    "--num_hidden_layers",
    "1",
    "--output_hidden_size",
    "16",
    "--first_kernel_size",
    "3",
    "--train_batch_size",
    "16",
    "--eval_split",
    "none",
    "--no_samples",
    "--num_threads",
    "1",
    "--lr_scheduler",
    "cosine",
    "--learning_rate",
    "3e-3",
]


def _weights(path) -> dict:
    return load_file(str(Path(path) / "model.safetensors"))


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def _run(args, **kwargs):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], env=ENV, capture_output=True, text=True, timeout=600, **kwargs
    )


def _run_here(args) -> None:
    """The same run in this process (no interpreter start-up): for the runs a test compares against."""
    load_entry_point("pixelcnn").main(args)


def test_a_kill_while_deleting_a_checkpoint_leaves_no_partial_checkpoint(tmp_path, monkeypatch):
    """Pruning beyond checkpoints_total_limit, killed halfway through deleting the files: no `checkpoint-<step>` is
    left without its files, and the next start deletes the remains."""
    from hf_argen.training import loop

    old = tmp_path / "checkpoint-10"
    old.mkdir()
    for name in ("model.safetensors", "optimizer.bin", "loop_state.json"):
        (old / name).write_text(name)

    def killed_rmtree(path, ignore_errors=False):
        next(Path(path).iterdir()).unlink()  # one file gone, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(loop.shutil, "rmtree", killed_rmtree)
    with pytest.raises(KeyboardInterrupt):
        loop.delete_checkpoint(old)
    monkeypatch.undo()
    assert not old.exists() and loop.list_checkpoints(tmp_path) == []
    assert [p.name for p in loop.clean_stale_temporary_checkpoints(tmp_path)] == [".tmp-checkpoint-10-deleted"]
    assert list(tmp_path.iterdir()) == []


def test_kill_and_resume_gives_the_same_weights(tmp_path):
    """SIGKILL at a random moment after the first checkpoint, resume with `latest`: same final weights."""
    steps = [
        "--max_train_steps",
        "150",
        "--checkpointing_steps",
        "10",
        "--checkpoints_total_limit",
        "2",
        "--gradient_accumulation_steps",
        "2",
        "--dropout",
        "0.2",
        "--ema_decay",
        "0.9",
        "--seed",
        "3",
        "--logging_steps",
        "10",
    ]
    reference = tmp_path / "reference"
    _run_here([*TINY, *steps, "--output_dir", str(reference)])

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), *TINY, *steps, "--output_dir", str(killed)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not (killed / "checkpoint-10").is_dir() and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    delay = random.uniform(0.0, 0.5)  # the run needs ~2.5 s more on 2 CPU cores: it is killed mid-run
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, f"run ended before the kill (delay {delay:.2f}s)"
    assert not (killed / "model.safetensors").exists()
    # Only complete checkpoints carry the checkpoint name.
    for folder in killed.glob("checkpoint-*"):
        assert (folder / "loop_state.json").is_file() and (folder / "model.safetensors").is_file()
        assert (folder / "ema.safetensors").is_file() and (folder / "scheduler.bin").is_file()
    resumed = _run([*TINY, *steps, "--output_dir", str(killed), "--resume_from_checkpoint", "latest"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resumed from" in resumed.stderr
    assert _max_diff(_weights(reference), _weights(killed)) <= 1e-6, f"kill delay {delay:.2f}s"
    assert len(list(killed.glob("checkpoint-*"))) == 2  # checkpoints_total_limit
    assert not list(killed.glob(".tmp-checkpoint-*"))


def test_resume_past_max_train_steps_saves_the_final_model(tmp_path):
    steps = ["--checkpointing_steps", "4", "--seed", "1", "--logging_steps", "4"]
    _run_here([*TINY, *steps, "--max_train_steps", "8", "--output_dir", str(tmp_path)])
    expected = _weights(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    again = _run(
        [
            *TINY,
            *steps,
            "--max_train_steps",
            "5",
            "--output_dir",
            str(tmp_path),
            "--resume_from_checkpoint",
            "latest",
        ]
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert _max_diff(expected, _weights(tmp_path)) == 0.0
    assert json.loads((tmp_path / "train_results.json").read_text())["global_step"] == 8
    assert (tmp_path / "preprocessor_config.json").is_file() and (tmp_path / "config.json").is_file()


def test_two_process_ddp_matches_one_process_with_the_global_batch(tmp_path):
    """2 CPU processes (gloo) x batch 8 == 1 process x batch 16: same data order, gradients averaged, and the same
    learning rate at every step (Accelerate steps the prepared warm-up + cosine schedule once per process)."""
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or "accelerate"
    args = [
        "--dataset_name",
        "digits",
        "--hidden_size",
        "8",
        "--num_hidden_layers",
        "1",
        "--output_hidden_size",
        "16",
        "--first_kernel_size",
        "3",
        "--eval_split",
        "test",
        "--no_samples",
        "--num_threads",
        "1",
        "--max_train_steps",
        "6",
        "--checkpointing_steps",
        "3",
        "--logging_steps",
        "3",
        "--seed",
        "5",
        "--lr_scheduler",
        "cosine",
        "--lr_warmup_steps",
        "2",
    ]
    two = run_process_group(
        [
            accelerate,
            "launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            str(SCRIPT),
            *args,
            "--train_batch_size",
            "8",
            "--output_dir",
            str(tmp_path / "two"),
        ],
        timeout=600,
        env=ENV,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    assert (tmp_path / "two" / "checkpoint-6" / "random_states_1.pkl").is_file()  # really 2 processes
    _run_here([*args, "--train_batch_size", "16", "--output_dir", str(tmp_path / "one")])
    assert _max_diff(_weights(tmp_path / "one"), _weights(tmp_path / "two")) < 1e-5
    results = [json.loads((tmp_path / d / "train_results.json").read_text()) for d in ("one", "two")]
    assert results[0]["eval_bits_per_dim"] == pytest.approx(results[1]["eval_bits_per_dim"], abs=1e-4)


def test_train_loader_draws_each_epoch_from_the_seed_and_skips_whole_batches(tmp_path):
    """Epoch e is `randperm(seed + e)` cut to whole accumulation groups (2 processes shard each global batch of this
    order: `test_two_process_ddp_matches_one_process_with_the_global_batch`); `skip_first_batches` resumes inside
    an epoch with the batches an uninterrupted epoch has there; `set_epoch`, not the number of passes, picks it."""
    from hf_argen.training import LoopArguments, TensorDictDataset, make_accelerator
    from hf_argen.training.loop import make_train_loader

    args = LoopArguments(output_dir=str(tmp_path), train_batch_size=4, gradient_accumulation_steps=5, seed=7,
                         device="cpu")  # fmt: skip
    accelerator = make_accelerator(args)
    loader = make_train_loader(TensorDictDataset(index=torch.arange(50)), args, accelerator, collate_fn=lambda b: b)
    assert len(loader) == 10  # 12 batches of 4, cut to 2 accumulation groups of 5
    epochs = []
    for epoch in (0, 1):
        loader.set_epoch(epoch)
        batches = [batch["index"].tolist() for batch in loader]
        order = torch.randperm(50, generator=torch.Generator().manual_seed(7 + epoch))[:40]
        assert batches == order.view(10, 4).tolist()
        epochs.append(batches)
    assert epochs[0] != epochs[1]
    loader.set_epoch(1)
    assert [batch["index"].tolist() for batch in accelerator.skip_first_batches(loader, 5)] == epochs[1][5:]
    loader.set_epoch(0)
    assert [batch["index"].tolist() for batch in loader] == epochs[0]


def test_an_accelerator_without_the_seeded_order_is_refused(tmp_path):
    from accelerate import Accelerator

    from hf_argen.training import LoopArguments, TensorDictDataset, TrainingLoop

    args = LoopArguments(output_dir=str(tmp_path), max_train_steps=2, checkpointing_steps=None, device="cpu")
    with pytest.raises(ValueError, match="make_accelerator"):
        TrainingLoop(
            torch.nn.Linear(2, 1), args, TensorDictDataset(x=torch.zeros(32, 2)), accelerator=Accelerator(cpu=True)
        )


def test_checkpoint_helpers(tmp_path):
    from hf_argen.training import list_checkpoints, resolve_checkpoint

    for step in (5, 20, 10):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "loop_state.json").write_text("{}")
    (tmp_path / "checkpoint-30").mkdir()  # incomplete: no loop_state.json
    (tmp_path / ".tmp-checkpoint-40").mkdir()
    assert [s for s, _ in list_checkpoints(tmp_path)] == [5, 10, 20]
    assert resolve_checkpoint(tmp_path, "latest").name == "checkpoint-20"
    assert resolve_checkpoint(tmp_path / "none", "latest") is None
    with pytest.raises(ValueError, match="resume_from_checkpoint"):
        resolve_checkpoint(tmp_path, str(tmp_path / "checkpoint-30"))


def test_loop_arguments_validate():
    from hf_argen.training import LoopArguments

    with pytest.raises(ValueError, match="train_batch_size"):
        LoopArguments(output_dir="x", train_batch_size=0)
    with pytest.raises(ValueError, match="report_to"):
        LoopArguments(output_dir="x", report_to="wandb")
    with pytest.raises(ValueError, match="ema_decay"):
        LoopArguments(output_dir="x", ema_decay=1.5)


def test_ema_averages_parameters_and_buffers():
    """`AveragedModel` EMA: float parameters and buffers are averaged, integer buffers copied."""
    from hf_argen.training import make_ema

    model = torch.nn.BatchNorm1d(2)  # weight/bias, running_mean (float buffer), num_batches_tracked (long)
    ema = make_ema(model, decay=0.5)
    ema.update_parameters(model)  # the first update copies
    with torch.no_grad():
        model.weight.add_(1.0)
        model.running_mean.add_(2.0)
        model.num_batches_tracked.add_(3)
    ema.update_parameters(model)
    averaged = ema.module
    assert torch.all(averaged.weight < model.weight) and torch.all(averaged.weight > model.weight - 1.0)
    assert torch.all(averaged.running_mean > 0) and torch.all(averaged.running_mean < 2.0)
    assert averaged.num_batches_tracked.item() == 3
    restored = make_ema(model, decay=0.5)
    restored.load_state_dict(ema.state_dict())
    assert torch.equal(restored.module.running_mean, averaged.running_mean)


def test_source_classes_give_each_source_its_own_block():
    from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration
    from hf_argen.recipes.pixelcnn import expand_class_embeddings, offset_labels_by_source

    labels = torch.tensor([0, 3, 9])
    parts = [{"class_labels": labels}, {"class_labels": labels.clone()}]
    relabelled, num_classes = offset_labels_by_source(parts, [["digits"] * 3, ["mnist", "digits", "mnist"]], 10)
    assert num_classes == 20
    assert relabelled[0]["class_labels"].tolist() == [0, 3, 9]
    assert relabelled[1]["class_labels"].tolist() == [10, 3, 19]

    config = PixelCNNConfig(
        image_size=4, num_channels=1, num_levels=4, num_classes=10, hidden_size=6, num_hidden_layers=1
    )
    model = PixelCNNForImageGeneration(config).eval()
    images = torch.randint(0, 4, (2, 1, 4, 4))
    before = model(images, class_labels=torch.tensor([3, 7])).logits
    expand_class_embeddings(model, 20)
    assert model.config.num_classes == 20
    # Old classes are unchanged; new class k starts as class k % 10.
    torch.testing.assert_close(model(images, class_labels=torch.tensor([3, 7])).logits, before)
    torch.testing.assert_close(model(images, class_labels=torch.tensor([13, 17])).logits, before)
    with pytest.raises(ValueError, match="num_classes"):
        expand_class_embeddings(model, 20)


def _shape_folder(root: Path) -> Path:
    """An image folder with class subfolders circle/ and square/, 10 images each, and no test split."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    for name in ("circle", "square"):
        (root / name).mkdir(parents=True)
        for i in range(10):
            image = Image.new("L", (8, 8), 0)
            x, y = rng.integers(0, 3, size=2).tolist()
            draw = ImageDraw.Draw(image)
            (draw.ellipse if name == "circle" else draw.rectangle)([x, y, x + 4, y + 4], fill=255)
            image.save(root / name / f"{i}.png")
    return root


def test_own_image_folder_without_test_split_trains_with_defaults(tmp_path, caplog):
    """The newcomer's path: class subfolders, no test split, default flags; class names land in id2label;
    a warm-up longer than the run and checkpoint deletions are logged; eval runs on the carved validation split."""
    import logging

    from training.train_pixelcnn import main

    folder = _shape_folder(tmp_path / "shapes")
    out = tmp_path / "out"
    tiny = ["--hidden_size", "4", "--num_hidden_layers", "1", "--output_hidden_size", "4", "--first_kernel_size", "3"]
    with caplog.at_level(logging.INFO):
        result = main(
            ["--dataset_name", str(folder), "--output_dir", str(out), "--train_batch_size", "4", "--max_train_steps",
             "3", "--checkpointing_steps", "1", "--checkpoints_total_limit", "1", "--lr_warmup_steps", "10",
             "--ema_decay", "0.9", *tiny]
        )  # fmt: skip
    assert result.global_step == 3
    config = json.loads((out / "config.json").read_text())
    assert config["num_classes"] == 2
    assert config["id2label"] == {"0": "circle", "1": "square"}
    assert config["label2id"] == {"circle": 0, "square": 1}
    info = json.loads((out / "training_info.json").read_text())
    assert info["train_data"] == [{"dataset": f"{folder}:train", "examples": 18}]  # 2 of 20 held out
    assert info["eval_dataset"] == f"{folder}:train validation (every 10th image)"  # never called "test"
    assert "eval_bits_per_dim" in info
    assert (out / "samples.png").is_file()
    assert [p.name for p in out.glob("checkpoint-*")] == ["checkpoint-3"]
    from hf_argen.training import load_checkpoint_weights

    final, ema = _weights(out), load_checkpoint_weights(out / "checkpoint-3", ema=True)
    assert final.keys() <= ema.keys() and _max_diff(final, {k: ema[k] for k in final}) == 0.0  # the EMA is saved
    messages = caplog.text
    assert "lr_warmup_steps (10)" in messages
    assert "checkpoints_total_limit=1: deleting" in messages


def test_warmup_longer_than_run_is_logged_by_the_loop(tmp_path, caplog):
    import logging

    from hf_argen.training import LoopArguments, TensorDictDataset, TrainingLoop

    model = torch.nn.Linear(2, 1)
    args = LoopArguments(output_dir=str(tmp_path), max_train_steps=2, lr_warmup_steps=5, checkpointing_steps=None)
    with caplog.at_level(logging.WARNING):
        TrainingLoop(model, args, TensorDictDataset(x=torch.zeros(32, 2)), compute_loss=lambda m, b: m(b["x"]).sum())
    assert "never reaches" in caplog.text


def test_training_scripts_share_one_flag_set(capsys):
    """All four entry points parse the same shared flags (with their own defaults) and show defaults in --help
    (each script's `main(["--help"])` in this process: what `python training/train_*.py --help` prints)."""
    import importlib.util

    shared = None
    for name in ("pixelcnn", "vqvae", "prior", "causal_lm"):
        spec = importlib.util.spec_from_file_location(f"train_{name}", ROOT / "training" / f"train_{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert len((ROOT / "training" / f"train_{name}.py").read_text().splitlines()) <= 120
        with pytest.raises(SystemExit) as exited:
            module.main(["--help"])
        assert exited.value.code == 0
        help_text = capsys.readouterr().out
        flags = {token.split()[0] for token in help_text.split("  --")[1:]}
        for flag in ("mixed_precision", "gradient_accumulation_steps", "checkpointing_steps", "checkpoints_total_limit",
                     "resume_from_checkpoint", "report_to", "push_to_hub", "hub_model_id", "seed", "eval_steps",
                     "sample_steps", "ema_decay", "device", "dataset_name", "data_dir", "eval_split", "image_column",
                     "label_column", "learning_rate", "lr_scheduler", "lr_warmup_steps", "max_train_steps",
                     "num_train_epochs", "train_batch_size"):  # fmt: skip
            assert flag in flags, (name, flag)
        assert "(default: " in help_text
        from hf_argen.training.arguments import DataArguments, RunArguments

        names = {f for cls in (DataArguments, RunArguments) for f in cls.__dataclass_fields__}
        shared = names if shared is None else shared
        assert names <= flags


def test_two_process_causal_lm_trains_the_tokenizer_once(tmp_path):
    """2 CPU processes: the main process trains and writes the tokenizer, the other waits and loads it."""
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or "accelerate"
    data = tmp_path / "texts.txt"
    data.write_text("\n".join(["the cat sat on the mat", "a dog ran in the park", "birds sing at dawn"] * 20))
    out = tmp_path / "out"
    run = run_process_group(
        [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision",
         "no", "--dynamo_backend", "no", str(ROOT / "training" / "train_causal_lm.py"), "--dataset_name", str(data),
         "--output_dir", str(out), "--tokenizer_vocab_size", "300", "--hidden_size", "16", "--num_hidden_layers",
         "1", "--num_attention_heads", "2", "--max_length", "16", "--train_batch_size", "2", "--max_train_steps",
         "2", "--eval_steps", "2", "--checkpointing_steps", "2", "--num_threads", "1", "--device", "cpu"],
        timeout=600, env=ENV,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr.count("training a BPE tokenizer") == 1
    assert (out / "checkpoint-2" / "random_states_1.pkl").is_file()  # really 2 processes
    assert (out / "tokenizer" / "tokenizer.json").is_file() and (out / "model.safetensors").is_file()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_flag_names_a_missing_device(tmp_path):
    from hf_argen.training import LoopArguments, make_accelerator

    with pytest.raises(ValueError, match="--device 'cuda'"):
        make_accelerator(LoopArguments(output_dir=str(tmp_path), device="cuda"))


def test_a_skipped_fp16_step_moves_neither_the_schedule_nor_the_ema(tmp_path, monkeypatch):
    """The grad scaler skips a step with inf/NaN gradients: the LR schedule and the EMA must not advance then."""
    from accelerate.optimizer import AcceleratedOptimizer

    from hf_argen.training import LoopArguments, TensorDictDataset, TrainingLoop

    steps = {"n": 0}
    optimizer_step = AcceleratedOptimizer.step

    def counting_step(self, closure=None):
        optimizer_step(self, closure)
        steps["n"] += self.gradient_state.sync_gradients

    monkeypatch.setattr(AcceleratedOptimizer, "step", counting_step)
    monkeypatch.setattr(AcceleratedOptimizer, "step_was_skipped", property(lambda self: steps["n"] in (2, 3)))
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    args = LoopArguments(
        output_dir=str(tmp_path),
        max_train_steps=5,
        train_batch_size=4,
        lr_scheduler="linear",
        checkpointing_steps=None,
        ema_decay=0.9,
        device="cpu",
    )
    loop = TrainingLoop(
        model,
        args,
        TensorDictDataset(x=torch.randn(32, 2)),
        compute_loss=lambda m, b: m(b["x"]).pow(2).mean(),
        save_fn=lambda m, out: None,
    )
    loop.train()
    assert steps["n"] == 5
    assert loop.lr_scheduler.scheduler.last_epoch == 3  # 5 optimizer steps, 2 skipped
    assert loop.lr_scheduler.get_last_lr()[0] == pytest.approx(args.learning_rate * (5 - 3) / 5)
    assert int(loop.ema.n_averaged) == 3


def test_a_checkpoint_of_the_earlier_loop_is_refused_naming_its_state_file(tmp_path):
    """Checkpoints of the earlier loop (`trainer_state.json`, schedule and EMA as custom pickles) are listed, and
    resuming one, by path or as `latest`, fails naming that file instead of starting anew over it."""
    from hf_argen.training import LoopArguments, TensorDictDataset, TrainingLoop, list_checkpoints, resolve_checkpoint

    old = tmp_path / "checkpoint-10"
    old.mkdir()
    (old / "trainer_state.json").write_text(json.dumps({"global_step": 10}))
    assert [step for step, _ in list_checkpoints(tmp_path)] == [10]
    for how in (str(old), "latest"):
        with pytest.raises(ValueError, match="trainer_state.json"):
            resolve_checkpoint(tmp_path, how)
    args = LoopArguments(output_dir=str(tmp_path), max_train_steps=2, checkpointing_steps=None, device="cpu",
                         resume_from_checkpoint="latest")  # fmt: skip
    loop = TrainingLoop(torch.nn.Linear(2, 1), args, TensorDictDataset(x=torch.zeros(32, 2)),
                        compute_loss=lambda m, b: m(b["x"]).sum(), save_fn=lambda m, out: None)  # fmt: skip
    with pytest.raises(ValueError, match="earlier version"):
        loop.train()
