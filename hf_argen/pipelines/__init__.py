from .vq_image_generation import VQImageGenerationPipeline

__all__ = ["VQImageGenerationPipeline"]
