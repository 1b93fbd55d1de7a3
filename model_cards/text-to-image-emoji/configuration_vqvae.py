"""Configuration of the VQ-VAE (van den Oord et al., 2017, "Neural Discrete Representation Learning")."""

import math

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from .validation import check_image_shape, check_int

CODEBOOK_UPDATES = ("ema", "gradient")


@strict
class VQVAEConfig(PreTrainedConfig):
    r"""
    Configuration for [`VQVAEModel`]. The defaults suit 28x28 grayscale images (MNIST): a 7x7 grid of codes
    drawn from 512 centroids, i.e. 49 * 9 = 441 bits per image.

    Args:
        image_size (`int`, defaults to 28): height and width of the (square) images; divisible by
            `downsample_factor`.
        num_channels (`int`, defaults to 1): 1 (grayscale) or 3 (RGB).
        num_embeddings (`int`, defaults to 512): codebook size K, `>= 2`.
        embedding_dim (`int`, defaults to 32): dimension d of each centroid (and of the encoder output).
        hidden_size (`int`, defaults to 64): feature maps of the encoder/decoder at the code resolution.
        num_residual_layers (`int`, defaults to 2): residual blocks in the encoder and in the decoder.
        residual_hidden_size (`int`, defaults to 32): bottleneck width inside each residual block.
        downsample_factor (`int`, defaults to 4): power of two; the code grid is
            `image_size / downsample_factor` on each side (one stride-2 convolution per factor of two).
        commitment_cost (`float`, defaults to 0.25): beta in beta * ||z_e - sg(e)||^2.
        codebook_update (`str`, defaults to `"ema"`): `"ema"` keeps the centroids as running (exponential
            moving average) estimates of the encoder outputs assigned to them; `"gradient"` learns them as
            parameters with the codebook loss ||sg(z_e) - e||^2 (the original, plain VQ-VAE).
        decay (`float`, defaults to 0.99): EMA decay in [0, 1) (`"ema"` only).
        epsilon (`float`, defaults to 1e-5): Laplace smoothing of the EMA cluster sizes, `> 0`.
        kmeans_init (`bool`, defaults to `True`): initialise the codebook by k-means on the encoder outputs of
            the first training batch.
        kmeans_iters (`int`, defaults to 10): Lloyd iterations of that k-means, `>= 1`.
        dead_code_steps (`int`, defaults to 100): a code not assigned in this many consecutive training steps
            is re-seeded from the current batch's encoder outputs; 0 disables restarts.
    """

    model_type = "vqvae"

    image_size: int = 28
    num_channels: int = 1
    num_embeddings: int = 512
    embedding_dim: int = 32
    hidden_size: int = 64
    num_residual_layers: int = 2
    residual_hidden_size: int = 32
    downsample_factor: int = 4
    commitment_cost: float | int = 0.25
    codebook_update: str = "ema"
    decay: float | int = 0.99
    epsilon: float = 1e-5
    kmeans_init: bool = True
    kmeans_iters: int = 10
    dead_code_steps: int = 100
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        check_image_shape(self.image_size, self.num_channels)
        check_int("num_embeddings", self.num_embeddings, 2)
        check_int("embedding_dim", self.embedding_dim, 1)
        check_int("hidden_size", self.hidden_size, 1)
        check_int("num_residual_layers", self.num_residual_layers, 0)
        check_int("residual_hidden_size", self.residual_hidden_size, 1)
        factor = self.downsample_factor
        check_int("downsample_factor", factor, 1)
        if factor & (factor - 1):
            raise ValueError(f"`downsample_factor` must be a power of two (1, 2, 4, ...), got {factor}.")
        if self.image_size % factor:
            raise ValueError(f"`image_size` ({self.image_size}) must be divisible by `downsample_factor` ({factor}).")
        if isinstance(self.commitment_cost, bool) or not self.commitment_cost >= 0:
            raise ValueError(f"`commitment_cost` must be a number >= 0, got {self.commitment_cost!r}.")
        if self.codebook_update not in CODEBOOK_UPDATES:
            raise ValueError(f"`codebook_update` must be one of {CODEBOOK_UPDATES}, got {self.codebook_update!r}.")
        if isinstance(self.decay, bool) or not 0.0 <= self.decay < 1.0:
            raise ValueError(f"`decay` must be in [0, 1), got {self.decay!r}.")
        if not self.epsilon > 0:
            raise ValueError(f"`epsilon` must be > 0, got {self.epsilon!r}.")
        check_int("kmeans_iters", self.kmeans_iters, 1)
        check_int("dead_code_steps", self.dead_code_steps, 0)

    @property
    def latent_size(self) -> int:
        """Side of the code grid, `image_size // downsample_factor`."""
        return self.image_size // self.downsample_factor

    @property
    def bits_per_image(self) -> float:
        """Size of one code map in bits: h * w * log2(K)."""
        return self.latent_size**2 * math.log2(self.num_embeddings)


__all__ = ["VQVAEConfig"]
