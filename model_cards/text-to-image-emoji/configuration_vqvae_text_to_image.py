"""Configuration of the text-to-image model: a VQ-VAE and one causal LM over caption tokens, then image codes."""

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from .configuration_vqvae import VQVAEConfig
from .configuration_vqvae_prior import PRIOR_CONFIGS, _sub_config
from .validation import check_int

CAUSAL_LM_PRIOR_CONFIGS = {name: config for name, config in PRIOR_CONFIGS.items() if name != "pixelcnn"}


@strict
class VQVAETextToImageConfig(PreTrainedConfig):
    r"""
    Configuration for [`VQVAETextToImageForImageGeneration`]: two sub-configs, as in `VisionEncoderDecoderConfig`,
    and the layout of the prompt (see `TextToImageVocabulary`).

    Args:
        vqvae (`VQVAEConfig` or `dict`): the VQ-VAE that decodes code maps `(h, w)` to images.
        prior (`ARTransformerConfig`, `ARRNNConfig`, any `transformers` causal LM config (GPT-2, Llama, Mamba, ...)
            or a `dict` with `model_type`): the causal LM over `prompt + h*w codes`; its `vocab_size` is
            `text_vocab_size + K` (caption tokens keep the tokenizer's ids, code `k` is `text_vocab_size + k`).
        text_vocab_size (`int`, defaults to 4): tokens of the caption tokenizer saved with the model.
        max_text_length (`int`, defaults to 16): prompt length: pads, `<bos>`, at most `max_text_length - 2` caption
            tokens, `<eos>`.
        text_pad_token_id, text_bos_token_id, text_eos_token_id (`int`, defaults to 0, 1, 2): the tokenizer's ids.
    """

    model_type = "vqvae_text_to_image"
    sub_configs_defaults = {"vqvae": VQVAEConfig, "prior": CAUSAL_LM_PRIOR_CONFIGS["ar_transformer"]}

    vqvae: PreTrainedConfig | dict | None = None
    prior: PreTrainedConfig | dict | None = None
    text_vocab_size: int = 4
    max_text_length: int = 16
    text_pad_token_id: int = 0
    text_bos_token_id: int = 1
    text_eos_token_id: int = 2

    def __post_init__(self, **kwargs):
        self.vqvae = _sub_config(self.vqvae, {"vqvae": VQVAEConfig}, "vqvae", "vqvae")
        self.prior = _sub_config(self.prior, CAUSAL_LM_PRIOR_CONFIGS, "ar_transformer", "prior")
        super().__post_init__(**kwargs)
        check_int("text_vocab_size", self.text_vocab_size, 3)
        check_int("max_text_length", self.max_text_length, 2)
        for name in ("text_pad_token_id", "text_bos_token_id", "text_eos_token_id"):
            value = getattr(self, name)
            check_int(name, value, 0)
            if value >= self.text_vocab_size:
                raise ValueError(f"`{name}` must be below `text_vocab_size` ({self.text_vocab_size}), got {value}.")
        if self.vqvae is None or self.prior is None:
            return  # an empty config (as `transformers` builds for defaults): checked once both parts are given
        vocab_size = self.text_vocab_size + self.vqvae.num_embeddings
        if self.prior.vocab_size != vocab_size:
            raise ValueError(
                f"`prior` has vocab_size {self.prior.vocab_size}, but {self.text_vocab_size} caption tokens and a "
                f"VQ-VAE with {self.vqvae.num_embeddings} codes need {vocab_size}."
            )
        length = self.max_text_length + self.vqvae.latent_size**2
        positions = getattr(self.prior, "max_position_embeddings", None) or getattr(self.prior, "n_positions", None)
        if positions is not None and positions < length:
            raise ValueError(
                f"`prior` holds {positions} positions, but a prompt of {self.max_text_length} tokens and "
                f"{self.vqvae.latent_size**2} codes need {length}."
            )


__all__ = ["VQVAETextToImageConfig"]
