"""hf_argen: Hugging Face-native autoregressive generative models.

Importing the package registers every config, model, processor and pipeline with `transformers`.
"""

from . import auto  # noqa: F401  (registration side effect)
from .models import (
    ARRNNConfig,
    ARRNNForCausalLM,
    ARTransformerConfig,
    ARTransformerForCausalLM,
    CaptionerConfig,
    CaptionerForConditionalGeneration,
    CaptionerImageProcessor,
    CaptionerProcessor,
    ClassConditionalImageGenerationPipeline,
    ImageCaptioningPipeline,
    PixelCNNConfig,
    PixelCNNForImageGeneration,
    PixelCNNImageProcessor,
    PixelCNNModel,
    PixelCNNOutput,
    PriorVocabulary,
    VQImageGenerationPipeline,
    VQVAEConfig,
    VQVAEModel,
    VQVAEOutput,
    VQVAEPriorConfig,
    VQVAEPriorForImageGeneration,
    make_grid,
)

__version__ = "0.1.0"

__all__ = [
    "ARRNNConfig",
    "ARRNNForCausalLM",
    "ARTransformerConfig",
    "ARTransformerForCausalLM",
    "ClassConditionalImageGenerationPipeline",
    "CaptionerConfig",
    "CaptionerForConditionalGeneration",
    "CaptionerImageProcessor",
    "CaptionerProcessor",
    "ImageCaptioningPipeline",
    "PixelCNNConfig",
    "PixelCNNForImageGeneration",
    "PixelCNNImageProcessor",
    "PixelCNNModel",
    "PixelCNNOutput",
    "PriorVocabulary",
    "VQVAEConfig",
    "VQVAEModel",
    "VQVAEOutput",
    "VQVAEPriorConfig",
    "VQVAEPriorForImageGeneration",
    "VQImageGenerationPipeline",
    "make_grid",
]
