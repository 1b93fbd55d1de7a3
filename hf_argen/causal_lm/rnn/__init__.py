from .configuration_ar_rnn import ARRNNConfig
from .modeling_ar_rnn import ARRNNForCausalLM, ARRNNModel, ARRNNPreTrainedModel

__all__ = ["ARRNNConfig", "ARRNNForCausalLM", "ARRNNModel", "ARRNNPreTrainedModel"]
