# Copied from hf_argen.causal_lm.rnn.modeling_ar_rnn (edit it, then check_copies.py --fix)
"""Recurrent (LSTM / GRU) causal language model whose recurrent state is the generation cache.

The state lives in a `transformers` `DynamicCache` built from the config, whose `layer_types` are all
`"linear_attention"`: one recurrent-state slot per layer, stored batch-first as `(batch, num_states, hidden)`
and reordered by beam search like any other cache. Each generated token therefore costs O(1) in the
sequence length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache, DynamicCache
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast

from .configuration_ar_rnn import ARRNNConfig


# Copied from hf_argen.causal_lm.transformer.modeling_ar_transformer.check_input_ids
def check_input_ids(input_ids: torch.Tensor, vocab_size: int, name: str = "input_ids") -> None:
    """Raise a ValueError unless `input_ids` is an integer `(batch, seq_len)` tensor in [0, vocab_size)."""
    if not isinstance(input_ids, torch.Tensor):
        raise ValueError(f"`{name}` must be a torch.Tensor, got {type(input_ids).__name__}.")
    if input_ids.dtype.is_floating_point or input_ids.dtype.is_complex or input_ids.dtype == torch.bool:
        raise ValueError(f"`{name}` must hold integer token ids in [0, {vocab_size}), got {input_ids.dtype}.")
    if input_ids.dim() != 2:
        raise ValueError(f"`{name}` must have shape (batch, seq_len), got {tuple(input_ids.shape)}.")
    if not input_ids.numel():
        return
    low, high = torch.aminmax(input_ids)  # one kernel: this runs at every decoding step
    if int(low) < 0 or int(high) >= vocab_size:
        raise ValueError(
            f"`{name}` must be token ids in [0, vocab_size={vocab_size}), got range "
            f"[{int(input_ids.min())}, {int(input_ids.max())}]."
        )


# Copied from hf_argen.causal_lm.transformer.modeling_ar_transformer.causal_lm_loss
def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy (nats): `logits[:, t]` predicts `labels[:, t + 1]`; -100 is ignored."""
    return F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1), ignore_index=-100
    )


class ARRNNLayer(nn.Module):
    """One single-layer LSTM/GRU; `forward(x (B, T, H), state (B, S, H) | None, step_mask (B, T) | None)`.

    Returns `(outputs (B, T, H), new_state (B, S, H))`. Where `step_mask` is 0 (padding) the state is carried
    through unchanged, so left-padded prompts give exactly the states of their unpadded versions.
    """

    def __init__(self, config: ARRNNConfig):
        super().__init__()
        self.cell_type = config.cell_type
        rnn_class = nn.LSTM if config.cell_type == "lstm" else nn.GRU
        self.rnn = rnn_class(config.hidden_size, config.hidden_size, batch_first=True)

    def _to_torch(self, state: torch.Tensor | None):
        if state is None:
            return None
        state = state.transpose(0, 1).contiguous()  # (S, B, H)
        return (state[0:1], state[1:2]) if self.cell_type == "lstm" else state[0:1]

    def _from_torch(self, state) -> torch.Tensor:
        if self.cell_type == "lstm":
            return torch.cat(state, dim=0).transpose(0, 1)
        return state.transpose(0, 1)

    def forward(self, x, state=None, step_mask=None):
        if step_mask is None:
            outputs, new_state = self.rnn(x, self._to_torch(state))
            return outputs, self._from_torch(new_state)
        # Padding inside the chunk: step through time, holding the state at padded steps.
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


class ARRNNPreTrainedModel(PreTrainedModel):
    config_class = ARRNNConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    _no_split_modules = ["ARRNNLayer"]

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
    """Embeddings + stacked recurrent layers (residual from the second on) + LayerNorm -> `(B, T, hidden)`."""

    def __init__(self, config: ARRNNConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([ARRNNLayer(config) for _ in range(config.num_hidden_layers)])
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch, seq_len)`): token ids in [0, vocab_size).
            attention_mask (`torch.LongTensor` of shape `(batch, ... + seq_len)`, *optional*): 1 = token,
                0 = padding; only its last `seq_len` columns are read (the state skips padded steps).
            cache (`Cache`, *optional*): recurrent state; a `DynamicCache(config=config)` is created when
                `use_cache` and none is given.
        """
        config = self.config
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of `input_ids` and `inputs_embeds`.")
        if input_ids is not None:
            check_input_ids(input_ids, config.vocab_size)
            inputs_embeds = self.embed_tokens(input_ids)
        length = inputs_embeds.shape[1]
        use_cache = config.use_cache if use_cache is None else use_cache
        if use_cache and cache is None:
            cache = DynamicCache(config=config)
        step_mask = None
        if attention_mask is not None:
            step_mask = attention_mask[:, -length:]
            if bool(step_mask.all()):
                step_mask = None

        hidden_states = self.dropout(inputs_embeds)
        for index, layer in enumerate(self.layers):
            state = None
            if use_cache:
                slot = cache.layers[index]
                if slot.is_recurrent_states_initialized[0]:
                    state = slot.recurrent_states[0]
            outputs, new_state = layer(hidden_states, state, step_mask)
            if use_cache:
                cache.update_recurrent_state(new_state, index)
            outputs = self.dropout(outputs)
            hidden_states = outputs if index == 0 else hidden_states + outputs
        cache = cache if use_cache else None
        return BaseModelOutputWithPast(last_hidden_state=self.norm(hidden_states), cache=cache)


class ARRNNForCausalLM(ARRNNPreTrainedModel, GenerationMixin):
    """LSTM/GRU language model; logits `(batch, seq_len, vocab_size)`; `generate()` is `transformers`' own."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: ARRNNConfig):
        super().__init__(config)
        self.model = ARRNNModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.model.embed_tokens

    def set_input_embeddings(self, value):
        self.model.embed_tokens = value

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, value):
        self.lm_head = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        return_dict: bool | None = None,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch, seq_len)`): token ids in [0, vocab_size).
            labels (`torch.LongTensor` of shape `(batch, seq_len)`, *optional*): usually `input_ids`; shifted
                inside (position t predicts token t + 1); -100 is ignored. The loss is the mean NLL in nats.
            logits_to_keep (`int`): if > 0, only the last `logits_to_keep` positions get logits.
        """
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            cache=cache,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
        )
        hidden_states = outputs.last_hidden_state
        if logits_to_keep:
            hidden_states = hidden_states[:, -logits_to_keep:]
        logits = self.lm_head(hidden_states)
        loss = None
        if labels is not None:
            loss = causal_lm_loss(logits, labels)
        if return_dict is False:
            return tuple(x for x in (loss, logits, outputs.cache) if x is not None)
        return CausalLMOutputWithPast(loss=loss, logits=logits, cache=outputs.cache)


__all__ = ["ARRNNForCausalLM", "ARRNNModel", "ARRNNPreTrainedModel"]
