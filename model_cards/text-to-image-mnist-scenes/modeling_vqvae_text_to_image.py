"""Text-to-image in one `PreTrainedModel`: one causal LM reads a caption's tokens, then writes a map of VQ-VAE codes,
which the VQ-VAE decodes (the recipe of DALL·E, small). Sampling is the causal LM's own `generate()`:

* exactly `h * w` new tokens (`min_new_tokens = max_new_tokens`), every caption token suppressed
  (`suppress_tokens`), so only codes can be drawn in image positions;
* classifier-free guidance through `generate(guidance_scale=g, negative_prompt_ids=<the null prompt>)`:
  `transformers`' `UnbatchedClassifierFreeGuidanceLogitsProcessor` runs the same LM on the empty caption (what
  training shows in place of the caption with probability `--condition_dropout`) and samples from
  `log p(x | null) + g * (log p(x | caption) - log p(x | null))`.

    model = AutoModel.from_pretrained("model_cards/text-to-image-mnist-scenes")
    tokenizer = AutoTokenizer.from_pretrained("model_cards/text-to-image-mnist-scenes")
    input_ids = model.prompt_ids([tokenizer("a 3 above a 7", add_special_tokens=False).input_ids])
    images = model.generate(input_ids, guidance_scale=3.0, seed=0)           # (1, 1, 64, 64) in [-1, 1]

The `text-to-image` pipeline (`pipeline_text_to_image.py`) does the tokenizing. This file imports only its
siblings, so a saved folder loads with `trust_remote_code=True` where hf_argen is not installed.
"""

from __future__ import annotations

import torch

from .configuration_vqvae_text_to_image import VQVAETextToImageConfig
from .modeling_vqvae_prior import TwoStageGenerationMixin, TwoStagePreTrainedModel, check_output_type
from .sampling_utils import (
    guidance_scale_of,
    lm_warping,
    make_generator,
    sampling_config,
    seed_from_generator,
)
from .vocabulary import TextToImageVocabulary


class VQVAETextToImagePreTrainedModel(TwoStagePreTrainedModel):
    config_class = VQVAETextToImageConfig
    base_model_prefix = "vqvae_text_to_image"
    main_input_name = "input_ids"


class VQVAETextToImageForImageGeneration(TwoStageGenerationMixin, VQVAETextToImagePreTrainedModel):
    """A VQ-VAE (`self.vqvae`) and a causal LM (`self.prior`) over `prompt + h*w codes` (`TextToImageVocabulary`).

    Args:
        config (`VQVAETextToImageConfig`): the two sub-configs and the prompt layout.
        vqvae (`VQVAEModel`, *optional*) / prior (causal LM, *optional*): trained models to combine; built from
            `config` when omitted (the prior: hf_argen's for its model type, else `AutoModelForCausalLM`).
    """

    def __init__(self, config: VQVAETextToImageConfig, vqvae=None, prior=None):
        super().__init__(config)
        self._init_parts(vqvae, prior)

    @property
    def vocabulary(self) -> TextToImageVocabulary:
        """Token layout: caption tokens (the tokenizer's ids), then codes."""
        config = self.config
        return TextToImageVocabulary(
            num_text_tokens=config.text_vocab_size,
            num_codes=config.vqvae.num_embeddings,
            max_text_length=config.max_text_length,
            pad_token_id=config.text_pad_token_id,
            bos_token_id=config.text_bos_token_id,
            eos_token_id=config.text_eos_token_id,
        )

    def prompt_ids(self, captions) -> torch.LongTensor:
        """Caption token ids (lists of the tokenizer's ids, no special tokens) -> prompts `(B, max_text_length)`."""
        return self.vocabulary.prompts(captions).to(self.device)

    def forward(self, input_ids: torch.Tensor, codes: torch.Tensor, **kwargs):
        r"""The LM's output on prompts `input_ids` `(B, max_text_length)` followed by code maps `codes` `(B, h, w)`:
        logits `(B, max_text_length + h*w, vocab)`; loss = mean NLL per code (nats; prompt positions carry no loss)."""
        sequences = self.vocabulary.sequences(input_ids.to(self.device), codes.to(self.device))
        labels = sequences.clone()
        labels[:, : self.config.max_text_length] = -100
        return self.prior(input_ids=sequences, labels=labels, **kwargs)

    def _check_prompts(self, input_ids) -> torch.LongTensor:
        if not isinstance(input_ids, torch.Tensor):
            return self.prompt_ids(input_ids)
        vocabulary = self.vocabulary
        if input_ids.ndim != 2 or input_ids.shape[1] != vocabulary.max_text_length or input_ids.is_floating_point():
            raise ValueError(
                f"`input_ids` must be integer prompts (batch, {vocabulary.max_text_length}) from `prompt_ids`, or "
                f"lists of caption token ids; got {input_ids.dtype} {tuple(input_ids.shape)}."
            )
        if input_ids.numel() and (input_ids.min() < 0 or input_ids.max() >= vocabulary.num_text_tokens):
            raise ValueError(f"`input_ids` must hold caption token ids in [0, {vocabulary.num_text_tokens}).")
        return input_ids.to(self.device)

    @torch.no_grad()
    def sample_codes(
        self, input_ids, generator: torch.Generator | None = None, seed: int | None = None, **sampling
    ) -> torch.LongTensor:
        """Code maps `(B, h, w)` (long, in [0, K), on the model's device) for prompts `input_ids` (see `generate`);
        `sampling`: `guidance_scale`, `temperature`, `top_k`, `top_p`, checked by `transformers.GenerationConfig`.

        One call of the LM's `generate()`: exactly h*w new tokens, caption tokens suppressed, and with
        `guidance_scale` other than 1 the null prompt as `negative_prompt_ids` (classifier-free guidance by
        `transformers`). The LM draws from the global RNG: with a `seed` (or one drawn from `generator`), from a
        forked RNG seeded with it, leaving the caller's global RNG untouched.
        """
        sampling = sampling_config(self.generation_config, **sampling)
        generator = make_generator(generator, seed)
        prompts = self._check_prompts(input_ids)
        size, length = self.config.vqvae.latent_size, self.codes_per_image
        if prompts.shape[0] == 0:
            return torch.zeros(0, size, size, dtype=torch.long, device=self.device)
        warping = lm_warping(sampling)
        scale = guidance_scale_of(sampling.guidance_scale, True, "a null prompt")
        if scale is not None:
            null = self.vocabulary.null_prompts(len(prompts)).to(self.device)
            warping.update(
                guidance_scale=scale, negative_prompt_ids=null, negative_prompt_attention_mask=torch.ones_like(null)
            )
        if generator is not None and seed is None:
            seed = seed_from_generator(generator)
        output = self._generate_codes(prompts, length, seed, self.config.text_pad_token_id, **warping)
        codes = output[:, prompts.shape[1] :] - self.vocabulary.code_offset
        if codes.shape[1] != length or (codes < 0).any():
            raise RuntimeError("the prior produced a non-code token or a wrong length; check its config.")
        return codes.reshape(-1, size, size)

    @torch.no_grad()
    def generate(
        self,
        input_ids=None,
        guidance_scale: float | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        output_type: str = "pt",
    ):
        r"""Sample one image per prompt.

        Args:
            input_ids (`torch.LongTensor` of shape `(batch, max_text_length)` or a list of lists of ints): prompts from
                `prompt_ids`, or the captions' token ids (the tokenizer's, without special tokens), laid out here.
            guidance_scale (`float`, *optional*): classifier-free guidance; 1: the plain conditional sampler, larger
                values follow the caption more closely. Unset: the model's `generation_config`.
            generator (`torch.Generator`, *optional*) or seed (`int`, *optional*): the source of randomness.
            temperature, top_k, top_p: sampling of each code, checked by `transformers.GenerationConfig`; unset ones
                come from the model's `generation_config`.
            output_type (`str`): `"pt"` pixels `(B, C, H, W)` in [-1, 1], `"codes"` code maps `(B, h, w)`,
                `"pil"` a list of PIL images.
        """
        check_output_type(output_type)
        if input_ids is None:
            raise ValueError("pass `input_ids`: prompts from `prompt_ids`, or lists of caption token ids.")
        codes = self.sample_codes(input_ids, generator, seed, guidance_scale=guidance_scale, temperature=temperature,
                                  top_k=top_k, top_p=top_p)  # fmt: skip
        if output_type == "codes":
            return codes
        pixels = self.decode(codes)
        return pixels if output_type == "pt" else self.to_pil(pixels)


__all__ = ["VQVAETextToImageForImageGeneration", "VQVAETextToImagePreTrainedModel"]
