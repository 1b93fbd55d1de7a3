from .configuration_pixelcnn import PixelCNNConfig
from .modeling_pixelcnn import PixelCNNForImageGeneration, PixelCNNOutput, PixelCNNPreTrainedModel

__all__ = ["PixelCNNConfig", "PixelCNNForImageGeneration", "PixelCNNOutput", "PixelCNNPreTrainedModel"]
