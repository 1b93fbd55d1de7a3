from .configuration_vqvae_prior import VQVAEPriorConfig
from .modeling_vqvae_prior import VQVAEPriorForImageGeneration, VQVAEPriorPreTrainedModel
from .vocabulary import PriorVocabulary

__all__ = ["PriorVocabulary", "VQVAEPriorConfig", "VQVAEPriorForImageGeneration", "VQVAEPriorPreTrainedModel"]
