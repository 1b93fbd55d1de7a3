"""hf_argen: Hugging Face-native autoregressive generative models.

Importing the package registers every config, model, processor and pipeline with `transformers`.
"""

from . import auto  # noqa: F401  (registration side effect)
from .captioning import (
    CaptionerConfig,
    CaptionerForConditionalGeneration,
    CaptionerImageProcessor,
    CaptionerProcessor,
    ImageCaptioningPipeline,
)
from .causal_lm import ARRNNConfig, ARRNNForCausalLM, ARTransformerConfig, ARTransformerForCausalLM
from .image_processing import PixelCNNImageProcessor, make_grid
from .pipelines import ClassConditionalImageGenerationPipeline, VQImageGenerationPipeline
from .pixelcnn import PixelCNNConfig, PixelCNNForImageGeneration, PixelCNNOutput
from .two_stage import PriorVocabulary, VQVAEPriorConfig, VQVAEPriorForImageGeneration
from .vqvae import VQVAEConfig, VQVAEModel, VQVAEOutput

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
