"""VQ-VAE (van den Oord et al., 2017, "Neural Discrete Representation Learning").

A convolutional encoder maps an image `(B, C, H, W)` in [-1, 1] to a grid of vectors `(B, d, h, w)`; each
vector is replaced by its nearest of K centroids (the code), and a convolutional decoder maps the quantised
grid back to pixels in [-1, 1]. Gradients pass the quantiser straight through; a commitment loss
beta*||z_e-sg(e)||^2 keeps the encoder close to its centroids. With `codebook_update="ema"` the centroids are
running estimates: exponential moving averages of the cluster sizes and of the sums of the vectors assigned to
each code (with Laplace smoothing of the sizes), as in the paper's appendix. The codebook can be initialised
by k-means on the first training batch, and codes left unused for `dead_code_steps` training steps are
re-seeded from the current encoder outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .configuration_vqvae import VQVAEConfig
from .safe_loading import SafeLoadingMixin


# ----------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------
def _is_distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _all_reduce(tensor: torch.Tensor) -> torch.Tensor:
    """Sum over processes (in place) when running distributed; identity otherwise."""
    if _is_distributed():
        torch.distributed.all_reduce(tensor)
    return tensor


def _broadcast(tensor: torch.Tensor) -> torch.Tensor:
    """Rank 0's value on every process (in place) when running distributed; identity otherwise."""
    if _is_distributed():
        torch.distributed.broadcast(tensor, src=0)
    return tensor


def squared_distances(vectors: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """`(N, d)`, `(K, d)` -> squared Euclidean distances `(N, K)`."""
    return vectors.pow(2).sum(1, keepdim=True) - 2.0 * vectors @ codebook.t() + codebook.pow(2).sum(1)[None, :]


def kmeans_plus_plus(vectors: torch.Tensor, num_clusters: int) -> torch.Tensor:
    """k-means++ seeding: `num_clusters` rows of `(N, d)` vectors, each drawn with probability proportional to
    its squared distance to the seeds drawn so far.

    Returns seeds `(K, d)`; if N < K, rows are drawn with replacement.
    """
    num_vectors = vectors.shape[0]
    if num_vectors < num_clusters:
        return vectors[torch.randint(num_vectors, (num_clusters,), device=vectors.device)].clone()
    seeds = torch.empty(num_clusters, vectors.shape[1], dtype=vectors.dtype, device=vectors.device)
    seeds[0] = vectors[torch.randint(num_vectors, (1,), device=vectors.device)]
    closest = (vectors - seeds[0]).pow(2).sum(1)
    for index in range(1, num_clusters):
        total = closest.sum()
        if total > 0:
            pick = torch.multinomial(closest / total, 1)
        else:  # fewer distinct vectors than clusters
            pick = torch.randint(num_vectors, (1,), device=vectors.device)
        seeds[index] = vectors[pick]
        closest = torch.minimum(closest, (vectors - seeds[index]).pow(2).sum(1))
    return seeds


def kmeans(vectors: torch.Tensor, num_clusters: int, num_iters: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on `(N, d)` vectors with k-means++ seeding.

    Returns centroids `(K, d)` and cluster sizes `(K,)` of the last assignment; an empty cluster keeps its
    previous centroid.
    """
    centroids = kmeans_plus_plus(vectors, num_clusters)
    counts = torch.zeros(num_clusters, device=vectors.device, dtype=vectors.dtype)
    for _ in range(num_iters):
        assignment = squared_distances(vectors, centroids).argmin(1)
        counts = torch.bincount(assignment, minlength=num_clusters).to(vectors.dtype)
        sums = torch.zeros_like(centroids).index_add_(0, assignment, vectors)
        nonempty = counts > 0
        centroids[nonempty] = sums[nonempty] / counts[nonempty, None]
    return centroids, counts


# ----------------------------------------------------------------------------------------------------------
# Quantiser
# ----------------------------------------------------------------------------------------------------------
@dataclass
class QuantizerOutput(ModelOutput):
    """
    Args:
        quantized (`torch.FloatTensor` of shape `(batch, embedding_dim, h, w)`): straight-through
            quantised grid.
        codes (`torch.LongTensor` of shape `(batch, h, w)`): index of the nearest centroid.
        commitment_loss (`torch.FloatTensor` of shape `()`): ||z_e - sg(e)||^2, mean over elements
            (unweighted).
        codebook_loss (`torch.FloatTensor` of shape `()`): ||sg(z_e) - e||^2 (gradient codebooks; 0 for EMA).
        perplexity (`torch.FloatTensor` of shape `()`): exp(entropy) of the batch's code histogram.
        codebook_usage (`torch.FloatTensor` of shape `()`): fraction of the K codes used in the batch.
    """

    quantized: torch.FloatTensor | None = None
    codes: torch.LongTensor | None = None
    commitment_loss: torch.FloatTensor | None = None
    codebook_loss: torch.FloatTensor | None = None
    perplexity: torch.FloatTensor | None = None
    codebook_usage: torch.FloatTensor | None = None


class VQVAEQuantizer(nn.Module):
    """Nearest-centroid quantiser with a straight-through gradient.

    State (all persistent, so that `from_pretrained` restores it from the checkpoint):
        codebook `(K, d)`: a parameter (`codebook_update="gradient"`) or a buffer written by the EMA update.
        ema_cluster_size `(K,)`, ema_embed_sum `(K, d)`: running statistics (EMA codebooks only).
        unused_steps `(K,)`: consecutive training steps each code went unassigned (for dead-code restarts).
        initialized `()`: whether the k-means initialisation has run (or was not asked for).
    """

    def __init__(self, config: VQVAEConfig):
        super().__init__()
        self.num_embeddings = config.num_embeddings
        self.embedding_dim = config.embedding_dim
        self.use_ema = config.codebook_update == "ema"
        self.decay = float(config.decay)
        self.epsilon = float(config.epsilon)
        self.kmeans_init = config.kmeans_init
        self.kmeans_iters = config.kmeans_iters
        self.dead_code_steps = config.dead_code_steps
        codebook = torch.empty(config.num_embeddings, config.embedding_dim)
        if self.use_ema:
            self.register_buffer("codebook", codebook)
            self.register_buffer("ema_cluster_size", torch.ones(config.num_embeddings))
            self.register_buffer("ema_embed_sum", codebook.clone())
        else:
            self.codebook = nn.Parameter(codebook)
        self.register_buffer("unused_steps", torch.zeros(config.num_embeddings, dtype=torch.long))
        self.register_buffer("initialized", torch.tensor(not config.kmeans_init))
        self.reset_codebook()

    @torch.no_grad()
    def reset_codebook(self) -> None:
        """Uniform(-1/K, 1/K) centroids; EMA statistics that reproduce them (cluster sizes of 1)."""
        bound = 1.0 / self.num_embeddings
        self.codebook.uniform_(-bound, bound)
        if self.use_ema:
            self.ema_cluster_size.fill_(1.0)
            self.ema_embed_sum.copy_(self.codebook)
        self.unused_steps.zero_()
        self.initialized.fill_(not self.kmeans_init)

    # ---- codebook maintenance (training only) -----------------------------------------------------------
    @torch.no_grad()
    def _set_codes(self, index: torch.Tensor, vectors: torch.Tensor, cluster_size: torch.Tensor | float) -> None:
        """Point codes `index` at `vectors` `(n, d)`, with EMA statistics consistent with them."""
        self.codebook[index] = vectors.to(self.codebook.dtype)
        if self.use_ema:
            size = torch.as_tensor(cluster_size, dtype=self.ema_cluster_size.dtype, device=vectors.device)
            size = size.expand(index.shape[0]) if size.dim() == 0 else size
            self.ema_cluster_size[index] = size
            self.ema_embed_sum[index] = vectors.to(self.ema_embed_sum.dtype) * size[:, None]
        self.unused_steps[index] = 0

    @torch.no_grad()
    def initialize_from(self, vectors: torch.Tensor) -> None:
        """k-means initialisation from `(N, d)` encoder outputs (rank 0's result on every process)."""
        centroids, counts = kmeans(vectors.float(), self.num_embeddings, self.kmeans_iters)
        _broadcast(centroids)
        _broadcast(counts)
        index = torch.arange(self.num_embeddings, device=vectors.device)
        self._set_codes(index, centroids, counts.clamp(min=1.0))
        self.initialized.fill_(True)

    @torch.no_grad()
    def ema_update(self, vectors: torch.Tensor, codes: torch.Tensor) -> None:
        """One EMA step from `(N, d)` vectors and their codes `(N,)`.

        N_k <- decay * N_k + (1 - decay) * n_k;  m_k <- decay * m_k + (1 - decay) * sum_{i: code_i = k} z_i;
        e_k = m_k / N~_k, with Laplace-smoothed sizes N~_k = (N_k + eps) / (n + K * eps) * n, n = sum_k N_k.
        """
        vectors = vectors.to(self.ema_embed_sum.dtype)
        counts = torch.bincount(codes, minlength=self.num_embeddings).to(vectors.dtype)
        sums = torch.zeros_like(self.ema_embed_sum).index_add_(0, codes, vectors)
        _all_reduce(counts)
        _all_reduce(sums)
        self.ema_cluster_size.mul_(self.decay).add_(counts, alpha=1.0 - self.decay)
        self.ema_embed_sum.mul_(self.decay).add_(sums, alpha=1.0 - self.decay)
        total = self.ema_cluster_size.sum()
        smoothed = (self.ema_cluster_size + self.epsilon) / (total + self.num_embeddings * self.epsilon) * total
        self.codebook.copy_(self.ema_embed_sum / smoothed[:, None])

    @torch.no_grad()
    def restart_dead_codes(self, vectors: torch.Tensor, counts: torch.Tensor) -> int:
        """Count unused steps from this batch's code histogram `(K,)` (summed over processes); re-seed codes
        unused for `dead_code_steps` steps from random rows of `vectors` `(N, d)`.

        Returns the number of codes re-seeded.
        """
        self.unused_steps.add_(1)
        self.unused_steps[counts > 0] = 0
        dead = (self.unused_steps >= self.dead_code_steps).nonzero().squeeze(1)
        if dead.numel() == 0:
            return 0
        pick = torch.randint(vectors.shape[0], (dead.numel(),), device=vectors.device)
        seeds = _broadcast(vectors[pick].float().contiguous())
        self._set_codes(dead, seeds, 1.0)
        return dead.numel()

    # ---- forward ------------------------------------------------------------------------------------
    def nearest(self, vectors: torch.Tensor) -> torch.Tensor:
        """`(N, d)` -> index of the nearest centroid `(N,)`."""
        return squared_distances(vectors.float(), self.codebook.float()).argmin(1)

    def forward(self, latents: torch.Tensor, update: bool = False) -> QuantizerOutput:
        r"""
        Args:
            latents (`torch.FloatTensor` of shape `(batch, embedding_dim, h, w)`): encoder outputs z_e.
            update (`bool`): maintain the codebook (k-means init, EMA step, dead-code restart); training only.
        """
        batch, dim, height, width = latents.shape
        flat = latents.permute(0, 2, 3, 1).reshape(-1, dim)
        detached = flat.detach()
        if update and self.kmeans_init and not bool(self.initialized):
            self.initialize_from(detached)
        codes = self.nearest(detached)
        quantized = F.embedding(codes, self.codebook).to(flat.dtype)
        counts = torch.bincount(codes, minlength=self.num_embeddings).to(torch.float32)
        if update:
            if self.use_ema:
                self.ema_update(detached, codes)
            if self.dead_code_steps > 0:
                self.restart_dead_codes(detached, _all_reduce(counts.clone()))
        commitment_loss = F.mse_loss(flat, quantized.detach())
        if self.use_ema:
            codebook_loss = flat.new_zeros(())
        else:
            codebook_loss = F.mse_loss(quantized, detached)
        quantized = flat + (quantized - flat).detach()  # straight-through estimator
        probs = counts / counts.sum().clamp(min=1.0)
        perplexity = torch.exp(-(probs * torch.log(probs.clamp(min=1e-12))).sum())
        usage = (counts > 0).float().mean()
        return QuantizerOutput(
            quantized=quantized.view(batch, height, width, dim).permute(0, 3, 1, 2),
            codes=codes.view(batch, height, width),
            commitment_loss=commitment_loss,
            codebook_loss=codebook_loss,
            perplexity=perplexity,
            codebook_usage=usage,
        )


# ----------------------------------------------------------------------------------------------------------
# Encoder / decoder
# ----------------------------------------------------------------------------------------------------------
class VQVAEResidualStack(nn.Module):
    """`num_residual_layers` x (ReLU -> 3x3 conv -> ReLU -> 1x1 conv, added to the input), then ReLU."""

    def __init__(self, config: VQVAEConfig):
        super().__init__()
        hidden, bottleneck = config.hidden_size, config.residual_hidden_size
        self.layers = nn.ModuleList(
            [
                nn.Sequential(
                    nn.ReLU(),
                    nn.Conv2d(hidden, bottleneck, 3, padding=1),
                    nn.ReLU(),
                    nn.Conv2d(bottleneck, hidden, 1),
                )
                for _ in range(config.num_residual_layers)
            ]
        )

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            hidden_states = hidden_states + layer(hidden_states)
        return F.relu(hidden_states)


class VQVAEEncoder(nn.Module):
    """Pixels `(B, C, H, W)` -> latents z_e `(B, embedding_dim, H / f, W / f)`.

    One stride-2 4x4 convolution per factor of two, a 3x3 convolution, residual blocks, a 1x1 projection to d.
    """

    def __init__(self, config: VQVAEConfig):
        super().__init__()
        num_down = int(math.log2(config.downsample_factor))
        hidden = config.hidden_size
        layers, channels = [], config.num_channels
        for index in range(num_down):
            out = hidden if index == num_down - 1 else max(hidden // 2, 1)
            layers += [nn.Conv2d(channels, out, 4, stride=2, padding=1), nn.ReLU()]
            channels = out
        layers.append(nn.Conv2d(channels, hidden, 3, padding=1))
        self.downsample = nn.Sequential(*layers)
        self.residual = VQVAEResidualStack(config)
        self.project = nn.Conv2d(hidden, config.embedding_dim, 1)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.project(self.residual(self.downsample(pixel_values)))


class VQVAEDecoder(nn.Module):
    """Quantised grid `(B, embedding_dim, h, w)` -> pixels `(B, C, h * f, w * f)` in [-1, 1] (tanh output)."""

    def __init__(self, config: VQVAEConfig):
        super().__init__()
        num_up = int(math.log2(config.downsample_factor))
        hidden = config.hidden_size
        self.project = nn.Conv2d(config.embedding_dim, hidden, 3, padding=1)
        self.residual = VQVAEResidualStack(config)
        layers, channels = [], hidden
        for index in range(num_up):
            last = index == num_up - 1
            out = config.num_channels if last else max(hidden // 2, 1)
            layers.append(nn.ConvTranspose2d(channels, out, 4, stride=2, padding=1))
            if not last:
                layers.append(nn.ReLU())
            channels = out
        if num_up == 0:
            layers.append(nn.Conv2d(hidden, config.num_channels, 3, padding=1))
        self.upsample = nn.Sequential(*layers)

    def forward(self, quantized: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.upsample(self.residual(self.project(quantized))))


# ----------------------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------------------
@dataclass
class VQVAEOutput(ModelOutput):
    """
    Args:
        loss (`torch.FloatTensor` of shape `()`): reconstruction_loss + commitment_cost * commitment_loss
            (+ codebook_loss for gradient-trained codebooks).
        reconstruction (`torch.FloatTensor` of shape `(batch, channels, height, width)`): decoded images
            in [-1, 1].
        codes (`torch.LongTensor` of shape `(batch, h, w)`): code map, values in [0, num_embeddings).
        reconstruction_loss (`torch.FloatTensor` of shape `()`): mean squared error on the [-1, 1] scale.
        commitment_loss (`torch.FloatTensor` of shape `()`): ||z_e - sg(e)||^2 (mean, before the beta weight).
        perplexity (`torch.FloatTensor` of shape `()`): exp(entropy) of the batch's code histogram (max K).
        codebook_usage (`torch.FloatTensor` of shape `()`): fraction of the K codes used in the batch.
    """

    loss: torch.FloatTensor | None = None
    reconstruction: torch.FloatTensor | None = None
    codes: torch.LongTensor | None = None
    reconstruction_loss: torch.FloatTensor | None = None
    commitment_loss: torch.FloatTensor | None = None
    perplexity: torch.FloatTensor | None = None
    codebook_usage: torch.FloatTensor | None = None


class VQVAEPreTrainedModel(SafeLoadingMixin, PreTrainedModel):
    config_class = VQVAEConfig
    base_model_prefix = "vqvae"
    main_input_name = "pixel_values"
    supports_gradient_checkpointing = False

    def _init_weights(self, module):
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            module.reset_parameters()
        elif isinstance(module, VQVAEQuantizer):
            module.reset_codebook()


class VQVAEModel(VQVAEPreTrainedModel):
    """VQ-VAE over float images in [-1, 1].

    `encode(pixel_values)` -> codes `(B, h, w)`; `decode(codes)` -> pixels `(B, C, H, W)` in [-1, 1];
    `forward(pixel_values)` -> [`VQVAEOutput`] with the training loss. In training mode with gradients
    enabled, `forward` also maintains the codebook (k-means init on the first batch, EMA step, dead-code
    restarts).
    """

    def __init__(self, config: VQVAEConfig):
        super().__init__(config)
        self.encoder = VQVAEEncoder(config)
        self.quantizer = VQVAEQuantizer(config)
        self.decoder = VQVAEDecoder(config)
        self.post_init()

    # ---- input checks -------------------------------------------------------------------------------
    def _check_pixel_values(self, pixel_values) -> None:
        config = self.config
        expected = (config.num_channels, config.image_size, config.image_size)
        if not isinstance(pixel_values, torch.Tensor):
            raise ValueError(f"`pixel_values` must be a torch.Tensor, got {type(pixel_values).__name__}.")
        if not pixel_values.dtype.is_floating_point:
            raise ValueError(
                f"`pixel_values` must be floating point in [-1, 1], got dtype {pixel_values.dtype}; "
                "scale 0..255 images with x / 127.5 - 1."
            )
        if pixel_values.dim() != 4 or tuple(pixel_values.shape[1:]) != expected:
            raise ValueError(
                f"`pixel_values` must have shape (batch, {', '.join(map(str, expected))}) = "
                f"(batch, num_channels, image_size, image_size), got {tuple(pixel_values.shape)}."
            )
        if pixel_values.numel():
            low, high = float(pixel_values.min()), float(pixel_values.max())
            if not (math.isfinite(low) and math.isfinite(high)) or low < -1.0 - 1e-4 or high > 1.0 + 1e-4:
                raise ValueError(f"`pixel_values` must be in [-1, 1], got range [{low:.4g}, {high:.4g}].")

    def _check_codes(self, codes) -> None:
        size, num_embeddings = self.config.latent_size, self.config.num_embeddings
        if not isinstance(codes, torch.Tensor):
            raise ValueError(f"`codes` must be a torch.Tensor, got {type(codes).__name__}.")
        if codes.dtype.is_floating_point or codes.dtype.is_complex or codes.dtype == torch.bool:
            raise ValueError(
                f"`codes` must be integers (torch.long) in [0, {num_embeddings}), got dtype {codes.dtype}."
            )
        if codes.dim() != 3 or tuple(codes.shape[1:]) != (size, size):
            raise ValueError(f"`codes` must have shape (batch, {size}, {size}), got {tuple(codes.shape)}.")
        if codes.numel() and (codes.min() < 0 or codes.max() >= num_embeddings):
            raise ValueError(
                f"`codes` must be in [0, {num_embeddings}), got range [{int(codes.min())}, {int(codes.max())}]."
            )

    # ---- API ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, pixel_values: torch.Tensor) -> torch.LongTensor:
        """Pixels `(B, C, H, W)` float in [-1, 1] -> codes `(B, h, w)` long in [0, num_embeddings).

        Never updates the codebook.
        """
        self._check_pixel_values(pixel_values)
        latents = self.encoder(pixel_values.to(self.dtype))
        batch, dim, height, width = latents.shape
        flat = latents.permute(0, 2, 3, 1).reshape(-1, dim)
        return self.quantizer.nearest(flat).view(batch, height, width)

    def embed_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `(B, h, w)` -> centroids `(B, embedding_dim, h, w)`."""
        self._check_codes(codes)
        codes = codes.to(device=self.quantizer.codebook.device, dtype=torch.long)
        return F.embedding(codes, self.quantizer.codebook).permute(0, 3, 1, 2).to(self.dtype)

    def decode(self, codes: torch.Tensor) -> torch.FloatTensor:
        """Codes `(B, h, w)` long in [0, num_embeddings) -> pixels `(B, C, H, W)` float in [-1, 1]."""
        return self.decoder(self.embed_codes(codes))

    def forward(self, pixel_values: torch.Tensor, return_dict: bool | None = None, **kwargs) -> VQVAEOutput:
        r"""
        Args:
            pixel_values (`torch.FloatTensor` of shape `(batch, channels, height, width)`): images in [-1, 1].
        """
        self._check_pixel_values(pixel_values)
        pixel_values = pixel_values.to(self.dtype)
        latents = self.encoder(pixel_values)
        quantized = self.quantizer(latents, update=self.training and torch.is_grad_enabled())
        reconstruction = self.decoder(quantized.quantized)
        reconstruction_loss = F.mse_loss(reconstruction, pixel_values)
        loss = reconstruction_loss + self.config.commitment_cost * quantized.commitment_loss + quantized.codebook_loss
        output = VQVAEOutput(
            loss=loss,
            reconstruction=reconstruction,
            codes=quantized.codes,
            reconstruction_loss=reconstruction_loss,
            commitment_loss=quantized.commitment_loss,
            perplexity=quantized.perplexity,
            codebook_usage=quantized.codebook_usage,
        )
        return output.to_tuple() if return_dict is False else output


__all__ = ["VQVAEModel", "VQVAEOutput", "VQVAEPreTrainedModel", "VQVAEQuantizer"]
