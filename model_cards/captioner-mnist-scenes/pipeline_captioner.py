"""`transformers` pipeline for image captioning, shipped beside a captioner's weights (remote code).

`pipeline("image-to-text", model=folder, trust_remote_code=True)` finds it through the saved config's
`custom_pipelines`; after `import hf_argen`, `pipeline("image-captioning", model=folder)` works without remote code.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from transformers import Pipeline

# Arguments passed straight to `model.generate()`.
GENERATE_ARGUMENTS = (
    "max_new_tokens",
    "min_new_tokens",
    "num_beams",
    "do_sample",
    "temperature",
    "top_k",
    "top_p",
    "repetition_penalty",
    "length_penalty",
    "no_repeat_ngram_size",
    "early_stopping",
    "streamer",
    "generation_config",
)


class ImageCaptioningPipeline(Pipeline):
    """Caption images: a PIL image, a path (or URL), a numpy array `(H, W)`/`(H, W, C)`, or a list of them.

    Returns `[{"generated_text": caption}]` per image (a list of those for a list input). Generation arguments
    (`max_new_tokens`, `num_beams`, `do_sample`, `temperature`, `top_k`, `top_p`, ...) pass through to
    `model.generate()`, as do the entries of `generate_kwargs`; `batch_size` batches images.
    """

    _load_processor = False
    _load_image_processor = True
    _load_feature_extractor = False
    _load_tokenizer = True

    def __call__(self, images, **kwargs):
        """Caption `images` (one image, or a list of them); see the class docstring."""
        if isinstance(images, (list, tuple)) and not images:
            raise ValueError("`images` is an empty list.")
        return super().__call__(images, **kwargs)

    def _sanitize_parameters(self, generate_kwargs=None, timeout=None, **kwargs):
        unknown = sorted(set(kwargs) - set(GENERATE_ARGUMENTS))
        if unknown:
            raise ValueError(
                f"Unknown argument(s) {unknown} for the image-captioning pipeline; generation arguments are "
                f"{list(GENERATE_ARGUMENTS)} (others go in `generate_kwargs`)."
            )
        if generate_kwargs is not None and not isinstance(generate_kwargs, dict):
            raise ValueError(f"`generate_kwargs` must be a dict, got {type(generate_kwargs).__name__}.")
        forward_params = {**(generate_kwargs or {}), **kwargs}
        preprocess_params = {} if timeout is None else {"timeout": timeout}
        return preprocess_params, forward_params, {}

    def preprocess(self, image, timeout=None):
        return self.image_processor(images=self._load(image, timeout), return_tensors="pt")

    @staticmethod
    def _load(image, timeout=None):
        from PIL import Image

        if isinstance(image, (str, os.PathLike)):
            text = str(image)
            if text.startswith(("http://", "https://")):
                from transformers.image_utils import load_image

                return load_image(text, timeout=timeout)
            if not Path(text).is_file():
                error = IsADirectoryError if Path(text).is_dir() else FileNotFoundError
                raise error(f"Image path {text!r} {'is a folder' if Path(text).is_dir() else 'does not exist'}.")
            try:
                with Image.open(text) as opened:
                    opened.load()
                    return opened.copy() if opened.mode != "P" else opened.convert("RGBA")
            except (OSError, SyntaxError, ValueError) as error:  # PIL: unidentified, truncated or broken files
                raise ValueError(f"Image file {text!r} cannot be read as an image: {error}.") from None
        if isinstance(image, Image.Image) or isinstance(image, np.ndarray):
            return image
        if type(image).__module__.startswith("torch"):
            return image
        raise ValueError(
            f"`images` must be PIL images, paths, numpy arrays (or a list of them), got {type(image).__name__}."
        )

    def _forward(self, model_inputs, **generate_kwargs):
        pixel_values = model_inputs["pixel_values"].to(self.model.device, self.model.dtype)
        return {"sequences": self.model.generate(pixel_values=pixel_values, **generate_kwargs)}

    def postprocess(self, model_outputs):
        texts = self.tokenizer.batch_decode(model_outputs["sequences"], skip_special_tokens=True)
        return [{"generated_text": " ".join(text.split())} for text in texts]

    def save_pretrained(self, save_directory, **kwargs):
        """Save model (its config already names this pipeline under `custom_pipelines`), tokenizer and image
        processor."""
        self.model.save_pretrained(save_directory, **kwargs)
        self.tokenizer.save_pretrained(save_directory, **kwargs)
        self.image_processor.save_pretrained(save_directory, **kwargs)


__all__ = ["ImageCaptioningPipeline"]
