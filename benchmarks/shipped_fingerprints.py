#!/usr/bin/env python
"""Fingerprints (sha256) of what every shipped model produces for fixed seeds and inputs, loaded as remote code
from its own folder: samples of the image generators (class-conditional and text-to-image), reconstructions of the
VQ-VAEs, captions, text. Two runs of this script before and after a change to the package or an export show whether
the shipped models still behave byte for byte the same. Compare runs on one machine: float outputs differ in their
last bits between CPU kinds (an AMD EPYC and an Intel Xeon, same code and torch, gave other hashes for the six
folders whose output passes a VQ-VAE decoder, the same for the integer samples, captions and text).

    python benchmarks/shipped_fingerprints.py --output_json before.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

CARDS = Path(__file__).resolve().parents[1] / "model_cards"


def digest(value) -> str:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().contiguous().numpy()
    if isinstance(value, np.ndarray):
        return hashlib.sha256(value.tobytes() + str(value.dtype).encode() + str(value.shape).encode()).hexdigest()[:16]
    return hashlib.sha256(json.dumps(value).encode()).hexdigest()[:16]


def fingerprint(folder: Path) -> str:
    config = json.loads((folder / "config.json").read_text())
    model_type = config["model_type"]
    torch.manual_seed(0)
    if config.get("pixel_lm"):  # a causal LM over sub-pixels: its card's plain `generate()`, classes 0 and 1
        model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True).eval()
        layout = config["pixel_lm"]
        levels, length = layout["num_levels"], layout["num_channels"] * layout["image_size"] ** 2
        prompt = torch.tensor([[levels, levels + 1], [levels, levels + 2]] if layout["num_classes"] else [[levels]] * 2)
        labels = {"class_labels": torch.tensor([0, 1])} if config.get("num_classes") else {}
        output = model.generate(
            prompt,
            do_sample=True,
            max_new_tokens=length,
            min_new_tokens=length,
            suppress_tokens=list(range(levels, config["vocab_size"])),
            eos_token_id=None,
            pad_token_id=config["pad_token_id"],
            attention_mask=torch.ones_like(prompt),
            **labels,
        )
        return digest(output)
    if model_type in ("pixelcnn", "vqvae_prior"):
        model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
        labels = [0, 1] if model.config.num_classes else None
        return digest(model.generate(class_labels=labels, generator=torch.Generator().manual_seed(0)))
    if model_type == "vqvae":
        model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
        size, channels = model.config.image_size, model.config.num_channels
        pixels = torch.rand(2, channels, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
        with torch.no_grad():
            return digest(model(pixels).reconstruction)
    if model_type == "vqvae_text_to_image":
        model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
        captions = tokenizer(["a 3 above a 7", "a 1 to the left of a 4"], add_special_tokens=False)["input_ids"]
        return digest(model.generate(input_ids=captions, generator=torch.Generator().manual_seed(0)))
    if model_type == "captioner":
        model = AutoModelForImageTextToText.from_pretrained(folder, trust_remote_code=True).eval()
        processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
        size = model.config.image_size
        array = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
        inputs = processor(images=[Image.fromarray(array)], return_tensors="pt")
        return digest(model.generate(pixel_values=inputs["pixel_values"], num_beams=3, max_new_tokens=16))
    model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    prompt = tokenizer("The", return_tensors="pt")
    return digest(model.generate(**prompt, do_sample=True, max_new_tokens=32, generator=None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    folders = [folder for folder in sorted(CARDS.iterdir()) if (folder / "config.json").is_file()]
    prints = {folder.name: fingerprint(folder) for folder in folders}
    for name, value in prints.items():
        print(f"{name:32s} {value}")
    if args.output_json:
        Path(args.output_json).write_text(json.dumps(prints, indent=2) + "\n")


if __name__ == "__main__":
    main()
