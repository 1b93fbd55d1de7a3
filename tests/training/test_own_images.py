"""A user's own images, end to end: a VQ-VAE and a prior on an image folder (RGB or grey, with or without class
subfolders), errors a user can read (under `python` and under `accelerate launch`), and every flag explained."""

import importlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from entry_points import load_entry_point
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ("pixelcnn", "vqvae", "prior", "causal_lm", "captioner")


@pytest.mark.parametrize("name", RECIPES)
def test_every_training_flag_says_what_it_means_and_its_default(name):
    """`--help` of every training script gives each flag a meaning and its default."""
    from hf_argen.training.arguments import training_parser

    module = load_entry_point(name)
    recipe = importlib.import_module(f"hf_argen.recipes.{'captioning' if name == 'captioner' else name}")
    arguments = next(v for k, v in vars(module).items() if k.endswith("Arguments"))
    parser = training_parser(arguments, module.__doc__, **recipe.TRAINING_DEFAULTS)
    formatter = parser._get_formatter()
    silent = [a.option_strings[0] for a in parser._actions if a.option_strings and a.dest != "help" and not a.help]
    assert not silent, f"train_{name}.py: flags without help: {silent}"
    no_default = [a.option_strings[0] for a in parser._actions if a.option_strings and a.dest != "help"
                  and "default" not in (formatter._expand_help(a) if a.help else "")]  # fmt: skip
    assert not no_default, f"train_{name}.py: flags whose help shows no default: {no_default}"


# ---- errors a user can read -----------------------------------------------------------------------------------------
def run_entry_point(name, argv, capsys):
    """`training/train_<name>.py ARGV` in this process as `python` runs it: (exit status, stderr)."""
    from hf_argen.cli import run_cli

    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(load_entry_point(name).main, argv)
    return exit_info.value.code, capsys.readouterr().err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and "Loading weights" not in line]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--dataset_name", "/no/such/folder"], "--dataset_name '/no/such/folder': the folder"),
        (["--dataset_name", "./no_such_folder:test"], "does not exist"),
        (["--init_model", "./no/such/model"], "--init_model './no/such/model': the folder './no/such/model' does not"),
        (["--architecture", "diagonal"], "--architecture: invalid choice"),
        (["--push_to_hub"], "--push_to_hub needs --hub_model_id"),
    ],
)
def test_a_bad_training_flag_is_one_error_line_before_training(argv, fragment, tmp_path, capsys, monkeypatch):
    import hf_argen.recipes.pixelcnn as recipe

    monkeypatch.setattr(recipe, "make_accelerator", lambda *a: pytest.fail("training started"))
    code, err = run_entry_point("pixelcnn", ["--output_dir", str(tmp_path), *argv], capsys)
    assert code == 2 and fragment in one_error_line(err)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_a_missing_device_is_one_error_line_before_training(tmp_path, capsys, monkeypatch):
    import hf_argen.recipes.vqvae as recipe

    monkeypatch.setattr(recipe, "make_accelerator", lambda *a: pytest.fail("training started"))
    code, err = run_entry_point("vqvae", ["--output_dir", str(tmp_path), "--device", "cuda"], capsys)
    assert code == 2 and "--device 'cuda': CUDA is not available" in one_error_line(err)


def test_push_to_hub_checks_the_token_before_training(tmp_path, capsys, monkeypatch):
    """No token, or one the Hub refuses: one line before any training; a good one is asked of the Hub once."""
    import httpx
    import huggingface_hub
    from huggingface_hub.errors import HfHubHTTPError

    import hf_argen.recipes.pixelcnn as recipe

    monkeypatch.setattr(recipe, "make_accelerator", lambda *a: pytest.fail("training started"))
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    push = ["--output_dir", str(tmp_path), "--push_to_hub", "--hub_model_id", "me/model"]
    code, err = run_entry_point("pixelcnn", push, capsys)
    assert code == 2 and "no Hub token" in one_error_line(err)

    def refuse(token=None):
        request = httpx.Request("GET", "https://huggingface.co/api/whoami-v2")
        raise HfHubHTTPError("401 Client Error: Unauthorized", response=httpx.Response(401, request=request))

    monkeypatch.setattr(huggingface_hub, "whoami", refuse)
    code, err = run_entry_point("pixelcnn", [*push, "--hub_token", "hf_bad"], capsys)
    assert code == 2 and "the Hub refused the token (401" in one_error_line(err)
    asked = []
    monkeypatch.setattr(huggingface_hub, "whoami", lambda token=None: asked.append(token) or {"name": "me"})
    with pytest.raises(pytest.fail.Exception, match="training started"):
        load_entry_point("pixelcnn").main([*push, "--hub_token", "hf_good"])
    assert asked == ["hf_good"]


def test_a_mistyped_local_model_path_is_named_without_asking_the_hub(tmp_path, capsys, monkeypatch):
    """`--model` that can only be a path, and does not exist: one line naming the folder, no Hub call; a Hub-like id
    that is no folder: one request without retries, and an error that says both were looked for."""
    import huggingface_hub

    from hf_argen.cli import main as cli
    from hf_argen.hub import looks_like_local_path

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    calls = []

    def unreachable(self, repo_id, **kwargs):
        calls.append(repo_id)
        raise ConnectionError("no network")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", unreachable)
    for model in ("/absolute/path/that/does/not/exist", "./model_card/pixelcnn-digits", "~/no_such_model",
                  "tests/no_such_model", "model:card"):  # fmt: skip
        assert looks_like_local_path(model)
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["generate", "--model", model, "--output", str(tmp_path / "x.png")])
        assert exit_info.value.code == 2
        assert f"--model {model!r}: the folder" in one_error_line(capsys.readouterr().err)
    assert calls == []
    assert not looks_like_local_path("model_card/pixelcnn-digits")  # a valid Hub id; its namespace is no folder
    with pytest.raises(SystemExit):
        cli.main(["generate", "--model", "model_card/pixelcnn-digits", "--output", str(tmp_path / "x.png")])
    line = one_error_line(capsys.readouterr().err)
    assert "no such local folder, and the Hub could not be reached" in line and calls == ["model_card/pixelcnn-digits"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit):
        cli.main(["generate", "--model", str(empty)])
    assert "is a folder without config.json" in one_error_line(capsys.readouterr().err)


def test_errors_under_the_documented_launchers_are_one_line(tmp_path):
    """What a user sees: `python training/train_*.py` (one process): one line, status 2; `accelerate launch --quiet`
    (the launcher of several processes; one here, with its defaults given): the child's one line, status 1."""
    import os
    import shutil
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HOME": str(tmp_path / "hf_home"), "OMP_NUM_THREADS": "1"}
    flags = ["--dataset_name", "/no/such/folder", "--output_dir", str(tmp_path / "out")]
    script = str(ROOT / "training" / "train_vqvae.py")
    plain = subprocess.run([sys.executable, script, *flags], env=env, capture_output=True, text=True, timeout=300)
    assert plain.returncode == 2 and "'/no/such/folder' does not exist" in one_error_line(plain.stderr)
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or "accelerate"
    launcher = [accelerate, "launch", "--quiet", "--num_processes", "1", "--num_machines", "1", "--mixed_precision",
                "no", "--dynamo_backend", "no", "--num_cpu_threads_per_process", "1"]  # fmt: skip
    launched = subprocess.run([*launcher, script, *flags], env=env, capture_output=True, text=True, timeout=300)
    assert launched.returncode == 1 and one_error_line(launched.stderr) == one_error_line(plain.stderr)
    assert not launched.stdout.strip()


# ---- the captioner on a folder with only training images -----------------------------------------------------------
def caption_folder(root: Path, count: int = 20) -> Path:
    """An imagefolder without splits: `metadata.jsonl` captions "a red square" / "a blue square" (3 words)."""
    root.mkdir(parents=True)
    rows = []
    for i in range(count):
        colour = ("red", "blue")[i % 2]
        array = np.full((16, 16, 3), 255, np.uint8)
        array[4:12, 4:12] = (220, 30, 30) if colour == "red" else (30, 30, 220)
        Image.fromarray(array).save(root / f"{i}.png")
        rows.append(json.dumps({"file_name": f"{i}.png", "text": f"a {colour} square"}))
    (root / "metadata.jsonl").write_text("\n".join(rows) + "\n")
    return root


def test_captioner_training_writes_its_card_and_evaluation_uses_the_held_out_images(tmp_path, capsys):
    """No --push_to_hub: the card is written anyway; `hf-argen evaluate` on a folder with only training images
    evaluates the images training held out (every 10th) and says why BLEU-4 is 0 for 3-word captions; `--split test`
    names the splits there are."""
    from huggingface_hub import ModelCard

    from hf_argen.cli import main as cli

    data, out = caption_folder(tmp_path / "captions"), tmp_path / "captioner"
    load_entry_point("captioner").main(
        ["--dataset_name", str(data), "--output_dir", str(out), "--max_train_steps", "2", "--image_size", "16",
         "--encoder_channels", "8", "--hidden_size", "16", "--num_hidden_layers", "1", "--num_attention_heads", "2",
         "--train_batch_size", "6", "--num_threads", "1", "--eval_exact_match_samples", "2"]
    )  # fmt: skip
    card = ModelCard.load(out / "README.md")
    assert {r.metric_type for r in card.data.eval_results} == {"exact_match", "bleu4"}
    assert 'pipeline("image-to-text", model="your-name/captioner"' in card.text
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", "--model", str(out), "--dataset_name", str(data), "--output_json", "-"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    rows = json.loads(printed.strip().splitlines()[-1])
    assert [(r["split"], r["num_images"]) for r in rows] == [("validation", 2)]  # images 0 and 10
    assert "BLEU-4 counts matching 4-word sequences" in printed and rows[0]["mean_reference_words"] == 3
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", "--model", str(out), "--dataset_name", str(data), "--split", "test"])
    line = one_error_line(capsys.readouterr().err)
    assert exit_info.value.code == 2 and "no 'test' split (it has ['train', 'validation'])" in line


# ---- the newcomer's path: own folder -> VQ-VAE -> prior -> generate by class name -> the card's snippet -------------
TINY_VQVAE = ["--num_embeddings", "16", "--embedding_dim", "4", "--hidden_size", "8", "--residual_hidden_size", "4",
              "--num_residual_layers", "1", "--train_batch_size", "8", "--max_train_steps", "3",
              "--num_threads", "1"]  # fmt: skip
TINY_PRIOR = ["--hidden_size", "16", "--num_hidden_layers", "1", "--num_attention_heads", "2",
              "--train_batch_size", "8", "--max_train_steps", "2", "--lr_warmup_steps", "0",
              "--num_threads", "1"]  # fmt: skip


def image_folder(root: Path, mode: str, classes: tuple = ("blue", "red"), per_class: int = 10) -> Path:
    """16x16 squares in class subfolders (or, with `classes=()`, 20 images in the folder itself), RGB or grey."""
    rng = np.random.default_rng(0)
    for name in classes or ("",):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class if classes else 20):
            array = np.full((16, 16, 3), 255, np.uint8)
            x, y = rng.integers(1, 9, 2)
            array[y : y + 6, x : x + 6] = (30, 30, 220) if name == "blue" else (220, 30, 30)
            Image.fromarray(array).convert(mode).save(root / name / f"{i}.png")
    return root


def test_own_rgb_folder_end_to_end(tmp_path, capsys, monkeypatch):
    """RGB class subfolders -> VQ-VAE (channels and size read from the data) -> prior on the VQ-VAE's own data
    (no --dataset_name; codes cached, a second run encodes nothing) -> `hf-argen generate` by class name -> the card's
    snippet, run as written once the placeholder id is this folder."""
    from hf_argen import VQVAEModel
    from hf_argen.cli import main as cli

    data = image_folder(tmp_path / "shapes", "RGB")
    vqvae, prior, cache = tmp_path / "vqvae", tmp_path / "prior", tmp_path / "cache"
    load_entry_point("vqvae").main(["--dataset_name", str(data), "--output_dir", str(vqvae), *TINY_VQVAE])
    config = json.loads((vqvae / "config.json").read_text())
    assert (config["num_channels"], config["image_size"]) == (3, 16)
    assert "16x16x3 image" in (vqvae / "README.md").read_text()
    assert json.loads((vqvae / "training_info.json").read_text())["data"]["dataset_name"] == str(data.resolve())
    run = ["--vqvae", str(vqvae), "--output_dir", str(prior), "--cache_dir", str(cache), *TINY_PRIOR]
    monkeypatch.chdir(tmp_path / "shapes" / "red")  # the recorded folder holds from anywhere
    load_entry_point("prior").main(run)
    info = json.loads((prior / "training_info.json").read_text())
    assert info["data"]["dataset_name"] == str(data.resolve())
    config = json.loads((prior / "config.json").read_text())
    assert config["id2label"] == {"0": "blue", "1": "red"} and config["vqvae"]["num_channels"] == 3
    with monkeypatch.context() as patch:  # the second run reads the cache
        patch.setattr(VQVAEModel, "encode", lambda *a, **k: pytest.fail("encoded again"))
        load_entry_point("prior").main([*run, "--output_dir", str(tmp_path / "prior2")])
    assert len(list(cache.iterdir())) == 1
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["generate", "--model", str(prior), "--class_labels", "red", "blue", "--num_images", "2",
                  "--output", str(tmp_path / "grid.png")])  # fmt: skip
    assert exit_info.value.code == 0 and "saved 4 samples (2 per row)" in capsys.readouterr().out
    card = (prior / "README.md").read_text()
    snippet = re.search(r"## Usage\n\n```python\n(.*?)```", card, re.S).group(1)
    assert "your-name/prior" in snippet and str(tmp_path) not in snippet
    names = {}
    exec(compile(snippet.replace("your-name/prior", str(prior)), "README.md", "exec"), names)
    assert names["pixels"].shape == (2, 3, 16, 16) and len(names["images"]) == 4


def test_own_grey_folder_without_classes_and_a_vqvae_without_a_record(tmp_path, capsys):
    """Grey images, no class subfolders: a 1-channel VQ-VAE and a one-class prior; a VQ-VAE whose data is not
    recorded makes the prior ask for --dataset_name in one line."""
    data = image_folder(tmp_path / "grey", "L", classes=())
    vqvae, prior = tmp_path / "vqvae", tmp_path / "prior"
    load_entry_point("vqvae").main(["--dataset_name", str(data), "--output_dir", str(vqvae), *TINY_VQVAE])
    assert json.loads((vqvae / "config.json").read_text())["num_channels"] == 1
    load_entry_point("prior").main(["--vqvae", str(vqvae), "--output_dir", str(prior), "--cache_dir",
                                    str(tmp_path / "cache"), *TINY_PRIOR])  # fmt: skip
    assert json.loads((prior / "config.json").read_text())["num_classes"] == 1
    (vqvae / "training_info.json").unlink()
    code, err = run_entry_point("prior", ["--vqvae", str(vqvae), "--output_dir", str(prior)], capsys)
    assert code == 2 and "--dataset_name is required: the VQ-VAE" in one_error_line(err)


# ---- small things a user trips on -----------------------------------------------------------------------------------
def test_class_names_empty_labels_and_seeds_are_refused_by_name():
    """A config without names offers its ids (not transformers' two `LABEL_*` placeholders for three classes); an
    empty `class_labels` and a negative seed are refused by name (the pipeline and the demo agree)."""
    import torch

    from hf_argen import ClassConditionalImageGenerationPipeline, PixelCNNConfig, PixelCNNForImageGeneration

    config = PixelCNNConfig(image_size=4, num_classes=3, hidden_size=4, num_hidden_layers=1, output_hidden_size=4,
                            first_kernel_size=3)  # fmt: skip
    model = PixelCNNForImageGeneration(config).eval()
    with pytest.raises(ValueError, match=r"this model's classes are: '0', '1', '2'\.$"):
        model.generate(class_labels=["LABEL_2"], seed=0)
    assert torch.equal(model.generate(class_labels=["2"], seed=0), model.generate(class_labels=[2], seed=0))
    with pytest.raises(ValueError, match="`class_labels` is empty"):
        model.generate(class_labels=[], seed=0)
    pipe = ClassConditionalImageGenerationPipeline(model=model)
    with pytest.raises(ValueError, match=r"`seed` must be in \[0, 2\*\*64\), got -1"):
        pipe(class_labels=[0], seed=-1)


def test_text_samples_are_printed_apart(tmp_path, capsys):
    from tiny_models import make_model
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    from hf_argen.cli import main as cli

    model = make_model("gru")
    model.save_pretrained(tmp_path / "lm")
    vocabulary = {f"w{i}": i for i in range(model.config.vocab_size)}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocabulary, "w0")))
    tokenizer.save_pretrained(tmp_path / "lm")
    with pytest.raises(SystemExit):
        cli.main(["generate", "--model", str(tmp_path / "lm"), "--prompt", "w5", "--num_images", "2",
                  "--max_new_tokens", "3"])  # fmt: skip
    out = capsys.readouterr().out
    assert "--- sample 1 of 2 ---\n" in out and "\n--- sample 2 of 2 ---\n" in out
