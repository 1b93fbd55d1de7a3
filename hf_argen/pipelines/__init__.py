from .pipeline_image_generation import REMOTE_TASK, TASK, ClassConditionalImageGenerationPipeline
from .vq_image_generation import VQImageGenerationPipeline

__all__ = ["REMOTE_TASK", "TASK", "ClassConditionalImageGenerationPipeline", "VQImageGenerationPipeline"]
