"""Configuration of the Gated PixelCNN (van den Oord et al., 2016)."""

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from .validation import check_image_shape, check_int

ARCHITECTURES = ("gated", "masked")


@strict
class PixelCNNConfig(PreTrainedConfig):
    r"""
    Configuration for [`PixelCNNForImageGeneration`].

    Args:
        image_size (`int`, defaults to 28): height and width of the (square) images.
        num_channels (`int`, defaults to 1): colour channels; sub-pixels are ordered R, then G, then B.
        num_levels (`int`, defaults to 256): intensity levels per sub-pixel (softmax size), `>= 2`.
        num_classes (`int`, *optional*): number of classes for class-conditional generation;
            `None` means unconditional.
        hidden_size (`int`, defaults to 64): feature maps per stack, `>= num_channels` (the features are
            split into one interleaved group per colour channel).
        num_hidden_layers (`int`, defaults to 10): gated layers after the first (mask A) layer.
        kernel_size (`int`, defaults to 3): odd spatial kernel size of the gated layers.
        first_kernel_size (`int`, defaults to 7): odd kernel size (>= 3) of the first (mask A) layer.
        output_hidden_size (`int`, defaults to 256): width of the two-layer output head, `>= num_channels`.
        architecture (`str`, defaults to `"gated"`): `"gated"` for the vertical + horizontal stacks
            (no blind spot), `"masked"` for the original single-stack masked PixelCNN (with blind spot).
        dropout (`float`, defaults to 0.0): dropout on the gated activations during training.
        input_embedding (`bool`, defaults to `False`): how the first layer reads a sub-pixel. `False`: its level
            as a scalar intensity in [-1, 1] (images, whose levels are ordered). `True`: a learned embedding of the
            level (categorical inputs such as VQ-VAE code ids, which are unordered), one table per colour channel,
            `max(1, hidden_size // num_channels)` features per sub-pixel, all in that channel's group, so the
            masks (causality, colour order) are unchanged.
    """

    model_type = "pixelcnn"

    image_size: int = 28
    num_channels: int = 1
    num_levels: int = 256
    num_classes: int | None = None
    hidden_size: int = 64
    num_hidden_layers: int = 10
    kernel_size: int = 3
    first_kernel_size: int = 7
    output_hidden_size: int = 256
    architecture: str = "gated"
    dropout: float | int = 0.0
    input_embedding: bool = False
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        check_image_shape(self.image_size, self.num_channels)
        check_int("num_levels", self.num_levels, 2)
        if self.num_classes is not None:
            check_int("num_classes", self.num_classes, 1)
        check_int("hidden_size", self.hidden_size, self.num_channels)
        check_int("num_hidden_layers", self.num_hidden_layers, 0)
        for name, minimum in (("kernel_size", 1), ("first_kernel_size", 3)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum or value % 2 == 0:
                raise ValueError(f"`{name}` must be an odd integer >= {minimum}, got {value!r}.")
        check_int("output_hidden_size", self.output_hidden_size, self.num_channels)
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"`architecture` must be one of {ARCHITECTURES}, got {self.architecture!r}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {self.dropout}.")

    @property
    def input_embedding_size(self) -> int:
        """Features per sub-pixel at the first layer: 1 (intensity) or the width of the level embedding."""
        return max(1, self.hidden_size // self.num_channels) if self.input_embedding else 1

    @property
    def num_subpixels(self) -> int:
        """Dimensions per image, C * H * W."""
        return self.num_channels * self.image_size * self.image_size


__all__ = ["PixelCNNConfig"]
