"""Two-stage class-conditional image generation in one `PreTrainedModel`: a prior samples a map of VQ-VAE codes,
the VQ-VAE decodes it (as `VisionEncoderDecoderModel` combines an encoder and a decoder).

    model = AutoModel.from_pretrained("model_cards/vqvae-prior-mnist")
    images = model.generate(class_labels=[0, 1, 2], seed=0)                      # (3, 1, 28, 28) in [-1, 1]
    codes = model.generate(class_labels=[0, 1, 2], seed=0, output_type="codes")  # (3, 7, 7) in [0, K)
    images = model.generate(class_labels=[0, 1], generator=torch.Generator("cuda").manual_seed(0))  # any device

`model.vqvae` and `model.prior` are complete models of their own (`save_pretrained` each), built from their configs
as `VisionEncoderDecoderModel` builds its parts: the prior is one of hf_argen's (transformer, RNN, PixelCNN) or any
`transformers` causal LM (`AutoModelForCausalLM.from_config`: GPT-2, Llama, Mamba, ...). This file imports only its
siblings, so a saved folder loads with `trust_remote_code=True` where hf_argen is not installed.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from PIL import Image
from transformers import AutoModelForCausalLM, GenerationConfig, PreTrainedModel

from .configuration_vqvae_prior import VQVAEPriorConfig
from .modeling_ar_rnn import ARRNNForCausalLM
from .modeling_ar_transformer import ARTransformerForCausalLM
from .modeling_pixelcnn import PixelCNNForImageGeneration, legacy_key_mapping
from .modeling_vqvae import VQVAEModel
from .safe_loading import SafeLoadingMixin
from .sampling_utils import (
    SAMPLING_DEFAULTS,
    class_ids,
    guidance_scale_of,
    inverse_cdf_sample,
    lm_warping,
    make_generator,
    rand_tensor,
    sampling_config,
    seed_from_generator,
    seeded_generate,
)
from .validation import check_count
from .vocabulary import PriorVocabulary

PRIOR_MODELS = {
    "ar_transformer": ARTransformerForCausalLM,
    "ar_rnn": ARRNNForCausalLM,
    "pixelcnn": PixelCNNForImageGeneration,
}
OUTPUT_TYPES = ("pt", "codes", "pil")


def build_prior(config) -> PreTrainedModel:
    """The prior for `config`: hf_argen's class for its model type, else `transformers`' causal LM for it."""
    if config.model_type in PRIOR_MODELS:
        return PRIOR_MODELS[config.model_type](config)
    return AutoModelForCausalLM.from_config(config)


class TwoStagePreTrainedModel(SafeLoadingMixin, PreTrainedModel):
    """What the two-stage models' `PreTrainedModel` classes share: no weights of their own to initialise (every part
    is a `PreTrainedModel`), and a `generation_config.json` of sampling defaults saved and loaded."""

    supports_gradient_checkpointing = False

    @classmethod
    def can_generate(cls) -> bool:  # so that `generation_config.json` (sampling defaults) is saved and loaded
        return True

    def _init_weights(self, module):
        pass  # every submodule is a `PreTrainedModel` that initialises its own weights


class TwoStageGenerationMixin:
    """What the two-stage models share: the parts (`self.vqvae`, `self.prior`) built from the config or given,
    sampling defaults read from a saved folder's `generation_config.json`, code maps sampled by a causal LM prior's
    `generate()` and decoded with `self.vqvae`, pixels turned into PIL images."""

    def _init_parts(self, vqvae=None, prior=None) -> None:
        """`self.vqvae` and `self.prior`: the trained models given, else built from the config (the prior:
        hf_argen's for its model type, else `AutoModelForCausalLM`); the config then holds theirs. Sampling
        defaults unless a `generation_config` that samples is set."""
        self.vqvae = vqvae if vqvae is not None else VQVAEModel(self.config.vqvae)
        self.prior = prior if prior is not None else build_prior(self.config.prior)
        self.config.vqvae, self.config.prior = self.vqvae.config, self.prior.config
        self.post_init()
        if self.generation_config is None or not self.generation_config.do_sample:
            self.generation_config = GenerationConfig(**SAMPLING_DEFAULTS)

    @property
    def codes_per_image(self) -> int:
        return self.config.vqvae.latent_size**2

    def _generate_codes(self, prompt: torch.Tensor, length: int, seed: int | None, pad_token_id: int, **warping):
        """The causal LM prior's `generate()` on `prompt` `(B, n)`: exactly `length` new tokens, every non-code id
        suppressed, every prompt token attended, no end token; from a forked global RNG seeded with `seed` (see
        `seeded_generate`). `warping`: sampling arguments of `generate()` (and guidance). Returns `(B, n + length)`
        token ids."""
        return seeded_generate(
            self.prior,
            prompt,
            seed,
            do_sample=True,
            max_new_tokens=length,
            min_new_tokens=length,
            suppress_tokens=self.vocabulary.non_code_ids,
            pad_token_id=pad_token_id,
            eos_token_id=None,
            attention_mask=torch.ones_like(prompt),  # every prompt token, pads included, is attended
            **warping,
        )

    def adjust_generation_fn(self, generation_config, from_auto_class, from_pipeline, pretrained_model_name_or_path,
                             *args, **kwargs):  # fmt: skip
        """Called by `from_pretrained` (as for `GenerationMixin` models, which these composites are not): the
        folder's `generation_config.json` (or the `generation_config` passed) replaces the defaults; without one
        they stay."""
        if generation_config is not None:
            self.generation_config = GenerationConfig.from_dict(generation_config.to_dict())
            return
        names = ("cache_dir", "force_download", "proxies", "local_files_only", "token", "revision", "subfolder")
        loading = {name: value for name, value in zip(names, args)}
        loading.update({name: kwargs[name] for name in names if name in kwargs})
        try:
            self.generation_config = GenerationConfig.from_pretrained(pretrained_model_name_or_path, **loading)
        except OSError:
            pass  # no generation_config.json: the defaults set in __init__

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.FloatTensor:
        """Code maps `(B, h, w)` -> pixels `(B, C, H, W)` in [-1, 1] (float32, on the model's device)."""
        was_training = self.vqvae.training
        self.vqvae.eval()
        try:
            return self.vqvae.decode(codes.to(self.device)).float().clamp(-1, 1)
        finally:
            self.vqvae.train(was_training)

    @staticmethod
    def to_pil(pixel_values: torch.Tensor) -> list:
        """Pixels `(B, C, H, W)` in [-1, 1] -> PIL images (mode "L" for 1 channel, "RGB" for 3)."""
        levels = torch.round((pixel_values.detach().float().clamp(-1, 1) + 1.0) * 127.5).to(torch.uint8).cpu()
        arrays = [image.permute(1, 2, 0).numpy() for image in levels]
        return [Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array) for array in arrays]


def check_output_type(output_type: str) -> None:
    if output_type not in OUTPUT_TYPES:
        raise ValueError(f"`output_type` must be one of {OUTPUT_TYPES}, got {output_type!r}.")


class VQVAEPriorPreTrainedModel(TwoStagePreTrainedModel):
    config_class = VQVAEPriorConfig
    base_model_prefix = "vqvae_prior"
    main_input_name = "class_labels"

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """The checked `from_pretrained` of `SafeLoadingMixin` (see `safe_loading.py`). A PixelCNN prior saved
        before its backbone split (`prior.layers.*`) loads into `prior.pixelcnn.*` (`legacy_key_mapping`)."""
        kwargs["key_mapping"] = {**legacy_key_mapping("prior."), **(kwargs.get("key_mapping") or {})}
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)


class VQVAEPriorForImageGeneration(TwoStageGenerationMixin, VQVAEPriorPreTrainedModel):
    """A VQ-VAE (`self.vqvae`) and a class-conditional prior over its code maps (`self.prior`).

    Args:
        config (`VQVAEPriorConfig`, *optional*): built from `vqvae`'s and `prior`'s configs when omitted.
        vqvae (`VQVAEModel`, *optional*) / prior (causal LM or `PixelCNNForImageGeneration`, *optional*):
            trained models to combine; built from `config` when omitted.
    """

    def __init__(self, config: VQVAEPriorConfig | None = None, vqvae=None, prior=None):
        if config is None:
            if vqvae is None or prior is None:
                raise ValueError("pass a `config`, or both `vqvae` and `prior`.")
            config = self.config_of_parts(vqvae, prior)
        super().__init__(config)
        self._init_parts(vqvae, prior)

    @staticmethod
    def config_of_parts(vqvae, prior, num_classes: int | None = None, **kwargs) -> VQVAEPriorConfig:
        """The composite config of a trained `vqvae` and `prior` (`num_classes` default: the prior's, else read off
        its vocabulary). It holds copies of their configs: building a composite config resets its parts' attention
        implementation, and the parts (a prior still training, say) keep theirs."""
        if num_classes is None:
            num_classes = getattr(prior.config, "num_classes", None) or (
                prior.config.vocab_size - vqvae.config.num_embeddings - 1
            )
        return VQVAEPriorConfig(vqvae=copy.deepcopy(vqvae.config), prior=copy.deepcopy(prior.config),
                                num_classes=num_classes, **kwargs)  # fmt: skip

    @property
    def vocabulary(self) -> PriorVocabulary:
        """Token layout of the prior (codes, class tokens, pad)."""
        return PriorVocabulary(
            num_codes=self.config.vqvae.num_embeddings,
            num_classes=self.config.num_classes,
            null_class=self.config.null_class,
        )

    @property
    def is_pixelcnn(self) -> bool:
        """Whether the prior is a class-conditional PixelCNN over the code map."""
        return self.config.prior.model_type == "pixelcnn"

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def forward(self, class_labels: torch.Tensor, codes: torch.Tensor, **kwargs):
        r"""The prior's output (loss = mean NLL per code, nats) on code maps `codes` `(B, h, w)` given
        `class_labels` `(B,)`; logits `(B, 1 + h*w, vocab)` for a causal LM, `(B, 1, h, w, K)` for a PixelCNN."""
        if self.is_pixelcnn:
            pixel_values = codes[:, None].to(self.device)
            return self.prior(pixel_values=pixel_values, class_labels=class_labels, labels=pixel_values, **kwargs)
        sequences = self.vocabulary.sequences(codes, class_labels).to(self.device)
        return self.prior(input_ids=sequences, labels=sequences, **kwargs)

    @torch.no_grad()
    def sample_codes(
        self,
        class_labels,
        generator: torch.Generator | None = None,
        seed: int | None = None,
        given_codes: torch.Tensor | None = None,
        num_given_codes: int = 0,
        **sampling,
    ) -> torch.LongTensor:
        """Code maps `(B, h, w)` (long, in [0, K), on the model's device) for `class_labels` `(B,)` (ids or names).

        A causal LM prior samples with its `generate()`: prompt = the class token, exactly h*w new tokens,
        non-code ids suppressed. `generator` is a `torch.Generator` on any device, or `seed` an int (the global RNG
        is left untouched); neither uses the global RNG. `sampling` (`temperature`, `top_k`, `top_p`,
        `guidance_scale`) is checked by `transformers.GenerationConfig`; unset values come from the model's
        `generation_config`.
        `guidance_scale` other than 1 (classifier-free guidance against the null class, `transformers`'
        `UnbatchedClassifierFreeGuidanceLogitsProcessor` inside `generate()`) needs a prior with `null_class`.

        Completion: with `given_codes` `(B, h, w)` (checked by the caller), the first `num_given_codes` codes of each
        map in raster order are kept and the rest sampled (a causal LM prior gets them in its prompt, after the class
        token -- and, with guidance, in the null prompt after the null token; a PixelCNN prior as its
        `pixel_values`).
        """
        sampling = sampling_config(self.generation_config, **sampling)
        guidance_scale = guidance_scale_of(sampling.guidance_scale, self.config.null_class, "a null class")
        generator = make_generator(generator, seed)
        labels = class_ids(class_labels, self.config.id2label, self.num_classes)
        if isinstance(labels, int):
            labels = [labels]
        prompt = self.vocabulary.class_tokens(labels)[:, None].to(self.device)
        size = self.config.vqvae.latent_size
        if prompt.shape[0] == 0:
            return torch.zeros(0, size, size, dtype=torch.long, device=self.device)
        warping = lm_warping(sampling)
        if self.is_pixelcnn:
            if guidance_scale is not None:
                raise ValueError("`guidance_scale` other than 1 needs a causal LM prior with a null class.")
            class_labels = prompt[:, 0] - self.vocabulary.class_token_offset
            completion = {}
            if given_codes is not None:
                completion = dict(pixel_values=given_codes[:, None], num_given_subpixels=num_given_codes)
            return self.prior.generate(class_labels=class_labels, generator=generator, **warping, **completion)[:, 0]
        if given_codes is not None:
            prompt = torch.cat([prompt, given_codes.reshape(len(prompt), -1)[:, :num_given_codes]], dim=1)
            if num_given_codes == self.codes_per_image:
                return given_codes.clone()
        if generator is not None and seed is None:
            seed = seed_from_generator(generator)
        if guidance_scale is not None:  # the unconditional prompt: the null class's token, then any kept codes
            null = prompt.clone()
            null[:, 0] = self.vocabulary.null_token_id
            warping.update(guidance_scale=guidance_scale, negative_prompt_ids=null)
        return self._sample_causal_lm(prompt, seed, warping).reshape(-1, size, size)

    def _sample_causal_lm(self, prompt: torch.Tensor, seed: int | None, warping: dict):
        """`(B, h*w)` codes from a causal LM prior for prompts `(B, 1 + n)`: the class token and the first `n` codes
        (kept). Its `generate()` draws from the global RNG: with a `seed` (the caller's, or one drawn from the
        caller's generator), from a forked RNG seeded with it. `warping`: sampling arguments of `generate()` (and
        guidance)."""
        length = self.codes_per_image - (prompt.shape[1] - 1)
        codes = self._generate_codes(prompt, length, seed, self.vocabulary.pad_token_id, **warping)[:, 1:]
        if codes.shape[1] != self.codes_per_image or (codes >= self.vocabulary.num_codes).any():
            raise RuntimeError("the prior produced a non-code token or a wrong length; check its config.")
        return codes

    def from_pil(self, images) -> torch.FloatTensor:
        """PIL images (any size and mode; one or a list) -> pixels `(B, C, H, W)` in [-1, 1] at the VQ-VAE's size and
        channels (bilinear resize; "L" or "RGB"), on the CPU: what `generate(pixel_values=...)` completes."""
        vqvae = self.config.vqvae
        images = [images] if isinstance(images, Image.Image) else list(images)
        mode, size = ("L" if vqvae.num_channels == 1 else "RGB"), (vqvae.image_size, vqvae.image_size)
        arrays = [np.asarray(image.convert(mode).resize(size, Image.BILINEAR), dtype=np.float32) for image in images]
        pixels = torch.from_numpy(np.stack(arrays)).reshape(len(arrays), *size, vqvae.num_channels)
        return pixels.permute(0, 3, 1, 2) / 127.5 - 1.0

    @torch.no_grad()
    def generate(
        self,
        class_labels=None,
        num_images: int | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        output_type: str = "pt",
        pixel_values: torch.FloatTensor | None = None,
        codes: torch.LongTensor | None = None,
        num_given_rows: int | None = None,
        num_given_codes: int | None = None,
        guidance_scale: float | None = None,
    ):
        r"""Sample one image per entry of `class_labels`, or complete images of which the top code rows are given.

        Args:
            class_labels (`int`, `str`, sequence or `torch.LongTensor` of shape `(batch,)`): class ids or names
                from `config.id2label`; a single class is repeated `num_images` times. Defaults to every class.
            num_images (`int`, *optional*): images per call when `class_labels` is a single class.
            generator (`torch.Generator`, *optional*): source of randomness, on any device; `None`: the global RNG.
            seed (`int`, *optional*): instead of `generator`: a CPU generator seeded with it (a PixelCNN prior), or
                the seed of the forked RNG a causal LM prior's `generate()` draws from.
            temperature, top_k, top_p: sampling of each code, checked by `transformers.GenerationConfig`; unset ones
                come from the model's `generation_config`.
            output_type (`str`): `"pt"` pixels `(B, C, H, W)` in [-1, 1], `"codes"` code maps `(B, h, w)`,
                `"pil"` a list of PIL images.
            pixel_values (`torch.FloatTensor` of shape `(batch, channels, height, width)`, *optional*): images in
                [-1, 1] to complete: the VQ-VAE encodes them, the first code rows are kept, the prior samples the
                rest, the VQ-VAE decodes. With `num_given_rows` or `num_given_codes`.
            codes (`torch.LongTensor` of shape `(batch, h, w)`, *optional*): instead of `pixel_values`, the code maps
                to complete, in [0, K).
            num_given_rows (`int`, *optional*): keep the top `num_given_rows` code rows, in [0, h].
            num_given_codes (`int`, *optional*): instead, keep the first `num_given_codes` codes in raster order, in
                [0, h * w].
            guidance_scale (`float`, *optional*): classifier-free guidance against the null class (a prior trained
                with `null_class`); 1 or unset: none. Also when completing.

        When completing, one image is made per given image, the kept codes come back unchanged, and
        `class_labels` (a class per image, or one class for all) may be `None`: each image's class is then drawn
        from its posterior given the kept codes (`class_posterior`), so that the class is summed out.
        """
        check_output_type(output_type)
        given = self._given_codes(pixel_values, codes, num_given_rows, num_given_codes)
        if given is not None:
            return self._complete(*given, class_labels, num_images, generator, seed, temperature, top_k, top_p,
                                  output_type, guidance_scale)  # fmt: skip
        if num_images is not None and (
            isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 1
        ):
            raise ValueError(f"`num_images` must be a positive integer or None, got {num_images!r}.")
        if class_labels is None:
            class_labels = list(range(self.num_classes))
        class_labels = class_ids(class_labels, self.config.id2label, self.num_classes)
        if isinstance(class_labels, int):
            class_labels = [class_labels] * (num_images or 1)
        elif num_images is not None and num_images != len(class_labels):
            raise ValueError(f"`num_images` ({num_images}) must equal the number of `class_labels` "
                             f"({len(class_labels)}), or be None.")  # fmt: skip
        codes = self.sample_codes(class_labels, generator, seed, temperature=temperature, top_k=top_k, top_p=top_p,
                                  guidance_scale=guidance_scale)  # fmt: skip
        return self._output(codes, output_type)

    def _output(self, codes: torch.Tensor, output_type: str):
        if output_type == "codes":
            return codes
        pixels = self.decode(codes)
        return pixels if output_type == "pt" else self.to_pil(pixels)

    # ---- completion ---------------------------------------------------------------------------------
    def _given_codes(self, pixel_values, codes, num_given_rows, num_given_codes) -> tuple[torch.Tensor, int] | None:
        """Checked completion arguments -> `(code maps (B, h, w) on the model's device, number of kept codes)`, or
        None when nothing is to be completed."""
        if pixel_values is None and codes is None:
            if num_given_rows is not None or num_given_codes is not None:
                raise ValueError("`num_given_rows` / `num_given_codes` need `pixel_values` or `codes` to complete.")
            return None
        if pixel_values is not None and codes is not None:
            raise ValueError("pass the images to complete as `pixel_values` or as `codes`, not both.")
        size = self.config.vqvae.latent_size
        if (num_given_rows is None) == (num_given_codes is None):
            raise ValueError(f"to complete images, pass exactly one of `num_given_rows` (in [0, {size}]) and "
                             f"`num_given_codes` (in [0, {size * size}]).")  # fmt: skip
        if num_given_rows is not None:
            check_count("num_given_rows", num_given_rows, size)
            num_given = num_given_rows * size
        else:
            check_count("num_given_codes", num_given_codes, size * size)
            num_given = num_given_codes
        if pixel_values is not None:
            return self.encode(pixel_values), num_given
        self.vqvae._check_codes(codes)
        return codes.to(device=self.device, dtype=torch.long), num_given

    @torch.no_grad()
    def encode(self, pixel_values: torch.Tensor) -> torch.LongTensor:
        """Pixels `(B, C, H, W)` float in [-1, 1] -> code maps `(B, h, w)` (long, on the model's device)."""
        was_training = self.vqvae.training
        self.vqvae.eval()
        try:
            if isinstance(pixel_values, torch.Tensor):
                pixel_values = pixel_values.to(self.device)
            return self.vqvae.encode(pixel_values)
        finally:
            self.vqvae.train(was_training)

    @torch.no_grad()
    def class_posterior(self, codes: torch.LongTensor, num_given_codes: int | None = None) -> torch.FloatTensor:
        r"""log p(y | c_<n): how likely each class is given the first `n` codes (raster order) of each code map
        `codes` `(B, h, w)` (all of them by default), under a uniform class prior. The exact likelihoods
        p(c_<n | y) are the prior's, over code ids only (as sampling renormalises them): one forward pass per class.

        Returns `(B, num_classes)` float32 log-probabilities.
        """
        self.vqvae._check_codes(codes)
        size = self.codes_per_image
        num_given = size if num_given_codes is None else num_given_codes
        check_count("num_given_codes", num_given, size)
        codes = codes.to(device=self.device, dtype=torch.long)
        if self.is_pixelcnn:
            return self.prior.class_posterior(codes[:, None], num_given_subpixels=num_given)
        log_likelihoods = [torch.zeros(len(codes), device=self.device)] * self.num_classes
        prefix = codes.reshape(len(codes), -1)[:, :num_given]
        was_training = self.prior.training
        self.prior.eval()
        try:
            for label in range(self.num_classes if num_given else 0):
                sequences = self.vocabulary.sequences(prefix, [label] * len(codes)).to(self.device)
                logits = self.prior(input_ids=sequences, use_cache=False).logits[:, :-1, : self.vocabulary.num_codes]
                log_probs = torch.log_softmax(logits.float(), dim=-1).gather(-1, sequences[:, 1:, None])
                log_likelihoods[label] = log_probs.sum(dim=(1, 2))
        finally:
            self.prior.train(was_training)
        return torch.log_softmax(torch.stack(log_likelihoods, dim=1), dim=1)

    def _complete(self, codes, num_given, class_labels, num_images, generator, seed, temperature, top_k, top_p,
                  output_type, guidance_scale=None):  # fmt: skip
        """`generate` on given code maps `(B, h, w)`: keep `num_given` codes of each, sample the rest."""
        batch = len(codes)
        if num_images is not None and num_images != batch:
            raise ValueError(f"`num_images` ({num_images}) must equal the number of images to complete ({batch}), "
                             "or be None.")  # fmt: skip
        class_labels = class_ids(class_labels, self.config.id2label, self.num_classes)
        if isinstance(class_labels, int):
            class_labels = [class_labels] * batch
        if class_labels is None:
            generator, seed = make_generator(generator, seed), None
            posterior = self.class_posterior(codes, num_given)
            class_labels = inverse_cdf_sample(posterior, rand_tensor((batch, 1), generator, self.device))
        elif len(class_labels) != batch:
            raise ValueError(f"`class_labels` must give one class per image to complete ({batch}), or one class, "
                             f"got {len(class_labels)}.")  # fmt: skip
        sampled = self.sample_codes(class_labels, generator, seed, codes, num_given, temperature=temperature,
                                    top_k=top_k, top_p=top_p, guidance_scale=guidance_scale)  # fmt: skip
        return self._output(sampled, output_type)


__all__ = [
    "OUTPUT_TYPES",
    "TwoStageGenerationMixin",
    "TwoStagePreTrainedModel",
    "VQVAEPriorForImageGeneration",
    "VQVAEPriorPreTrainedModel",
    "build_prior",
    "check_output_type",
]
