"""The one place that registers hf_argen's configs, models and processors with the `transformers` Auto classes.

Registering also marks each config/model class for remote code (`register_for_auto_class`), so
`save_pretrained` writes an `auto_map` and copies the model's folder next to the weights: the saved folder
then loads with `trust_remote_code=True` on a machine without hf_argen.
"""

from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForCausalLM

from .captioning.registration import register_captioning
from .causal_lm import ARRNNConfig, ARRNNForCausalLM, ARTransformerConfig, ARTransformerForCausalLM
from .image_processing import PixelCNNImageProcessor
from .pixelcnn import PixelCNNConfig, PixelCNNForImageGeneration
from .vqvae import VQVAEConfig, VQVAEModel


def _register(config_class, model_classes: dict) -> None:
    """Register `config_class` and `{auto_class: model_class}` with `transformers`, for local and remote use."""
    AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    config_class.register_for_auto_class()
    for auto_class, model_class in model_classes.items():
        auto_class.register(config_class, model_class, exist_ok=True)
        model_class.register_for_auto_class(auto_class.__name__)


def register_all() -> None:
    _register(PixelCNNConfig, {AutoModel: PixelCNNForImageGeneration})
    AutoImageProcessor.register(PixelCNNConfig, slow_image_processor_class=PixelCNNImageProcessor, exist_ok=True)
    _register(VQVAEConfig, {AutoModel: VQVAEModel})
    _register(ARTransformerConfig, {AutoModelForCausalLM: ARTransformerForCausalLM})
    _register(ARRNNConfig, {AutoModelForCausalLM: ARRNNForCausalLM})
    register_captioning()


register_all()
