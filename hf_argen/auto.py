"""The one place that registers hf_argen's configs, models, processors and pipelines with `transformers`.

Registering also marks each config/model/processor class for remote code (`register_for_auto_class`), so
`save_pretrained` writes an `auto_map` and copies the model's folder next to the weights: the saved folder
then loads with `trust_remote_code=True` on a machine without hf_argen.
"""

from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForCausalLM
from transformers.pipelines import PIPELINE_REGISTRY

from .captioning.registration import register_captioning
from .causal_lm import ARRNNConfig, ARRNNForCausalLM, ARTransformerConfig, ARTransformerForCausalLM
from .pipelines import TASK, ClassConditionalImageGenerationPipeline
from .pixelcnn import PixelCNNConfig, PixelCNNForImageGeneration
from .pixelcnn.image_processing_pixelcnn import PixelCNNImageProcessor
from .two_stage import VQVAEPriorConfig, VQVAEPriorForImageGeneration
from .vqvae import VQVAEConfig, VQVAEModel


def _register(config_class, model_classes: dict) -> None:
    """Register `config_class` and `{auto_class: model_class}` with `transformers`, for local and remote use."""
    AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    config_class.register_for_auto_class()
    for auto_class, model_class in model_classes.items():
        auto_class.register(config_class, model_class, exist_ok=True)
        model_class.register_for_auto_class(auto_class.__name__)


def _mark_copies_for_remote_code() -> None:
    """The two-stage model's submodels are copies of the package's classes: mark them too, so that
    `model.vqvae.save_pretrained(...)` / `model.prior.save_pretrained(...)` also write loadable remote code."""
    from .two_stage import configuration_vqvae_prior, modeling_vqvae_prior
    from .two_stage.modeling_vqvae import VQVAEModel as VQVAECopy

    for config_class in (*configuration_vqvae_prior.PRIOR_CONFIGS.values(), configuration_vqvae_prior.VQVAEConfig):
        config_class.register_for_auto_class()
    VQVAECopy.register_for_auto_class("AutoModel")
    for model_type, model_class in modeling_vqvae_prior.PRIOR_MODELS.items():
        model_class.register_for_auto_class("AutoModel" if model_type == "pixelcnn" else "AutoModelForCausalLM")


def register_all() -> None:
    _register(PixelCNNConfig, {AutoModel: PixelCNNForImageGeneration})
    AutoImageProcessor.register(PixelCNNConfig, slow_image_processor_class=PixelCNNImageProcessor, exist_ok=True)
    PixelCNNImageProcessor.register_for_auto_class("AutoImageProcessor")
    _register(VQVAEConfig, {AutoModel: VQVAEModel})
    _register(ARTransformerConfig, {AutoModelForCausalLM: ARTransformerForCausalLM})
    _register(ARRNNConfig, {AutoModelForCausalLM: ARRNNForCausalLM})
    _register(VQVAEPriorConfig, {AutoModel: VQVAEPriorForImageGeneration})
    _mark_copies_for_remote_code()
    PIPELINE_REGISTRY.register_pipeline(
        TASK, pipeline_class=ClassConditionalImageGenerationPipeline, pt_model=AutoModel, type="multimodal"
    )
    register_captioning()


register_all()
