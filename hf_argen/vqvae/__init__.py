from .configuration_vqvae import VQVAEConfig
from .modeling_vqvae import VQVAEModel, VQVAEOutput, VQVAEPreTrainedModel, VQVAEQuantizer

__all__ = ["VQVAEConfig", "VQVAEModel", "VQVAEOutput", "VQVAEPreTrainedModel", "VQVAEQuantizer"]
