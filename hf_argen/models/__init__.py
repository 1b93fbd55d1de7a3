"""Every module a saved model folder carries, in one flat folder.

`transformers`' remote code copies a model's module and, recursively, its single-dot relative imports from the same
folder next to the weights (`custom_object_save`). Every module here imports only its siblings (`from .x import y`)
and installed libraries, so `save_pretrained` writes exactly the files a folder needs and nothing is copied in the
source tree.
"""

from .configuration_ar_rnn import ARRNNConfig
from .configuration_ar_transformer import ARTransformerConfig
from .configuration_captioner import CaptionerConfig
from .configuration_pixelcnn import PixelCNNConfig
from .configuration_vqvae import VQVAEConfig
from .configuration_vqvae_prior import VQVAEPriorConfig
from .configuration_vqvae_text_to_image import VQVAETextToImageConfig
from .image_processing_captioner import CaptionerImageProcessor
from .image_processing_pixelcnn import PixelCNNImageProcessor, make_grid
from .modeling_ar_rnn import ARRNNForCausalLM, ARRNNModel, ARRNNPreTrainedModel
from .modeling_ar_transformer import ARTransformerForCausalLM, ARTransformerModel, ARTransformerPreTrainedModel
from .modeling_captioner import CaptionerForConditionalGeneration, CaptionerPreTrainedModel
from .modeling_pixelcnn import PixelCNNForImageGeneration, PixelCNNModel, PixelCNNOutput, PixelCNNPreTrainedModel
from .modeling_vqvae import VQVAEModel, VQVAEOutput, VQVAEPreTrainedModel
from .modeling_vqvae_prior import VQVAEPriorForImageGeneration, VQVAEPriorPreTrainedModel
from .modeling_vqvae_text_to_image import VQVAETextToImageForImageGeneration, VQVAETextToImagePreTrainedModel
from .pipeline_captioner import ImageCaptioningPipeline
from .pipeline_image_generation import REMOTE_TASK, TASK, ClassConditionalImageGenerationPipeline
from .pipeline_text_to_image import TEXT_TO_IMAGE_TASK, TextToImagePipeline
from .pipeline_vq_image_generation import VQImageGenerationPipeline
from .pixel_vocabulary import PixelVocabulary
from .processing_captioner import CaptionerProcessor
from .tokenization_captioner import train_caption_tokenizer
from .vocabulary import PriorVocabulary, TextToImageVocabulary

__all__ = [
    "REMOTE_TASK",
    "TASK",
    "TEXT_TO_IMAGE_TASK",
    "ARRNNConfig",
    "ARRNNForCausalLM",
    "ARRNNModel",
    "ARRNNPreTrainedModel",
    "ARTransformerConfig",
    "ARTransformerForCausalLM",
    "ARTransformerModel",
    "ARTransformerPreTrainedModel",
    "CaptionerConfig",
    "CaptionerForConditionalGeneration",
    "CaptionerImageProcessor",
    "CaptionerPreTrainedModel",
    "CaptionerProcessor",
    "ClassConditionalImageGenerationPipeline",
    "ImageCaptioningPipeline",
    "PixelCNNConfig",
    "PixelCNNForImageGeneration",
    "PixelCNNImageProcessor",
    "PixelCNNModel",
    "PixelCNNOutput",
    "PixelCNNPreTrainedModel",
    "PixelVocabulary",
    "PriorVocabulary",
    "TextToImagePipeline",
    "TextToImageVocabulary",
    "VQImageGenerationPipeline",
    "VQVAEConfig",
    "VQVAEModel",
    "VQVAEOutput",
    "VQVAEPreTrainedModel",
    "VQVAEPriorConfig",
    "VQVAEPriorForImageGeneration",
    "VQVAEPriorPreTrainedModel",
    "VQVAETextToImageConfig",
    "VQVAETextToImageForImageGeneration",
    "VQVAETextToImagePreTrainedModel",
    "make_grid",
    "train_caption_tokenizer",
]
