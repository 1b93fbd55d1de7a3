"""hf_argen: Hugging Face-native autoregressive generative models.

Importing the package registers every config, model and processor with the `transformers` Auto classes.
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
from .pipelines import VQImageGenerationPipeline
from .pixelcnn import PixelCNNConfig, PixelCNNForImageGeneration, PixelCNNOutput
from .vqvae import VQVAEConfig, VQVAEModel, VQVAEOutput

__version__ = "0.1.0"

__all__ = [
    "ARRNNConfig",
    "ARRNNForCausalLM",
    "ARTransformerConfig",
    "ARTransformerForCausalLM",
    "CaptionerConfig",
    "CaptionerForConditionalGeneration",
    "CaptionerImageProcessor",
    "CaptionerProcessor",
    "ImageCaptioningPipeline",
    "PixelCNNConfig",
    "PixelCNNForImageGeneration",
    "PixelCNNImageProcessor",
    "PixelCNNOutput",
    "VQVAEConfig",
    "VQVAEModel",
    "VQVAEOutput",
    "VQImageGenerationPipeline",
    "make_grid",
]
