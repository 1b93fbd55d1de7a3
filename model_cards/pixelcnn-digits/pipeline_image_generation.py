"""Class-conditional image generation as a `transformers.Pipeline`, for the PixelCNNs and the two-stage model.

    from transformers import pipeline
    generator = pipeline(model="model_cards/pixelcnn-digits", trust_remote_code=True)     # remote code
    images = generator(class_labels=[0, 1, 2], num_images=2, seed=0)                      # 6 PIL images

    import hf_argen                                                                        # or: local code
    generator = pipeline("class-conditional-image-generation", model="model_cards/vqvae-prior-mnist")

The file imports only installed libraries: a saved model folder carries a copy (`custom_pipelines` in its
config.json names it), so `trust_remote_code=True` needs no hf_argen.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image
from transformers import Pipeline
from transformers.dynamic_module_utils import custom_object_save

TASK = "class-conditional-image-generation"  # registered locally by `import hf_argen`
REMOTE_TASK = "image-generation"  # the key in a saved folder's `custom_pipelines` (needs another name than TASK)


class ClassConditionalImageGenerationPipeline(Pipeline):
    """Sample images for class labels (ids or names from `config.id2label`) and return PIL images.

    Call arguments: `class_labels` (int, str or a list of them; default: every class, or nothing for an
    unconditional model), `num_images` (images per class, default 1; the total for an unconditional model),
    `generator` (a `torch.Generator` on any device) or `seed` (int), `temperature`, `top_k`, `top_p`,
    `guidance_scale` (two-stage models whose prior has a null class: classifier-free guidance); all but
    `num_images` go to the model's `generate()` as given, which checks them (sampling arguments through
    `transformers.GenerationConfig`; unset ones come from the model's `generation_config.json`). Returns a list of
    PIL images, class by class for each repetition: `[c0, c1, ..., c0, c1, ...]`.
    """

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False

    def __call__(self, class_labels=None, **kwargs):
        return super().__call__({"class_labels": class_labels}, **kwargs)

    def _sanitize_parameters(self, num_images=None, generator=None, seed=None, temperature=None, top_k=None,
                             top_p=None, guidance_scale=None, **kwargs):  # fmt: skip
        if kwargs:
            raise ValueError(f"unexpected arguments {sorted(kwargs)}.")
        if num_images is not None and (isinstance(num_images, bool) or not isinstance(num_images, int)
                                       or num_images < 1):  # fmt: skip
            raise ValueError(f"`num_images` must be a positive integer, got {num_images!r}.")
        forward = dict(generator=generator, seed=seed, temperature=temperature, top_k=top_k, top_p=top_p)
        if guidance_scale is not None:
            if self.model.config.model_type == "pixelcnn":
                raise ValueError(
                    "`guidance_scale` is for two-stage models whose prior was trained with a null class; a PixelCNN "
                    f"has none (got {guidance_scale!r})."
                )
            forward["guidance_scale"] = guidance_scale
        return {"num_images": num_images}, forward, {}

    def preprocess(self, inputs, num_images=None):
        config = self.model.config
        class_labels = inputs["class_labels"]
        num_classes = getattr(config, "num_classes", None)
        if num_classes is None:  # unconditional
            if class_labels is not None:
                raise ValueError("`class_labels` given, but the model is unconditional.")
            return {"class_labels": None, "num_images": num_images or 1}
        if class_labels is None:
            class_labels = list(range(num_classes))
        if isinstance(class_labels, (int, str)):
            class_labels = [class_labels]
        class_labels = [label.item() if hasattr(label, "item") else label for label in class_labels]
        return {"class_labels": class_labels * (num_images or 1), "num_images": None}

    def _forward(self, model_inputs, **sampling):
        if self.model.config.model_type == "pixelcnn":
            return {"levels": self.model.generate(**model_inputs, **sampling)}
        return {"pixels": self.model.generate(class_labels=model_inputs["class_labels"], output_type="pt",
                                              **sampling)}  # fmt: skip

    def postprocess(self, model_outputs):
        if "levels" in model_outputs:  # integer levels (B, C, H, W) in [0, num_levels)
            scale = 255.0 / (self.model.config.num_levels - 1)
            arrays = (model_outputs["levels"].detach().cpu().double() * scale).round()
        else:  # pixels (B, C, H, W) in [-1, 1]
            arrays = ((model_outputs["pixels"].detach().cpu().double().clamp(-1, 1) + 1.0) * 127.5).round()
        arrays = np.moveaxis(arrays.numpy().astype(np.uint8), 1, -1)
        return [Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array) for array in arrays]

    def save_pretrained(self, save_directory, **kwargs):
        """Save the model with this pipeline's file next to it and `custom_pipelines` in its config.json."""
        self.model.config.custom_pipelines = {
            REMOTE_TASK: {
                "impl": f"{type(self).__module__.split('.')[-1]}.{type(self).__name__}",
                "pt": ["AutoModel"],
                "tf": [],
                "type": "multimodal",
            }
        }
        os.makedirs(save_directory, exist_ok=True)
        custom_object_save(self, save_directory)
        self.model.save_pretrained(save_directory, **kwargs)


__all__ = ["REMOTE_TASK", "TASK", "ClassConditionalImageGenerationPipeline"]
