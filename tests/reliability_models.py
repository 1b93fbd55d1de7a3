"""Tiny instances of every model kind, shared by the reliability tests (fast on one CPU core)."""

from __future__ import annotations

import torch

from hf_argen import (
    ARRNNConfig,
    ARRNNForCausalLM,
    ARTransformerConfig,
    ARTransformerForCausalLM,
    PixelCNNConfig,
    PixelCNNForImageGeneration,
    VQVAEConfig,
    VQVAEModel,
    VQVAEPriorConfig,
    VQVAEPriorForImageGeneration,
)

NUM_CODES = 16
VQVAE = dict(image_size=8, num_embeddings=NUM_CODES, embedding_dim=4, hidden_size=8, residual_hidden_size=4,
             num_residual_layers=1, kmeans_init=False)  # fmt: skip
PRIOR = dict(model_type="ar_transformer", vocab_size=NUM_CODES + 4, pad_token_id=NUM_CODES + 3, bos_token_id=None,
             eos_token_id=None, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
             max_position_embeddings=20)  # fmt: skip
LM = dict(vocab_size=12, hidden_size=16, num_hidden_layers=1, pad_token_id=0, bos_token_id=1, eos_token_id=2)


def pixelcnn(**overrides) -> PixelCNNForImageGeneration:
    values = dict(image_size=5, num_channels=3, num_levels=4, num_classes=3, hidden_size=6, num_hidden_layers=2,
                  kernel_size=3, first_kernel_size=3, output_hidden_size=6)  # fmt: skip
    torch.manual_seed(0)
    return PixelCNNForImageGeneration(PixelCNNConfig(**{**values, **overrides})).eval()


def vqvae(**overrides) -> VQVAEModel:
    torch.manual_seed(0)
    return VQVAEModel(VQVAEConfig(**{**VQVAE, **overrides})).eval()


def transformer(**overrides) -> ARTransformerForCausalLM:
    torch.manual_seed(0)
    config = ARTransformerConfig(**{**LM, "num_attention_heads": 2, "max_position_embeddings": 32, **overrides})
    return ARTransformerForCausalLM(config).eval()


def rnn(**overrides) -> ARRNNForCausalLM:
    torch.manual_seed(0)
    return ARRNNForCausalLM(ARRNNConfig(**{**LM, **overrides})).eval()


def two_stage() -> VQVAEPriorForImageGeneration:
    torch.manual_seed(0)
    config = VQVAEPriorConfig(vqvae=VQVAEConfig(**VQVAE), prior=dict(PRIOR), num_classes=3)
    return VQVAEPriorForImageGeneration(config).eval()


BUILDERS = {"pixelcnn": pixelcnn, "vqvae": vqvae, "transformer": transformer, "rnn": rnn, "two_stage": two_stage}
