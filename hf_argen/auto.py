"""The one place that registers hf_argen's configs, models, processors and pipelines with `transformers`.

Registering also marks each config/model/processor class for remote code (`register_for_auto_class`), so
`save_pretrained` writes an `auto_map` and copies the model's modules (from `hf_argen/models/`) next to the weights:
the saved folder then loads with `trust_remote_code=True` on a machine without hf_argen.
"""

from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForImageTextToText,
    AutoProcessor,
)
from transformers.pipelines import PIPELINE_REGISTRY

from .models import (
    TASK,
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
    VQVAEConfig,
    VQVAEModel,
    VQVAEPriorConfig,
    VQVAEPriorForImageGeneration,
)

CAPTIONING_TASK = "image-captioning"


def _register(config_class, model_classes: dict) -> None:
    """Register `config_class` and `{auto_class: model_class}` with `transformers`, for local and remote use.
    A model class registered with several Auto classes is marked for remote code with the last one."""
    AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    config_class.register_for_auto_class()
    for auto_class, model_class in model_classes.items():
        auto_class.register(config_class, model_class, exist_ok=True)
        model_class.register_for_auto_class(auto_class.__name__)


def _register_captioning() -> None:
    """Config, model (`AutoModel`, `AutoModelForImageTextToText`), image processor, processor and the
    `image-captioning` pipeline task."""
    _register(
        CaptionerConfig,
        {AutoModel: CaptionerForConditionalGeneration, AutoModelForImageTextToText: CaptionerForConditionalGeneration},
    )
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


def register_all() -> None:
    _register(PixelCNNConfig, {AutoModel: PixelCNNForImageGeneration})
    AutoImageProcessor.register(PixelCNNConfig, slow_image_processor_class=PixelCNNImageProcessor, exist_ok=True)
    PixelCNNImageProcessor.register_for_auto_class("AutoImageProcessor")
    _register(VQVAEConfig, {AutoModel: VQVAEModel})
    _register(ARTransformerConfig, {AutoModelForCausalLM: ARTransformerForCausalLM})
    _register(ARRNNConfig, {AutoModelForCausalLM: ARRNNForCausalLM})
    _register(VQVAEPriorConfig, {AutoModel: VQVAEPriorForImageGeneration})
    PIPELINE_REGISTRY.register_pipeline(
        TASK, pipeline_class=ClassConditionalImageGenerationPipeline, pt_model=AutoModel, type="multimodal"
    )
    _register_captioning()


register_all()

__all__ = ["CAPTIONING_TASK", "register_all"]
