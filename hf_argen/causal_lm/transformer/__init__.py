from .configuration_ar_transformer import ARTransformerConfig
from .modeling_ar_transformer import (
    ARTransformerForCausalLM,
    ARTransformerModel,
    ARTransformerPreTrainedModel,
)

__all__ = [
    "ARTransformerConfig",
    "ARTransformerForCausalLM",
    "ARTransformerModel",
    "ARTransformerPreTrainedModel",
]
