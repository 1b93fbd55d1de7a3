"""Back-compat name for the two-stage generator: `VQImageGenerationPipeline` wraps a
`VQVAEPriorForImageGeneration` (see `hf_argen.models`), which is what new code should use."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .image_processing_pixelcnn import make_grid
from .modeling_vqvae import VQVAEModel
from .modeling_vqvae_prior import PRIOR_MODELS, VQVAEPriorForImageGeneration

LEGACY_CONFIG_NAME = "pipeline_config.json"


class VQImageGenerationPipeline:
    """`pipe(class_labels, generator=None, seed=None, temperature=None, top_k=None, top_p=None, output_type="pil")`,
    the model's `generate()`; every other attribute (`vqvae`, `prior`, `vocabulary`, `sample_codes`, `decode`,
    `save_pretrained`, ...) is the model's."""

    def __init__(self, vqvae=None, prior=None, num_classes: int = 10, model: VQVAEPriorForImageGeneration = None):
        if model is None:
            config = VQVAEPriorForImageGeneration.config_of_parts(vqvae, prior, num_classes)
            model = VQVAEPriorForImageGeneration(config, vqvae=vqvae, prior=prior)
        self.model = model

    def __getattr__(self, name):
        if name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)

    def to(self, device):
        self.model.to(device)
        return self

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, **kwargs) -> VQImageGenerationPipeline:
        """Load a saved two-stage folder (config.json), or one in the old layout (pipeline_config.json,
        vqvae/, prior/)."""
        folder = Path(folder)
        if (folder / LEGACY_CONFIG_NAME).is_file() and not (folder / "config.json").is_file():
            config = json.loads((folder / LEGACY_CONFIG_NAME).read_text())
            prior_type = json.loads((folder / "prior" / "config.json").read_text()).get("model_type")
            if prior_type not in PRIOR_MODELS:
                raise ValueError(f"`folder`'s prior/config.json must have a model_type in {sorted(PRIOR_MODELS)}, "
                                 f"got {prior_type!r}.")  # fmt: skip
            vqvae = VQVAEModel.from_pretrained(folder / "vqvae", **kwargs).eval()
            prior = PRIOR_MODELS[prior_type].from_pretrained(folder / "prior", **kwargs).eval()
            return cls(vqvae, prior, num_classes=int(config.get("num_classes", 10)))
        if not (folder / "config.json").is_file():
            raise ValueError(f"`folder` must hold a saved two-stage model (config.json); got {folder}.")
        return cls(model=VQVAEPriorForImageGeneration.from_pretrained(folder, **kwargs).eval())

    def __call__(self, class_labels, generator: torch.Generator | None = None, seed: int | None = None,
                 temperature: float | None = None, top_k: int | None = None, top_p: float | None = None,
                 output_type: str = "pil"):  # fmt: skip
        """One image per entry of `class_labels`: PIL images (`"pil"`), pixels `(B, C, H, W)` in [-1, 1] (`"pt"`) or
        code maps `(B, h, w)` (`"codes"`), on the CPU. Unset sampling arguments come from the model's
        `generation_config`."""
        output = self.model.generate(class_labels, generator=generator, seed=seed, temperature=temperature,
                                     top_k=top_k, top_p=top_p, output_type=output_type)  # fmt: skip
        return output.cpu() if isinstance(output, torch.Tensor) else output

    def sample_grid(self, num_per_class: int = 10, scale: int = 3, **kwargs):
        """A grid with one column per class and `num_per_class` rows of samples."""
        labels = list(range(self.num_classes)) * num_per_class
        return make_grid(self(labels, **kwargs), num_columns=self.num_classes, scale=scale)
