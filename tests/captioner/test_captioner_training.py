"""Training and evaluating captioners: `training/train_captioner.py` on a user's imagefolder, the evaluation
script, the metrics and the model card (tiny data made in tmp_path; no downloads)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import hf_argen  # noqa: F401  (registers the captioner and the image-captioning task)

# The module's fixture trains a captioner in a subprocess: minutes on a busy 2-core CPU.
pytestmark = pytest.mark.timeout(1200)

ROOT = Path(__file__).resolve().parents[2]
COLOURS = {"red": (220, 30, 30), "green": (30, 170, 40), "blue": (30, 60, 220)}
SHAPES = ("circle", "square", "bar")


def shape_image(colour: str, shape: str, rng: np.random.Generator, size: int = 32) -> Image.Image:
    image = Image.new("RGB", (size, size), (255, 255, 255))
    side = int(rng.integers(12, 20))
    x, y = (int(v) for v in rng.integers(2, size - side - 2, 2))
    box = [x, y, x + side, y + side]
    draw = ImageDraw.Draw(image)
    if shape == "circle":
        draw.ellipse(box, fill=COLOURS[colour])
    elif shape == "square":
        draw.rectangle(box, fill=COLOURS[colour])
    else:
        draw.rectangle([x, y + side // 3, x + side, y + 2 * side // 3], fill=COLOURS[colour])
    return image


def make_shape_folder(root: Path, per_kind: dict, seed: int = 0) -> Path:
    """imagefolder with `<split>/metadata.jsonl` captions "a red circle" ... (9 kinds)."""
    rng = np.random.default_rng(seed)
    for split, count in per_kind.items():
        folder = root / split
        folder.mkdir(parents=True)
        rows = []
        for colour in COLOURS:
            for shape in SHAPES:
                for k in range(count):
                    name = f"{colour}_{shape}_{k}.png"
                    shape_image(colour, shape, rng).save(folder / name)
                    rows.append({"file_name": name, "text": f"a {colour} {shape}"})
        (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def run_script(args, tmp_path):
    env = {"PYTHONPATH": str(ROOT), "HF_HOME": str(tmp_path / "hf_home"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A captioner trained by the entry point on a small shapes imagefolder (defaults, shorter and smaller)."""
    tmp_path = tmp_path_factory.mktemp("captioner")
    data = make_shape_folder(tmp_path / "shapes", {"train": 30, "test": 4})
    out = tmp_path / "out"
    run_script(
        ["training/train_captioner.py", "--dataset_name", str(data), "--caption_column", "text",
         "--output_dir", str(out), "--max_train_steps", "150", "--train_batch_size", "32",
         "--encoder_channels", "16", "32", "--hidden_size", "64", "--num_hidden_layers", "1",
         "--eval_steps", "75", "--checkpointing_steps", "75", "--num_threads", "2"],
        tmp_path,
    )  # fmt: skip
    return data, out, tmp_path


def test_entry_point_trains_an_imagefolder_that_captions_held_out_images(trained):
    data, out, _ = trained
    for name in (
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "processor_config.json",
        "pipeline_captioner.py",
        "training_info.json",
        "train_results.json",
        "README.md",  # every recipe writes its card, with or without --push_to_hub
    ):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.bin"))
    results = json.loads((out / "train_results.json").read_text())
    assert results["global_step"] == 150
    assert 0 <= results["validation_exact_match"] <= 100 and results["validation_loss"] > 0
    info = json.loads((out / "training_info.json").read_text())
    assert info["command"].startswith("accelerate launch training/train_captioner.py")
    assert info["train_images"] + info["validation_images"] == 9 * 30
    from transformers import pipeline

    captioner = pipeline("image-captioning", model=str(out))
    metadata = [json.loads(line) for line in (data / "test" / "metadata.jsonl").read_text().splitlines()]
    outputs = captioner([str(data / "test" / row["file_name"]) for row in metadata], batch_size=8)
    predicted = [o[0]["generated_text"] for o in outputs]
    correct = sum(p == row["text"] for p, row in zip(predicted, metadata))
    assert correct >= 0.8 * len(metadata), list(zip(predicted, [r["text"] for r in metadata]))
    remote = pipeline("image-to-text", model=str(out), trust_remote_code=True)
    assert remote(str(data / "test" / metadata[0]["file_name"]))[0]["generated_text"] == predicted[0]


def test_init_model_fine_tunes_from_a_saved_captioner(trained):
    from safetensors.torch import load_file

    data, out, tmp_path = trained
    tuned = tmp_path / "tuned"
    run_script(
        ["training/train_captioner.py", "--dataset_name", str(data), "--output_dir", str(tuned),
         "--init_model", str(out), "--hidden_size", "32", "--tokenizer_vocab_size", "5",
         "--learning_rate", "1e-12", "--lr_warmup_steps", "0", "--max_train_steps", "2", "--train_batch_size", "4",
         "--eval_split", "none", "--num_threads", "1"],
        tmp_path,
    )  # fmt: skip
    before, after = load_file(out / "model.safetensors"), load_file(tuned / "model.safetensors")
    assert before.keys() == after.keys() and all(torch.allclose(before[k], after[k], atol=1e-6) for k in before)
    assert (tuned / "tokenizer.json").read_text() == (out / "tokenizer.json").read_text()
    assert json.loads((tuned / "config.json").read_text())["hidden_size"] == 64  # the saved model's, not the flag


def test_evaluation_script_and_card(trained, hf_argen_cli):
    data, out, tmp_path = trained
    card_dir = tmp_path / "card"
    import shutil

    shutil.copytree(out, card_dir, ignore=shutil.ignore_patterns("checkpoint-*", "tokenizer"))
    status, _, err = hf_argen_cli(
        "evaluate", "--model", str(card_dir), "--dataset_name", str(data), "--split", "test", "--device", "cpu",
        "--num_beams", "2", "--batch_size", "5", "--output_json", str(tmp_path / "eval.json"), "--write_card",
    )  # fmt: skip
    assert status == 0, err[-4000:]
    rows = json.loads((tmp_path / "eval.json").read_text())
    assert [row["split"] for row in rows] == ["test"] and rows[0]["num_images"] == 36
    assert rows[0]["exact_match"] >= 80  # (BLEU-4 of 3-word captions is 0: they hold no 4-grams)
    assert 0 <= rows[0]["bleu4"] <= 100
    from huggingface_hub import ModelCard

    card = ModelCard.load(card_dir / "README.md")
    results = card.data.eval_results
    assert {r.metric_type for r in results} == {"exact_match", "bleu4"}
    assert all(r.dataset_split == "test" and r.task_type == "image-to-text" for r in results)
    exact = next(r for r in results if r.metric_type == "exact_match")
    assert exact.metric_value == round(rows[0]["exact_match"], 2)
    assert "accelerate launch training/train_captioner.py" in card.text
    assert "hf-argen evaluate --model" in card.text


def test_export_stores_float16_weights_that_load_as_float32_and_caption_the_same(trained, hf_argen_cli):
    data, out, tmp_path = trained
    exported = tmp_path / "exported"
    # (offline, as every test runs: the loading option must not be saved into the folder)
    status, _, err = hf_argen_cli("export", "--model", str(out), "--output", str(exported), "--float16")
    assert status == 0, err[-4000:]
    from safetensors import safe_open
    from transformers import AutoModelForImageTextToText, pipeline

    with safe_open(str(exported / "model.safetensors"), "pt") as weights:
        assert {weights.get_tensor(name).dtype for name in weights.keys()} == {torch.float16}
    assert AutoModelForImageTextToText.from_pretrained(exported).dtype == torch.float32
    assert "local_files_only" not in json.loads((exported / "tokenizer_config.json").read_text())
    image = str(next((data / "test").glob("*.png")))
    assert (
        pipeline("image-captioning", model=str(exported))(image)[0]["generated_text"]
        == pipeline("image-captioning", model=str(out))(image)[0]["generated_text"]
    )


def test_export_averages_checkpoints(trained, tmp_path, hf_argen_cli):
    from safetensors.torch import load_file
    from transformers import AutoModelForImageTextToText

    _, out, _ = trained
    checkpoints = [out / "checkpoint-75", out / "checkpoint-150"]
    averaged = tmp_path / "averaged"
    status, _, err = hf_argen_cli("export", "--model", str(out), "--checkpoint", *map(str, checkpoints),
                                  "--output", str(averaged))  # fmt: skip
    assert status == 0, err[-3000:]
    first, second = (load_file(c / "model.safetensors") for c in checkpoints)
    model = AutoModelForImageTextToText.from_pretrained(averaged)
    state = model.state_dict()
    assert any(not torch.equal(first[k], second[k]) for k in first)
    for name in first:
        assert torch.allclose(state[name], (first[name] + second[name]) / 2, atol=1e-6), name
    assert torch.equal(model.get_output_embeddings().weight, model.get_input_embeddings().weight)  # still tied
    status, _, err = hf_argen_cli("export", "--model", str(out), "--checkpoint", str(tmp_path / "missing"),
                                  "--output", str(tmp_path / "never"))  # fmt: skip
    assert status != 0 and "missing" in err and not (tmp_path / "never").exists()


def test_export_regrids_the_encoder_to_another_image_size(trained, tmp_path, hf_argen_cli):
    from transformers import AutoModelForImageTextToText, AutoProcessor, pipeline

    data, out, _ = trained
    source = AutoModelForImageTextToText.from_pretrained(out)
    size, grid = source.config.image_size, source.config.grid_size
    larger = tmp_path / "larger"
    status, _, err = hf_argen_cli("export", "--model", str(out), "--image_size", str(2 * size), "--output", str(larger))
    assert status == 0, err[-3000:]
    model = AutoModelForImageTextToText.from_pretrained(larger)
    assert model.config.image_size == 2 * size and model.config.grid_size == 2 * grid
    assert AutoProcessor.from_pretrained(larger).image_processor.image_size == 2 * size
    # each new position is a smooth mix of its neighbourhood in the old grid: close to the nearest old position
    positions = model.encoder.embed_positions.detach().T.reshape(1, -1, 2 * grid, 2 * grid)
    old = source.encoder.embed_positions.detach().T.reshape(1, -1, grid, grid)
    nearest = torch.nn.functional.interpolate(old, scale_factor=2, mode="nearest")
    assert torch.corrcoef(torch.stack([positions.flatten(), nearest.flatten()]))[0, 1] > 0.8
    assert torch.equal(model.lm_head.weight, source.lm_head.weight)  # other weights are untouched
    image = str(next((data / "test").glob("*.png")))
    assert isinstance(pipeline("image-captioning", model=str(larger))(image)[0]["generated_text"], str)
    same = tmp_path / "same"  # the same size: the positions are unchanged
    status, _, err = hf_argen_cli("export", "--model", str(out), "--image_size", str(size), "--output", str(same))
    assert status == 0, err[-3000:]
    assert torch.allclose(AutoModelForImageTextToText.from_pretrained(same).encoder.embed_positions,
                          source.encoder.embed_positions, atol=1e-6)  # fmt: skip
    status, _, err = hf_argen_cli("export", "--model", str(out), "--image_size", str(size + 1),
                                  "--output", str(tmp_path / "never"))  # fmt: skip
    assert status != 0 and "--image_size" in err and not (tmp_path / "never").exists()


def test_push_writes_a_card_with_validation_figures(trained, tmp_path, monkeypatch):
    import shutil

    from transformers import AutoModelForImageTextToText, AutoProcessor

    from hf_argen import hub
    from hf_argen.recipes.captioning import CaptionerArguments, publish_captioner
    from hf_argen.recipes.datasets import load_captions
    from hf_argen.training.arguments import DataArguments, RunArguments

    data, out, _ = trained
    folder = tmp_path / "push"
    shutil.copytree(out, folder, ignore=shutil.ignore_patterns("checkpoint-*"))
    pushed = {}
    monkeypatch.setattr(hub, "push_to_hub", lambda path, **kwargs: pushed.update(path=path, **kwargs))
    run = RunArguments(output_dir=str(folder), push_to_hub=True, hub_model_id="user/shapes", eval_batch_size=16)
    model = AutoModelForImageTextToText.from_pretrained(folder)
    processor = AutoProcessor.from_pretrained(folder)
    valid = load_captions(str(data), "test")
    publish_captioner(
        run,
        model,
        processor,
        DataArguments(dataset_name=str(data), eval_split="test"),
        valid,
        CaptionerArguments(eval_exact_match_samples=20),
        "accelerate launch training/train_captioner.py",
    )
    assert pushed["repo_id"] == "user/shapes" and pushed["path"] == str(folder)
    card = (folder / "README.md").read_text()
    assert "model-index" in card and "first 20 images" in card and "user/shapes" in card


def test_evaluation_script_errors(tmp_path, hf_argen_cli):
    status, _, err = hf_argen_cli("evaluate", "--model", str(tmp_path / "missing"), "--device", "nope")
    assert status == 2 and err.startswith("error:")


# ---------------------------------------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------------------------------------
def test_scores():
    from hf_argen.caption_evaluation import bleu4, caption_scores, exact_match, normalize_caption

    assert normalize_caption("  A Red   circle ") == "a red circle"
    assert exact_match(["a red circle", "A BLUE square"], ["a red circle", "a blue circle"]) == 50.0
    assert bleu4(["a red circle on a square"], ["a red circle on a square"]) == pytest.approx(100.0)
    assert bleu4(["the dog"], ["a red circle on a square"]) < 10
    assert caption_scores(["x"], ["x"])["num_images"] == 1
    with pytest.raises(ValueError):
        exact_match(["a"], [])


def test_nearest_neighbour_baseline():
    from hf_argen.caption_evaluation import nearest_neighbour_captions

    rng = np.random.default_rng(0)
    train = [shape_image(c, s, rng) for c in COLOURS for s in SHAPES]
    captions = [f"a {c} {s}" for c in COLOURS for s in SHAPES]
    test = [train[4].transpose(Image.FLIP_LEFT_RIGHT), Image.new("RGBA", (8, 8), (0, 0, 0, 0))]
    predicted = nearest_neighbour_captions(train, captions, test)
    assert predicted[0] == captions[4]  # its mirror image is still nearest
    assert len(predicted) == 2


def test_random_affine_and_collate():
    from hf_argen.recipes.augmentation import random_affine
    from hf_argen.recipes.captioning import CaptionerArguments, make_collate

    x = torch.rand(4, 3, 16, 16)
    assert torch.allclose(random_affine(x, 0.0, 0.0, 0.0), x, atol=1e-5)
    moved = random_affine(x, 0.2, 0.1, 10.0)
    assert moved.shape == x.shape and not torch.allclose(moved, x)
    batch = {"pixel_values": x.half(), "token_ids": [[1, 5, 2], [1, 5, 6, 7, 2]]}
    out = make_collate(0, CaptionerArguments(no_augmentation=True))(batch)
    assert out["pixel_values"].dtype == torch.float32 and torch.equal(out["pixel_values"], x.half().float())
    assert out["decoder_input_ids"].tolist() == [[1, 5, 2, 0, 0], [1, 5, 6, 7, 2]]
    assert out["labels"].tolist()[0] == [1, 5, 2, -100, -100]
    assert out["decoder_attention_mask"].sum().item() == 8


def test_augmentations_keep_shape_range_and_do_what_they_say():
    from hf_argen.recipes.augmentation import (
        augment_images,
        random_blur,
        random_channel_gain,
        random_color,
        random_convolution,
        random_erase,
        random_morphology,
    )
    from hf_argen.recipes.captioning import CaptionerArguments, make_collate

    torch.manual_seed(0)
    x = torch.ones(6, 3, 16, 16)  # white background, a dark red square and a grey bar
    x[:, 0, 4:10, 4:10], x[:, 1:, 4:10, 4:10] = 0.6, -0.8
    x[:, :, 12:14, 2:14] = -0.2
    for fn in (random_blur, random_morphology, random_erase, random_convolution):
        assert torch.equal(fn(x, 0.0), x)
    assert torch.allclose(random_color(x, 0.0), x)
    coloured = random_color(x, 0.4)
    assert coloured.shape == x.shape and coloured.min() >= -1 and coloured.max() <= 1
    grey = coloured[:, :, 12, 8]
    assert torch.allclose(grey, grey[:, :1].expand_as(grey), atol=1e-6)  # grey stays grey (no hue shift)
    red = coloured[:, :, 6, 6]
    assert bool((red[:, 0] > red[:, 1]).all())  # red stays red
    desaturated = random_color(x, 0.0, saturation=1.0)  # saturation alone: greys and white untouched
    assert torch.allclose(desaturated[:, :, 12:14], x[:, :, 12:14], atol=1e-6)
    assert torch.allclose(desaturated[:, :, 0], x[:, :, 0], atol=1e-6)
    assert not torch.equal(desaturated, x) and torch.allclose(random_color(x, 0.0, saturation=0.0), x)
    assert torch.allclose(random_channel_gain(x, 0.0), x)
    balanced = random_channel_gain(x, 0.1)
    assert balanced.shape == x.shape and balanced.min() >= -1 and balanced.max() <= 1
    assert torch.equal(balanced[:, :, 0], x[:, :, 0])  # white stays white
    assert not torch.equal(balanced, x) and bool((balanced[:, 0, 6, 6] > balanced[:, 1, 6, 6]).all())  # red stays red
    ink = (1 - balanced[:, :, 12, 8]) / (1 - x[:, :, 12, 8])  # per-channel gain on the grey bar, within 1 +- 0.1
    assert bool(((ink >= 0.9 - 1e-6) & (ink <= 1.1 + 1e-6)).all()) and not torch.allclose(ink, ink[:, :1])
    blurred = random_blur(x, 1.0)
    assert not torch.equal(blurred, x) and torch.allclose(blurred.mean(), x.mean(), atol=0.05)
    assert torch.allclose(blurred[:, :, 0, 15], x[:, :, 0, 15], atol=1e-6)  # far from any edge: unchanged
    morphed = random_morphology(x, 1.0)
    darker = (morphed < x - 1e-6).flatten(1).any(1)
    lighter = (morphed > x + 1e-6).flatten(1).any(1)
    assert bool((darker ^ lighter).all())  # each image thickened or thinned, never both
    convolved = random_convolution(x, 1.0)
    assert convolved.shape == x.shape and convolved.min() >= -1 and convolved.max() <= 1
    assert not torch.equal(convolved, x)
    assert torch.equal(convolved[:, :, 0], x[:, :, 0])  # white far from the drawing stays white
    bar = convolved[:, :, 13, 8]  # one filter for every channel: the grey bar stays grey
    assert torch.allclose(bar, bar[:, :1].expand_as(bar), atol=1e-6)
    assert torch.equal(random_convolution(torch.ones_like(x), 1.0), torch.ones_like(x))
    dark = torch.full_like(x, -1.0)  # every rectangle shows on black
    erased = random_erase(dark, 1.0)
    changed = erased != dark
    assert bool(changed.flatten(1).any(1).all()) and bool((erased[changed] == 1).all())  # painted white
    flags = CaptionerArguments(
        augment_color=0.2,
        augment_saturation=0.5,
        augment_channel_gain=0.1,
        augment_blur=0.5,
        augment_morphology=0.5,
        augment_erase=0.5,
        augment_random_conv=0.5,
    )
    out = augment_images(x, flags)
    assert out.shape == x.shape and out.dtype == x.dtype and not torch.equal(out, x)
    assert torch.equal(augment_images(x, CaptionerArguments(no_augmentation=True, augment_color=0.5)), x)
    batch = {"pixel_values": x.half(), "token_ids": [[1, 5, 2]] * 6}
    assert make_collate(0, flags)(batch)["pixel_values"].shape == x.shape


def test_emoji_skin_tone_parses_one_tone_and_no_tone():
    from hf_argen.recipes.emoji import emoji_skin_tone

    assert emoji_skin_tone("1F44B-1F3FD") == ("1F44B", 2)
    assert emoji_skin_tone("1f46b-1f3ff") == ("1F46B", 4)
    assert emoji_skin_tone("1F469-1F3FB-200D-1F91D-200D-1F468-1F3FB") == ("1F469-200D-1F91D-200D-1F468", 0)
    assert emoji_skin_tone("1F469-1F3FB-200D-1F91D-200D-1F468-1F3FF")[1] == -1  # two tones
    assert emoji_skin_tone("1F600") == ("1F600", -1)


def _skin_images():
    """Two vendors x one emoji x five tones (+ a no-tone image): 8x8, a 'face' square whose colour is the vendor's
    tone colour, and a black outline pixel that every variant shares."""
    palettes = {"a": torch.linspace(0.9, 0.3, 5), "b": torch.linspace(0.8, 0.1, 5)}  # grey levels per tone
    images, vendors, unified = [], [], []
    for vendor, levels in palettes.items():
        for tone, level in enumerate(levels):
            x = torch.ones(3, 8, 8)
            x[:, 2:6, 2:6] = level
            x[:, 0, 0] = 0.0
            images.append(x)
            vendors.append(vendor)
            unified.append(f"1F44B-{['1F3FB', '1F3FC', '1F3FD', '1F3FE', '1F3FF'][tone]}")
        images.append(torch.ones(3, 8, 8) * 0.5)
        vendors.append(vendor)
        unified.append("1F600")
    return torch.stack(images) * 2 - 1, vendors, unified, palettes


def test_find_skin_masks_the_pixels_that_change_with_the_tone():
    from hf_argen.recipes.augmentation import find_skin

    pixels, vendors, unified, palettes = _skin_images()
    skin = find_skin(pixels, vendors, unified)
    assert skin.vendors == ("a", "b")
    assert skin.tone.tolist() == [0, 1, 2, 3, 4, -1] * 2
    assert skin.vendor.tolist() == [0] * 6 + [1] * 6
    square = torch.zeros(8, 8, dtype=torch.bool)
    square[2:6, 2:6] = True
    assert all(torch.equal(skin.mask[i], square) for i in (0, 4, 6, 10))
    assert not skin.mask[5].any() and not skin.mask[11].any()  # the no-tone images
    for v, levels in enumerate(palettes.values()):
        assert torch.allclose(skin.palette[v], levels[:, None].expand(5, 3), atol=1e-3)
    lone = find_skin(pixels[:2], vendors[:2], unified[:2])  # two variants are too few to tell skin from drawing
    assert lone.tone.tolist() == [-1, -1] and not lone.mask.any()


def test_random_skin_palette_recolours_only_skin_within_the_vendors_colours():
    from hf_argen.recipes.augmentation import find_skin, random_skin_palette
    from hf_argen.recipes.captioning import CaptionDataset, CaptionerArguments, make_collate

    torch.manual_seed(0)
    pixels, vendors, unified, palettes = _skin_images()
    skin = find_skin(pixels, vendors, unified)
    args = (skin.mask, skin.tone, skin.vendor, skin.palette)
    assert torch.equal(random_skin_palette(pixels, *args, probability=0.0), pixels)
    out = random_skin_palette(pixels, *args, probability=1.0)
    outside = ~skin.mask[:, None].expand_as(pixels)
    assert torch.equal(out[outside], pixels[outside])  # outline, background and no-tone images untouched
    assert torch.equal(out[5], pixels[5]) and not torch.equal(out[:5], pixels[:5])
    a, b = palettes["a"], palettes["b"]
    for i, tone in enumerate(skin.tone.tolist()):
        if tone < 0:
            continue
        colour = (out[i, :, 3, 3] + 1) / 2  # a grey mix of the two vendors' greys for this tone
        low, high = min(a[tone], b[tone]), max(a[tone], b[tone])
        assert bool(((colour >= low - 1e-4) & (colour <= high + 1e-4)).all()), (i, colour, low, high)
        assert torch.allclose(colour, colour[:1].expand(3), atol=1e-5)
    dataset = CaptionDataset(pixels.half(), [[1, 5, 2]] * len(pixels), ["x"] * len(pixels), skin=skin)
    batch = dataset.__getitems__([0, 5, 7])
    assert batch["skin_mask"].shape == (3, 8, 8) and batch["skin_tone"].tolist() == [0, -1, 1]
    flags = CaptionerArguments(augment_skin_palette=1.0, augment_translate=0, augment_scale=0, augment_rotate=0)
    collated = make_collate(0, flags, skin.palette)(batch)["pixel_values"]
    assert torch.equal(collated[1], pixels[5].half().float()) and not torch.equal(collated[0], pixels[0].half().float())
    with pytest.raises(ValueError, match="--augment_skin_palette"):
        CaptionerArguments(augment_skin_palette=1.5)


def test_label_smoothing_loss():
    from hf_argen.recipes.captioning import make_compute_loss

    assert make_compute_loss(0.0) is None
    torch.manual_seed(0)
    from hf_argen.models import CaptionerConfig, CaptionerForConditionalGeneration

    config = CaptionerConfig(
        vocab_size=12,
        hidden_size=16,
        num_attention_heads=2,
        image_size=8,
        encoder_channels=[8],
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    model = CaptionerForConditionalGeneration(config).eval()
    ids = torch.tensor([[1, 5, 6, 2], [1, 7, 2, 0]])
    batch = {
        "pixel_values": torch.rand(2, 3, 8, 8),
        "decoder_input_ids": ids,
        "decoder_attention_mask": (ids != 0).long(),
        "labels": ids.masked_fill(ids == 0, -100),
    }
    plain = model(**batch).loss
    smoothed = make_compute_loss(0.1)(model, batch)
    nearly_plain = make_compute_loss(1e-9)(model, batch)
    assert torch.allclose(nearly_plain, plain, atol=1e-5)
    log_probs = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[:, :-1].log_softmax(-1)
    keep = batch["labels"][:, 1:] != -100
    nll = -log_probs.gather(-1, batch["labels"][:, 1:].clamp(min=0)[..., None])[..., 0][keep].mean()
    uniform = -log_probs.mean(-1)[keep].mean()
    assert torch.allclose(smoothed, 0.9 * nll + 0.1 * uniform, atol=1e-5)


def test_emoji_vendor_flags_choose_the_training_vendors(monkeypatch):
    from hf_argen.recipes import captioning
    from hf_argen.training.arguments import DataArguments

    seen = {}
    monkeypatch.setattr(
        "hf_argen.recipes.captioning.load_captions",
        lambda name, split, data_dir=None, **kw: seen.update(kw) or "loaded",
    )
    flags = captioning.CaptionerArguments(emoji_vendors=["apple", "google", "twitter"], test_vendor="twitter")
    data = DataArguments(dataset_name="emoji")
    assert captioning.load_split(data, flags, "train") == "loaded"
    assert seen == {"test_vendor": "twitter", "vendors": ("apple", "google", "twitter")}
    flags.emoji_extra_releases = ["old/package"]
    captioning.load_split(data, flags, "train")
    assert seen["extra_releases"] == ("old/package",)
    flags.emoji_extra_vendors, flags.emoji_extra_image_dirs = ["emojione"], ["joypixels=png/64"]
    captioning.load_split(data, flags, "train")
    assert seen["extra_vendors"] == ("emojione",) and seen["extra_image_dirs"] == ("joypixels=png/64",)


def test_closed_vocabulary_decoding_writes_only_allowed_captions():
    from hf_argen.caption_evaluation import caption_constraint, generate_captions
    from hf_argen.models import (
        CaptionerConfig,
        CaptionerForConditionalGeneration,
        CaptionerImageProcessor,
        CaptionerProcessor,
        train_caption_tokenizer,
    )

    captions = ["red apple", "red apple pie", "green apple", "flag: france", "blue"]
    tokenizer = train_caption_tokenizer(captions + ["purple banana split"])
    torch.manual_seed(0)
    config = CaptionerConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_attention_heads=2,
        image_size=8,
        encoder_channels=[8],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        max_position_embeddings=12,
    )
    model = CaptionerForConditionalGeneration(config).eval()
    processor = CaptionerProcessor(CaptionerImageProcessor(image_size=8), tokenizer)
    images = [Image.fromarray(np.random.default_rng(i).integers(0, 255, (8, 8, 3), dtype=np.uint8)) for i in range(6)]
    for beams in (1, 3):
        out = generate_captions(model, processor, images, num_beams=beams, allowed_captions=captions)
        assert set(out) <= set(captions), out
    fn = caption_constraint(tokenizer, captions)
    red = tokenizer.encode("red", add_special_tokens=False)
    start = torch.tensor([tokenizer.bos_token_id])
    assert set(fn(0, start)) == {tokenizer.encode(c, add_special_tokens=False)[0] for c in captions}
    red_apple = tokenizer.encode("red apple", add_special_tokens=False)
    after_apple = fn(0, torch.tensor([tokenizer.bos_token_id, *red_apple]))
    assert set(after_apple) == {tokenizer.eos_token_id, tokenizer.encode("pie", add_special_tokens=False)[0]}
    assert fn(0, torch.cat([start, torch.tensor(red * 3)])) == [tokenizer.pad_token_id]  # off the trie: pad


def test_detect_num_channels():
    from hf_argen.recipes.captioning import detect_num_channels

    assert detect_num_channels([Image.new("L", (4, 4))] * 3) == 1
    assert detect_num_channels([Image.new("L", (4, 4)), Image.new("RGBA", (4, 4))]) == 3


def test_word_tokenizer_decodes_captions_as_written():
    from hf_argen.models import train_caption_tokenizer

    captions = ["waving hand: medium-light skin tone", "man's shoe", "flag: côte d’ivoire", "keycap: *"]
    tokenizer = train_caption_tokenizer(captions)
    for caption in captions:
        assert tokenizer.decode(tokenizer.encode(caption, add_special_tokens=False)) == caption


@pytest.mark.parametrize("name", ["captioner-mnist-scenes", "captioner-emoji"])
def test_shipped_captioners_load_and_caption(name):
    import re

    from transformers import pipeline

    folder = ROOT / "model_cards" / name
    if not (folder / "model.safetensors").is_file():
        pytest.skip(f"{name} is not shipped")
    assert not list(folder.glob("*.bin")) and sum(f.stat().st_size for f in folder.iterdir()) < 12e6
    captioner = pipeline("image-captioning", model=str(folder))
    text = captioner(np.full((64, 64, 3), 255, np.uint8))[0]["generated_text"]
    assert text and (name != "captioner-mnist-scenes" or re.fullmatch(r"a \d (to the left of|above) a \d", text))


def test_validation_with_more_processes_than_images_skips_the_empty_shard():
    """A rank whose shard holds no validation image adds zeros instead of calling the model on an empty batch."""
    import types

    from reliability_models import caption_tokenizer, captioner

    from hf_argen.recipes.captioning import CaptionDataset, make_collate, make_eval_fn

    tokenizer = caption_tokenizer()
    model = captioner(tokenizer)
    ids = [tokenizer("a red square")["input_ids"], tokenizer("white")["input_ids"]]
    valid = CaptionDataset(torch.zeros(2, 3, 8, 8, dtype=torch.float16), ids, ["a red square", "white"])
    collate = make_collate(tokenizer.pad_token_id)
    calls = []
    model.generate = lambda **kwargs: calls.append(kwargs) or torch.zeros(0, 1, dtype=torch.long)
    accelerator = types.SimpleNamespace(process_index=3, num_processes=4, device=torch.device("cpu"),
                                        is_local_main_process=False, gather_for_metrics=lambda rows: rows)  # fmt: skip
    metrics = make_eval_fn(valid, collate, tokenizer, batch_size=4, exact_match_samples=2)(model, accelerator)
    assert set(metrics) == {"validation_loss", "validation_exact_match"} and calls == []
