"""The figures of the shipped text-to-image models (`hf-argen evaluate`): round trips through the shipped captioners.

* ``mnist_scenes``: one image per caption of a split (``test``: seen digit pairs; ``test_held_out_pairs``: pairs never
  in training; ``validation``: every 10th training scene, to choose a recipe on), at each guidance scale. Each image
  is judged by the captioner (exact caption match, greedy) and by an MNIST classifier on each half (the half the
  caption puts each digit in, its ink cropped and scaled into MNIST's 20x20 box): both digits right. The same judges
  on the split's real scenes and on their VQ-VAE reconstructions give the ceilings.
* ``emoji``: one image per name (the first `num_prompts` names of the training vendors' drawings, skin-tone variants
  left out as in training, in a fixed shuffle), judged by the emoji captioner (exact name); its accuracy on the real
  drawings of those names (one of the training vendors' each) is the ceiling.
"""

from __future__ import annotations

import re

import numpy as np
import torch
from PIL import Image

from ..caption_evaluation import exact_match, generate_captions
from .datasets import load_captions
from .mnist import make_mnist_scenes

SCENE_CAPTION = re.compile(r"^a (\d) (above|to the left of) a (\d)$")
SCENE_SPLITS = {"validation": "train", "test": "test", "test_held_out_pairs": "test_held_out_pairs"}


def parse_scene_caption(caption: str) -> tuple[int, int, str]:
    """ "a 3 above a 7" -> (3, 7, "above"); "a 3 to the left of a 7" -> (3, 7, "left")."""
    match = SCENE_CAPTION.match(" ".join(caption.lower().split()))
    if match is None:
        raise ValueError(f"{caption!r} is not a scene caption ('a <digit> above a <digit>' or '... to the left of').")
    first, relation, second = match.groups()
    return int(first), int(second), "above" if relation == "above" else "left"


def mnist_box(image: np.ndarray, threshold: float = 0.2) -> np.ndarray:
    """A float image in [0, 1] holding one digit -> 28x28 as MNIST draws digits: the ink's bounding box scaled so its
    longer side is 20 pixels, placed with its centre of mass at the centre (zeros when there is no ink). On MNIST's
    own test digits the classifier reads these 98.4 % right (99.0 % as stored)."""
    rows, cols = np.nonzero(image > threshold)
    out = np.zeros((28, 28), dtype=np.float32)
    if len(rows) == 0:
        return out
    crop = image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = 20.0 / max(crop.shape)
    height, width = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    resized = Image.fromarray((crop * 255).astype(np.uint8)).resize((width, height), Image.BILINEAR)
    digit = np.asarray(resized, dtype=np.float32) / 255.0
    mass = digit.sum()
    centre_y = (digit.sum(1) * np.arange(height)).sum() / mass if mass else height / 2
    centre_x = (digit.sum(0) * np.arange(width)).sum() / mass if mass else width / 2
    top = min(max(int(round(14 - centre_y)), 0), 28 - height)
    left = min(max(int(round(14 - centre_x)), 0), 28 - width)
    out[top : top + height, left : left + width] = digit
    return out


def scene_halves(image: Image.Image, relation: str) -> tuple[np.ndarray, np.ndarray]:
    """The two halves of a scene (left/right, or top/bottom for "above"), each as a 28x28 MNIST-style digit."""
    array = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    half = array.shape[0] // 2
    if relation == "above":
        parts = array[:half], array[half:]
    else:
        parts = array[:, :half], array[:, half:]
    return mnist_box(parts[0]), mnist_box(parts[1])


@torch.no_grad()
def digits_right(classifier, images, captions) -> list[bool]:
    """Per image: does the MNIST classifier read the caption's first digit in the first half and the second in the
    second?"""
    parsed = [parse_scene_caption(c) for c in captions]
    halves = [scene_halves(image, relation) for image, (_, _, relation) in zip(images, parsed)]
    batch = torch.from_numpy(np.stack([h for pair in halves for h in pair]))[:, None]
    device = next(classifier.parameters()).device
    predictions = torch.cat([classifier(batch[i : i + 1000].to(device)).argmax(-1).cpu()
                             for i in range(0, len(batch), 1000)]).reshape(-1, 2)  # fmt: skip
    return [(int(p[0]), int(p[1])) == (a, b) for p, (a, b, _) in zip(predictions, parsed)]


def judge(images, captions, captioner, processor, classifier=None, batch_size: int = 128) -> dict:
    """`{"round_trip": %, "digits": % or None, "num_images"}`: exact caption match of the captioner's greedy captions
    of `images` with `captions`, and (with an MNIST `classifier`) both digits right."""
    predictions = generate_captions(captioner, processor, images, batch_size=batch_size)
    row = {"round_trip": exact_match(predictions, list(captions)), "num_images": len(captions)}
    if classifier is not None:
        row["digits"] = 100.0 * float(np.mean(digits_right(classifier, images, captions)))
    return row


def scene_prompts(split: str, num_prompts: int, data_dir=None):
    """`(captions, real images)` of the first `num_prompts` scenes of `split` (validation: every 10th training scene,
    the training run's validation split)."""
    if split not in SCENE_SPLITS:
        raise ValueError(f"`split` must be one of {list(SCENE_SPLITS)} for mnist_scenes, got {split!r}.")
    if split == "validation":
        scenes = make_mnist_scenes("train", data_dir=data_dir, num_scenes=num_prompts * 10)
        scenes = scenes.select(range(0, len(scenes), 10))
    else:
        scenes = make_mnist_scenes(split, data_dir=data_dir, num_scenes=num_prompts)
    return list(scenes["text"]), list(scenes["image"])


@torch.no_grad()
def generate_images(model, tokenizer, captions, guidance_scale: float, seed: int = 0, batch_size: int = 100,
                    **sampling):  # fmt: skip
    """One image per caption (PIL), batch by batch, each batch seeded with `seed + its index`; `sampling`:
    temperature, top_k, top_p (unset: the model's generation_config)."""
    images = []
    for index, start in enumerate(range(0, len(captions), batch_size)):
        ids = tokenizer(list(captions[start : start + batch_size]), add_special_tokens=False)["input_ids"]
        images += model.generate(ids, guidance_scale=guidance_scale, seed=seed + index, output_type="pil",
                                 **sampling)  # fmt: skip
    return images


def resized(images, size: int) -> list:
    return [image.convert("L").resize((size, size), Image.BILINEAR) for image in images]


@torch.no_grad()
def reconstructions(model, images) -> list:
    """The VQ-VAE's reconstructions of `images` (PIL, at the model's image size)."""
    config = model.config.vqvae
    arrays = np.stack([np.asarray(image, dtype=np.float32) for image in resized(images, config.image_size)])
    pixels = torch.from_numpy(arrays / 127.5 - 1.0)[:, None].to(model.device)
    codes = torch.cat([model.vqvae.encode(pixels[i : i + 500]) for i in range(0, len(pixels), 500)])
    return model.to_pil(model.decode(codes))


def evaluate_scenes(model, tokenizer, captioner, processor, classifier, splits, guidance_scales, num_prompts: int,
                    seed: int = 0, data_dir=None, progress=None, sampling=None) -> list[dict]:  # fmt: skip
    """Rows `{"split", "system", "guidance_scale", "round_trip", "digits", "num_images"}`: the real scenes, their
    reconstructions, and the model at each guidance scale, per split."""
    rows = []
    for split in splits:
        captions, real = scene_prompts(split, num_prompts, data_dir)
        real = resized(real, model.config.vqvae.image_size)
        systems = [("real scenes", None, real), ("VQ-VAE reconstructions", None, reconstructions(model, real))]
        for scale in guidance_scales:
            images = generate_images(model, tokenizer, captions, scale, seed, **(sampling or {}))
            systems.append(("text-to-image", scale, images))
        for system, scale, images in systems:
            row = {"split": split, "system": system, "guidance_scale": scale}
            rows.append({**row, **judge(images, captions, captioner, processor, classifier)})
            if progress:
                progress(rows[-1])
    return rows


EMOJI_PROMPT_SPLITS = ("train", "validation")


def emoji_prompts(num_prompts: int, data_dir=None, seed: int = 0, split: str = "train"):
    """`(names, real drawings)`: `num_prompts` distinct names of the training vendors' drawings (a fixed shuffle of
    the names: the first `num_prompts` for ``"train"``, the last `num_prompts` for ``"validation"``, to choose sampling
    settings on: disjoint from any ``"train"`` prompts while both take at most half the names), each with one real
    drawing (the first vendor's that draws it)."""
    if split not in EMOJI_PROMPT_SPLITS:
        raise ValueError(f"`split` must be one of {list(EMOJI_PROMPT_SPLITS)} for emoji prompts, got {split!r}.")
    dataset = load_captions("emoji", "train", data_dir=data_dir, skin_variations=False)
    first = {}
    for index, name in enumerate(dataset["text"]):
        first.setdefault(name, index)
    names = sorted(first)
    if split == "validation" and 2 * num_prompts > len(names):
        raise ValueError(f"`num_prompts` must be at most {len(names) // 2} (half the names) for validation prompts, "
                         f"got {num_prompts}.")  # fmt: skip
    start = len(names) - num_prompts if split == "validation" else 0
    order = np.random.default_rng(seed).permutation(len(names))[start : start + num_prompts]
    chosen = [names[i] for i in order]
    return chosen, [dataset[first[name]]["image"] for name in chosen]


def evaluate_emoji(model, tokenizer, captioner, processor, guidance_scales, num_prompts: int = 500, seed: int = 0,
                   data_dir=None, progress=None, sampling=None, split: str = "train") -> list[dict]:  # fmt: skip
    """Rows: the captioner on real drawings of the names of `split` (:func:`emoji_prompts`; the ceiling), on their
    VQ-VAE reconstructions, and on the model's images at each guidance scale."""
    names, real = emoji_prompts(num_prompts, data_dir, seed, split)
    size = model.config.vqvae.image_size
    real = [image.convert("RGB").resize((size, size), Image.BOX) for image in real]
    arrays = np.stack([np.asarray(image, dtype=np.float32) for image in real]).transpose(0, 3, 1, 2)
    pixels = torch.from_numpy(arrays / 127.5 - 1.0).to(model.device)
    with torch.no_grad():
        rebuilt = model.to_pil(model.decode(model.vqvae.encode(pixels)))
    systems = [("real drawings", None, real), ("VQ-VAE reconstructions", None, rebuilt)]
    systems += [("text-to-image", s, generate_images(model, tokenizer, names, s, seed, **(sampling or {})))
                for s in guidance_scales]  # fmt: skip
    rows = []
    for system, scale, images in systems:
        row = {"split": f"{split} names", "system": system, "guidance_scale": scale}
        rows.append({**row, **judge(images, names, captioner, processor)})
        if progress:
            progress(rows[-1])
    return rows


__all__ = [
    "EMOJI_PROMPT_SPLITS",
    "digits_right",
    "emoji_prompts",
    "evaluate_emoji",
    "evaluate_scenes",
    "generate_images",
    "judge",
    "mnist_box",
    "parse_scene_caption",
    "scene_halves",
    "scene_prompts",
]
