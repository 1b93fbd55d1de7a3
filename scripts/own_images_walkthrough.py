#!/usr/bin/env python
"""Run the "Your own images, end to end" walkthrough of docs/training.md on a small generated RGB folder and save one
picture per stage into docs/own_images/ (each a few KB):

    python scripts/own_images_walkthrough.py                    # folder, runs and logs under runs/own_images

1. ``1-inputs.png``: images of the folder, one row per class subfolder (``red/``, ``blue/``): 16x16 RGB drawings of a
   circle, square or triangle in a shade of red or blue on a light background, ``--per_class`` of each;
2. ``2-reconstructions.png``: the VQ-VAE's reconstruction grid at the end of ``training/train_vqvae.py`` (odd rows:
   validation images, even rows: their reconstructions from 4x4 codes);
3. ``3-samples.png``: ``hf-argen generate --model <prior> --class_labels red blue --num_images 4``: new images drawn by
   the prior, by class name, decoded by the VQ-VAE.

The commands are the walkthrough's, with ``--max_train_steps`` for each stage and ``--num_threads 1``; they are
printed as they run.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from hf_argen.cli import run_cli, script_parser
from hf_argen.cli.main import dispatch as hf_argen_dispatch
from hf_argen.models import make_grid

ROOT = Path(__file__).resolve().parents[1]
SIDE = 16
HUES = {"red": ((150, 0, 0), (255, 90, 90)), "blue": ((0, 0, 150), (90, 90, 255))}


def draw(rng: np.random.Generator, colour: str) -> Image.Image:
    """One 16x16 drawing: a circle, square or triangle in a shade of `colour` on a light grey-ish background."""
    low, high = (np.array(c) for c in HUES[colour])
    background = tuple(int(v) for v in rng.integers(200, 256, size=3))
    fill = tuple(int(v) for v in low + rng.random() * (high - low))
    image = Image.new("RGB", (SIDE, SIDE), background)
    size = int(rng.integers(7, 13))
    x, y = (int(v) for v in rng.integers(0, SIDE - size, size=2))
    shape, canvas = int(rng.integers(0, 3)), ImageDraw.Draw(image)
    if shape == 0:
        canvas.ellipse([x, y, x + size, y + size], fill=fill)
    elif shape == 1:
        canvas.rectangle([x, y, x + size - 1, y + size - 1], fill=fill)
    else:
        canvas.polygon([(x + size / 2, y), (x, y + size), (x + size, y + size)], fill=fill)
    return image


def write_folder(folder: Path, per_class: int, seed: int = 0) -> Path:
    """`folder/red/*.png` and `folder/blue/*.png`, `per_class` drawings each."""
    rng = np.random.default_rng(seed)
    for colour in HUES:
        (folder / colour).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            draw(rng, colour).save(folder / colour / f"{index:04d}.png")
    return folder


def run(command: list[str], log: Path) -> None:
    """Print the command as the docs write it, run it (output to `log`), stop on failure."""
    print("$", " ".join(shlex.quote(part) for part in command), flush=True)
    began = time.perf_counter()
    if command[0] == "hf-argen":
        hf_argen_dispatch(command[1:])  # (a failure raises)
    else:
        with open(log, "w") as output:
            result = subprocess.run([sys.executable, *command[1:]], cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
        if result.returncode:
            raise RuntimeError(f"{command[1]} failed; see {log}")
    print(f"  ({time.perf_counter() - began:.0f} s)", flush=True)


def save_small(image: Image.Image, path: Path) -> Path:
    """A PNG of at most 256 colours (the pictures are flat drawings): a few KB."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path


def main(argv=None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--work_dir", default="runs/own_images", help="the folder, the runs and their logs")
    parser.add_argument("--pictures_dir", default="docs/own_images", help="where the three pictures go")
    parser.add_argument("--per_class", type=int, default=150, help="images per class subfolder")
    parser.add_argument("--vqvae_steps", type=int, default=1500, help="--max_train_steps of the VQ-VAE")
    parser.add_argument("--prior_steps", type=int, default=1500, help="--max_train_steps of the prior")
    args = parser.parse_args(argv)
    work, pictures = (ROOT / args.work_dir).resolve(), (ROOT / args.pictures_dir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    images, vqvae, prior = work / "my_images", work / "my-vqvae", work / "my-prior"
    write_folder(images, args.per_class)
    inputs = [Image.open(images / colour / f"{i:04d}.png") for colour in HUES for i in range(10)]
    print("wrote", save_small(make_grid(inputs, num_columns=10, scale=4), pictures / "1-inputs.png"))

    threads = ["--num_threads", "1"]
    run(
        [
            "python",
            "training/train_vqvae.py",
            "--dataset_name",
            str(images),
            "--output_dir",
            str(vqvae),
            "--max_train_steps",
            str(args.vqvae_steps),
            "--num_sample_images",
            "10",
            *threads,
        ],
        work / "vqvae.log",
    )
    print("wrote", save_small(Image.open(vqvae / "reconstructions.png"), pictures / "2-reconstructions.png"))
    run(["python", "training/train_prior.py", "--vqvae", str(vqvae), "--output_dir", str(prior),
         "--cache_dir", str(work / "codes"), "--max_train_steps", str(args.prior_steps), *threads],
        work / "prior.log")  # fmt: skip
    samples = work / "my-samples.png"
    run(["hf-argen", "generate", "--model", str(prior), "--class_labels", "red", "blue", "--num_images", "4",
         "--seed", "0", "--output", str(samples)], work / "generate.log")  # fmt: skip
    print("wrote", save_small(Image.open(samples), pictures / "3-samples.png"))
    return 0


if __name__ == "__main__":
    run_cli(main)
