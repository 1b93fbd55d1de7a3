"""Text-to-image as a `transformers.Pipeline`, shipped beside a text-to-image model's weights (remote code).

    from transformers import pipeline
    generator = pipeline("text-to-image", model="model_cards/text-to-image-mnist-scenes", trust_remote_code=True)
    images = generator(["a 3 above a 7", "a 1 to the left of a 5"], guidance_scale=3.0, seed=0)  # 2 PIL images

    import hf_argen                                                         # or: local code, no remote code
    generator = pipeline("text-conditional-image-generation", model="model_cards/text-to-image-mnist-scenes")

A saved folder's config names this file under `custom_pipelines` (task `text-to-image`). The file imports only
installed libraries, so `trust_remote_code=True` needs no hf_argen.
"""

from __future__ import annotations

import os

from transformers import Pipeline
from transformers.dynamic_module_utils import custom_object_save

TEXT_TO_IMAGE_TASK = "text-conditional-image-generation"  # registered locally by `import hf_argen`
REMOTE_TASK = "text-to-image"  # the key in a saved folder's `custom_pipelines` (needs another name than the local task)
SAMPLING_ARGUMENTS = ("guidance_scale", "generator", "seed", "temperature", "top_k", "top_p")


class TextToImagePipeline(Pipeline):
    """Sample images for text prompts and return PIL images.

    Call arguments: `prompts` (a string or a list of them), `num_images_per_prompt` (default 1), `guidance_scale`
    (classifier-free guidance; 1: none), `generator` (a `torch.Generator` on any device) or `seed` (int),
    `temperature`, `top_k`, `top_p`: all but the first two go to the model's `generate()` as given, which checks them
    (through `transformers.GenerationConfig`; unset ones come from the model's `generation_config.json`). The whole
    batch is sampled in one `generate()` call. Returns a list of PIL images, prompt by prompt:
    `[p0, p0, ..., p1, p1, ...]`. A prompt with a word the model's tokenizer does not know, or too many words,
    raises a `ValueError` that names it.
    """

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True

    def __call__(self, prompts, **kwargs):
        return super().__call__({"prompts": prompts}, **kwargs)

    def _sanitize_parameters(self, num_images_per_prompt=None, **kwargs):
        unknown = sorted(set(kwargs) - set(SAMPLING_ARGUMENTS))
        if unknown:
            raise ValueError(f"unexpected arguments {unknown}; the text-to-image pipeline takes "
                             f"`num_images_per_prompt` and {list(SAMPLING_ARGUMENTS)}.")  # fmt: skip
        if num_images_per_prompt is not None and (
            isinstance(num_images_per_prompt, bool) or not isinstance(num_images_per_prompt, int)
            or num_images_per_prompt < 1
        ):  # fmt: skip
            raise ValueError(f"`num_images_per_prompt` must be a positive integer, got {num_images_per_prompt!r}.")
        return {"num_images_per_prompt": num_images_per_prompt or 1}, kwargs, {}

    def preprocess(self, inputs, num_images_per_prompt=1):
        prompts = inputs["prompts"]
        if isinstance(prompts, str):
            prompts = [prompts]
        if not isinstance(prompts, (list, tuple)) or not all(isinstance(p, str) for p in prompts):
            raise ValueError(f"`prompts` must be a string or a list of strings, got {prompts!r}.")
        captions = [self.caption_tokens(prompt) for prompt in prompts]
        return {"captions": [tokens for tokens in captions for _ in range(num_images_per_prompt)]}

    def caption_tokens(self, prompt: str) -> list[int]:
        """The token ids of `prompt` (no special tokens); `ValueError` naming the prompt for words the tokenizer
        maps to its unknown token (a model trained on other captions) or for a prompt longer than the model reads."""
        encoding = self.tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
        ids, unknown_id = list(encoding["input_ids"]), self.tokenizer.unk_token_id
        unknown = [
            prompt[start:end].strip()
            for token, (start, end) in zip(ids, encoding["offset_mapping"])
            if token == unknown_id
        ]
        if unknown_id is not None and unknown:
            words = [w for w in self.tokenizer.get_vocab() if w not in self.tokenizer.all_special_tokens]
            known = "" if len(words) > 60 else f" It knows: {' '.join(sorted(w.lstrip('▁') for w in words))}."
            raise ValueError(f"prompt {prompt!r}: this model's tokenizer does not know {unknown}.{known}")
        limit = self.model.config.max_text_length - 2
        if len(ids) > limit:
            raise ValueError(f"prompt {prompt!r} has {len(ids)} tokens; this model reads at most {limit}.")
        return ids

    def _forward(self, model_inputs, **sampling):
        input_ids = self.model.prompt_ids(model_inputs["captions"])
        return {"pixels": self.model.generate(input_ids, output_type="pt", **sampling)}

    def postprocess(self, model_outputs):
        return self.model.to_pil(model_outputs["pixels"])

    def save_pretrained(self, save_directory, **kwargs):
        """Save the model with this pipeline's file next to it and `custom_pipelines` in its config.json, and the
        tokenizer."""
        self.model.config.custom_pipelines = {
            REMOTE_TASK: {
                "impl": f"{type(self).__module__.split('.')[-1]}.{type(self).__name__}",
                "pt": ["AutoModel"],
                "tf": [],
                "type": "text",
            }
        }
        os.makedirs(save_directory, exist_ok=True)
        custom_object_save(self, save_directory)
        self.model.save_pretrained(save_directory, **kwargs)
        self.tokenizer.save_pretrained(save_directory)


__all__ = ["REMOTE_TASK", "TEXT_TO_IMAGE_TASK", "TextToImagePipeline"]
