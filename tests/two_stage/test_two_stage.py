"""The two-stage model (VQ-VAE + prior in one PreTrainedModel), the image generation pipeline, remote code without
hf_argen, generators on any device, and the copies of model modules that travel with saved folders."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from tiny_models import NUM_CODES, PRIORS, TWO_STAGE_VQVAE, save_with_pipeline, tiny_pixelcnn, tiny_two_stage
from transformers import AutoImageProcessor, AutoModel, pipeline

from hf_argen import (
    ClassConditionalImageGenerationPipeline,
    PixelCNNImageProcessor,
    VQImageGenerationPipeline,
    VQVAEConfig,
    VQVAEPriorConfig,
    VQVAEPriorForImageGeneration,
)
from hf_argen.models import TASK
from hf_argen.models.sampling_utils import make_generator, rand_tensor

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("prior_type", ["transformer", "rnn", "pixelcnn"])
def test_generate_images_codes_and_pil(prior_type):
    model = tiny_two_stage(prior_type)
    pixels = model.generate(class_labels=[0, 3, 9], generator=torch.Generator().manual_seed(0))
    assert pixels.shape == (3, 1, 28, 28) and pixels.min() >= -1 and pixels.max() <= 1
    codes = model.generate(class_labels=[0, 3, 9], generator=torch.Generator().manual_seed(0), output_type="codes")
    assert codes.shape == (3, 7, 7) and codes.max() < NUM_CODES
    assert torch.equal(model.decode(codes), pixels)
    images = model.generate(class_labels=["one", 2], seed=1, output_type="pil")
    assert len(images) == 2 and images[0].size == (28, 28) and images[0].mode == "L"
    assert model.generate(class_labels=4, num_images=3, seed=0, output_type="codes").shape == (3, 7, 7)
    loss = model(torch.tensor([0, 1]), codes[:2]).loss
    assert torch.isfinite(loss)


def test_class_names_and_their_errors(two_stage):
    by_name = two_stage.generate(class_labels=["three", "nine"], seed=2, output_type="codes")
    assert torch.equal(by_name, two_stage.generate(class_labels=[3, 9], seed=2, output_type="codes"))
    with pytest.raises(ValueError, match="'zero', 'one'"):
        two_stage.generate(class_labels=["circle"])
    pixelcnn = tiny_pixelcnn()
    assert torch.equal(pixelcnn.generate(class_labels=["square", "circle"], seed=0),
                       pixelcnn.generate(class_labels=[1, 0], seed=0))  # fmt: skip
    with pytest.raises(ValueError, match="'circle', 'square', 'x'"):
        pixelcnn.generate(class_labels=["triangle"])


def test_sub_models_save_and_load_alone(tmp_path, two_stage):
    two_stage.vqvae.save_pretrained(tmp_path / "vqvae")
    two_stage.prior.save_pretrained(tmp_path / "prior")
    vqvae = AutoModel.from_pretrained(tmp_path / "vqvae")
    assert all(torch.equal(a, b) for a, b in zip(vqvae.state_dict().values(), two_stage.vqvae.state_dict().values()))
    from transformers import AutoModelForCausalLM

    prior = AutoModelForCausalLM.from_pretrained(tmp_path / "prior")
    ids = torch.randint(0, NUM_CODES, (2, 5))
    torch.testing.assert_close(prior(ids).logits, two_stage.prior(ids).logits)


def test_bad_configs_raise():
    with pytest.raises(ValueError, match="vocab_size"):
        VQVAEPriorConfig(vqvae=VQVAEConfig(**TWO_STAGE_VQVAE), prior=dict(PRIORS["transformer"], vocab_size=99))
    with pytest.raises(ValueError, match="num_levels"):
        VQVAEPriorConfig(vqvae=VQVAEConfig(**TWO_STAGE_VQVAE), prior=dict(PRIORS["pixelcnn"], num_levels=3))
    with pytest.raises(ValueError, match="model types"):
        VQVAEPriorConfig(vqvae=VQVAEConfig(**TWO_STAGE_VQVAE), prior=dict(model_type="vit"))  # not a causal LM
    with pytest.raises(ValueError, match="model types"):
        VQVAEPriorConfig(vqvae=VQVAEConfig(**TWO_STAGE_VQVAE), prior=dict(model_type="no_such_model"))
    with pytest.raises(ValueError, match="output_type"):
        tiny_two_stage().generate([0], output_type="numpy")


@pytest.mark.parametrize("kind", ["pixelcnn", "two_stage"])
def test_pipeline_local_without_remote_code(tmp_path, kind):
    model = tiny_pixelcnn() if kind == "pixelcnn" else tiny_two_stage()
    folder = save_with_pipeline(model, tmp_path / kind)
    config = json.loads((folder / "config.json").read_text())
    assert "pipeline_image_generation.py" in os.listdir(folder) and config["custom_pipelines"]
    assert json.loads((folder / "generation_config.json").read_text())["do_sample"] is True
    generator = pipeline(TASK, model=str(folder))
    assert type(generator) is ClassConditionalImageGenerationPipeline
    labels = ["circle", 2] if kind == "pixelcnn" else ["one", 2]
    images = generator(class_labels=labels, num_images=2, seed=0, temperature=0.9, top_k=3, top_p=0.9)
    size = 4 if kind == "pixelcnn" else 28
    assert len(images) == 4 and images[0].size == (size, size)
    again = generator(class_labels=labels, num_images=2, seed=0, temperature=0.9, top_k=3, top_p=0.9)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(images, again))
    assert len(generator()) == 10 if kind == "two_stage" else 3  # every class by default


def test_generator_on_another_device_is_drawn_there_and_moved():
    generator = make_generator(seed=3)  # the one place an int seed becomes a generator
    assert generator.device.type == "cpu"
    expected = torch.rand((2, 3), generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(rand_tensor((2, 3), generator, "cpu"), expected)
    assert make_generator(None) is None
    with pytest.raises(ValueError, match="generator"):
        make_generator("seed")
    with pytest.raises(ValueError, match="seed=3"):
        make_generator(3)


@pytest.mark.parametrize("kind", ["transformer", "rnn", "pixelcnn", "pixelcnn_model"])
def test_seed_and_generator_are_reproducible_and_the_global_rng_is_untouched(kind):
    """`seed=s` is `generator=torch.Generator().manual_seed(s)` where sampling draws from a generator (PixelCNNs); a
    causal LM prior's `generate()` draws from a forked global RNG seeded with `s` (so shipped figures measured with
    a seed stay). Either way the same seed gives the same samples, a reused generator keeps drawing new ones, the
    pipeline passes both through, and nothing touches the global RNG."""
    model = tiny_pixelcnn() if kind == "pixelcnn_model" else tiny_two_stage(kind)
    labels = [0, 1, 2]
    state = torch.random.get_rng_state()
    by_seed = model.generate(class_labels=labels, seed=3)
    assert torch.equal(model.generate(class_labels=labels, seed=3), by_seed)
    by_generator = model.generate(class_labels=labels, generator=torch.Generator().manual_seed(3))
    assert torch.equal(model.generate(class_labels=labels, generator=torch.Generator().manual_seed(3)), by_generator)
    assert torch.equal(by_generator, by_seed) == (kind in ("pixelcnn", "pixelcnn_model"))
    generator = torch.Generator().manual_seed(3)
    model.generate(class_labels=labels, generator=generator)
    assert not torch.equal(model.generate(class_labels=labels, generator=generator), by_generator)
    assert torch.equal(torch.random.get_rng_state(), state)
    pipe = pipeline(TASK, model=model)
    for call in (dict(seed=5), dict(generator=torch.Generator().manual_seed(5))):
        images = pipe(class_labels=labels, **call)
        call = {k: (torch.Generator().manual_seed(5) if k == "generator" else v) for k, v in call.items()}
        expected = model.generate(class_labels=labels, **call)
        again = pipe.postprocess({"levels" if kind == "pixelcnn_model" else "pixels": expected})
        assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(images, again))
    with pytest.raises(ValueError, match="seed=5"):
        pipe(class_labels=labels, generator=5)


def test_pixelcnn_prior_saved_before_the_backbone_split_loads_unchanged(tmp_path):
    """A two-stage folder written before `PixelCNNModel` existed holds `prior.layers.*`; it loads into
    `prior.pixelcnn.*` (`legacy_key_mapping`), every tensor in place. As `transformers` does with every key mapping
    it applied, saving writes the layout the weights came in; a folder in the new layout keeps it."""
    model = tiny_two_stage("pixelcnn")
    model.save_pretrained(tmp_path / "old")
    weights = tmp_path / "old" / "model.safetensors"
    tensors = load_file(str(weights))
    save_file({key.replace("prior.pixelcnn.", "prior."): value for key, value in tensors.items()}, str(weights),
              metadata={"format": "pt"})  # fmt: skip
    assert not any(key.startswith("prior.pixelcnn.") for key in load_file(str(weights)))
    loaded = VQVAEPriorForImageGeneration.from_pretrained(tmp_path / "old")
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    codes = model.generate(class_labels=[1, 4], seed=0, output_type="codes")
    assert torch.equal(loaded.generate(class_labels=[1, 4], seed=0, output_type="codes"), codes)
    loaded.save_pretrained(tmp_path / "resaved")
    assert set(load_file(str(tmp_path / "resaved" / "model.safetensors"))) == set(load_file(str(weights)))
    reloaded = VQVAEPriorForImageGeneration.from_pretrained(tmp_path / "resaved")
    assert torch.equal(reloaded.generate(class_labels=[1, 4], seed=0, output_type="codes"), codes)
    model.save_pretrained(tmp_path / "new")
    VQVAEPriorForImageGeneration.from_pretrained(tmp_path / "new").save_pretrained(tmp_path / "new_resaved")
    assert set(load_file(str(tmp_path / "new_resaved" / "model.safetensors"))) == set(tensors)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("kind", ["pixelcnn", "transformer", "pixelcnn_prior"])
def test_cuda_model_with_cpu_generator_cuda_generator_and_seed(kind):
    model = tiny_pixelcnn() if kind == "pixelcnn" else tiny_two_stage(kind.replace("_prior", ""))
    labels = [0, 1, 2]
    cpu = model.generate(class_labels=labels, generator=torch.Generator().manual_seed(0))
    model.to("cuda")
    on_cuda = model.generate(class_labels=labels, generator=torch.Generator().manual_seed(0))
    assert on_cuda.device.type == "cuda"
    if kind == "pixelcnn":  # same uniforms -> the same levels, up to rare float ties
        assert (on_cuda.cpu() == cpu).float().mean() > 0.9
    model.generate(class_labels=labels, generator=torch.Generator(device="cuda").manual_seed(0))
    model.generate(class_labels=labels, seed=0)
    generator = pipeline(TASK, model=model, device="cuda")
    assert len(generator(class_labels=[0, 1], generator=torch.Generator().manual_seed(0))) == 2


def test_remote_code_models_pipelines_and_image_processor_without_hf_argen(tmp_path, run_without_hf_argen):
    folders, expected = {}, {}
    for kind in ["transformer", "rnn", "pixelcnn"]:
        model = tiny_two_stage(kind)
        folders[kind] = str(save_with_pipeline(model, tmp_path / kind))
        expected[kind] = model.generate(class_labels=[1, "two"], seed=4, output_type="codes")
    pixelcnn = tiny_pixelcnn()
    folders["pixelcnn_model"] = str(save_with_pipeline(pixelcnn, tmp_path / "pixelcnn_model"))
    expected["pixelcnn_model"] = pixelcnn.generate(class_labels=["x", 0], seed=4)
    torch.save(expected, tmp_path / "expected.pt")
    result = run_without_hf_argen(
        f"""
        import numpy as np, torch
        from transformers import AutoImageProcessor, AutoModel, pipeline
        folders, expected = {folders!r}, torch.load("expected.pt")
        for kind, folder in folders.items():
            model = AutoModel.from_pretrained(folder, trust_remote_code=True)
            assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
            if kind == "pixelcnn_model":
                samples = model.generate(class_labels=["x", 0], seed=4)
            else:
                samples = model.generate(class_labels=[1, "two"], seed=4, output_type="codes")
            assert torch.equal(samples, expected[kind]), kind
            images = pipeline(model=folder, trust_remote_code=True)(class_labels=[0, 1], num_images=2, seed=0)
            assert len(images) == 4, kind
        processor = AutoImageProcessor.from_pretrained(folders["pixelcnn_model"], trust_remote_code=True)
        assert type(processor).__module__.startswith("transformers_modules")
        levels = processor(np.zeros((4, 4), dtype=np.uint8))["pixel_values"]
        assert levels.shape == (1, 1, 4, 4) and levels.dtype == torch.long
        print("REMOTE_OK")
    """,
        tmp_path,
    )
    assert "REMOTE_OK" in result.stdout, result.stderr[-3000:]


def test_auto_image_processor_locally(tmp_path):
    folder = save_with_pipeline(tiny_pixelcnn(), tmp_path / "m")
    assert json.loads((folder / "preprocessor_config.json").read_text())["auto_map"]["AutoImageProcessor"]
    assert (folder / "image_processing_pixelcnn.py").is_file()
    assert isinstance(AutoImageProcessor.from_pretrained(folder), PixelCNNImageProcessor)


def run_command(name, *args, env_extra=None):
    """`hf-argen <name> ...` in a subprocess (as `python -m hf_argen.cli`, which needs no installed entry point)."""
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "hf_argen.cli", name, *args], capture_output=True, text=True,
                          env=env, timeout=600)  # fmt: skip


def test_generate_cli_samples_every_kind_and_refuses_the_rest(tmp_path, hf_argen_cli):
    folder = save_with_pipeline(tiny_two_stage(), tmp_path / "two_stage")
    status, _, err = hf_argen_cli("generate", "--model", str(folder), "--class_labels", "one", "3", "--num_images", "2",
                                  "--device", "cpu", "--output", str(tmp_path / "grid.png"))  # fmt: skip
    assert status == 0 and (tmp_path / "grid.png").is_file(), err[-2000:]
    tiny_two_stage().vqvae.save_pretrained(tmp_path / "vqvae")
    for args in (["--model", str(tmp_path / "vqvae")], ["--model", str(folder), "--class_labels", "banana"]):
        status, _, err = hf_argen_cli("generate", *args, "--output", str(tmp_path / "x.png"))
        lines = [line for line in err.splitlines() if "Loading weights" not in line and line.strip()]
        assert status == 2 and len(lines) == 1 and lines[0].startswith("error: "), err[-2000:]


def test_push_script_dry_run_and_unreachable_hub(tmp_path, hf_argen_cli):
    """The dry run lists what would be uploaded (no checkpoints); an unreachable Hub (an endpoint read when
    `huggingface_hub` is imported, hence a subprocess) is one line and exit status 2."""
    folder = save_with_pipeline(tiny_pixelcnn(), tmp_path / "m")
    (folder / "checkpoint-1").mkdir()
    (folder / "checkpoint-1" / "optimizer.bin").write_bytes(b"x")
    status, out, _ = hf_argen_cli("push", "--model", str(folder), "--hub_model_id", "me/m", "--dry_run")
    assert status == 0 and "config.json" in out and "checkpoint" not in out
    done = run_command("push", "--model", str(folder), "--hub_model_id", "me/m",
                      env_extra={"HF_ENDPOINT": "http://127.0.0.1:9", "HF_TOKEN": "hf_x", "HF_HUB_OFFLINE": "0",
                                 "HF_HOME": str(tmp_path / "hf")})  # fmt: skip
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0 and "cannot reach" in done.stderr, done.stderr


def test_combining_a_trained_prior_leaves_its_attention_implementation(two_stage):
    """Building the two-stage model (or its pipeline) around a prior keeps the prior's `_attn_implementation` (a
    composite config resets its parts'; the prior then ran without one and `transformers` warned)."""
    vqvae, prior = two_stage.vqvae, two_stage.prior
    assert prior.config._attn_implementation == "sdpa"
    VQImageGenerationPipeline(vqvae=vqvae, prior=prior, num_classes=10)
    VQVAEPriorForImageGeneration(vqvae=vqvae, prior=prior)
    assert prior.config._attn_implementation == "sdpa"
