"""Causal language models used as text models and as autoregressive priors (codes, flattened pixels)."""

from .rnn import ARRNNConfig, ARRNNForCausalLM, ARRNNModel
from .transformer import ARTransformerConfig, ARTransformerForCausalLM, ARTransformerModel

__all__ = [
    "ARRNNConfig",
    "ARRNNForCausalLM",
    "ARRNNModel",
    "ARTransformerConfig",
    "ARTransformerForCausalLM",
    "ARTransformerModel",
]
