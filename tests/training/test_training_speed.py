"""The loop's speed options keep its results: torch.compile == eager, channels_last == contiguous, bf16 ~ fp32,
plain state_dict keys in everything saved; and on CUDA (tests marked `cuda`, skipped without one): the same, fused
AdamW, no host synchronisation per step, a CPU generator with a CUDA model."""

import math
import warnings

import pytest
import torch
from safetensors.torch import load_file

from hf_argen.models import PixelCNNConfig, PixelCNNForImageGeneration
from hf_argen.recipes.pixelcnn import pixelcnn_loss
from hf_argen.training import LoopArguments, TensorDictDataset, TrainingLoop, load_checkpoint_weights
from hf_argen.training.loop import compile_enabled

CONFIG = dict(
    image_size=8,
    num_channels=1,
    num_levels=16,
    num_classes=3,
    hidden_size=8,
    num_hidden_layers=2,
    output_hidden_size=16,
    first_kernel_size=3,
)


@pytest.fixture(autouse=True)
def _fresh_accelerator_state():
    """Runs here use different Accelerator settings (bf16, CUDA): start from, and leave, a fresh state."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


class RecordingLoop(TrainingLoop):
    """The loop, keeping every logged training loss (exact floats)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.losses = []

    def _log(self, metrics, step):
        if "train_loss" in metrics:
            self.losses.append(metrics["train_loss"])
        super()._log(metrics, step)


def _data(num_images=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return TensorDictDataset(
        pixel_values=torch.randint(0, CONFIG["num_levels"], (num_images, 1, 8, 8), generator=generator),
        class_labels=torch.randint(0, CONFIG["num_classes"], (num_images,), generator=generator),
    )


def _train(output_dir, device="cpu", steps=4, **overrides):
    """`steps` optimizer steps of a tiny PixelCNN from a fixed initialisation; returns the loop (losses per step)."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)  # each run builds its own Accelerator settings
    torch.manual_seed(0)
    model = PixelCNNForImageGeneration(PixelCNNConfig(**CONFIG))
    options = dict(train_batch_size=16, learning_rate=1e-2, logging_steps=1, checkpointing_steps=None, device=device)
    args = LoopArguments(output_dir=str(output_dir), max_train_steps=steps, **{**options, **overrides})
    loop = RecordingLoop(model, args, _data(), compute_loss=pixelcnn_loss)
    loop.train()
    assert len(loop.losses) == steps
    return loop


def _assert_plain_keys(weights: dict, reference: dict):
    assert not [key for key in weights if "_orig_mod" in key or key.startswith("module.")]
    assert weights.keys() == reference.keys()


def test_torch_compile_flag_values(tmp_path):
    from hf_argen.recipes.pixelcnn import PixelCNNArguments
    from hf_argen.training.arguments import parse_training_args

    assert LoopArguments(output_dir=str(tmp_path)).torch_compile == "auto"
    assert LoopArguments(output_dir=str(tmp_path), torch_compile=True).torch_compile == "true"
    assert LoopArguments(output_dir=str(tmp_path), torch_compile=False).torch_compile == "false"
    with pytest.raises(ValueError, match="torch_compile"):
        LoopArguments(output_dir=str(tmp_path), torch_compile="sometimes")
    assert compile_enabled("auto", "cuda") and compile_enabled("auto", torch.device("cuda", 1))
    assert not compile_enabled("auto", "cpu") and not compile_enabled("false", "cuda")
    assert compile_enabled("true", "cpu")
    for argv, expected in (([], "auto"), (["--torch_compile"], "true"), (["--torch_compile", "false"], "false")):
        _, run, _ = parse_training_args(PixelCNNArguments, ["--output_dir", str(tmp_path), *argv])
        assert run.torch_compile == expected
    _, run, _ = parse_training_args(PixelCNNArguments, ["--output_dir", str(tmp_path), "--channels_last"])
    assert run.channels_last and run.loop_arguments().channels_last


def test_compiled_training_matches_eager_and_saves_plain_weights(tmp_path):
    """A few compiled steps (inductor on the CPU) give eager's losses; model, checkpoint and EMA keep plain keys."""
    common = dict(steps=3, ema_decay=0.9, checkpointing_steps=3)
    eager = _train(tmp_path / "eager", torch_compile="false", **common)
    compiled = _train(tmp_path / "compiled", torch_compile="true", **common)
    assert not eager.torch_compile and compiled.torch_compile
    assert compiled.train_model is not compiled.model  # the wrapper; the prepared module stays plain
    assert compiled.losses == pytest.approx(eager.losses, rel=1e-4)
    reference = load_file(str(tmp_path / "eager" / "model.safetensors"))
    saved = load_file(str(tmp_path / "compiled" / "model.safetensors"))
    _assert_plain_keys(saved, reference)
    for key in reference:
        torch.testing.assert_close(saved[key], reference[key], rtol=1e-3, atol=1e-4)
    checkpoint = tmp_path / "compiled" / "checkpoint-3"
    _assert_plain_keys(load_checkpoint_weights(checkpoint), dict(compiled.unwrapped_model.state_dict()))
    ema = load_checkpoint_weights(checkpoint, ema=True)
    _assert_plain_keys(ema, dict(compiled.unwrapped_model.state_dict()))
    loaded = PixelCNNForImageGeneration.from_pretrained(str(tmp_path / "compiled"))  # the EMA weights, saved
    for key, value in loaded.state_dict().items():
        if key in saved:
            torch.testing.assert_close(value, saved[key])


def test_channels_last_gives_the_same_losses(tmp_path):
    plain = _train(tmp_path / "plain")
    channels_last = _train(tmp_path / "channels_last", channels_last=True)
    weight = channels_last.unwrapped_model.pixelcnn.layers[1].vertical.weight
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    assert channels_last.losses == pytest.approx(plain.losses, rel=1e-4)
    saved = load_file(str(tmp_path / "channels_last" / "model.safetensors"))
    _assert_plain_keys(saved, load_file(str(tmp_path / "plain" / "model.safetensors")))


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_bf16_steps_give_finite_losses_close_to_fp32(tmp_path, device):
    fp32 = _train(tmp_path / "fp32", device=device, steps=5, torch_compile="false")
    bf16 = _train(tmp_path / "bf16", device=device, steps=5, torch_compile="false", mixed_precision="bf16")
    assert all(math.isfinite(loss) for loss in bf16.losses)
    assert bf16.losses == pytest.approx(fp32.losses, rel=2e-2)
    assert bf16.losses[-1] < bf16.losses[0]  # it learns


# ---------------------------------------------------------------------------------------------------------------
# CUDA only
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("mixed_precision", ["no", "bf16"])
def test_cuda_compiled_training_matches_eager(tmp_path, mixed_precision):
    eager = _train(tmp_path / "eager", device="cuda", torch_compile="false", mixed_precision=mixed_precision)
    compiled = _train(tmp_path / "compiled", device="cuda", mixed_precision=mixed_precision)  # auto: on for CUDA
    assert compiled.torch_compile and not eager.torch_compile
    tolerance = 1e-3 if mixed_precision == "no" else 2e-2
    assert compiled.losses == pytest.approx(eager.losses, rel=tolerance)
    saved = load_file(str(tmp_path / "compiled" / "model.safetensors"))
    _assert_plain_keys(saved, load_file(str(tmp_path / "eager" / "model.safetensors")))
    PixelCNNForImageGeneration.from_pretrained(str(tmp_path / "compiled"))


@pytest.mark.cuda
def test_cuda_loop_uses_fused_adamw(tmp_path):
    loop = _train(tmp_path, device="cuda", steps=1, torch_compile="false")
    assert loop.optimizer.optimizer.defaults["fused"] is True
    assert next(loop.unwrapped_model.parameters()).is_cuda


@pytest.mark.cuda
def test_cuda_loop_adds_no_host_sync_per_step(tmp_path):
    """Runs of 2 and 8 steps (one logging step each, at the end) make the same number of synchronising CUDA calls:
    the loop itself adds none per step. (A plain linear model: PixelCNN's input checks synchronise on their own.)"""
    from accelerate.state import AcceleratorState

    def count_syncs(steps):
        AcceleratorState._reset_state(reset_partial_state=True)
        torch.manual_seed(0)
        model = torch.nn.Linear(16, 4)
        args = LoopArguments(
            output_dir=str(tmp_path / f"steps-{steps}"),
            train_batch_size=8,
            max_train_steps=steps,
            logging_steps=1000,
            checkpointing_steps=None,
            device="cuda",
            torch_compile="false",
            ema_decay=0.9,
        )
        data = TensorDictDataset(x=torch.randn(256, 16), y=torch.randn(256, 4))
        loop = TrainingLoop(
            model,
            args,
            data,
            compute_loss=lambda m, batch: torch.nn.functional.mse_loss(m(batch["x"]), batch["y"]),
            save_fn=lambda model, folder: None,
        )
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                loop.train()
            finally:
                torch.cuda.set_sync_debug_mode("default")
        return sum("synchroniz" in str(w.message) for w in caught)

    count_syncs(2)  # warm-up: first-use allocations and library loads
    assert count_syncs(8) == count_syncs(2)


@pytest.mark.cuda
def test_cpu_generator_with_a_cuda_model_generates(tmp_path):
    torch.manual_seed(0)
    model = PixelCNNForImageGeneration(PixelCNNConfig(**CONFIG)).eval()
    cuda_model = PixelCNNForImageGeneration(PixelCNNConfig(**CONFIG)).eval()
    cuda_model.load_state_dict(model.state_dict())
    cuda_model.to("cuda")
    labels = torch.tensor([0, 1, 2, 0])
    first = cuda_model.generate(class_labels=labels, generator=torch.Generator().manual_seed(3))
    again = cuda_model.generate(class_labels=labels, generator=torch.Generator().manual_seed(3))
    assert first.device.type == "cuda" and first.dtype == torch.long and first.shape == (4, 1, 8, 8)
    assert 0 <= int(first.min()) and int(first.max()) < CONFIG["num_levels"]
    assert torch.equal(first, again)  # reproducible with a CPU generator
    # The uniforms are drawn on the CPU, so the CUDA model draws what the CPU model does: compared on the first
    # sub-pixel of each image (later ones condition on earlier draws, which a rounding difference may flip).
    on_cpu = model.generate(class_labels=labels, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first[:, 0, 0, 0].cpu(), on_cpu[:, 0, 0, 0])


def test_benchmark_training_script_times_bare_and_loop_steps(tmp_path, capsys, monkeypatch):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "benchmark_training.py"
    spec = importlib.util.spec_from_file_location("benchmark_training", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0 and "--device" in capsys.readouterr().out
    output = tmp_path / "speed.json"
    monkeypatch.setenv("TQDM_DISABLE", "1")  # (main sets it when unset; restored after the test)
    module.main(
        ["--device", "cpu", "--mixed_precision", "no", "--image_size", "8", "--num_levels", "16", "--hidden_size", "8",
         "--num_hidden_layers", "1", "--output_hidden_size", "16", "--batch_size", "4", "--warmup_steps", "2",
         "--steps", "2", "--log_every", "2", "--output_json", str(output)]
    )  # fmt: skip
    result = json.loads(output.read_text())
    assert [row["step"] for row in result["rows"]] == ["bare", "loop"]
    assert all(row["images_per_s"] > 0 for row in result["rows"]) and result["loop_over_bare"] > 0
    assert result["torch_compile"] is False  # auto: off on the CPU
    assert "| loop |" in capsys.readouterr().out


def test_sync_free_ema_matches_averaged_model():
    """The loop's EMA (counter read on the CPU) updates exactly as `torch.optim.swa_utils.AveragedModel`."""
    from torch.optim.swa_utils import AveragedModel

    from hf_argen.training.loop import ema_multi_avg_fn, make_ema

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    ours, reference = make_ema(model, 0.9), AveragedModel(model, multi_avg_fn=ema_multi_avg_fn(0.9), use_buffers=True)
    for _ in range(4):
        model.train()(torch.randn(8, 4))  # moves the BatchNorm statistics and its integer counter
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter))
        ours.update_parameters(model)
        reference.update_parameters(model)
    assert ours.state_dict().keys() == reference.state_dict().keys()
    for key, value in reference.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    assert ours.n_averaged.device.type == "cpu"
