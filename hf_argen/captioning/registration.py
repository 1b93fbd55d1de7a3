"""Register the captioner with the `transformers` Auto classes and the pipeline registry (called by hf_argen.auto)."""

from __future__ import annotations

CAPTIONING_TASK = "image-captioning"


def register_captioning() -> None:
    """Register config, model (`AutoModel`, `AutoModelForImageTextToText`), image processor, processor and the
    `image-captioning` pipeline task; mark each class for remote code so saved folders carry their code."""
    from transformers import (
        AutoConfig,
        AutoImageProcessor,
        AutoModel,
        AutoModelForImageTextToText,
        AutoProcessor,
    )
    from transformers.pipelines import PIPELINE_REGISTRY

    from .configuration_captioner import CaptionerConfig
    from .image_processing_captioner import CaptionerImageProcessor
    from .modeling_captioner import CaptionerForConditionalGeneration
    from .pipeline_captioner import ImageCaptioningPipeline
    from .processing_captioner import CaptionerProcessor

    AutoConfig.register(CaptionerConfig.model_type, CaptionerConfig, exist_ok=True)
    CaptionerConfig.register_for_auto_class()
    AutoModel.register(CaptionerConfig, CaptionerForConditionalGeneration, exist_ok=True)
    AutoModelForImageTextToText.register(CaptionerConfig, CaptionerForConditionalGeneration, exist_ok=True)
    # One `_auto_class` per class: the config's `auto_map` (CAPTIONING_AUTO_MAP) names both model Auto classes.
    CaptionerForConditionalGeneration.register_for_auto_class("AutoModelForImageTextToText")
    AutoImageProcessor.register(CaptionerConfig, slow_image_processor_class=CaptionerImageProcessor, exist_ok=True)
    CaptionerImageProcessor.register_for_auto_class("AutoImageProcessor")
    AutoProcessor.register(CaptionerConfig, CaptionerProcessor, exist_ok=True)
    CaptionerProcessor.register_for_auto_class("AutoProcessor")
    if CAPTIONING_TASK not in PIPELINE_REGISTRY.supported_tasks:
        PIPELINE_REGISTRY.register_pipeline(
            CAPTIONING_TASK,
            pipeline_class=ImageCaptioningPipeline,
            pt_model=AutoModelForImageTextToText,
            type="multimodal",
        )


__all__ = ["CAPTIONING_TASK", "register_captioning"]
