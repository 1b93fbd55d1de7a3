"""Image captioning p(text | image): config, model, image processor, processor, tokenizer training, pipeline."""

from .configuration_captioner import CaptionerConfig
from .image_processing_captioner import CaptionerImageProcessor
from .modeling_captioner import CaptionerForConditionalGeneration, CaptionerPreTrainedModel
from .pipeline_captioner import ImageCaptioningPipeline
from .processing_captioner import CaptionerProcessor
from .registration import register_captioning
from .tokenization_captioner import train_caption_tokenizer

__all__ = [
    "CaptionerConfig",
    "CaptionerForConditionalGeneration",
    "CaptionerImageProcessor",
    "CaptionerPreTrainedModel",
    "CaptionerProcessor",
    "ImageCaptioningPipeline",
    "register_captioning",
    "train_caption_tokenizer",
]
