"""The `hf-argen` command and the scripts' shared dialect: `--help` with defaults, `--device`, `--output_json`,
one-line errors (exit status 2).

Subcommands and scripts run in-process (a subprocess costs seconds here); a few subprocesses check what a user sees
on the command line (`python -m hf_argen.cli` is the installed `hf-argen`).
"""

import dataclasses
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration
from hf_argen.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = sorted(cli.COMMANDS)
# (folder, script) of the scripts that stay scripts: speed, experiments, maintainer tools
MODEL_SCRIPTS = [
    ("benchmarks", "benchmark_emoji_generators"),
    ("benchmarks", "benchmark_evaluation"),
    ("benchmarks", "benchmark_generate"),
    ("benchmarks", "benchmark_sampling"),
    ("experiments", "compare_quantizers"),
    ("experiments", "emoji_caption_errors"),
    ("experiments", "receptive_field"),
]
# scripts with no model to run (or none on a device): the same dialect without --device
OTHER_SCRIPTS = [("benchmarks", "benchmark_captioner_step"), ("scripts", "render_svg_emoji")]


def load_script(folder: str, name: str):
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_in_process(argv, capsys):
    """`hf-argen ARGV` in this process: (exit status, stderr)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    return exit_info.value.code, capsys.readouterr().err


def one_error_line(err: str) -> list[str]:
    lines = [line for line in err.splitlines() if line.strip() and "Loading weights" not in line]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines


# ---- the command ---------------------------------------------------------------------------------------------------
def test_console_script_and_command_count():
    """`pip install -e .` installs `hf-argen`; it and the training entry points are at most 10 commands."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '[project.scripts]\nhf-argen = "hf_argen.cli.main:main"\n' in pyproject
    training = sorted((ROOT / "training").glob("train_*.py"))
    assert len(training) == 5 and len(COMMANDS) + len(training) <= 10


def test_top_level_help_lists_every_command(capsys):
    assert cli.dispatch(["--help"]) == 0
    text = capsys.readouterr().out
    assert all(f"  {name} " in text for name in COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_exits_0_and_shows_defaults(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([name, "--help"])
    text = capsys.readouterr().out
    assert exit_info.value.code == 0 and f"usage: hf-argen {name}" in text
    assert "(default: " in text and "--model" in text
    assert ("--device" in text) == (name in ("generate", "evaluate"))


@pytest.mark.parametrize("name", COMMANDS)
def test_every_flag_is_documented(name, monkeypatch):
    """Every flag of every subcommand has help text (read off the parser the subcommand builds)."""
    from hf_argen.cli import CommandParser

    parsers = []

    def capture(self, args=None, **kwargs):
        parsers.append(self)
        raise SystemExit(0)

    monkeypatch.setattr(CommandParser, "parse_args_into_dataclasses", capture)
    with pytest.raises(SystemExit):
        cli.dispatch([name])
    undocumented = [a.option_strings for a in parsers[0]._actions if a.option_strings and not a.help]
    assert not undocumented, f"{name}: flags without help: {undocumented}"


@pytest.mark.parametrize("name", COMMANDS)
def test_bad_flag_is_one_error_line(name, capsys):
    code, err = run_in_process([name, "--no_such_flag", "1"], capsys)
    assert code == 2 and "--no_such_flag" in one_error_line(err)[0]


def test_unknown_command_is_one_error_line(capsys):
    code, err = run_in_process(["sample"], capsys)
    assert code == 2 and "generate" in one_error_line(err)[0]


def test_shared_flags_are_declared_once():
    """`--model`, `--device`, `--seed`, `--num_threads`, `--output_json` come from the shared dataclasses only."""
    from hf_argen.cli import (
        arguments,
        card,
        eval_captioner,
        eval_pixelcnn,
        eval_prior,
        eval_text,
        eval_vqvae,
        export,
        generate,
        push,
    )
    from hf_argen.cli.evaluation_arguments import EvaluateArguments

    shared = {f.name for cls in (arguments.ModelArguments, arguments.RuntimeArguments) for f in dataclasses.fields(cls)}
    assert shared == {"model", "device", "seed", "num_threads", "output_json"}
    own = [generate.GenerateArguments, EvaluateArguments, export.ExportArguments, card.CardArguments,
           push.PushArguments, eval_pixelcnn.PixelCNNEvalArguments, eval_vqvae.VQVAEEvalArguments,
           eval_prior.PriorEvalArguments, eval_captioner.CaptionerEvalArguments,
           eval_text.TextEvalArguments]  # fmt: skip
    for cls in own:
        assert not shared & {f.name for f in dataclasses.fields(cls)}, cls


def test_command_line_error_has_no_traceback(tmp_path):
    """What a user sees: one line on stderr, exit status 2."""
    completed = subprocess.run(
        [sys.executable, "-m", "hf_argen.cli", "evaluate", "--model", str(tmp_path / "missing"), "--device", "cpu"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 2
    assert len(completed.stderr.strip().splitlines()) == 1, completed.stderr
    assert completed.stderr.startswith("error: ") and "Traceback" not in completed.stderr


# ---- generate, export, push ---------------------------------------------------------------------------------------
def test_generate_writes_a_grid_and_its_figures(tmp_path, capsys):
    from PIL import Image

    model_dir = save_tiny_pixelcnn(tmp_path / "model")
    out = tmp_path / "figures.json"
    cli.dispatch(["generate", "--model", str(model_dir), "--class_labels", "0", "3", "--num_images", "2",
                  "--device", "cpu", "--output", str(tmp_path / "grid.png"), "--output_json", str(out)])  # fmt: skip
    assert json.loads(out.read_text())["num_samples"] == 4
    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.size == (2 * 65 + 1, 2 * 65 + 1)  # 8x8 images scaled 8x, one column per class


def test_generate_complete_keeps_the_top_rows(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from hf_argen import PixelCNNImageProcessor

    model_dir = save_tiny_pixelcnn(tmp_path / "model")
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8), dtype=np.uint8))
    picture.save(tmp_path / "digit.png")
    grid_path = tmp_path / "completions.png"
    base = ["generate", "--model", str(model_dir), "--complete", str(tmp_path / "digit.png"), "--device", "cpu",
            "--output", str(grid_path)]  # fmt: skip
    assert cli.dispatch(base + ["--num_given_rows", "4", "--num_images", "3"])["num_samples"] == 3
    processor = PixelCNNImageProcessor(num_levels=17, image_size=8)
    expected = np.asarray(processor.postprocess(processor(picture)["pixel_values"])[0])
    with Image.open(grid_path) as grid:
        assert grid.size == (3 * 65 + 1, 65 + 1)  # 8x8 images scaled 8x, one column per completion
        cells = [np.asarray(grid)[1 : 1 + 64 : 8, 1 + i * 65 : 1 + i * 65 + 64 : 8] for i in range(3)]
    assert all(np.array_equal(cell[:4], expected[:4]) for cell in cells)
    assert not np.array_equal(cells[0][4:], expected[4:])
    cli.dispatch(base + ["--num_given_rows", "4", "--num_images", "2", "--class_labels", "3"])
    for argv, message in (
        (base, "--complete needs --num_given_rows"),
        (base + ["--num_given_rows", "9"], r"`num_given_rows` must be an integer in \[0, 8\]"),
        (base + ["--num_given_rows", "2", "--class_labels", "1", "2"], "at most one --class_labels"),
        (["generate", "--model", str(model_dir), "--num_given_rows", "2"], "--num_given_rows is for --complete"),
        (["generate", "--model", str(model_dir), "--complete", str(tmp_path / "none.png"), "--num_given_rows", "2"],
         "is not an image file"),
    ):  # fmt: skip
        code, err = run_in_process(argv, capsys)
        assert code == 2 and re.search(message, one_error_line(err)[0]), err


def test_export_check_exits_1_when_stale_and_export_makes_it_current(tmp_path, capsys):
    import shutil

    folder = tmp_path / "pixelcnn-digits"
    shutil.copytree(ROOT / "model_cards" / "pixelcnn-digits", folder)
    assert cli.dispatch(["export", "--check", str(folder)]) == 0
    (folder / "modeling_pixelcnn.py").write_text("# stale\n")
    assert cli.dispatch(["export", "--check", str(folder)]) == 1
    assert "modeling_pixelcnn.py" in capsys.readouterr().out
    assert (folder / "modeling_pixelcnn.py").read_text() == "# stale\n"  # --check changes nothing
    assert cli.dispatch(["export", str(folder)]) == 0
    assert cli.dispatch(["export", "--check", str(folder)]) == 0
    code, err = run_in_process(["export", "--check", str(tmp_path)], capsys)
    assert code == 2 and "no config.json" in one_error_line(err)[0]


def test_export_averages_checkpoints_into_a_model_folder(tmp_path):
    from safetensors.torch import load_file

    first = save_tiny_pixelcnn(tmp_path / "checkpoint-1", seed=0)
    second = save_tiny_pixelcnn(tmp_path / "checkpoint-2", seed=1)
    cli.dispatch(["export", "--checkpoint", str(first), str(second), "--output", str(tmp_path / "averaged")])
    a, b = load_file(first / "model.safetensors"), load_file(second / "model.safetensors")
    model = PixelCNNForImageGeneration.from_pretrained(tmp_path / "averaged")
    state = model.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)
    assert all(torch.allclose(state[k], (a[k] + b[k]) / 2, atol=1e-6) for k in a)
    assert (tmp_path / "averaged" / "preprocessor_config.json").is_file()


def test_export_keeps_every_tensor_of_a_checkpoint_saved_before_the_backbone_split(tmp_path):
    """Checkpoint weights under the old key names (`layers.*`, before `PixelCNNModel`) go through the model's key
    pre-hook: nothing is dropped, and weights of another model are refused."""
    from safetensors.torch import load_file, save_file

    folder = save_tiny_pixelcnn(tmp_path / "checkpoint-1", seed=3)
    new_keys = load_file(folder / "model.safetensors")
    old_keys = {key.removeprefix("pixelcnn."): tensor for key, tensor in new_keys.items()}
    assert old_keys.keys() != new_keys.keys()
    save_file(old_keys, str(folder / "model.safetensors"), metadata={"format": "pt"})
    cli.dispatch(["export", "--checkpoint", str(folder), "--output", str(tmp_path / "exported")])
    state = PixelCNNForImageGeneration.from_pretrained(tmp_path / "exported").state_dict()
    assert all(torch.equal(state[key], tensor) for key, tensor in new_keys.items())
    save_file({"something.else": torch.zeros(2)}, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ValueError, match="lacks"):
        cli.dispatch(["export", "--checkpoint", str(folder), "--output", str(tmp_path / "refused")])


def test_push_dry_run_lists_the_files(tmp_path, capsys):
    model_dir = save_tiny_pixelcnn(tmp_path / "model")
    capsys.readouterr()
    assert cli.dispatch(["push", "--model", str(model_dir), "--hub_model_id", "me/tiny", "--dry_run"]) == 0
    out = capsys.readouterr().out
    assert "config.json" in out and "model.safetensors" in out and "me/tiny" in out
    code, err = run_in_process(["push", "--model", str(model_dir)], capsys)
    assert code == 2 and "--hub_model_id" in one_error_line(err)[0]


# ---- scripts: benchmarks/, experiments/, scripts/ -----------------------------------------------------------------
@pytest.mark.parametrize("folder, name", MODEL_SCRIPTS + OTHER_SCRIPTS)
def test_script_help_exits_0_and_shows_device_and_defaults(folder, name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script(folder, name).main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert ("--device" in text or (folder, name) in OTHER_SCRIPTS) and "default" in text
    source = (ROOT / folder / f"{name}.py").read_text()
    assert "sys.path" not in source and "run_cli(main)" in source


@pytest.mark.parametrize("folder, name", MODEL_SCRIPTS + OTHER_SCRIPTS)
def test_every_script_option_is_documented(folder, name, monkeypatch):
    from hf_argen.cli import ScriptArgumentParser

    parsers = []

    def capture(self, args=None, namespace=None):
        parsers.append(self)
        raise SystemExit(0)

    monkeypatch.setattr(ScriptArgumentParser, "parse_args", capture)
    with pytest.raises(SystemExit):
        load_script(folder, name).main([])
    undocumented = [a.option_strings for a in parsers[0]._actions if a.option_strings and not a.help]
    assert not undocumented, f"{name}: options without help: {undocumented}"


def test_emoji_generators_benchmark_names_and_judge(tmp_path):
    from fake_emoji import FAKE_EMOJI, fake_emoji_package

    bench = load_script("benchmarks", "benchmark_emoji_generators")
    fake_emoji_package(tmp_path)
    categories = sorted({category for _, category, _ in FAKE_EMOJI})
    named = bench.name_categories(tmp_path / "package", categories)
    assert named["rocket"] == categories.index("Travel & Places")
    assert named["waving hand sign: light skin tone"] == categories.index("People & Body")  # tones count
    names, classes, real = bench.chosen_names(tmp_path, 8, per_category=1, seed=0)
    assert len(names) == len(classes) == len(real) and all(named[n] == c for n, c in zip(names, classes))
    assert classes == sorted(classes) and real[0].size == (8, 8)
    hits = bench.category_hits(["rocket", "rocket", "no such emoji"], [named["rocket"], 0, 0], named)
    assert hits.tolist() == [True, named["rocket"] == 0, False]


def test_emoji_tone_step_error():
    step = load_script("experiments", "emoji_caption_errors").tone_step_error
    assert step("santa: light skin tone", "santa: medium skin tone") == 2
    assert step("elf: dark skin tone", "mage: medium-dark skin tone") == -1  # the base name does not matter
    assert step("elf: medium skin tone", "elf: medium skin tone") == 0
    assert step("elf", "elf: dark skin tone") is None
    assert step("kiss: light skin tone, dark skin tone", "kiss: light skin tone") is None  # two tones
    right = load_script("experiments", "emoji_caption_errors").right_but_for_tone
    assert right("elf: dark skin tone", "elf: light skin tone") and right("elf", "elf")
    assert not right("elf: dark skin tone", "mage: dark skin tone") and not right("elf", "elf: dark skin tone")
    assert right("kiss: light skin tone, dark skin tone", "kiss: dark skin tone")


def test_render_svg_emoji_errors_name_the_argument(tmp_path):
    main = load_script("scripts", "render_svg_emoji").main
    with pytest.raises(ValueError, match="--input .* holds no .svg files"):
        main(["--input", str(tmp_path), "--output", str(tmp_path / "out")])
    (tmp_path / "1f600.svg").write_text("<svg/>")
    with pytest.raises(ValueError, match="--size must be a positive"):
        main(["--input", str(tmp_path), "--output", str(tmp_path / "out"), "--size", "0"])


def test_render_svg_emoji_keeps_names_and_makes_squares(tmp_path):
    pytest.importorskip("cairosvg", exc_type=ImportError)  # an optional tool for preparing data, not a dependency
    from PIL import Image

    source = tmp_path / "svg"
    source.mkdir()
    wide = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="red"/></svg>'
    )
    (source / "1f44b-1f3fb.svg").write_text(wide)
    (source / "broken.svg").write_text("not svg")
    result = load_script("scripts", "render_svg_emoji").main(
        ["--input", str(source), "--output", str(tmp_path / "png"), "--size", "16"]
    )
    assert result["rendered"] == 1 and len(result["skipped"]) == 1
    image = Image.open(tmp_path / "png" / "1f44b-1f3fb.png")
    assert image.size == (16, 16) and image.mode == "RGBA"
    assert image.getpixel((8, 0))[3] == 0 and image.getpixel((8, 8)) == (255, 0, 0, 255)  # centred, aspect kept
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["1f44b-1f3fb.png"]  # no temporary files left


def evaluate(argv):
    from hf_argen.cli import evaluate as command

    return command.main(argv)


def save_tiny_pixelcnn(folder: Path, num_classes=10, seed=0) -> Path:
    torch.manual_seed(seed)
    config = PixelCNNConfig(
        image_size=8,
        num_channels=1,
        num_levels=17,
        num_classes=num_classes,
        hidden_size=8,
        num_hidden_layers=1,
        kernel_size=3,
        first_kernel_size=3,
        output_hidden_size=8,
    )
    PixelCNNForImageGeneration(config).save_pretrained(folder)
    return folder


def test_evaluate_pixelcnn_reports_conditional_and_marginal(tmp_path, capsys):
    from hf_argen.evaluation import class_frequencies, pixelcnn_marginal_log_likelihood, pixelcnn_metrics
    from hf_argen.recipes.datasets import load_images

    model_dir = save_tiny_pixelcnn(tmp_path / "model")
    out = tmp_path / "eval.json"
    argv = [
        "--model",
        str(model_dir),
        "--dataset_name",
        "digits",
        "--split",
        "test",
        "--max_eval_samples",
        "12",
        "--batch_size",
        "64",
        "--device",
        "cpu",
        "--output_json",
        str(out),
    ]
    evaluate(argv)
    printed = capsys.readouterr().out
    assert "conditional" in printed and "marginal" in printed and "test bits/dim" in printed
    result = json.loads(out.read_text())
    assert result["device"] == "cpu" and result["num_images"] == 12 and result["class_prior"] == "train"
    assert result["marginal_bits_per_dim"] > 0 and result["bits_per_dim"] > 0

    # the marginal is the one of the library function with the digits training frequencies
    model = PixelCNNForImageGeneration.from_pretrained(model_dir).eval()
    prior = class_frequencies(load_images("digits", split="train")["label"], 10)
    assert result["class_prior_probs"] == pytest.approx(prior.tolist(), abs=1e-6)
    test = load_images("digits", split="test").select(range(12))
    from hf_argen import PixelCNNImageProcessor
    from hf_argen.data import encode_images

    x = encode_images(test, PixelCNNImageProcessor.from_model_config(model.config))
    expected = pixelcnn_metrics(pixelcnn_marginal_log_likelihood(model, x, prior), 64)["bits_per_dim"]
    assert result["marginal_bits_per_dim"] == pytest.approx(expected, abs=1e-5)

    # --output_json - prints the same figures as one JSON line on stdout (no table)
    evaluate(argv[:-2] + ["--output_json", "-", "--class_prior", "uniform"])
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and json.loads(line)["class_prior"] == "uniform"


def test_evaluate_pixelcnn_card_carries_a_measured_class_consistency(tmp_path):
    import yaml

    model_dir = save_tiny_pixelcnn(tmp_path / "model")
    figures = {
        "model": str(model_dir),
        "num_samples": 30,
        "seed": 3,
        "temperature": 1.0,
        "consistency": 0.4,
        "classifier_accuracy": 0.9869,
        "per_class": [0.4] * 10,
    }
    consistency = tmp_path / "consistency.json"
    consistency.write_text(json.dumps(figures))
    argv = [
        "--model",
        str(model_dir),
        "--dataset_name",
        "digits",
        "--max_eval_samples",
        "4",
        "--device",
        "cpu",
        "--write_card",
        "--consistency_json",
        str(consistency),
    ]
    evaluate(argv)
    card = (model_dir / "README.md").read_text()
    assert "| class consistency of 30 samples, seed 3 (MNIST CNN, 98.69% test accuracy) | 40.0 % |" in card
    assert f"hf-argen evaluate --model {model_dir} --split none --num_per_class 3 --seed 3" in card
    index = yaml.safe_load(card.split("---")[1])["model-index"][0]["results"][0]["metrics"]
    assert "class_consistency" not in {m["type"] for m in index}  # a figure of samples, not of the test split

    other = dict(figures, model=str(tmp_path / "other"))
    consistency.write_text(json.dumps(other))
    with pytest.raises(ValueError, match="measured .*other.*not --model"):
        evaluate(argv)
    consistency.write_text(json.dumps({"model": str(model_dir)}))
    with pytest.raises(ValueError, match="not an output of a class-consistency run"):
        evaluate(argv)
    with pytest.raises(ValueError, match="only used with --write_card"):
        evaluate([a for a in argv if a != "--write_card"])


def test_evaluate_pixelcnn_unconditional_model(tmp_path):
    model_dir = save_tiny_pixelcnn(tmp_path / "model", num_classes=None)
    out = tmp_path / "eval.json"
    evaluate(["--model", str(model_dir), "--max_eval_samples", "5", "--device", "cpu", "--output_json", str(out)])
    result = json.loads(out.read_text())
    assert "marginal_bits_per_dim" not in result and result["num_images"] == 5


def test_bad_values_are_one_error_line(tmp_path, capsys):
    model_dir = save_tiny_pixelcnn(tmp_path / "model")
    capsys.readouterr()  # saving's progress bar
    for argv in (
        ["--model", str(model_dir), "--class_prior", "sometimes"],  # argparse: bad choice
        ["--model", str(model_dir), "--batch_size", "zero"],  # argparse: not an int
        ["--model", str(model_dir), "--batch_size", "0"],  # the command's check
        ["--model", str(model_dir), "--check_targets"],  # a flag of another kind of model
        ["--model", str(model_dir), "--device", "tpu"],  # resolve_device
        ["--model", str(tmp_path / "missing")],  # OSError from from_pretrained
    ):
        code, err = run_in_process(["evaluate", *argv], capsys)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2, argv
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
        assert "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_device_without_cuda_is_one_error_line(capsys):
    code, err = run_in_process(["generate", "--device", "cuda"], capsys)
    assert code == 2 and err.strip().startswith("error: --device 'cuda': CUDA is not available")


def test_receptive_field_on_cpu(tmp_path):
    figure = tmp_path / "rf.png"
    result = load_script("experiments", "receptive_field").main(
        [
            "--image_size",
            "6",
            "--num_hidden_layers",
            "2",
            "--row",
            "3",
            "--col",
            "3",
            "--device",
            "cpu",
            "--output",
            str(figure),
        ]
    )
    assert figure.is_file() and result["gated"]["blind_spot"] == 0


def test_benchmark_evaluation_times_every_batch_size(tmp_path, capsys):
    model_dir = save_tiny_pixelcnn(tmp_path / "model")
    out = tmp_path / "bench.json"
    load_script("benchmarks", "benchmark_evaluation").main(
        [
            "--model",
            str(model_dir),
            "--batch_sizes",
            "2",
            "8",
            "--num_images",
            "8",
            "--rounds",
            "1",
            "--device",
            "cpu",
            "--output_json",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert "| batch size | ms per image | time / fastest |" in printed
    rows = json.loads(out.read_text())["rows"]
    assert [row["batch_size"] for row in rows] == [2, 8]
    assert all(row["ms_per_image"] > 0 for row in rows) and min(row["relative_to_fastest"] for row in rows) == 1


def test_generate_benchmark_times_both_models_and_splits_a_step():
    """`benchmarks/benchmark_generate.py` at a tiny size: the throughput rows, and a step split into the model's own
    forward and the rest of `generate()` for both models."""
    figures = load_script("benchmarks", "benchmark_generate").main(
        ["--hidden_size", "16", "--num_hidden_layers", "1", "--vocab_size", "32", "--prompt_length", "4",
         "--new_tokens", "4", "--rnn_new_tokens", "4", "--repeats", "1", "--device", "cpu"]
    )  # fmt: skip
    assert [row["new_tokens"] for row in figures["throughput"]] == [4]
    assert all(row["ar_transformer_tokens_per_s"] > 0 and row["gpt2_tokens_per_s"] > 0 for row in figures["throughput"])
    split = figures["step_split"]
    assert split["new_tokens"] == 4
    for name in ("ar_transformer", "gpt2"):
        assert split[name]["model_step_ms"] > 0 and split[name]["generate_step_ms"] > 0
