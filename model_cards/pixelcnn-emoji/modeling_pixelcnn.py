"""Gated PixelCNN (van den Oord et al., 2016, "Conditional Image Generation with PixelCNN Decoders").

Sub-pixels are modelled in raster order and, within a pixel, R then G then B. Every feature map is split
into `num_channels` interleaved groups (channel `k` of a block of features is in group `k % num_channels`);
a feature of group `c` at pixel (i, j) may depend on every earlier pixel and on sub-pixels `< c` of pixel
(i, j) itself.

Two architectures share the gated layer and the output head:

* ``"gated"``: a vertical stack that sees only the rows above and a horizontal stack that sees the pixels
  to the left in the current row, joined by a vertical-to-horizontal link: no blind spot.
* ``"masked"``: the original single stack of k x k masked convolutions, whose receptive field misses the
  pixels up and to the right (the blind spot).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm
from transformers import GenerationConfig, PreTrainedModel
from transformers.generation.logits_process import LogitsProcessorList
from transformers.modeling_outputs import BaseModelOutput
from transformers.utils import ModelOutput

from .configuration_pixelcnn import PixelCNNConfig
from .safe_loading import SafeLoadingMixin
from .sampling_pixelcnn import CachedSampler
from .sampling_utils import (
    SAMPLING_DEFAULTS,
    class_ids,
    inverse_cdf_sample,
    logits_warpers,
    make_generator,
    rand_tensor,
    sampling_config,
)
from .validation import check_count


# ----------------------------------------------------------------------------------------------------------
# Masks
# ----------------------------------------------------------------------------------------------------------
def channel_groups(num_channels: int, num_groups: int, period: int | None = None) -> torch.Tensor:
    """Group of each of `num_channels` channels: `(k % period) % num_groups`.

    `period` is the width of one feature block: `hidden_size` for the `[f; g]` gate pre-activations and for the
    concatenated skip features, so that channel `k` of every block lands in the same group.
    """
    return (torch.arange(num_channels) % (period or num_channels)) % num_groups


def channel_group_mask(
    in_channels: int, out_channels: int, num_groups: int, strict: bool, in_period=None, out_period=None
) -> torch.Tensor:
    """`(out_channels, in_channels)` bool mask: may an output channel read an input channel of the same pixel.

    Mask A (`strict=True`) allows input group < output group, mask B allows <= (see `channel_groups`).
    """
    out_groups = channel_groups(out_channels, num_groups, out_period)
    in_groups = channel_groups(in_channels, num_groups, in_period)
    if strict:
        return in_groups[None, :] < out_groups[:, None]
    return in_groups[None, :] <= out_groups[:, None]


def _ignore_stored_mask(module, state_dict, prefix, *args):
    """`load_state_dict` pre-hook: folders and checkpoints written before masks left the state dict still hold
    `<prefix>mask`; it is dropped (never loaded), so an edited mask cannot break causality."""
    state_dict.pop(prefix + "mask", None)


class MaskedConv2d(nn.Conv2d):
    """Conv2d with a fixed weight mask and explicit (left, right, top, bottom) zero padding.

    Args:
        mask: a callable returning the bool `(out_channels, in_channels, kh, kw)` mask, or None (no mask);
            masked weights never influence the output.
        padding: `(left, right, top, bottom)`, applied with `F.pad` before an unpadded convolution.

    The mask is derived from the configuration, never saved or loaded: it is not a buffer but is built on
    first use (on the CPU, then moved to the weight's device). `from_pretrained` builds models on the meta
    device, so a mask built in `__init__` would be a placeholder; a stored mask in an older folder is ignored.
    """

    def __init__(self, in_channels, out_channels, kernel_size, mask=None, padding=(0, 0, 0, 0), bias=True):
        super().__init__(in_channels, out_channels, kernel_size, bias=bias)
        self.pad = tuple(padding)
        self._mask_fn = mask
        self._mask = None
        self.register_load_state_dict_pre_hook(_ignore_stored_mask)

    @property
    def mask(self) -> torch.Tensor:
        weight = self.weight
        mask = self._mask
        if mask is None or mask.device != weight.device:
            with torch.device("cpu"):
                built = torch.ones(weight.shape, dtype=torch.bool) if self._mask_fn is None else self._mask_fn()
            mask = built.to(torch.bool).reshape(weight.shape).to(weight.device)
            if weight.device.type != "meta":
                self._mask = mask
        return mask

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad)
        return F.conv2d(x, self.masked_weight(), self.bias)


def _pointwise_mask(in_channels, out_channels, num_groups, in_period, out_period) -> torch.Tensor:
    return channel_group_mask(in_channels, out_channels, num_groups, False, in_period, out_period)[:, :, None, None]


def pointwise_conv(in_channels: int, out_channels: int, num_groups: int, in_period=None, out_period=None):
    """1x1 convolution that respects the channel groups (mask B)."""
    mask = partial(_pointwise_mask, in_channels, out_channels, num_groups, in_period, out_period)
    return MaskedConv2d(in_channels, out_channels, 1, mask=mask)


def _horizontal_mask(in_channels, out_channels, width, num_groups, strict) -> torch.Tensor:
    mask = torch.ones(out_channels, in_channels, 1, width, dtype=torch.bool)
    mask[:, :, 0, -1] = channel_group_mask(in_channels, out_channels, num_groups, strict, out_period=out_channels // 2)
    return mask


def horizontal_conv(in_channels, out_channels, kernel_size, num_groups, strict) -> MaskedConv2d:
    """1 x (k//2 + 1) convolution over the current pixel and the k//2 pixels to its left; `[f; g]` outputs."""
    width = kernel_size // 2 + 1
    mask = partial(_horizontal_mask, in_channels, out_channels, width, num_groups, strict)
    return MaskedConv2d(in_channels, out_channels, (1, width), mask=mask, padding=(width - 1, 0, 0, 0))


def vertical_conv(in_channels, out_channels, kernel_size, first: bool) -> MaskedConv2d:
    """Convolution over rows above the current one.

    The first layer reads the k//2 image rows strictly above; later layers read the k//2 rows above plus the
    current row of the vertical stack, whose features already see only rows above the pixel.
    """
    half = kernel_size // 2
    height = half if first else half + 1
    # Pad `half` rows on top; the first layer also crops the last image row, which no output row reads.
    padding = (half, half, half, -1 if first else 0)
    return MaskedConv2d(in_channels, out_channels, (height, kernel_size), padding=padding)


def _full_mask(in_channels, out_channels, kernel_size, num_groups, strict) -> torch.Tensor:
    half = kernel_size // 2
    mask = torch.zeros(out_channels, in_channels, kernel_size, kernel_size, dtype=torch.bool)
    mask[:, :, :half, :] = True
    mask[:, :, half, :half] = True
    mask[:, :, half, half] = channel_group_mask(
        in_channels, out_channels, num_groups, strict, out_period=out_channels // 2
    )
    return mask


def full_masked_conv(in_channels, out_channels, kernel_size, num_groups, strict) -> MaskedConv2d:
    """k x k convolution of the original PixelCNN: rows above, pixels to the left, channel-masked centre."""
    half = kernel_size // 2
    mask = partial(_full_mask, in_channels, out_channels, kernel_size, num_groups, strict)
    return MaskedConv2d(in_channels, out_channels, kernel_size, mask=mask, padding=(half, half, half, half))


def gate(x: torch.Tensor) -> torch.Tensor:
    """tanh(f) * sigmoid(g) with `x = [f; g]` along dim 1 (channel `k` of f and of g share a group)."""
    f, g = x.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


# ----------------------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------------------
class _StackLayer(nn.Module):
    """What both architectures' layers share: the gated output, its 1x1 conv, the residual and the class bias.

    Subclasses build the pre-activation convolutions; `num_biases` is the width of the class bias (one
    `[f; g]` block per stack).
    """

    num_biases = 1

    def __init__(self, config: PixelCNNConfig, first: bool, last: bool = False):
        super().__init__()
        self.first = first
        self.groups, self.hidden = config.num_channels, config.hidden_size
        self.in_channels = config.num_channels * config.input_embedding_size if first else config.hidden_size
        self.kernel_size = config.first_kernel_size if first else config.kernel_size
        # The last layer's horizontal output would feed nothing (only skip features reach the head).
        self.output = None if last else pointwise_conv(self.hidden, self.hidden, self.groups)
        self.class_bias = None
        if config.num_classes is not None:
            self.class_bias = nn.Embedding(config.num_classes, self.num_biases * 2 * self.hidden)
        self.dropout = nn.Dropout(config.dropout)

    def horizontal_output(self, h_pre: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gate, 1x1 conv and residual: returns `(h_out, gated)`; `h_out` is None in the last layer."""
        gated = self.dropout(gate(h_pre))
        if self.output is None:
            return None, gated
        h_out = self.output(gated)
        if not self.first:
            h_out = h_out + h
        return h_out, gated


class GatedStackLayer(_StackLayer):
    """One layer of the vertical + horizontal stacks.

    Shapes: `v`, `h` are `(B, in_channels, H, W)`; returns `(v_out, h_out, skip_features)` with
    `hidden_size` channels each.
    """

    num_biases = 2  # vertical and horizontal

    def __init__(self, config: PixelCNNConfig, first: bool, last: bool = False):
        super().__init__(config, first, last)
        hidden = self.hidden
        self.vertical = vertical_conv(self.in_channels, 2 * hidden, self.kernel_size, first)
        self.horizontal = horizontal_conv(self.in_channels, 2 * hidden, self.kernel_size, self.groups, strict=first)
        # The vertical pre-activation at (i, j) sees only rows < i, so it may feed every group.
        self.link = nn.Conv2d(2 * hidden, 2 * hidden, 1)

    def forward(self, v, h, class_labels=None):
        v_pre = self.vertical(v)
        h_pre = self.horizontal(h) + self.link(v_pre)
        if self.class_bias is not None:
            v_bias, h_bias = self.class_bias(class_labels)[:, :, None, None].chunk(2, dim=1)
            v_pre, h_pre = v_pre + v_bias, h_pre + h_bias
        h_out, gated = self.horizontal_output(h_pre, h)
        return gate(v_pre), h_out, gated


class MaskedStackLayer(_StackLayer):
    """One layer of the original single-stack PixelCNN (k x k masked conv, gated, residual)."""

    def __init__(self, config: PixelCNNConfig, first: bool, last: bool = False):
        super().__init__(config, first, last)
        self.conv = full_masked_conv(self.in_channels, 2 * self.hidden, self.kernel_size, self.groups, strict=first)

    def forward(self, v, h, class_labels=None):
        pre = self.conv(h)
        if self.class_bias is not None:
            pre = pre + self.class_bias(class_labels)[:, :, None, None]
        h_out, gated = self.horizontal_output(pre, h)
        return None, h_out, gated


class PixelCNNHead(nn.Module):
    """Skip connections -> ReLU -> 1x1 -> ReLU -> 1x1 -> logits `(B, C, H, W, num_levels)`."""

    def __init__(self, config: PixelCNNConfig):
        super().__init__()
        groups = config.num_channels
        num_layers = config.num_hidden_layers + 1
        self.num_channels, self.num_levels = config.num_channels, config.num_levels
        # One 1x1 conv over the concatenated gated features of every layer == the sum of per-layer skips.
        self.skip = pointwise_conv(
            num_layers * config.hidden_size, config.hidden_size, groups, in_period=config.hidden_size
        )
        self.hidden = pointwise_conv(config.hidden_size, config.output_hidden_size, groups)
        # Output channel `level * C + c` is in group `c`, so logits reshape to (B, levels, C, H, W).
        self.logits = pointwise_conv(config.output_hidden_size, config.num_levels * groups, groups)

    def forward(self, skip_features: torch.Tensor) -> torch.Tensor:
        x = self.logits(F.relu(self.hidden(F.relu(self.skip(skip_features)))))
        batch, _, height, width = x.shape
        x = x.view(batch, self.num_levels, self.num_channels, height, width)
        return x.permute(0, 2, 3, 4, 1)


# ----------------------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------------------
def legacy_key_mapping(prefix: str = "") -> dict[str, str]:
    """`key_mapping` for `from_pretrained` that loads weights saved before the backbone split (`layers.*`,
    `level_embeddings.*` at the top of a `PixelCNNForImageGeneration`, under `prefix` in a composite model) into
    `<prefix>pixelcnn.*`. A top-level PixelCNN needs none: `transformers` adds `base_model_prefix` itself."""
    return {rf"^{prefix}(layers|level_embeddings)\.": rf"{prefix}pixelcnn.\1."}


def _move_legacy_keys(module, state_dict, prefix, *args):
    """`load_state_dict` pre-hook of `PixelCNNForImageGeneration`: a state dict written before the backbone split
    (a training checkpoint) holds `<prefix>layers.*` / `<prefix>level_embeddings.*`; they move under
    `<prefix>pixelcnn.` (`from_pretrained` does not use this hook: see `legacy_key_mapping`)."""
    for key in [key for key in state_dict if key.startswith((prefix + "layers.", prefix + "level_embeddings."))]:
        state_dict[f"{prefix}pixelcnn.{key[len(prefix) :]}"] = state_dict.pop(key)


@dataclass
class PixelCNNOutput(ModelOutput):
    """
    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*): mean negative log-likelihood per sub-pixel, nats.
        logits (`torch.FloatTensor` of shape `(batch, channels, height, width, num_levels)`).
        hidden_states (`tuple(torch.FloatTensor)`, *optional*): with `output_hidden_states=True`, the gated
            features of every layer, `(batch, hidden_size, height, width)` each.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


class PixelCNNPreTrainedModel(SafeLoadingMixin, PreTrainedModel):
    config_class = PixelCNNConfig
    base_model_prefix = "pixelcnn"
    main_input_name = "pixel_values"
    supports_gradient_checkpointing = False
    # Folders saved before masks left the state dict hold `*.mask` tensors: ignored (masks are rebuilt).
    _keys_to_ignore_on_load_unexpected = [r"\.mask$"]

    @classmethod
    def can_generate(cls) -> bool:  # so that `generation_config.json` (sampling defaults) is saved and loaded
        return True

    def _init_weights(self, module):
        if isinstance(module, nn.Conv2d):
            # LeCun-uniform over the weights a mask leaves connected.
            if isinstance(module, MaskedConv2d):
                fan_in = module.mask.flatten(1).sum(1).float().mean().item()
            else:
                fan_in = module.weight[0].numel()
            bound = math.sqrt(3.0 / max(fan_in, 1.0))
            nn.init.uniform_(module.weight, -bound, bound)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            # The level embedding replaces inputs in [-1, 1]: unit scale, like them; class biases start small.
            std = 1.0 if module is getattr(self.base_model, "level_embeddings", None) else self.config.initializer_range
            nn.init.normal_(module.weight, std=std)

    # ---- input checks -------------------------------------------------------------------------------
    def _check_pixel_values(self, pixel_values: torch.Tensor, name: str = "pixel_values") -> None:
        config = self.config
        expected = (config.num_channels, config.image_size, config.image_size)
        if not isinstance(pixel_values, torch.Tensor):
            raise ValueError(f"`{name}` must be a torch.Tensor, got {type(pixel_values).__name__}.")
        if pixel_values.dtype.is_floating_point or pixel_values.dtype.is_complex or pixel_values.dtype == torch.bool:
            raise ValueError(
                f"`{name}` must hold integer levels (torch.long) in [0, {config.num_levels}), got dtype "
                f"{pixel_values.dtype}; use PixelCNNImageProcessor to quantise images."
            )
        if pixel_values.dim() != 4 or tuple(pixel_values.shape[1:]) != expected:
            raise ValueError(
                f"`{name}` must have shape (batch, {', '.join(map(str, expected))}), got {tuple(pixel_values.shape)}."
            )
        if pixel_values.numel() and (pixel_values.min() < 0 or pixel_values.max() >= config.num_levels):
            raise ValueError(
                f"`{name}` values must be in [0, {config.num_levels}), got range "
                f"[{int(pixel_values.min())}, {int(pixel_values.max())}]."
            )

    def _check_class_labels(self, class_labels, batch_size: int) -> torch.Tensor | None:
        num_classes = self.config.num_classes
        if num_classes is None:
            if class_labels is not None:
                raise ValueError("`class_labels` was given, but this model is unconditional (num_classes=None).")
            return None
        if class_labels is None:
            raise ValueError(f"`class_labels` is required: this model is conditional on {num_classes} classes.")
        if not isinstance(class_labels, torch.Tensor):
            class_labels = class_ids(class_labels, self.config.id2label, num_classes)  # names -> ids
            try:
                class_labels = torch.as_tensor(class_labels)
            except (TypeError, ValueError, RuntimeError) as error:
                raise TypeError(
                    f"`class_labels` must be integers in [0, {num_classes}) or class names, got {class_labels!r}."
                ) from error
        if class_labels.dtype.is_floating_point or class_labels.dtype == torch.bool:
            raise ValueError(f"`class_labels` must be integers in [0, {num_classes}), got dtype {class_labels.dtype}.")
        if class_labels.dim() != 1 or class_labels.shape[0] != batch_size:
            raise ValueError(
                f"`class_labels` must have shape ({batch_size},) to match the batch, got {tuple(class_labels.shape)}."
            )
        if class_labels.numel() and (class_labels.min() < 0 or class_labels.max() >= num_classes):
            raise ValueError(
                f"`class_labels` must be in [0, {num_classes}), got range "
                f"[{int(class_labels.min())}, {int(class_labels.max())}]."
            )
        return class_labels.to(device=self.device, dtype=torch.long)


class PixelCNNModel(PixelCNNPreTrainedModel):
    """The PixelCNN stacks without the output head (as `transformers` splits `XModel` from `XForCausalLM`).

    `forward(pixel_values, class_labels=None)` returns `BaseModelOutput` with `last_hidden_state`
    `(batch, (num_hidden_layers + 1) * hidden_size, height, width)`: the gated features of every layer, concatenated
    (what the head of `PixelCNNForImageGeneration` reads); `hidden_states` holds them one per layer on request.
    Features of group `c` (channel `k % num_channels == c` of every block) at a pixel see the earlier pixels and
    the sub-pixels `< c` of that pixel only.
    """

    def __init__(self, config: PixelCNNConfig):
        super().__init__(config)
        # Categorical inputs: one embedding table per colour channel, stacked (row `c * num_levels + level`).
        self.level_embeddings = None
        if config.input_embedding:
            self.level_embeddings = nn.Embedding(config.num_channels * config.num_levels, config.input_embedding_size)
        layer_class = GatedStackLayer if config.architecture == "gated" else MaskedStackLayer
        self.layers = nn.ModuleList(
            [
                layer_class(config, first=(index == 0), last=(index == config.num_hidden_layers))
                for index in range(config.num_hidden_layers + 1)
            ]
        )
        self.post_init()

    def normalize(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Integer levels `(B, C, H, W)` -> floats in [-1, 1]."""
        return pixel_values.to(self.dtype) * (2.0 / (self.config.num_levels - 1)) - 1.0

    def input_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """What the first layer reads per sub-pixel: intensities `(B, C, H, W)` in [-1, 1], or with
        `config.input_embedding` the level embeddings `(B, C, H, W, E)`."""
        if self.level_embeddings is None:
            return self.normalize(pixel_values)
        offsets = torch.arange(self.config.num_channels, device=pixel_values.device) * self.config.num_levels
        return self.level_embeddings(pixel_values + offsets[:, None, None])

    def layer_features(self, x: torch.Tensor, class_labels: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The gated features of every layer, `(B, hidden_size, H, W)` each, from first-layer inputs `x` (see
        `input_features`), unchecked: differentiable in `x`, which receptive-field and causality checks need."""
        if x.dim() == 5:  # feature `e * C + c` holds embedding feature e of channel c: it is in group c
            batch, channels, height, width, size = x.shape
            x = x.permute(0, 4, 1, 2, 3).reshape(batch, size * channels, height, width)
        v, h, features = x, x, []
        for layer in self.layers:
            v, h, gated = layer(v, h, class_labels)
            features.append(gated)
        return features

    def forward(
        self,
        pixel_values: torch.Tensor,
        class_labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutput:
        r"""
        Args:
            pixel_values (`torch.LongTensor` of shape `(batch, channels, height, width)`): levels in [0, num_levels).
            class_labels (`torch.LongTensor` of shape `(batch,)`, *optional*): required iff `num_classes` is set.
            output_hidden_states (`bool`, *optional*): also return each layer's features.
        """
        self._check_pixel_values(pixel_values)
        class_labels = self._check_class_labels(class_labels, pixel_values.shape[0])
        features = self.layer_features(self.input_features(pixel_values), class_labels)
        hidden_states = tuple(features) if output_hidden_states else None
        output = BaseModelOutput(last_hidden_state=torch.cat(features, dim=1), hidden_states=hidden_states)
        return output.to_tuple() if return_dict is False else output


class PixelCNNForImageGeneration(PixelCNNPreTrainedModel):
    """Gated (or masked) PixelCNN over integer images, optionally class-conditional: a `PixelCNNModel` backbone
    (`self.pixelcnn`) and the output head (`self.head`).

    `forward(pixel_values, class_labels=None, labels=None)` returns logits `(B, C, H, W, num_levels)`;
    `generate(...)` samples images `(B, C, H, W)` of dtype long. Weights saved before the backbone split
    (`layers.*`, `level_embeddings.*`) load unchanged (`base_model_prefix`; `legacy_key_mapping` inside a composite).
    """

    def __init__(self, config: PixelCNNConfig):
        super().__init__(config)
        self.pixelcnn = PixelCNNModel(config)
        self.head = PixelCNNHead(config)
        self.register_load_state_dict_pre_hook(_move_legacy_keys)
        self.post_init()
        if self.generation_config is None or not self.generation_config.do_sample:  # sampling defaults, saved
            self.generation_config = GenerationConfig(**SAMPLING_DEFAULTS)

    # ---- forward ------------------------------------------------------------------------------------
    def forward(
        self,
        pixel_values: torch.Tensor,
        class_labels: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> PixelCNNOutput:
        r"""
        Args:
            pixel_values (`torch.LongTensor` of shape `(batch, channels, height, width)`): levels in [0, num_levels).
            class_labels (`torch.LongTensor` of shape `(batch,)`, *optional*): required iff `num_classes` is set.
            labels (`torch.LongTensor` like `pixel_values`, *optional*): targets; usually `pixel_values` itself.
            output_hidden_states (`bool`, *optional*): also return each layer's features.
        """
        outputs = self.pixelcnn(pixel_values, class_labels, output_hidden_states=output_hidden_states)
        logits = self.head(outputs.last_hidden_state)
        loss = None
        if labels is not None:
            self._check_pixel_values(labels, "labels")
            if labels.shape != pixel_values.shape:
                raise ValueError(f"`labels` must match `pixel_values` shape {tuple(pixel_values.shape)}.")
            loss = F.cross_entropy(logits.reshape(-1, self.config.num_levels).float(), labels.reshape(-1))
        output = PixelCNNOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
        return output.to_tuple() if return_dict is False else output

    def _logits(self, pixel_values: torch.Tensor, class_labels: torch.Tensor | None) -> torch.Tensor:
        """Logits of checked inputs, without the checks (the naive sampler's per-step pass)."""
        return self.logits_from_inputs(self.pixelcnn.input_features(pixel_values), class_labels)

    def logits_from_inputs(self, x: torch.Tensor, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits `(B, C, H, W, num_levels)` from first-layer inputs `x` (see `PixelCNNModel.input_features`),
        unchecked: normalised intensities `(B, C, H, W)`, or level embeddings `(B, C, H, W, E)` with
        `config.input_embedding`. Differentiable in `x`, which is what receptive-field and causality checks need.
        """
        return self.head(torch.cat(self.pixelcnn.layer_features(x, class_labels), dim=1))

    @torch.no_grad()
    def log_likelihood(self, pixel_values: torch.Tensor, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        """Exact log p(x) in nats, one value per image: `(B,)`."""
        logits = self.forward(pixel_values, class_labels).logits.float()
        log_probs = torch.log_softmax(logits, dim=-1)
        token_log_probs = log_probs.gather(-1, pixel_values.unsqueeze(-1)).squeeze(-1)
        return token_log_probs.flatten(1).sum(dim=1)

    @torch.no_grad()
    def bits_per_dim(self, pixel_values: torch.Tensor, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        """Exact negative log-likelihood in bits per sub-pixel, one value per image: `(B,)`."""
        return -self.log_likelihood(pixel_values, class_labels) / (self.config.num_subpixels * math.log(2))

    # ---- sampling -----------------------------------------------------------------------------------
    def _sampling_batch(self, class_labels, num_images) -> tuple[int, torch.Tensor | None]:
        if num_images is not None and (
            isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 1
        ):
            raise ValueError(f"`num_images` must be a positive integer, got {num_images!r}.")
        if class_labels is None:
            batch_size = 1 if num_images is None else num_images
            return batch_size, self._check_class_labels(None, batch_size)
        if isinstance(class_labels, int) and not isinstance(class_labels, bool):
            class_labels = [class_labels] * (1 if num_images is None else num_images)
        class_labels = torch.as_tensor(class_labels) if not isinstance(class_labels, torch.Tensor) else class_labels
        batch_size = class_labels.shape[0] if class_labels.dim() == 1 else -1
        if num_images is not None and batch_size != num_images:
            raise ValueError(
                f"`num_images` ({num_images}) must equal the number of `class_labels` ({batch_size}), or be None."
            )
        return batch_size, self._check_class_labels(class_labels, max(batch_size, 0))

    @staticmethod
    def _sample(logits: torch.Tensor, processors: LogitsProcessorList, uniform: torch.Tensor) -> torch.Tensor:
        """Sample one level per row of `logits` `(B, num_levels)` by inverting the CDF at `uniform` `(B, 1)`.

        Cheaper per call than `torch.multinomial`, which matters at one call per sub-pixel; levels with zero
        probability (masked by top-k/top-p) are never drawn. Returns `(B,)` levels.
        """
        scores = processors(None, logits.float()) if processors else logits.float()
        return inverse_cdf_sample(scores, uniform)

    @torch.no_grad()
    def generate(
        self,
        class_labels=None,
        num_images: int | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = None,
        use_cache: bool = True,
        progress: bool = False,
        pixel_values: torch.LongTensor | None = None,
        num_given_rows: int | None = None,
        num_given_subpixels: int | None = None,
    ) -> torch.LongTensor:
        r"""Sample images sub-pixel by sub-pixel, or complete images of which a raster prefix is given.

        Args:
            class_labels (`int`, sequence or `torch.LongTensor` of shape `(batch,)`): classes to draw (conditional
                models only), as ids or as names from `config.id2label`; an `int` is repeated `num_images` times.
                When completing images with a conditional model, `None` draws each image's class from its posterior
                given the kept sub-pixels (see `class_posterior`).
            num_images (`int`, *optional*): batch size (defaults to 1, to `len(class_labels)` or to the batch of
                `pixel_values`).
            temperature, top_k, top_p: sampling arguments of `transformers.GenerationConfig` (checked by it, applied
                by its logits warpers to every sub-pixel); unset ones come from the model's `generation_config`.
            generator (`torch.Generator`, *optional*): source of randomness, on any device (values are drawn there,
                then moved); `None` uses the global RNG.
            seed (`int`, *optional*): instead of `generator`, a CPU generator seeded with it.
            use_cache (`bool`): use the cached incremental sampler (fast) instead of one full forward pass per
                sub-pixel. Both give identical samples for the same generator.
            progress (`bool`): show a tqdm bar over rows.
            pixel_values (`torch.LongTensor` of shape `(batch, channels, height, width)`, *optional*): images to
                complete, levels in [0, num_levels); with `num_given_rows` or `num_given_subpixels`.
            num_given_rows (`int`, *optional*): complete `pixel_values` from its top `num_given_rows` rows, in
                [0, image_size]; the rows below are sampled.
            num_given_subpixels (`int`, *optional*): instead of `num_given_rows`, keep any raster prefix: the first
                `num_given_subpixels` sub-pixels in sampling order (row by row, left to right, R then G then B within
                a pixel), in [0, channels * height * width].

        The kept sub-pixels come back unchanged. Randomness is tied to positions: the uniform that draws sub-pixel
        `p` is the same whether or not earlier sub-pixels were given, so `num_given_rows=0` is plain sampling and
        completing a sample from its own prefix with the same generator gives the sample back (classes drawn from the
        posterior take one uniform per image first).

        Returns:
            `torch.LongTensor` of shape `(batch, channels, height, width)` with values in [0, num_levels).
        """
        rows = self._sample_rows(class_labels, num_images, temperature, top_k, top_p, generator, seed, use_cache,
                                 progress, pixel_values, num_given_rows, num_given_subpixels)  # fmt: skip
        return torch.stack(list(rows), dim=2)

    def generate_rows(self, *args, **kwargs) -> Iterator[torch.LongTensor]:
        r"""Sample as `generate` (its arguments, checked the same way), yielding each image row as soon as it is
        sampled.

        Yields `height` tensors `(batch, channels, width)`, long, in order from the top row (given rows of an
        image completion first, unchanged): a way to show images appearing row by row.
        `torch.stack(list(model.generate_rows(...)), dim=2)` equals `model.generate(...)` for the same arguments;
        arguments are checked before the first row is drawn.
        """
        arguments = inspect.signature(self.generate).bind(*args, **kwargs)
        arguments.apply_defaults()
        return self._sample_rows(**arguments.arguments)

    @torch.no_grad()
    def _sample_rows(
        self,
        class_labels,
        num_images,
        temperature,
        top_k,
        top_p,
        generator,
        seed,
        use_cache,
        progress,
        pixel_values,
        num_given_rows,
        num_given_subpixels,
    ) -> Iterator[torch.LongTensor]:
        """`generate_rows` with every argument given."""
        given, num_given = self._completion_prefix(pixel_values, num_given_rows, num_given_subpixels)
        class_labels = class_ids(class_labels, self.config.id2label, self.config.num_classes)
        if given is not None:
            num_images = _completion_batch(given.shape[0], num_images, class_labels)
        generator = make_generator(generator, seed)
        sampling = sampling_config(self.generation_config, temperature=temperature, top_k=top_k, top_p=top_p)
        if given is not None and class_labels is None and self.config.num_classes is not None:
            class_labels = self._draw_classes(given, num_given, generator)
        batch_size, class_labels = self._sampling_batch(class_labels, num_images)
        per_row = self.config.num_channels * self.config.image_size
        draw = _SubPixelDraws(self._sample, logits_warpers(sampling), generator, batch_size, per_row, self.device,
                              given, num_given)  # fmt: skip
        sampler = self._generate_cached if use_cache else self._generate_naive
        return sampler(batch_size, class_labels, draw, self._row_iterator(progress))

    def _completion_prefix(self, pixel_values, num_given_rows, num_given_subpixels) -> tuple[torch.Tensor | None, int]:
        """Checked completion arguments -> `(pixel_values` on the model's device or None, number of given
        sub-pixels)`."""
        if pixel_values is None:
            if num_given_rows is not None or num_given_subpixels is not None:
                raise ValueError("`num_given_rows` / `num_given_subpixels` need `pixel_values`: images to complete.")
            return None, 0
        self._check_pixel_values(pixel_values)
        config = self.config
        if (num_given_rows is None) == (num_given_subpixels is None):
            raise ValueError(
                "to complete `pixel_values`, pass exactly one of `num_given_rows` (in [0, image_size]) and "
                "`num_given_subpixels` (in [0, channels * height * width])."
            )
        if num_given_rows is not None:
            check_count("num_given_rows", num_given_rows, config.image_size)
            return pixel_values.to(self.device), num_given_rows * config.image_size * config.num_channels
        check_count("num_given_subpixels", num_given_subpixels, config.num_subpixels)
        return pixel_values.to(self.device), num_given_subpixels

    @torch.no_grad()
    def class_posterior(
        self, pixel_values: torch.LongTensor, num_given_rows: int | None = None, num_given_subpixels: int | None = None
    ) -> torch.FloatTensor:
        r"""log p(y | x_<n) of a class-conditional model: how likely each class is given the first `n` sub-pixels of
        each image (all of them when neither count is given), under a uniform class prior; the exact likelihoods
        p(x_<n | y) come from one forward pass per class.

        Args:
            pixel_values (`torch.LongTensor` of shape `(batch, channels, height, width)`): levels in [0, num_levels).
            num_given_rows, num_given_subpixels (`int`, *optional*): the prefix, as in `generate`.

        Returns:
            `torch.FloatTensor` of shape `(batch, num_classes)`: log-probabilities (float32) summing to 1 per row.
        """
        if self.config.num_classes is None:
            raise ValueError("`class_posterior` needs a class-conditional model (num_classes is None).")
        if num_given_rows is None and num_given_subpixels is None:
            num_given_subpixels = self.config.num_subpixels
        given, num_given = self._completion_prefix(pixel_values, num_given_rows, num_given_subpixels)
        per_row = self.config.image_size * self.config.num_channels
        # Causal masks: the logits of the rows a prefix touches do not depend on the rows below, so those are cut.
        given = given[:, :, : -(-num_given // per_row)]
        log_likelihoods = [torch.zeros(given.shape[0], device=self.device)] * self.config.num_classes
        for label in range(self.config.num_classes if num_given else 0):
            labels = torch.full((given.shape[0],), label, dtype=torch.long, device=self.device)
            log_probs = torch.log_softmax(self._logits(given, labels).float(), dim=-1)
            per_subpixel = log_probs.gather(-1, given.unsqueeze(-1)).squeeze(-1)  # (B, C, H, W)
            raster = per_subpixel.permute(0, 2, 3, 1).flatten(1)  # sampling order
            log_likelihoods[label] = raster[:, :num_given].sum(dim=1)
        return torch.log_softmax(torch.stack(log_likelihoods, dim=1), dim=1)

    def _draw_classes(self, given: torch.Tensor, num_given: int, generator) -> torch.LongTensor:
        """One class per image to complete, drawn from `class_posterior` with one uniform each from `generator`
        (so that the completion samples p(rest | kept sub-pixels) with the class summed out)."""
        posterior = self.class_posterior(given, num_given_subpixels=num_given)
        return inverse_cdf_sample(posterior, rand_tensor((given.shape[0], 1), generator, self.device))

    def _row_iterator(self, progress: bool):
        rows = range(self.config.image_size)
        return tqdm(rows, desc="sampling rows", leave=False) if progress else rows

    @torch.no_grad()
    def _generate_naive(self, batch_size, class_labels, draw, rows):
        """Reference sampler: one full forward pass per sub-pixel (C * H * W passes); yields finished rows."""
        config = self.config
        size = config.image_size
        images = torch.zeros(batch_size, config.num_channels, size, size, dtype=torch.long, device=self.device)
        for row in rows:
            draw.start_row(row)
            given = draw.given_row()
            if given is not None:
                images[:, :, row] = given
                yield images[:, :, row].clone()
                continue
            for col in range(size):
                for channel in range(config.num_channels):
                    logits = self._logits(images, class_labels)[:, channel, row, col]
                    images[:, channel, row, col] = draw(logits)
            yield images[:, :, row].clone()

    def _generate_cached(self, batch_size, class_labels, draw, rows):
        """Fast sampler: each layer computed only where a new sub-pixel changes it (see `sampling_pixelcnn`);
        yields finished rows."""
        return CachedSampler(self, batch_size, class_labels).sample_rows(draw, rows)


def _completion_batch(batch: int, num_images, class_labels) -> int:
    """The batch of an image completion: one image per given image; `num_images` and a sequence of
    `class_labels` must agree with it."""
    if num_images is not None and num_images != batch:
        raise ValueError(f"`num_images` ({num_images}) must equal the batch of `pixel_values` ({batch}), or be None.")
    sequence = isinstance(class_labels, (list, tuple)) or (
        isinstance(class_labels, torch.Tensor) and class_labels.dim() == 1
    )
    if sequence and len(class_labels) != batch:
        raise ValueError(f"`class_labels` must give one class per image to complete ({batch}), or one class as an "
                         f"int, got {len(class_labels)}.")  # fmt: skip
    return batch


class _SubPixelDraws:
    """One level per sub-pixel from `sample(logits, processors, uniform)`, with the uniforms of a whole image
    row drawn in one call (`start_row`), so that every sampler consumes the generator identically.

    Image completion: the first `num_given` sub-pixels (raster order) of `given` `(B, C, H, W)` are returned as they
    are instead of sampled; their uniforms are drawn all the same, so that a sub-pixel's uniform depends only on its
    position."""

    def __init__(self, sample, processors, generator, batch_size: int, per_row: int, device, given=None,
                 num_given: int = 0):  # fmt: skip
        self.sample, self.processors, self.generator = sample, processors, generator
        self.shape, self.device, self.per_row = (per_row, batch_size, 1), device, per_row
        self.uniforms, self.next, self.row, self.row_start = (), 0, 0, 0
        self.given, self.num_given = given, num_given
        self.given_flat = None if given is None else given.permute(0, 2, 3, 1).reshape(given.shape[0], -1)

    def start_row(self, row: int) -> None:
        self.uniforms = rand_tensor(self.shape, self.generator, self.device).unbind(0)
        self.next, self.row, self.row_start = 0, row, row * self.per_row

    def given_row(self) -> torch.Tensor | None:
        """The current row `(B, C, W)` when it is given in full, else None."""
        return self.given[:, :, self.row] if self.row_start + self.per_row <= self.num_given else None

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        position = self.row_start + self.next
        uniform = self.uniforms[self.next]
        self.next += 1
        if position < self.num_given:
            return self.given_flat[:, position]
        return self.sample(logits, self.processors, uniform)


__all__ = [
    "PixelCNNConfig",
    "PixelCNNForImageGeneration",
    "PixelCNNModel",
    "PixelCNNOutput",
    "PixelCNNPreTrainedModel",
    "legacy_key_mapping",
]
