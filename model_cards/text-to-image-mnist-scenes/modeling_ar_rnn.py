"""Recurrent (LSTM / GRU) causal language model whose recurrent state is the generation cache.

The state lives in a `transformers` `DynamicCache` built from the config, whose `layer_types` are all
`"linear_attention"`: one recurrent-state slot per layer, stored batch-first as `(batch, num_states, hidden)`
and reordered by beam search like any other cache. Each generated token therefore costs O(1) in the
sequence length. The cache is passed to `forward` as `cache` (the old names `cache_params` and
`past_key_values` still work, with a deprecation warning). The model declares itself stateful
(`_is_stateful`), so `generate()` refuses what needs rewinding a cache (assisted and prompt-lookup decoding)
up front; `output_hidden_states`, `return_dict=False`, gradient checkpointing and the library's loss (with
`num_items_in_batch` and `shift_labels`) work as for any model of the library.

Padding: a batch whose rows are each one contiguous run of tokens (right padding, left padding) runs in one
cuDNN/ATen call per layer through `pack_padded_sequence`; only a mask with holes inside a row is stepped
through time in Python.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers import GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache, DynamicCache
from transformers.generation import GenerationMode
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.utils import can_return_tuple
from transformers.utils.deprecation import deprecate_kwarg
from transformers.utils.generic import merge_with_config_defaults
from transformers.utils.output_capturing import capture_outputs

from .configuration_ar_rnn import ARRNNConfig
from .modeling_common import causal_lm_output
from .safe_loading import SafeLoadingMixin
from .validation import check_input_ids


def contiguous_runs(step_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """`(starts, lengths)` (each `(batch,)`) if every row of `step_mask` `(batch, T)` is one non-empty run of
    ones (right or left padding, or none), else `None` (holes inside a row, or a row without tokens)."""
    mask = step_mask.bool()
    lengths = mask.sum(dim=1)
    starts = mask.int().argmax(dim=1)
    steps = torch.arange(mask.shape[1], device=mask.device)[None]
    runs = (steps >= starts[:, None]) & (steps < (starts + lengths)[:, None])
    if not bool(torch.equal(runs, mask) and lengths.min() > 0):  # one host sync
        return None
    return starts, lengths


# `transformers` cannot tell how many tokens a purely recurrent cache has consumed (`get_seq_length` needs an
# attention layer), so `generate()` continuing from a cache would feed the whole sequence again. The model counts
# them on the cache object itself (copied, reordered and batch-selected with it).
CONSUMED_TOKENS = "ar_rnn_consumed_tokens"


def consumed_tokens(cache: Cache | None) -> int:
    """Tokens the recurrent state in `cache` has consumed (0 for a new cache)."""
    return getattr(cache, CONSUMED_TOKENS, 0) if cache is not None else 0


class ARRNNLayer(GradientCheckpointingLayer):
    """One single-layer LSTM/GRU, residual from the second layer on.

    `forward(hidden_states (B, T, H), state (B, S, H) | None, step_mask (B, T) | None)` returns
    `(hidden_states (B, T, H), new_state (B, S, H))`. Where `step_mask` is 0 (padding) the state is carried
    through unchanged, so padded rows give exactly the states and outputs of their unpadded versions (the
    outputs at padded steps are not meaningful).
    """

    def __init__(self, config: ARRNNConfig, layer_idx: int = 0):
        super().__init__()
        self.cell_type = config.cell_type
        self.residual = layer_idx > 0
        rnn_class = nn.LSTM if config.cell_type == "lstm" else nn.GRU
        self.rnn = rnn_class(config.hidden_size, config.hidden_size, batch_first=True)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def _to_torch(self, state: torch.Tensor | None):
        if state is None:
            return None
        state = state.transpose(0, 1).contiguous()  # (S, B, H)
        return (state[0:1], state[1:2]) if self.cell_type == "lstm" else state[0:1]

    def _from_torch(self, state) -> torch.Tensor:
        if self.cell_type == "lstm":
            return torch.cat(state, dim=0).transpose(0, 1)
        return state.transpose(0, 1)

    def forward(self, hidden_states, state=None, step_mask=None):
        outputs, new_state = self._recur(hidden_states, state, step_mask)
        outputs = self.dropout(outputs)
        return (hidden_states + outputs if self.residual else outputs), new_state

    def _recur(self, x, state=None, step_mask=None):
        if step_mask is None:
            outputs, new_state = self.rnn(x, self._to_torch(state))
            return outputs, self._from_torch(new_state)
        runs = contiguous_runs(step_mask)
        if runs is not None:
            return self._recur_packed(x, state, *runs)
        # Holes inside a row: step through time, holding the state at padded steps.
        if state is None:
            num_states = 2 if self.cell_type == "lstm" else 1
            state = x.new_zeros(x.shape[0], num_states, x.shape[-1])
        outputs = []
        for t in range(x.shape[1]):
            out, new_state = self.rnn(x[:, t : t + 1], self._to_torch(state))
            keep = step_mask[:, t, None, None].bool()
            state = torch.where(keep, self._from_torch(new_state), state)
            outputs.append(out)
        return torch.cat(outputs, dim=1), state

    def _recur_packed(self, x, state, starts, lengths):
        """Each row's tokens are one run `[start, start + length)`: rotate the runs to the front (a no-op for
        right padding), run the packed batch in one call, rotate back. Padded steps get zero outputs."""
        length = x.shape[1]
        steps = torch.arange(length, device=x.device)[None]
        rotated = bool(starts.any())
        if rotated:
            index = ((steps + starts[:, None]) % length)[..., None].expand(-1, -1, x.shape[-1])
            x = x.gather(1, index)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, new_state = self.rnn(packed, self._to_torch(state))
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=length)
        if rotated:
            index = ((steps - starts[:, None]) % length)[..., None].expand(-1, -1, outputs.shape[-1])
            outputs = outputs.gather(1, index)
        return outputs, self._from_torch(new_state)


class ARRNNPreTrainedModel(SafeLoadingMixin, PreTrainedModel):
    config_class = ARRNNConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    # The recurrent state cannot be rewound: `generate()` refuses assisted / prompt-lookup decoding up front.
    _is_stateful = True
    _no_split_modules = ["ARRNNLayer"]
    _can_record_outputs = {"hidden_states": ARRNNLayer}

    def _validate_generation_mode(self, generation_mode, *args, **kwargs):
        # `_is_stateful` alone is not honoured by every transformers 5.x release (5.25 tries to crop the state).
        if generation_mode == GenerationMode.ASSISTED_GENERATION:
            raise ValueError(
                f"{type(self).__name__} is stateful (a recurrent state that cannot be rewound): assisted and "
                "prompt-lookup decoding (`assistant_model`, `prompt_lookup_num_tokens`) are not supported; use "
                "greedy, sampling or beam search."
            )
        return super()._validate_generation_mode(generation_mode, *args, **kwargs)

    def _init_weights(self, module):
        if isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=self.config.initializer_range)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=self.config.initializer_range)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.LSTM, nn.GRU)):
            bound = module.hidden_size**-0.5
            for name, param in module.named_parameters():
                if name.startswith("weight_hh"):
                    # Orthogonal recurrent weights, one block per gate.
                    for block in param.data.chunk(param.shape[0] // module.hidden_size, dim=0):
                        nn.init.orthogonal_(block)
                elif name.startswith("weight_ih"):
                    nn.init.uniform_(param, -bound, bound)
                else:
                    nn.init.zeros_(param)
                    if isinstance(module, nn.LSTM):
                        # Forget-gate bias 1 (in b_ih only, so the sum is 1).
                        if name.startswith("bias_ih"):
                            param.data[module.hidden_size : 2 * module.hidden_size] = 1.0


class ARRNNModel(ARRNNPreTrainedModel):
    """Embeddings + stacked recurrent layers (residual from the second on) + LayerNorm -> `(B, T, hidden)`; with
    `num_classes`, a learned class bias added to every layer's input at every step; with `input_lags`, the embeddings
    of the tokens `lag` positions back added to the first layer's input."""

    def __init__(self, config: ARRNNConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        lags = config.input_lags or []
        self.lag_embeddings = nn.ModuleList([nn.Embedding(config.vocab_size, config.hidden_size) for _ in lags])
        if config.num_classes:
            self.class_bias = nn.Embedding(config.num_classes, config.num_hidden_layers * config.hidden_size)
        self.layers = nn.ModuleList([ARRNNLayer(config, i) for i in range(config.num_hidden_layers)])
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.gradient_checkpointing = False
        self.post_init()

    def class_biases(self, class_labels, batch_size: int) -> torch.Tensor | None:
        """`(num_layers, batch, 1, hidden)` class bias per layer for `class_labels` `(batch,)` (or one label for
        the whole batch); `None` for an unconditional model."""
        num_classes = self.config.num_classes
        if not num_classes:
            if class_labels is not None:
                raise ValueError("`class_labels` given to an unconditional model (config.num_classes=0).")
            return None
        if class_labels is None:
            raise ValueError(f"this model is class-conditional ({num_classes} classes): pass `class_labels` (batch,).")
        labels = torch.as_tensor(class_labels, device=self.class_bias.weight.device)
        if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.numel() not in (1, batch_size):
            raise ValueError(
                f"`class_labels` must be {batch_size} integer labels (one per row) or one, got "
                f"{labels.dtype} {tuple(labels.shape)}."
            )
        labels = labels.reshape(-1).expand(batch_size)
        low, high = torch.aminmax(labels)
        if int(low) < 0 or int(high) >= num_classes:
            raise ValueError(f"`class_labels` must be in [0, {num_classes}), got range [{int(low)}, {int(high)}].")
        bias = self.class_bias(labels).view(batch_size, self.config.num_hidden_layers, 1, -1)
        return bias.permute(1, 0, 2, 3)

    def lagged_embeddings(self, context_ids: torch.LongTensor, start: int, length: int) -> torch.Tensor:
        """`(B, length, hidden)`: for positions `start .. start + length - 1`, the sum over `config.input_lags` of
        the lag's embedding of the token `lag` positions back in `context_ids` `(B, >= start + length)` (the whole
        sequence so far); zero where that is before the sequence start."""
        if context_ids.shape[1] < start + length:
            raise ValueError(
                f"`context_ids` must hold the whole sequence so far ({start + length} tokens: {start} already in the "
                f"cache, {length} new), got {context_ids.shape[1]}."
            )
        positions = torch.arange(start, start + length, device=context_ids.device)
        total = 0
        for lag, embedding in zip(self.config.input_lags, self.lag_embeddings):
            source = positions - lag
            tokens = context_ids[:, source.clamp(min=0)]
            total = total + embedding(tokens) * (source >= 0)[None, :, None]
        return total

    @deprecate_kwarg("cache_params", "6.0.0", new_name="cache")
    @deprecate_kwarg("past_key_values", "6.0.0", new_name="cache")
    @merge_with_config_defaults
    @capture_outputs
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        class_labels: torch.LongTensor | None = None,
        context_ids: torch.LongTensor | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch, seq_len)`): token ids in [0, vocab_size).
            attention_mask (`torch.LongTensor` of shape `(batch, ... + seq_len)`, *optional*): 1 = token,
                0 = padding; only its last `seq_len` columns are read (the state skips padded steps).
            cache (`Cache`, *optional*): recurrent state; a `DynamicCache(config=config)` is created when
                `use_cache` and none is given.
            class_labels (`torch.LongTensor` of shape `(batch,)`, *optional*): the class of each row; required by
                (and only accepted by) a class-conditional model (`config.num_classes > 0`).
            context_ids (`torch.LongTensor` of shape `(batch, cached + seq_len)`, *optional*): the whole sequence
                so far, ending with `input_ids`; read by a model with `config.input_lags` (its lagged tokens) when
                continuing from a cache (`generate()` passes it). Without a cache, `input_ids` is the whole sequence.
            output_hidden_states (`bool`, *optional*): also return the embeddings and every layer's output.
            return_dict (`bool`, *optional*): `False` returns a tuple.
        """
        config = self.config
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of `input_ids` and `inputs_embeds`.")
        if input_ids is not None:
            check_input_ids(input_ids, config.vocab_size)
            inputs_embeds = self.embed_tokens(input_ids)
        length = inputs_embeds.shape[1]
        if use_cache and cache is None:
            cache = DynamicCache(config=config)
        if not use_cache:
            cache = None
        step_mask = None
        if attention_mask is not None:
            step_mask = attention_mask[:, -length:]
            if bool(step_mask.all()):
                step_mask = None
        if config.input_lags:
            start = consumed_tokens(cache)
            inputs_embeds = inputs_embeds + self._lagged_inputs(input_ids, context_ids, start, length, step_mask)

        class_biases = self.class_biases(class_labels, inputs_embeds.shape[0])
        hidden_states = self.dropout(inputs_embeds)
        for index, layer in enumerate(self.layers):
            if class_biases is not None:
                hidden_states = hidden_states + class_biases[index]
            state = None
            if cache is not None:
                slot = cache.layers[index]
                if slot.is_recurrent_states_initialized[0]:
                    state = slot.recurrent_states[0]
            hidden_states, new_state = layer(hidden_states, state, step_mask)
            if cache is not None:
                cache.update_recurrent_state(new_state, index)
        if cache is not None:
            setattr(cache, CONSUMED_TOKENS, consumed_tokens(cache) + length)
        return BaseModelOutputWithPast(last_hidden_state=self.norm(hidden_states), cache=cache)

    def _lagged_inputs(self, input_ids, context_ids, start: int, length: int, step_mask) -> torch.Tensor:
        if step_mask is not None:
            raise ValueError("`config.input_lags` counts positions from the sequence start: pass unpadded rows.")
        if context_ids is None:
            if start or input_ids is None:
                raise ValueError(
                    "a model with `config.input_lags` needs `context_ids` (the whole sequence so far) when continuing "
                    "from a cache or given `inputs_embeds`."
                )
            context_ids = input_ids
        return self.lagged_embeddings(context_ids, start, length)


class ARRNNForCausalLM(ARRNNPreTrainedModel, GenerationMixin):
    """LSTM/GRU language model; logits `(batch, seq_len, vocab_size)`; `generate()` is `transformers`' own."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: ARRNNConfig):
        super().__init__(config)
        self.model = ARRNNModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

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
        """`GenerationMixin`'s preparation; continuing from a cache that has consumed part of the sequence passed
        in full (ids or `inputs_embeds`, as with attention caches), only the new positions are fed. `generate()`
        cannot read how much a recurrent state has consumed (it counts the sequence in full), so the count the cache
        keeps decides."""
        seen = consumed_tokens(cache)
        if is_first_iteration and seen:
            embedded = inputs_embeds is not None and input_ids.shape[1] == 0
            total = (inputs_embeds if embedded else input_ids).shape[1]
            full = attention_mask is None or attention_mask.shape[1] == total
            if full and total > seen:
                next_sequence_length = total - seen
        model_inputs = super().prepare_inputs_for_generation(
            input_ids,
            next_sequence_length=next_sequence_length,
            cache=cache,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            is_first_iteration=is_first_iteration,
            **kwargs,
        )
        if self.config.input_lags:
            model_inputs["context_ids"] = input_ids  # the lagged tokens come from the whole sequence
        return model_inputs

    @deprecate_kwarg("cache_params", "6.0.0", new_name="cache")
    @deprecate_kwarg("past_key_values", "6.0.0", new_name="cache")
    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        class_labels: torch.LongTensor | None = None,
        context_ids: torch.LongTensor | None = None,
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
            class_labels (`torch.LongTensor` of shape `(batch,)`, *optional*): the class of each row of a
                class-conditional model; `generate(..., class_labels=...)` passes them at every step.
            context_ids (`torch.LongTensor` of shape `(batch, cached + seq_len)`, *optional*): the whole sequence so
                far, for a model with `config.input_lags` continuing from a cache (`generate()` passes it).
        """
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            cache=cache,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            class_labels=class_labels,
            context_ids=context_ids,
            return_dict=True,
            **kwargs,
        )
        return causal_lm_output(self, outputs, labels, logits_to_keep, **kwargs)


__all__ = ["ARRNNForCausalLM", "ARRNNModel", "ARRNNPreTrainedModel"]
