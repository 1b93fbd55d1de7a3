"""Image captioner p(text | image): a small image encoder and a pre-norm transformer decoder with cross-attention.

An encoder-decoder model in `transformers`' sense (`config.is_encoder_decoder=True`): `generate(pixel_values=...)`
runs the encoder once per call (`get_encoder()` -> `encoder_outputs`), expands its features for beams, and decodes
with an `EncoderDecoderCache` (self-attention keys/values grow one token per step, cross-attention keys/values are
computed once from the image features and then reused). Greedy, sampling, top-k/top-p, beam search, streamers and
EOS-terminated decoding all come from `GenerationMixin`.

Attention runs through `transformers`' attention interface (`"sdpa"` by default, `"eager"`; switch with
`model.set_attn_implementation(...)` or `from_pretrained(..., attn_implementation=...)`); attention weights are
returned whenever `output_attentions=True`. Encoder and decoder layers are `GradientCheckpointingLayer`s. The cache
is passed as `cache` (the old name `past_key_values` still works, with a deprecation warning).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils.deprecation import deprecate_kwarg

from .configuration_captioner import CaptionerConfig
from .modeling_common import GeluMLP, eager_attention_forward
from .pipeline_captioner import ImageCaptioningPipeline  # noqa: F401  (shipped beside the weights for remote code)
from .safe_loading import SafeLoadingMixin
from .validation import cap_max_length, check_input_ids


# ----------------------------------------------------------------------------------------------------------
# Input checks and masks
# ----------------------------------------------------------------------------------------------------------
def attention_bias(
    attention_mask: torch.Tensor | None, query_length: int, past_length: int, device
) -> tuple[torch.Tensor | None, bool]:
    """Boolean SDPA mask `(batch, 1, query_length, kv_length)` (True = attend), or `None` plus `is_causal`.

    No mask is built when nothing is padded and the causal structure is SDPA's own (no past) or trivial
    (one query). Padded query rows attend at least to themselves, so no row is fully masked (no NaNs).
    """
    kv_length = past_length + query_length
    padded = attention_mask is not None and not bool(attention_mask[:, -kv_length:].all())
    if not padded and (past_length == 0 or query_length == 1):
        return None, query_length > 1
    query_positions = torch.arange(query_length, device=device)[:, None] + past_length
    key_positions = torch.arange(kv_length, device=device)[None, :]
    mask = (key_positions <= query_positions)[None, None]
    if padded:
        if attention_mask.shape[-1] < kv_length:
            raise ValueError(
                f"`attention_mask` must cover the cached and new tokens ({kv_length}), got length "
                f"{attention_mask.shape[-1]}."
            )
        mask = mask & attention_mask[:, None, None, -kv_length:].bool()
        mask = mask | (key_positions == query_positions)[None, None]
    return mask, False


def check_pixel_values(pixel_values, config: CaptionerConfig) -> None:
    """Raise a ValueError unless `pixel_values` is a float `(batch, num_channels, image_size, image_size)` tensor."""
    if not isinstance(pixel_values, torch.Tensor):
        raise ValueError(f"`pixel_values` must be a torch.Tensor, got {type(pixel_values).__name__}.")
    if not pixel_values.dtype.is_floating_point:
        raise ValueError(
            f"`pixel_values` must be a float tensor (normalised by the CaptionerImageProcessor), got "
            f"{pixel_values.dtype}."
        )
    expected = (config.num_channels, config.image_size, config.image_size)
    if pixel_values.dim() != 4 or tuple(pixel_values.shape[1:]) != expected:
        raise ValueError(
            f"`pixel_values` must have shape (batch, {', '.join(map(str, expected))}), got "
            f"{tuple(pixel_values.shape)}; use the model's CaptionerImageProcessor to resize images."
        )
    # NaN/inf would turn every logit into NaN. Checking values needs a device sync on accelerators: there it is
    # done without gradients only (inference: once per `generate` call), never in a training step.
    if (pixel_values.device.type == "cpu" or not torch.is_grad_enabled()) and not bool(
        torch.isfinite(pixel_values).all()
    ):
        raise ValueError("`pixel_values` hold NaN or infinite values; pass images through the CaptionerImageProcessor.")


# ----------------------------------------------------------------------------------------------------------
# Attention (eager or SDPA), self- and cross-attention
# ----------------------------------------------------------------------------------------------------------
class CaptionerAttention(nn.Module):
    """Multi-head attention `(B, T, H)` -> `(B, T, H)`: self-attention (causal or not) or cross-attention."""

    def __init__(self, config: CaptionerConfig, layer_idx: int | None = None, is_cross_attention: bool = False):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.is_cross_attention = is_cross_attention
        self.num_heads, self.head_dim = config.num_attention_heads, config.head_dim
        self.scaling = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.is_causal = False  # the default; each call passes `is_causal` (True for the decoder's self-attention)
        self.q_proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.k_proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.v_proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.o_proj = nn.Linear(config.hidden_size, config.hidden_size)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(*x.shape[:2], self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        hidden_states,
        key_value_states=None,
        mask=None,
        is_causal=False,
        cache: Cache | None = None,
        output_attentions: bool = False,
    ):
        batch, length, width = hidden_states.shape
        query = self._heads(self.q_proj(hidden_states))
        if self.is_cross_attention:
            # Image features never change while decoding: project them once, keep them in the cross cache.
            cross_cache = cache.cross_attention_cache if isinstance(cache, EncoderDecoderCache) else None
            if cross_cache is not None and cache.is_updated.get(self.layer_idx):
                key, value = cross_cache.layers[self.layer_idx].keys, cross_cache.layers[self.layer_idx].values
            else:
                key, value = self._heads(self.k_proj(key_value_states)), self._heads(self.v_proj(key_value_states))
                if cross_cache is not None:
                    key, value = cross_cache.update(key, value, self.layer_idx)
                    cache.is_updated[self.layer_idx] = True
        else:
            key, value = self._heads(self.k_proj(hidden_states)), self._heads(self.v_proj(hidden_states))
            if cache is not None:
                self_cache = cache.self_attention_cache if isinstance(cache, EncoderDecoderCache) else cache
                key, value = self_cache.update(key, value, self.layer_idx)
        # Attention weights are only materialised by the eager implementation: use it when they are asked for.
        implementation = "eager" if output_attentions else self.config._attn_implementation
        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(implementation, eager_attention_forward)
        out, weights = attention_interface(
            self,
            query,
            key,
            value,
            mask,
            dropout=self.dropout if self.training else 0.0,
            scaling=self.scaling,
            is_causal=is_causal,
        )
        return self.o_proj(out.reshape(batch, length, width)), (weights if output_attentions else None)


class CaptionerEncoderLayer(GradientCheckpointingLayer):
    """Pre-norm bidirectional self-attention block over the image feature grid."""

    def __init__(self, config: CaptionerConfig):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.self_attn = CaptionerAttention(config)
        self.post_attention_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = GeluMLP(config)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, hidden_states, output_attentions=False):
        attn, weights = self.self_attn(self.input_layernorm(hidden_states), output_attentions=output_attentions)
        hidden_states = hidden_states + self.dropout(attn)
        hidden_states = hidden_states + self.dropout(self.mlp(self.post_attention_layernorm(hidden_states)))
        return hidden_states, weights


class CaptionerDecoderLayer(GradientCheckpointingLayer):
    """Pre-norm decoder block: causal self-attention, cross-attention to the image, MLP (each residual)."""

    def __init__(self, config: CaptionerConfig, layer_idx: int):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.self_attn = CaptionerAttention(config, layer_idx)
        self.cross_attention_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.cross_attn = CaptionerAttention(config, layer_idx, is_cross_attention=True)
        self.post_attention_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = GeluMLP(config)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(
        self, hidden_states, encoder_hidden_states, mask=None, is_causal=False, cache=None, output_attentions=False
    ):
        attn, self_weights = self.self_attn(
            self.input_layernorm(hidden_states),
            mask=mask,
            is_causal=is_causal,
            cache=cache,
            output_attentions=output_attentions,
        )
        hidden_states = hidden_states + self.dropout(attn)
        cross, cross_weights = self.cross_attn(
            self.cross_attention_layernorm(hidden_states),
            encoder_hidden_states,
            cache=cache,
            output_attentions=output_attentions,
        )
        hidden_states = hidden_states + self.dropout(cross)
        hidden_states = hidden_states + self.dropout(self.mlp(self.post_attention_layernorm(hidden_states)))
        return hidden_states, self_weights, cross_weights


# ----------------------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------------------
class CaptionerPreTrainedModel(SafeLoadingMixin, PreTrainedModel):
    config_class = CaptionerConfig
    base_model_prefix = "captioner"
    main_input_name = "pixel_values"
    input_modalities = ("image", "text")
    _no_split_modules = ["CaptionerEncoderLayer", "CaptionerDecoderLayer"]
    _supports_sdpa = True
    supports_gradient_checkpointing = True

    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            else:
                nn.init.normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)
        elif isinstance(module, (nn.LayerNorm, nn.GroupNorm)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, CaptionerImageEncoder):
            nn.init.normal_(module.embed_positions, std=std)
        if isinstance(module, CaptionerAttention):
            # GPT-2's scaled init of residual projections: std / sqrt(2 * num_layers).
            nn.init.normal_(module.o_proj.weight, std=std / (2 * self.config.num_hidden_layers) ** 0.5)
        elif isinstance(module, GeluMLP):
            nn.init.normal_(module.down_proj.weight, std=std / (2 * self.config.num_hidden_layers) ** 0.5)


class CaptionerImageEncoder(nn.Module):
    """Images `(B, C, S, S)` -> feature grid `(B, grid_size**2, hidden_size)` (raster order), with learned
    2-D positions, optional self-attention layers, and a final LayerNorm."""

    main_input_name = "pixel_values"

    def __init__(self, config: CaptionerConfig):
        super().__init__()
        self.config = config
        if config.encoder_type in ("conv", "resnet"):
            # Per stage: a stride-2 conv, then one more conv ("conv") or residual blocks ("resnet").
            stages, width, self.stage_ends = [], config.num_channels, []
            for channels in config.encoder_channels:
                stages += _conv_norm_gelu(width, channels, stride=2)
                if config.encoder_type == "conv":
                    stages += _conv_norm_gelu(channels, channels)
                else:
                    stages += [CaptionerResidualBlock(channels) for _ in range(config.encoder_blocks_per_stage)]
                width = channels
                self.stage_ends.append(len(stages) - 1)
            stages.append(nn.Conv2d(width, config.hidden_size, 1))
            self.stem = nn.Sequential(*stages)
        else:
            self.stem = nn.Conv2d(config.num_channels, config.hidden_size, config.patch_size, stride=config.patch_size)
            self.stage_ends = []
        self.embed_positions = nn.Parameter(torch.zeros(config.grid_size**2, config.hidden_size))
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layers = nn.ModuleList([CaptionerEncoderLayer(config) for _ in range(config.num_encoder_layers)])
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.gradient_checkpointing = False

    def forward(
        self,
        pixel_values: torch.FloatTensor,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutput:
        check_pixel_values(pixel_values, self.config)
        features = self._stem_features(pixel_values.to(self.embed_positions.dtype))
        hidden_states = self.dropout(features.flatten(2).transpose(1, 2) + self.embed_positions)
        all_hidden = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            # hidden states positional: a reentrant checkpoint (GradientCheckpointingLayer) passes gradients to them
            hidden_states, weights = layer(hidden_states, output_attentions=bool(output_attentions))
            if output_hidden_states:
                all_hidden += (hidden_states,)
            if output_attentions:
                all_attentions += (weights,)
        hidden_states = self.norm(hidden_states)
        if return_dict is False:
            return tuple(x for x in (hidden_states, all_hidden, all_attentions) if x is not None)
        return BaseModelOutput(last_hidden_state=hidden_states, hidden_states=all_hidden, attentions=all_attentions)

    def _stem_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The conv stem; in training with `mixstyle_probability`, MixStyle after every stage but the last."""
        mix_after = self.stage_ends[:-1] if self.training and self.config.mixstyle_probability else []
        if not mix_after:
            return self.stem(pixel_values)
        features = pixel_values
        for index, module in enumerate(self.stem):
            features = module(features)
            if index in mix_after and torch.rand(()) < self.config.mixstyle_probability:
                features = mix_feature_statistics(features, self.config.mixstyle_alpha)
        return features


def mix_feature_statistics(features: torch.Tensor, alpha: float) -> torch.Tensor:
    """MixStyle (Zhou et al., 2021): feature maps `(B, C, H, W)` re-normalised with per-image channel means and
    standard deviations mixed, with a Beta(alpha, alpha) weight, with those of a random other image of the batch."""
    batch = features.shape[0]
    mean = features.mean((2, 3), keepdim=True).detach()
    std = (features.var((2, 3), keepdim=True) + 1e-6).sqrt().detach()
    weight = torch.distributions.Beta(alpha, alpha).sample((batch, 1, 1, 1)).to(features)
    order = torch.randperm(batch, device=features.device)
    mixed_mean = weight * mean + (1 - weight) * mean[order]
    mixed_std = weight * std + (1 - weight) * std[order]
    return (features - mean) / std * mixed_std + mixed_mean


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


def _conv_norm_gelu(in_channels: int, out_channels: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1),
        nn.GroupNorm(_groups(out_channels), out_channels),
        nn.GELU(),
    ]


class CaptionerResidualBlock(nn.Module):
    """`x + GN(conv(GELU(GN(conv(x)))))`, then GELU: two 3x3 convs at constant width (the `"resnet"` encoder)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm1 = nn.GroupNorm(_groups(channels), channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(_groups(channels), channels)
        self.act = nn.GELU()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        residual = self.norm2(self.conv2(self.act(self.norm1(self.conv1(hidden_states)))))
        return self.act(hidden_states + residual)


class CaptionerTextDecoder(nn.Module):
    """Token + learned position embeddings, decoder layers (self- and cross-attention), final LayerNorm."""

    def __init__(self, config: CaptionerConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.embed_positions = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layers = nn.ModuleList([CaptionerDecoderLayer(config, i) for i in range(config.num_hidden_layers)])
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.gradient_checkpointing = False

    def forward(
        self,
        input_ids,
        encoder_hidden_states,
        attention_mask=None,
        position_ids=None,
        cache=None,
        output_attentions=False,
        output_hidden_states=False,
    ):
        config = self.config
        check_input_ids(input_ids, config.vocab_size, "decoder_input_ids")
        batch, length = input_ids.shape
        if encoder_hidden_states.shape[0] != batch:
            raise ValueError(
                f"The image features have batch size {encoder_hidden_states.shape[0]} but `decoder_input_ids` has "
                f"{batch}."
            )
        past_length = cache.get_seq_length() if cache is not None else 0
        if position_ids is None:
            position_ids = torch.arange(past_length, past_length + length, device=input_ids.device)[None]
        limit = config.max_position_embeddings
        if past_length + length > limit or int(position_ids.max()) >= limit:
            raise ValueError(
                f"The caption reaches position {past_length + length - 1}, past `max_position_embeddings` "
                f"({config.max_position_embeddings}): lower `max_new_tokens` or the caption length."
            )
        hidden_states = self.dropout(self.embed_tokens(input_ids) + self.embed_positions(position_ids))
        mask, is_causal = attention_bias(attention_mask, length, past_length, hidden_states.device)
        all_hidden = (hidden_states,) if output_hidden_states else None
        self_attentions = () if output_attentions else None
        cross_attentions = () if output_attentions else None
        for layer in self.layers:
            # image features positional too: the encoder trains through them (GradientCheckpointingLayer)
            hidden_states, self_w, cross_w = layer(
                hidden_states,
                encoder_hidden_states,
                mask=mask,
                is_causal=is_causal,
                cache=cache,
                output_attentions=output_attentions,
            )
            if output_hidden_states:
                all_hidden += (hidden_states,)
            if output_attentions:
                self_attentions += (self_w,)
                cross_attentions += (cross_w,)
        return self.norm(hidden_states), all_hidden, self_attentions, cross_attentions


class CaptionerForConditionalGeneration(CaptionerPreTrainedModel, GenerationMixin):
    r"""Image captioner: `pixel_values` `(B, C, S, S)` (float, normalised by `CaptionerImageProcessor`) and
    `decoder_input_ids` `(B, T)` (starting with the decoder start = bos token) -> logits `(B, T, vocab_size)`.

    `labels` are aligned with `decoder_input_ids` (usually equal, padding set to -100): position t predicts token
    t + 1 (the shift happens inside `self.loss_function`). Given only `labels`, `decoder_input_ids` are the labels
    with -100 replaced by the pad token.
    """

    _tied_weights_keys = {"lm_head.weight": "decoder.embed_tokens.weight"}

    def __init__(self, config: CaptionerConfig):
        super().__init__(config)
        self.encoder = CaptionerImageEncoder(config)
        self.decoder = CaptionerTextDecoder(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_encoder(self, modality=None):
        return self.encoder

    def get_decoder(self):
        return self.decoder

    def get_input_embeddings(self):
        return self.decoder.embed_tokens

    def set_input_embeddings(self, value):
        self.decoder.embed_tokens = value

    @deprecate_kwarg("past_key_values", "6.0.0", new_name="cache")
    def forward(
        self,
        pixel_values: torch.FloatTensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        decoder_position_ids: torch.LongTensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        cache: Cache | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        logits_to_keep: int = 0,
        attention_mask: torch.Tensor | None = None,
        **kwargs,
    ) -> Seq2SeqLMOutput:
        r"""
        Args:
            pixel_values (`torch.FloatTensor` of shape `(batch, num_channels, image_size, image_size)`): images from
                the `CaptionerImageProcessor`; not needed when `encoder_outputs` is given.
            decoder_input_ids (`torch.LongTensor` of shape `(batch, seq_len)`): caption tokens, starting with bos.
            decoder_attention_mask (`torch.LongTensor` of shape `(batch, past_len + seq_len)`, *optional*): 1 = token,
                0 = padding.
            encoder_outputs (`BaseModelOutput`, *optional*): precomputed image features (as `generate()` passes).
            cache (`EncoderDecoderCache`, *optional*): self- and cross-attention keys/values; created when
                `use_cache` and none is given. A plain `Cache` is used for self-attention only.
            labels (`torch.LongTensor` of shape `(batch, seq_len)`, *optional*): aligned with `decoder_input_ids`,
                -100 ignored; the loss (mean NLL in nats per predicted token, or summed over
                `num_items_in_batch` when given) comes from `self.loss_function`.
            attention_mask: accepted for `generate()` compatibility and ignored (images have no padding).
        """
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        return_dict = config.return_dict if return_dict is None else return_dict
        encoder_outputs = self._encoder_outputs(pixel_values, encoder_outputs, output_attentions, output_hidden_states)
        decoder_input_ids = self._decoder_input_ids(decoder_input_ids, labels)
        cache = self._decoder_cache(cache, use_cache)
        hidden_states, all_hidden, self_attentions, cross_attentions = self.decoder(
            decoder_input_ids,
            encoder_outputs.last_hidden_state,
            attention_mask=decoder_attention_mask,
            position_ids=decoder_position_ids,
            cache=cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        if logits_to_keep:
            hidden_states = hidden_states[:, -logits_to_keep:]
        logits = self.lm_head(hidden_states)
        loss = None
        if labels is not None:
            if labels.shape != decoder_input_ids.shape:
                raise ValueError(
                    f"`labels` {tuple(labels.shape)} must match `decoder_input_ids` {tuple(decoder_input_ids.shape)}."
                )
            loss = self.loss_function(
                logits, labels, vocab_size=config.vocab_size, num_items_in_batch=kwargs.get("num_items_in_batch")
            )
        output = Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            cache=cache,
            decoder_hidden_states=all_hidden,
            decoder_attentions=self_attentions,
            cross_attentions=cross_attentions,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
        )
        return output if return_dict else output.to_tuple()

    def _encoder_outputs(
        self, pixel_values, encoder_outputs, output_attentions, output_hidden_states
    ) -> BaseModelOutput:
        """The image features: `encoder_outputs` as given (a tuple becomes a `BaseModelOutput`), or encoded from
        `pixel_values` `(batch, num_channels, image_size, image_size)`."""
        if encoder_outputs is None:
            if pixel_values is None:
                raise ValueError("Pass `pixel_values` (images) or precomputed `encoder_outputs`.")
            return self.encoder(
                pixel_values, output_attentions=output_attentions, output_hidden_states=output_hidden_states
            )
        if isinstance(encoder_outputs, (tuple, list)):
            return BaseModelOutput(
                last_hidden_state=encoder_outputs[0],
                hidden_states=encoder_outputs[1] if len(encoder_outputs) > 1 else None,
                attentions=encoder_outputs[2] if len(encoder_outputs) > 2 else None,
            )
        return encoder_outputs

    def _decoder_input_ids(self, decoder_input_ids, labels) -> torch.Tensor:
        """`decoder_input_ids` as given, else the `labels` `(batch, seq_len)` with -100 replaced by the pad token."""
        if decoder_input_ids is not None:
            return decoder_input_ids
        if labels is None:
            raise ValueError("Pass `decoder_input_ids` (caption tokens starting with bos) or `labels`.")
        pad_token_id = self.config.pad_token_id
        if pad_token_id is None and bool((labels == -100).any()):
            raise ValueError("`labels` hold -100 but the config has no `pad_token_id` to build decoder inputs.")
        return labels.masked_fill(labels == -100, pad_token_id or 0)

    def _decoder_cache(self, cache: Cache | None, use_cache: bool | None) -> Cache | None:
        """The decoder's cache: `None` in training or without `use_cache`, a new `EncoderDecoderCache` of dynamic
        caches when none is given; a static (compileable) self-attention cache is refused."""
        config = self.config
        use_cache = (config.use_cache if use_cache is None else use_cache) and not self.training
        if not use_cache:
            return None
        if cache is None:
            return EncoderDecoderCache(DynamicCache(config=config), DynamicCache(config=config))
        self_cache = cache.self_attention_cache if isinstance(cache, EncoderDecoderCache) else cache
        if any(getattr(layer, "is_compileable", False) for layer in self_cache.layers):
            raise ValueError(
                "The captioner's decoder supports the dynamic cache only: a static cache "
                "(`cache_implementation='static'`, `StaticCache`) is not supported; leave `cache_implementation` unset."
            )
        return cache

    def generate(self, pixel_values: torch.FloatTensor | None = None, **kwargs):
        r"""Caption images: `GenerationMixin.generate` with `pixel_values` `(batch, num_channels, image_size,
        image_size)` (or precomputed `encoder_outputs`) required, and counts checked up front."""
        if pixel_values is None:
            pixel_values = kwargs.pop("inputs", None)
        if pixel_values is None and kwargs.get("encoder_outputs") is None:
            raise ValueError("`generate` needs `pixel_values` (images from the CaptionerImageProcessor).")
        if isinstance(pixel_values, torch.Tensor) and pixel_values.dim() == 4 and not pixel_values.shape[0]:
            raise ValueError("`pixel_values` hold no image (batch size 0).")  # the encoder checks the rest
        for name, minimum in (("max_new_tokens", 1), ("min_new_tokens", 0), ("max_length", 1), ("num_beams", 1),
                              ("num_return_sequences", 1), ("top_k", 0)):  # fmt: skip
            value = kwargs.get(name)
            integer = isinstance(value, numbers.Integral) and not isinstance(value, bool)
            if value is not None and (not integer or value < minimum):
                raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
        top_p = kwargs.get("top_p")
        number = isinstance(top_p, numbers.Real) and not isinstance(top_p, bool)
        if top_p is not None and (not number or not 0 < top_p <= 1):
            raise ValueError(f"`top_p` must be a number in (0, 1], got {top_p!r}.")
        return super().generate(pixel_values, **kwargs)

    def _validate_generated_length(self, generation_config, input_ids_length, has_default_max_length):
        """Cap the default `max_length` at `max_position_embeddings`; refuse an explicit longer one up front."""
        asked = f"`max_new_tokens`/`max_length` gives captions of up to {generation_config.max_length} tokens"
        cap_max_length(generation_config, has_default_max_length, self.config.max_position_embeddings, asked)
        super()._validate_generated_length(generation_config, input_ids_length, has_default_max_length)


__all__ = ["CaptionerForConditionalGeneration", "CaptionerPreTrainedModel"]
