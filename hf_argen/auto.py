"""The one place that registers hf_argen's configs, models, processors and pipelines with `transformers`, and that
knows which Auto class builds a config's model and which one loads a folder's processor.

Registering also marks each config/model/processor class for remote code (`register_for_auto_class`), so
`save_pretrained` writes an `auto_map` and copies the model's modules (from `hf_argen/models/`) next to the weights:
the saved folder then loads with `trust_remote_code=True` on a machine without hf_argen.
"""

from pathlib import Path

from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForImageTextToText,
    AutoProcessor,
    AutoTokenizer,
)
from transformers.pipelines import PIPELINE_REGISTRY

from . import models

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
        models.CaptionerConfig,
        {
            AutoModel: models.CaptionerForConditionalGeneration,
            AutoModelForImageTextToText: models.CaptionerForConditionalGeneration,
        },
    )
    AutoImageProcessor.register(
        models.CaptionerConfig, slow_image_processor_class=models.CaptionerImageProcessor, exist_ok=True
    )
    models.CaptionerImageProcessor.register_for_auto_class("AutoImageProcessor")
    AutoProcessor.register(models.CaptionerConfig, models.CaptionerProcessor, exist_ok=True)
    models.CaptionerProcessor.register_for_auto_class("AutoProcessor")
    if CAPTIONING_TASK not in PIPELINE_REGISTRY.supported_tasks:
        PIPELINE_REGISTRY.register_pipeline(
            CAPTIONING_TASK,
            pipeline_class=models.ImageCaptioningPipeline,
            pt_model=AutoModelForImageTextToText,
            type="multimodal",
        )


def register_all() -> None:
    _register(models.PixelCNNConfig, {AutoModel: models.PixelCNNForImageGeneration})
    AutoImageProcessor.register(
        models.PixelCNNConfig, slow_image_processor_class=models.PixelCNNImageProcessor, exist_ok=True
    )
    models.PixelCNNImageProcessor.register_for_auto_class("AutoImageProcessor")
    _register(models.VQVAEConfig, {AutoModel: models.VQVAEModel})
    _register(models.ARTransformerConfig, {AutoModelForCausalLM: models.ARTransformerForCausalLM})
    _register(models.ARRNNConfig, {AutoModelForCausalLM: models.ARRNNForCausalLM})
    _register(models.VQVAEPriorConfig, {AutoModel: models.VQVAEPriorForImageGeneration})
    PIPELINE_REGISTRY.register_pipeline(
        models.TASK,
        pipeline_class=models.ClassConditionalImageGenerationPipeline,
        pt_model=AutoModel,
        type="multimodal",
    )
    _register(models.VQVAETextToImageConfig, {AutoModel: models.VQVAETextToImageForImageGeneration})
    PIPELINE_REGISTRY.register_pipeline(
        models.TEXT_TO_IMAGE_TASK, pipeline_class=models.TextToImagePipeline, pt_model=AutoModel, type="text"
    )
    _register_captioning()


def auto_class_for(config):
    """The Auto class that builds the full model (with its head) of `config`."""
    for auto_class in (AutoModelForImageTextToText, AutoModelForCausalLM, AutoModel):
        if type(config) in auto_class._model_mapping:
            return auto_class
    raise ValueError(f"hf_argen does not know model_type {config.model_type!r}.")


def saved_processors(folder: str | Path) -> list:
    """The processor, image processor or tokenizer saved in `folder` (the first of them found)."""
    folder = Path(folder)
    if (folder / "processor_config.json").is_file():
        return [AutoProcessor.from_pretrained(folder)]
    if (folder / "preprocessor_config.json").is_file():
        return [AutoImageProcessor.from_pretrained(folder)]
    if (folder / "tokenizer_config.json").is_file():
        return [AutoTokenizer.from_pretrained(folder)]
    return []


register_all()

__all__ = ["CAPTIONING_TASK", "auto_class_for", "register_all", "saved_processors"]
