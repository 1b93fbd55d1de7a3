"""Two-stage image generation: a causal LM prior samples VQ-VAE codes, the VQ-VAE decodes them to images.

A pipeline folder holds both models and a small JSON file::

    folder/
        pipeline_config.json     {"_class_name": "VQImageGenerationPipeline", "num_classes": 10, ...}
        vqvae/                   a VQVAEModel (save_pretrained)
        prior/                   an ARTransformerForCausalLM or ARRNNForCausalLM (save_pretrained)

Token layout of the prior: see `hf_argen.two_stage.vocabulary.PriorVocabulary` (codes [0, K), class c = K + c,
pad = K + C).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from PIL import Image

PIPELINE_CONFIG_NAME = "pipeline_config.json"


class VQImageGenerationPipeline:
    """Class-conditional sampling through a code prior and a VQ-VAE decoder.

    Args:
        vqvae (`VQVAEModel`): decodes code maps `(B, h, w)` to pixels in [-1, 1].
        prior (`PreTrainedModel` with `generate`): a causal LM over `K + num_classes + 1` token ids.
        num_classes (`int`, defaults to 10): number of class tokens.
    """

    def __init__(self, vqvae, prior, num_classes: int = 10):
        from ..two_stage.vocabulary import PriorVocabulary

        self.vqvae = vqvae
        self.prior = prior
        self.vocabulary = PriorVocabulary(num_codes=vqvae.config.num_embeddings, num_classes=num_classes)
        if self.is_pixelcnn:
            config = prior.config
            if config.num_levels != self.vocabulary.num_codes or config.num_classes != num_classes:
                raise ValueError(
                    f"a PixelCNN `prior` needs num_levels={self.vocabulary.num_codes} and num_classes={num_classes}, "
                    f"got {config.num_levels} and {config.num_classes}."
                )
            if config.image_size != vqvae.config.latent_size or config.num_channels != 1:
                raise ValueError(
                    f"a PixelCNN `prior` needs image_size={vqvae.config.latent_size} and 1 channel, "
                    f"got {config.image_size} and {config.num_channels}."
                )
        elif prior.config.vocab_size != self.vocabulary.vocab_size:
            raise ValueError(
                f"`prior` has vocab_size {prior.config.vocab_size}, but a VQ-VAE with "
                f"{self.vocabulary.num_codes} codes and {num_classes} classes needs {self.vocabulary.vocab_size}."
            )

    @property
    def is_pixelcnn(self) -> bool:
        """Whether the prior is a class-conditional `PixelCNNForImageGeneration` over the code map."""
        return getattr(self.prior.config, "model_type", None) == "pixelcnn"

    @property
    def num_classes(self) -> int:
        return self.vocabulary.num_classes

    @property
    def codes_per_image(self) -> int:
        return self.vqvae.config.latent_size**2

    @property
    def device(self) -> torch.device:
        return next(self.prior.parameters()).device

    def to(self, device):
        self.vqvae.to(device)
        self.prior.to(device)
        return self

    # ------------------------------------------------------------------------------------------------------
    # Saving and loading
    # ------------------------------------------------------------------------------------------------------
    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs) -> None:
        """Write `vqvae/`, `prior/` and `pipeline_config.json` under `save_directory`."""
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        self.vqvae.save_pretrained(folder / "vqvae", **kwargs)
        self.prior.save_pretrained(folder / "prior", **kwargs)
        config = {
            "_class_name": type(self).__name__,
            "num_classes": self.num_classes,
            "prior_type": "pixelcnn" if self.is_pixelcnn else "causal_lm",
        }
        (folder / PIPELINE_CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, **kwargs) -> VQImageGenerationPipeline:
        """Load from a local folder written by :meth:`save_pretrained`; `kwargs` go to both models'
        `from_pretrained` (e.g. `device_map`, `dtype`)."""
        from transformers import AutoModel, AutoModelForCausalLM

        from .. import auto  # noqa: F401  (registers the hf_argen configs with the Auto classes)
        from ..vqvae import VQVAEModel

        folder = Path(folder)
        config_path = folder / PIPELINE_CONFIG_NAME
        if not config_path.is_file():
            raise ValueError(f"`folder` must hold {PIPELINE_CONFIG_NAME}, vqvae/ and prior/; got {folder}.")
        config = json.loads(config_path.read_text())
        vqvae = VQVAEModel.from_pretrained(folder / "vqvae", **kwargs)
        auto_class = AutoModel if config.get("prior_type") == "pixelcnn" else AutoModelForCausalLM
        prior = auto_class.from_pretrained(folder / "prior", **kwargs)
        return cls(vqvae=vqvae.eval(), prior=prior.eval(), num_classes=int(config.get("num_classes", 10)))

    # ------------------------------------------------------------------------------------------------------
    # Sampling
    # ------------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample_codes(
        self,
        class_labels,
        generator: torch.Generator | int | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> torch.LongTensor:
        """Sample code maps `(B, h, w)` (long, in [0, K)) for `class_labels` `(B,)` with the prior's
        `generate()`: prompt = the class token, exactly h*w new tokens, non-code ids suppressed.

        `generator` (a `torch.Generator` or an int seed) makes sampling reproducible without touching the
        global RNG; `None` uses the global RNG."""
        if not temperature > 0:
            raise ValueError(f"`temperature` must be > 0, got {temperature}.")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"`top_k` must be an integer >= 1 or None, got {top_k!r}.")
        if top_p is not None and not 0 < top_p <= 1:
            raise ValueError(f"`top_p` must be in (0, 1] or None, got {top_p}.")
        prompt = self.vocabulary.class_tokens(class_labels)[:, None].to(self.device)
        if self.is_pixelcnn:
            return self._sample_codes_pixelcnn(prompt[:, 0], generator, temperature, top_k, top_p)
        length = self.codes_per_image
        h = self.vqvae.config.latent_size
        if prompt.shape[0] == 0:
            return torch.zeros(0, h, h, dtype=torch.long)
        generate_kwargs = dict(
            do_sample=True,
            temperature=float(temperature),
            top_k=top_k if top_k is not None else 0,
            top_p=top_p if top_p is not None else 1.0,
            max_new_tokens=length,
            min_new_tokens=length,
            suppress_tokens=self.vocabulary.non_code_ids,
            pad_token_id=self.vocabulary.pad_token_id,
            eos_token_id=None,
            attention_mask=torch.ones_like(prompt),
        )
        was_training = self.prior.training
        self.prior.eval()
        try:
            if generator is None:
                output = self.prior.generate(prompt, **generate_kwargs)
            else:
                if isinstance(generator, int):
                    seed = generator
                else:
                    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
                devices = [self.device] if self.device.type == "cuda" else []
                with torch.random.fork_rng(devices=devices):
                    torch.manual_seed(seed)
                    output = self.prior.generate(prompt, **generate_kwargs)
        finally:
            self.prior.train(was_training)
        codes = output[:, 1:]
        if codes.shape[1] != length or (codes >= self.vocabulary.num_codes).any():
            raise RuntimeError("the prior produced a non-code token or a wrong length; check its config.")
        return codes.reshape(-1, h, h).cpu()

    def _sample_codes_pixelcnn(self, class_tokens, generator, temperature, top_k, top_p) -> torch.LongTensor:
        h = self.vqvae.config.latent_size
        if class_tokens.shape[0] == 0:
            return torch.zeros(0, h, h, dtype=torch.long)
        if isinstance(generator, int):
            generator = torch.Generator(device=self.device).manual_seed(generator)
        codes = self.prior.generate(
            class_labels=class_tokens - self.vocabulary.class_token_offset,
            temperature=float(temperature),
            top_k=top_k,
            top_p=top_p,
            generator=generator,
        )
        return codes[:, 0].cpu()

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.FloatTensor:
        """Code maps `(B, h, w)` -> pixels `(B, C, H, W)` in [-1, 1]."""
        was_training = self.vqvae.training
        self.vqvae.eval()
        try:
            device = next(self.vqvae.parameters()).device
            return self.vqvae.decode(codes.to(device)).float().clamp(-1, 1).cpu()
        finally:
            self.vqvae.train(was_training)

    @staticmethod
    def to_pil(pixel_values: torch.Tensor) -> list[Image.Image]:
        """Pixels `(B, C, H, W)` in [-1, 1] -> PIL images (mode "L" for 1 channel, "RGB" for 3)."""
        levels = torch.round((pixel_values.clamp(-1, 1) + 1.0) * 127.5).to(torch.uint8)
        images = []
        for image in levels:
            array = image.permute(1, 2, 0).numpy()
            images.append(Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array))
        return images

    def __call__(
        self,
        class_labels,
        generator: torch.Generator | int | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        output_type: str = "pil",
    ):
        """Generate one image per entry of `class_labels` (ints in [0, num_classes)).

        Returns a list of PIL images (`output_type="pil"`), pixels `(B, C, H, W)` in [-1, 1] (`"pt"`), or the
        code maps `(B, h, w)` (`"codes"`)."""
        if output_type not in ("pil", "pt", "codes"):
            raise ValueError(f"`output_type` must be 'pil', 'pt' or 'codes', got {output_type!r}.")
        codes = self.sample_codes(class_labels, generator, temperature=temperature, top_k=top_k, top_p=top_p)
        if output_type == "codes":
            return codes
        pixels = self.decode(codes)
        return pixels if output_type == "pt" else self.to_pil(pixels)

    def sample_grid(self, num_per_class: int = 10, scale: int = 3, **kwargs) -> Image.Image:
        """A grid with one column per class and `num_per_class` rows of samples."""
        from ..image_processing import make_grid

        labels = list(range(self.num_classes)) * num_per_class
        return make_grid(self(labels, **kwargs), num_columns=self.num_classes, scale=scale)
