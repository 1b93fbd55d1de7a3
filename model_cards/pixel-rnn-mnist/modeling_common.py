"""What the language models and the captioner share: the GELU MLP, eager attention, the causal LM head's output."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast


class GeluMLP(nn.Module):
    """`down_proj(gelu_tanh(up_proj(x)))`: `(..., hidden_size)` -> `(..., hidden_size)` through `intermediate_size`."""

    def __init__(self, config):
        super().__init__()
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.gelu(self.up_proj(x), approximate="tanh"))


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool = False,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention written out (it returns the weights), in `transformers`' attention-interface signature.

    `query` `(B, heads, T, D)`, `key`/`value` `(B, heads, S, D)`; `attention_mask` `(B, 1, T, S)` is boolean
    (True = attend) or additive float (as `create_causal_mask` builds it for eager attention); `is_causal` adds the
    causal mask aligned to the last key. Returns `(output (B, T, heads, D), weights (B, heads, T, S))`.
    """
    scaling = 1 / math.sqrt(query.shape[-1]) if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(-1, -2)) * scaling
    if is_causal:
        q_len, k_len = query.shape[-2], key.shape[-2]
        causal = torch.ones(q_len, k_len, dtype=torch.bool, device=query.device).tril(k_len - q_len)
        attention_mask = causal if attention_mask is None else attention_mask & causal
    if attention_mask is not None and attention_mask.dtype == torch.bool:
        scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
    elif attention_mask is not None:
        scores = scores + attention_mask
    weights = F.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    if dropout:
        weights = F.dropout(weights, p=dropout, training=module.training)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


def causal_lm_output(
    model: nn.Module, outputs: BaseModelOutputWithPast, labels, logits_to_keep: int | torch.Tensor, **loss_kwargs
) -> CausalLMOutputWithPast:
    """`model.lm_head` on `outputs.last_hidden_state` `(B, T, H)`: logits `(B, T', vocab_size)` of the last
    `logits_to_keep` positions (all for 0; a 1-D tensor selects positions), `model.loss_function` on them when
    `labels` `(B, T)` are given (`loss_kwargs`: `num_items_in_batch`, `shift_labels`, ...), the cache, hidden
    states and attentions of `outputs` passed on."""
    slice_indices = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
    logits = model.lm_head(outputs.last_hidden_state[:, slice_indices, :])
    loss = None
    if labels is not None:
        loss = model.loss_function(logits=logits, labels=labels, vocab_size=model.config.vocab_size, **loss_kwargs)
    return CausalLMOutputWithPast(
        loss=loss,
        logits=logits,
        cache=outputs.cache,
        hidden_states=outputs.hidden_states,
        attentions=outputs.attentions,
    )


__all__ = ["GeluMLP", "causal_lm_output", "eager_attention_forward"]
