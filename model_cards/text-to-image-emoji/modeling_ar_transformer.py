"""Decoder-only autoregressive transformer (pre-norm, causal attention, learned or rotary positions).

Plugs into `transformers`' `GenerationMixin` the way the library's own decoders (Llama) do: the key/value
cache is a `transformers` `Cache` (a `DynamicCache` by default, or a `StaticCache`) passed to `forward` as
`cache` (the old name `past_key_values` still works, with a deprecation warning); masks come from
`transformers.masking_utils`; attention runs through the library's attention interface (`"sdpa"` by default,
`"eager"` returns attention weights); `output_hidden_states` / `output_attentions`, `return_dict=False`,
gradient checkpointing and the library's loss (with `num_items_in_batch` and `shift_labels`) work as for any
model of the library.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer
from transformers.masking_utils import create_causal_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils import can_return_tuple
from transformers.utils.deprecation import deprecate_kwarg
from transformers.utils.generic import merge_with_config_defaults
from transformers.utils.output_capturing import capture_outputs

from .configuration_ar_transformer import ARTransformerConfig
from .modeling_common import GeluMLP, causal_lm_output, eager_attention_forward
from .safe_loading import SafeLoadingMixin
from .validation import cap_max_length, check_input_ids

# `prepare_inputs_for_generation` marks the one-token steps of `generate()` with this keyword: their token ids
# and positions need no per-step check (`forward` pops it).
GENERATED_STEP = "ar_transformer_generated_step"


# ----------------------------------------------------------------------------------------------------------
# Positions
# ----------------------------------------------------------------------------------------------------------
def rotary_cos_sin(position_ids: torch.Tensor, head_dim: int, theta: float, dtype) -> tuple:
    """cos, sin of shape `(batch, 1, seq_len, head_dim)` for `position_ids` `(batch, seq_len)`."""
    exponent = torch.arange(0, head_dim, 2, device=position_ids.device, dtype=torch.float32) / head_dim
    inv_freq = 1.0 / (theta**exponent)
    freqs = position_ids[:, :, None].float() * inv_freq  # (B, T, head_dim / 2)
    angles = torch.cat((freqs, freqs), dim=-1)[:, None]
    return angles.cos().to(dtype), angles.sin().to(dtype)


class RotaryTable:
    """cos/sin of every position `[0, max_position_embeddings)`, computed once per device and dtype.

    `lookup(position_ids (batch, seq_len))` gives `rotary_cos_sin(position_ids, ...)` by indexing: no trigonometry
    per decoding step. Not a buffer: nothing is saved, loaded or moved with the weights.
    """

    def __init__(self, max_positions: int, head_dim: int, theta: float):
        self.max_positions, self.head_dim, self.theta = max_positions, head_dim, theta
        self.key = self.cos = self.sin = None

    def tables(self, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """`(cos, sin)`, each `(max_positions, head_dim)`."""
        if self.key != (device, dtype):
            positions = torch.arange(self.max_positions, device=device)[None]
            cos, sin = rotary_cos_sin(positions, self.head_dim, self.theta, dtype)
            self.cos, self.sin, self.key = cos[0, 0], sin[0, 0], (device, dtype)
        return self.cos, self.sin

    def lookup(self, position_ids: torch.Tensor, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin `(batch, 1, seq_len, head_dim)` for `position_ids` `(batch, seq_len)` in `[0, max_positions)`."""
        if torch.compiler.is_compiling():  # no attribute caching inside a traced graph
            return rotary_cos_sin(position_ids, self.head_dim, self.theta, dtype)
        cos, sin = self.tables(position_ids.device, dtype)
        return cos[position_ids][:, None], sin[position_ids][:, None]


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate `x` `(batch, heads, seq_len, head_dim)` (GPT-NeoX half-split convention)."""
    first, second = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-second, first), dim=-1) * sin


# ----------------------------------------------------------------------------------------------------------
# Key/value cache
# ----------------------------------------------------------------------------------------------------------
class GrowingKVLayer(DynamicLayer):
    """A `DynamicLayer` whose keys/values live in a buffer grown by doubling.

    `DynamicLayer.update` concatenates, copying the whole cache at every generated token (O(length) per
    token); here appending is amortised O(1). `keys`/`values` are prefix views of the buffers, so every other
    `DynamicLayer` operation (crop, beam reordering, batch selection) works unchanged: an operation that
    replaces the tensors (e.g. `index_select` for beams) makes the next `update` copy them into a new buffer.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._key_buffer = self._value_buffer = self._views = None

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        length = self.keys.shape[-2] if self.keys.dim() == 4 else 0
        new_length = length + key_states.shape[-2]
        # Still our own views (nothing replaced them since the last update) and room left: write in place.
        adopted = self._views is not None and self.keys is self._views[0] and self.values is self._views[1]
        if not adopted or new_length > self._key_buffer.shape[-2]:
            batch, heads, _, head_dim = key_states.shape
            capacity = max(2 * new_length, 64)
            key_buffer = key_states.new_empty(batch, heads, capacity, head_dim)
            value_buffer = value_states.new_empty(batch, heads, capacity, value_states.shape[-1])
            if length:
                key_buffer[:, :, :length] = self.keys
                value_buffer[:, :, :length] = self.values
            self._key_buffer, self._value_buffer = key_buffer, value_buffer
        self._key_buffer[:, :, length:new_length] = key_states
        self._value_buffer[:, :, length:new_length] = value_states
        self.keys = self._key_buffer[:, :, :new_length]
        self.values = self._value_buffer[:, :, :new_length]
        self._views = (self.keys, self.values)
        return self.keys, self.values


def use_growing_layers(cache: Cache) -> None:
    """Swap the still-empty plain `DynamicLayer`s of a `DynamicCache` for `GrowingKVLayer`s (same results)."""
    if type(cache) is DynamicCache and not cache.offloading:
        for index, layer in enumerate(cache.layers):
            if type(layer) is DynamicLayer and not layer.is_initialized:
                cache.layers[index] = GrowingKVLayer()


# ----------------------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------------------
class ARTransformerAttention(nn.Module):
    """Multi-head causal self-attention with a fused QKV projection; `(B, T, H)` -> `(B, T, H)`.

    Dispatches to the attention implementation in `config._attn_implementation` (SDPA, eager, ...) through
    `transformers`' attention interface. Returns `(output, attention weights or None)`.
    """

    def __init__(self, config: ARTransformerConfig, layer_idx: int):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.num_heads, self.head_dim = config.num_attention_heads, config.head_dim
        self.scaling = self.head_dim**-0.5
        self.attention_dropout = config.attention_dropout
        self.is_causal = True
        self.qkv_proj = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.o_proj = nn.Linear(config.hidden_size, config.hidden_size)

    def _project(self, hidden_states, position_embeddings, cache) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Query `(B, heads, T, head_dim)` and the keys/values `(B, heads, past + T, head_dim)` it attends to."""
        batch, length, _ = hidden_states.shape
        qkv = self.qkv_proj(hidden_states).view(batch, length, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, T, head_dim)
        if position_embeddings is not None:
            query, key = apply_rotary(query, *position_embeddings), apply_rotary(key, *position_embeddings)
        if cache is not None:
            key, value = cache.update(key, value, self.layer_idx)
        return query, key, value

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, length, width = hidden_states.shape
        query, key, value = self._project(hidden_states, position_embeddings, cache)
        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        out, weights = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=self.attention_dropout if self.training else 0.0,
            scaling=self.scaling,
            **kwargs,
        )
        return self.o_proj(out.reshape(batch, length, width)), weights

    def decode(self, hidden_states: torch.Tensor, position_embeddings, cache: Cache) -> torch.Tensor:
        """`forward` for one query token per row that attends to every cached key, under SDPA in inference: the same
        `scaled_dot_product_attention` call as `transformers`' SDPA function, without the dispatch.
        `(B, 1, H)` -> `(B, 1, H)`."""
        batch, length, width = hidden_states.shape
        query, key, value = self._project(hidden_states, position_embeddings, cache)
        out = F.scaled_dot_product_attention(query, key, value, scale=self.scaling)  # (B, heads, 1, head_dim)
        return self.o_proj(out.transpose(1, 2).reshape(batch, length, width))


class ARTransformerBlock(GradientCheckpointingLayer):
    """Pre-norm block: `x + attn(ln(x))`, then `x + mlp(ln(x))`; `(B, T, H)` -> `(B, T, H)`."""

    def __init__(self, config: ARTransformerConfig, layer_idx: int):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.self_attn = ARTransformerAttention(config, layer_idx)
        self.post_attention_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = GeluMLP(config)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache: Cache | None = None,
        **kwargs,
    ) -> torch.Tensor:
        attn, _ = self.self_attn(self._norm(self.input_layernorm, hidden_states), position_embeddings,
                                 attention_mask, cache=cache, **kwargs)  # fmt: skip
        return self._mlp_residual(hidden_states + (self.dropout(attn) if self.training else attn))

    def decode(self, hidden_states: torch.Tensor, position_embeddings, cache: Cache) -> torch.Tensor:
        """`forward` of one new token per row in inference (see `ARTransformerAttention.decode`)."""
        normed = self._norm(self.input_layernorm, hidden_states)
        return self._mlp_residual(hidden_states + self.self_attn.decode(normed, position_embeddings, cache))

    def _mlp_residual(self, hidden_states: torch.Tensor) -> torch.Tensor:
        mlp = self.mlp(self._norm(self.post_attention_layernorm, hidden_states))
        return hidden_states + (self.dropout(mlp) if self.training else mlp)

    @staticmethod
    def _norm(norm: nn.LayerNorm, hidden_states: torch.Tensor) -> torch.Tensor:
        # LayerNorm applied functionally: one module call less on the decoding hot path.
        return F.layer_norm(hidden_states, norm.normalized_shape, norm.weight, norm.bias, norm.eps)


# ----------------------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------------------
class ARTransformerPreTrainedModel(SafeLoadingMixin, PreTrainedModel):
    config_class = ARTransformerConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules = ["ARTransformerBlock"]
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _can_compile_fullgraph = True
    _can_record_outputs = {"hidden_states": ARTransformerBlock, "attentions": ARTransformerAttention}

    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        if isinstance(module, ARTransformerAttention):
            # GPT-2's scaled init of residual projections: std / sqrt(2 * num_layers).
            nn.init.normal_(module.o_proj.weight, std=std / (2 * self.config.num_hidden_layers) ** 0.5)
        elif isinstance(module, GeluMLP):
            nn.init.normal_(module.down_proj.weight, std=std / (2 * self.config.num_hidden_layers) ** 0.5)


class ARTransformerModel(ARTransformerPreTrainedModel):
    """Embeddings + decoder blocks + final LayerNorm; returns hidden states `(B, T, hidden_size)`."""

    def __init__(self, config: ARTransformerConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.embed_positions = None
        self.rotary = None
        if config.position_embedding_type == "learned":
            self.embed_positions = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        else:
            self.rotary = RotaryTable(config.max_position_embeddings, config.head_dim, config.rope_theta)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layers = nn.ModuleList([ARTransformerBlock(config, i) for i in range(config.num_hidden_layers)])
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.gradient_checkpointing = False
        self.post_init()

    @deprecate_kwarg("past_key_values", "6.0.0", new_name="cache")
    @merge_with_config_defaults
    @capture_outputs
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch, seq_len)`): token ids in [0, vocab_size).
            attention_mask (`torch.LongTensor` of shape `(batch, past_len + seq_len)`, *optional*): 1 = token,
                0 = padding (left padding for batched prompts).
            position_ids (`torch.LongTensor` of shape `(batch, seq_len)`, *optional*): defaults to
                `past_len + arange(seq_len)`; must stay below `max_position_embeddings`.
            cache (`Cache`, *optional*): key/value cache; a `DynamicCache` is created when `use_cache`.
            output_hidden_states / output_attentions (`bool`, *optional*): also return the input of every block
                plus the final output, and (eager attention only) every block's attention weights.
            return_dict (`bool`, *optional*): `False` returns a tuple.
        """
        inputs_embeds = self._embed_tokens(input_ids, inputs_embeds)
        length = inputs_embeds.shape[1]
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config)
        if not use_cache:
            cache = None
        past_length = cache.get_seq_length() if cache is not None else 0
        if type(cache) is DynamicCache and past_length == 0 and not torch.compiler.is_compiling():
            use_growing_layers(cache)
        if position_ids is None:
            position_ids = (torch.arange(length, device=inputs_embeds.device) + past_length)[None]
        self._check_positions(position_ids, length, past_length)
        hidden_states, position_embeddings = self._add_positions(inputs_embeds, position_ids)
        mask = self._causal_mask(inputs_embeds, attention_mask, cache, position_ids)
        for layer in self.layers:
            hidden_states = layer(
                hidden_states,
                attention_mask=mask,
                position_embeddings=position_embeddings,
                cache=cache,
                **kwargs,
            )
        return BaseModelOutputWithPast(last_hidden_state=self.norm(hidden_states), cache=cache)

    def decode(
        self,
        input_ids: torch.Tensor,
        cache: DynamicCache,
        position_ids: torch.Tensor | None = None,
        check_inputs: bool = True,
    ) -> torch.Tensor:
        """`forward(input_ids, position_ids=position_ids, cache=cache).last_hidden_state` `(batch, 1, hidden_size)` for
        one new token per row on a `DynamicCache`, nothing padded, SDPA, inference, no outputs asked for: the decoding
        hot path, without output capture, mask building or attention dispatch. `check_inputs=False` skips the checks
        of the token ids and positions (host syncs): for tokens `generate()` sampled from this model's own logits."""
        past_length = cache.get_seq_length()
        if check_inputs:
            check_input_ids(input_ids, self.config.vocab_size)
            self._check_positions(position_ids, 1, past_length)
        # An int position indexes one row, broadcast over the batch; a (batch, 1) tensor one row per sequence.
        position = past_length if position_ids is None else position_ids
        hidden_states, position_embeddings = self.embed_tokens(input_ids), None
        if self.embed_positions is not None:
            hidden_states = hidden_states + self.embed_positions.weight[position]
        else:
            cos, sin = self.rotary.tables(hidden_states.device, hidden_states.dtype)
            if position_ids is not None:
                position = position_ids[:, None]  # (batch, 1, 1): cos/sin (batch, 1, 1, head_dim)
            position_embeddings = cos[position], sin[position]
        for layer in self.layers:
            hidden_states = layer.decode(hidden_states, position_embeddings, cache)
        return self.norm(hidden_states)

    def _embed_tokens(self, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor | None) -> torch.Tensor:
        """Token embeddings `(batch, seq_len, hidden_size)` of checked `input_ids`, or the given `inputs_embeds`."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of `input_ids` and `inputs_embeds`.")
        if input_ids is None:
            return inputs_embeds
        if not torch.compiler.is_compiling():  # a host sync: checked in eager mode only
            check_input_ids(input_ids, self.config.vocab_size)
        return self.embed_tokens(input_ids)

    def _check_positions(self, position_ids: torch.Tensor | None, length: int, past_length: int) -> None:
        """Raise a ValueError unless the positions (`position_ids` `(batch, seq_len)`, or `past_length + arange(length)`
        when `None`) lie in `[0, max_position_embeddings)`; the tensor check is a host sync, skipped when compiling."""
        if position_ids is not None and position_ids.shape[-1] != length:
            raise ValueError(f"`position_ids` must have length {length}, got {tuple(position_ids.shape)}.")
        if position_ids is None:
            low, high = past_length, past_length + length - 1
        elif torch.compiler.is_compiling() or not position_ids.numel():
            return
        else:
            low, high = (int(value) for value in torch.aminmax(position_ids))
        limit = self.config.max_position_embeddings
        if low < 0:
            raise ValueError(f"`position_ids` must be >= 0, got {low}.")
        if high >= limit:
            raise ValueError(
                f"The sequence reaches position {high}, past `max_position_embeddings` ({limit}): shorten the "
                f"prompt (input_ids of length {length} after {past_length} cached tokens) or `max_new_tokens`."
            )

    def _add_positions(self, inputs_embeds: torch.Tensor, position_ids: torch.Tensor) -> tuple:
        """`(hidden_states (B, T, H), position_embeddings)`: learned positions added, or rotary `(cos, sin)` made."""
        hidden_states, position_embeddings = inputs_embeds, None
        if self.embed_positions is not None:
            hidden_states = hidden_states + self.embed_positions(position_ids)
        else:
            position_embeddings = self.rotary.lookup(position_ids, hidden_states.dtype)
        return self.dropout(hidden_states), position_embeddings

    def _causal_mask(self, inputs_embeds, attention_mask, cache, position_ids) -> torch.Tensor | None:
        """The mask `create_causal_mask` builds for the attention implementation; `None` when decoding one token
        with SDPA on a dynamic cache and nothing is padded (it attends to every cached key)."""
        if (
            inputs_embeds.shape[1] == 1
            and type(cache) is DynamicCache
            and self.config._attn_implementation == "sdpa"
            and not torch.compiler.is_compiling()
            and (attention_mask is None or bool(attention_mask.all()))
        ):
            return None
        return create_causal_mask(
            config=self.config,
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            cache=cache,
            position_ids=position_ids,
        )


class ARTransformerForCausalLM(ARTransformerPreTrainedModel, GenerationMixin):
    """Decoder-only transformer language model; logits `(batch, seq_len, vocab_size)`.

    `generate()` is `transformers`' own (greedy, sampling, beam search, assisted decoding, static cache,
    streamers, logits processors).
    """

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: ARTransformerConfig):
        super().__init__(config)
        self.model = ARTransformerModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    @deprecate_kwarg("past_key_values", "6.0.0", new_name="cache")
    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch, seq_len)`): token ids in [0, vocab_size).
            labels (`torch.LongTensor` of shape `(batch, seq_len)`, *optional*): usually `input_ids`; shifted
                inside (position t predicts token t + 1); -100 is ignored. The loss is the mean NLL in nats,
                computed by `self.loss_function`, which also takes `num_items_in_batch` (gradient accumulation,
                as `transformers.Trainer` passes it), `shift_labels` and `ignore_index` through `kwargs`.
            logits_to_keep (`int` or `torch.Tensor`): if an int > 0, only the last `logits_to_keep` positions get
                logits; a 1-D tensor selects positions.
            (other arguments as in [`ARTransformerModel.forward`])
        """
        generated = kwargs.pop(GENERATED_STEP, False)
        if self._is_plain_decode_step(input_ids, attention_mask, cache, use_cache, kwargs) and (
            inputs_embeds is None and labels is None and isinstance(logits_to_keep, int)
        ):
            hidden_states = self.model.decode(input_ids, cache, position_ids, check_inputs=not generated)
            return CausalLMOutputWithPast(logits=self.lm_head(hidden_states), cache=cache)
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            return_dict=True,
            **kwargs,
        )
        return causal_lm_output(self, outputs, labels, logits_to_keep, **kwargs)

    def _is_plain_decode_step(self, input_ids, attention_mask, cache, use_cache, kwargs) -> bool:
        """Whether `forward` may take `ARTransformerModel.decode`: one token per row on a growing `DynamicCache`,
        inference with SDPA, nothing padded and no outputs or extra arguments asked for (same logits)."""
        if not (
            isinstance(input_ids, torch.Tensor)
            and input_ids.dim() == 2
            and input_ids.shape[1] == 1
            and type(cache) is DynamicCache
            and not kwargs
            and not self.training
            and not torch.compiler.is_compiling()
        ):
            return False
        config = self.config
        return (
            (use_cache or (use_cache is None and config.use_cache))
            and config._attn_implementation == "sdpa"
            and not (config.output_attentions or config.output_hidden_states)
            and (attention_mask is None or bool(attention_mask.all()))
        )

    def prepare_inputs_for_generation(
        self,
        input_ids,
        next_sequence_length=None,
        cache=None,
        attention_mask=None,
        inputs_embeds=None,
        is_first_iteration=False,
        **kwargs,
    ):
        """`GenerationMixin`'s input preparation, with a lean path for the one-token decoding steps."""
        # The lean path is for a growing (dynamic) cache; a static / compileable one gets the library's preparation,
        # which shapes the attention mask for a compiled forward.
        if (
            is_first_iteration
            or next_sequence_length != 1
            or cache is None
            or cache.is_compileable
            or inputs_embeds is not None
        ):
            return super().prepare_inputs_for_generation(
                input_ids,
                next_sequence_length=next_sequence_length,
                cache=cache,
                attention_mask=attention_mask,
                inputs_embeds=inputs_embeds,
                is_first_iteration=is_first_iteration,
                **kwargs,
            )
        # Contiguous copies, as the library's own preparation makes: a strided view's stride changes at every
        # step, which would make a compiled forward recompile.
        model_inputs = {"input_ids": input_ids[:, -1:].clone(memory_format=torch.contiguous_format), "cache": cache}
        if (position_ids := kwargs.pop("position_ids", None)) is not None:
            model_inputs["position_ids"] = position_ids[:, -1:].clone(memory_format=torch.contiguous_format)
        if attention_mask is not None:
            model_inputs["attention_mask"] = attention_mask
        # The token was sampled from this model's logits (or is the pad token, checked once per call), and the
        # positions were checked against `max_position_embeddings` up front: no per-step host-synced checks.
        model_inputs[GENERATED_STEP] = True
        for key, value in kwargs.items():
            if key not in model_inputs and key not in ("labels", "next_sequence_length"):
                model_inputs[key] = value
        return model_inputs

    def _validate_generated_length(self, generation_config, input_ids_length, has_default_max_length):
        """Refuse, before decoding, a prompt plus generation longer than `max_position_embeddings`."""
        vocab_size = self.config.vocab_size
        for name in ("pad_token_id", "eos_token_id"):
            value = getattr(generation_config, name)
            for token in value if isinstance(value, list) else [value]:
                if token is not None and not 0 <= token < vocab_size:
                    raise ValueError(f"`{name}` must be in [0, vocab_size={vocab_size}), got {value!r}.")
        limit = self.config.max_position_embeddings
        if input_ids_length > limit:
            raise ValueError(
                f"The prompt has {input_ids_length} tokens, more than `max_position_embeddings` ({limit})."
            )
        asked = (
            f"Prompt ({input_ids_length} tokens) + `max_new_tokens` gives `max_length` {generation_config.max_length}"
        )
        cap_max_length(generation_config, has_default_max_length, limit, asked)
        super()._validate_generated_length(generation_config, input_ids_length, has_default_max_length)


__all__ = ["ARTransformerForCausalLM", "ARTransformerModel", "ARTransformerPreTrainedModel"]
