"""Configuration of the two-stage generator: a VQ-VAE and a class-conditional prior over its codes."""

import copy

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

from .configuration_ar_rnn import ARRNNConfig
from .configuration_ar_transformer import ARTransformerConfig
from .configuration_pixelcnn import PixelCNNConfig
from .configuration_vqvae import VQVAEConfig

PRIOR_CONFIGS = {config.model_type: config for config in (ARTransformerConfig, ARRNNConfig, PixelCNNConfig)}


def _sub_config(value, config_classes: dict, default_type: str, name: str):
    """`value` as a sub-config: a config is copied (a composite config's set-up resets its sub-configs' attention
    implementation, which must not reach a live model's own config: a causal LM wrapped during training would lose
    its causal mask), a dict is built."""
    if value is None:
        return value
    if isinstance(value, PreTrainedConfig):
        return copy.deepcopy(value)
    if not isinstance(value, dict):
        raise TypeError(f"`{name}` must be a config or a dict, got {type(value).__name__}.")
    model_type = value.get("model_type", default_type)
    kwargs = {k: v for k, v in value.items() if k != "model_type"}
    if model_type in config_classes:
        return config_classes[model_type](**kwargs)
    if name == "prior" and model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:  # GPT-2, Llama, Mamba, ...
        return AutoConfig.for_model(model_type, **kwargs)
    if name == "prior":
        raise ValueError(
            f"`prior` must be one of the model types {sorted(config_classes)} or a `transformers` causal LM type "
            f"(`AutoModelForCausalLM`), got {model_type!r}."
        )
    raise ValueError(f"`{name}` must be one of the model types {sorted(config_classes)}, got {model_type!r}.")


@strict
class VQVAEPriorConfig(PreTrainedConfig):
    r"""
    Configuration for [`VQVAEPriorForImageGeneration`]: two sub-configs, as in `VisionEncoderDecoderConfig`.

    Args:
        vqvae (`VQVAEConfig` or `dict`): the VQ-VAE that decodes code maps `(h, w)` to images.
        prior (`ARTransformerConfig`, `ARRNNConfig`, `PixelCNNConfig`, any `transformers` causal LM config (GPT-2,
            Llama, Mamba, ...) or a `dict` with `model_type`): the prior.
            A causal LM prior reads `[class token] + h*w codes` (token ids: codes `[0, K)`, class `c` is `K + c`,
            pad `K + C`, see `PriorVocabulary`), so `vocab_size = K + num_classes + 1`; a PixelCNN prior is a
            class-conditional 1-channel `h x h` PixelCNN with `num_levels = K`.
        num_classes (`int`, defaults to 10): number of classes the prior is conditioned on.
        null_class (`bool`, defaults to `False`): a causal LM prior also knows a null class (token `K + C + 1`, so
            `vocab_size = K + num_classes + 2`), trained as the class dropped: `generate(guidance_scale=...)`
            contrasts each class with it (classifier-free guidance).
    """

    model_type = "vqvae_prior"
    sub_configs_defaults = {"vqvae": VQVAEConfig, "prior": ARTransformerConfig}

    vqvae: PreTrainedConfig | dict | None = None
    prior: PreTrainedConfig | dict | None = None
    num_classes: int = 10
    null_class: bool = False

    def __post_init__(self, **kwargs):
        self.vqvae = _sub_config(self.vqvae, {"vqvae": VQVAEConfig}, "vqvae", "vqvae")
        self.prior = _sub_config(self.prior, PRIOR_CONFIGS, "ar_transformer", "prior")
        super().__post_init__(**kwargs)
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise ValueError(f"`num_classes` must be an integer >= 1, got {self.num_classes!r}.")
        if not isinstance(self.null_class, bool):
            raise ValueError(f"`null_class` must be True or False, got {self.null_class!r}.")
        num_codes, size = self.vqvae.num_embeddings, self.vqvae.latent_size
        if self.prior.model_type == "pixelcnn":
            if self.null_class:
                raise ValueError("`null_class` needs a causal LM `prior`; a PixelCNN prior has no null class.")
            prior = self.prior
            if (prior.num_levels, prior.num_classes, prior.image_size, prior.num_channels) != (
                num_codes,
                self.num_classes,
                size,
                1,
            ):
                raise ValueError(
                    f"a PixelCNN `prior` needs num_levels={num_codes}, num_classes={self.num_classes}, "
                    f"image_size={size} and 1 channel, got num_levels={prior.num_levels}, "
                    f"num_classes={prior.num_classes}, image_size={prior.image_size}, {prior.num_channels} channels."
                )
        elif self.prior.vocab_size != num_codes + self.num_classes + 1 + int(self.null_class):
            null = " and a null class" if self.null_class else ""
            raise ValueError(
                f"`prior` has vocab_size {self.prior.vocab_size}, but a VQ-VAE with {num_codes} codes and "
                f"{self.num_classes} classes{null} needs {num_codes + self.num_classes + 1 + int(self.null_class)}."
            )


__all__ = ["VQVAEPriorConfig"]
