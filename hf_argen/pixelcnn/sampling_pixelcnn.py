"""Cached incremental sampling for PixelCNN (in the spirit of Ramachandran et al. 2017, "Fast Generation for
Convolutional Autoregressive Models").

Naive sampling runs a full forward pass per sub-pixel. Here every layer keeps its activations, and a new
sub-pixel only triggers the computation it can change:

* gated architecture: the vertical stack of row `i` depends on image rows `< i` only, so it runs once per row
  (one 1-row convolution per layer); its vertical-to-horizontal link and the class bias are folded into a
  per-row bias. Per sub-pixel, the horizontal stack runs at the current pixel only: one small matmul over the
  `k//2 + 1` cached columns per layer, then the output head for the current colour channel only.
* masked architecture: each layer's k x k masked convolution at the current pixel is one matmul over the cached
  window of its input.

All computation reuses the model's own (masked) weights, rearranged once into matrices, so the logits agree
with the full forward pass up to floating-point rounding and samples drawn with the same generator are
identical. The module imports nothing from hf_argen, so it travels with the model folder for remote code.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def _gate(pre: torch.Tensor, hidden: int) -> torch.Tensor:
    return torch.tanh(pre[:, :hidden]) * torch.sigmoid(pre[:, hidden:])


def _window_matrix(weight: torch.Tensor) -> torch.Tensor:
    """Conv weight `(out, in, kh, kw)` -> matrix `(kh * kw * in, out)` for windows laid out as (kh, kw, in)."""
    return weight.permute(2, 3, 1, 0).reshape(-1, weight.shape[0]).contiguous()


class _HeadMatrices:
    """The output head as matrices; logits are computed for one colour channel at a time."""

    def __init__(self, head, num_channels: int):
        self.skip_weight = head.skip.masked_weight()[:, :, 0, 0].t().contiguous()
        self.skip_bias = head.skip.bias
        self.hidden_weight = head.hidden.masked_weight()[:, :, 0, 0].t().contiguous()
        self.hidden_bias = head.hidden.bias
        logits_weight = head.logits.masked_weight()[:, :, 0, 0]
        # Output channel `level * C + c` belongs to colour channel `c`.
        self.logits_weight = [logits_weight[c::num_channels].t().contiguous() for c in range(num_channels)]
        self.logits_bias = [head.logits.bias[c::num_channels].contiguous() for c in range(num_channels)]

    def __call__(self, skip_features: torch.Tensor, channel: int) -> torch.Tensor:
        """`(B, num_layers * hidden)` -> logits of colour `channel`, `(B, num_levels)`."""
        x = torch.addmm(self.skip_bias, skip_features, self.skip_weight).relu_()
        x = torch.addmm(self.hidden_bias, x, self.hidden_weight).relu_()
        return torch.addmm(self.logits_bias[channel], x, self.logits_weight[channel])


class CachedSampler:
    """Incremental sampler for a `PixelCNNForImageGeneration`; one instance samples one batch.

    Args:
        model: the PixelCNN (its weights are read, never modified).
        batch_size: number of images.
        class_labels: `(B,)` long or None.
    """

    def __init__(self, model, batch_size: int, class_labels: torch.Tensor | None):
        config = model.config
        self.model = model
        self.config = config
        self.batch_size = batch_size
        self.size = config.image_size
        self.channels = config.num_channels
        self.hidden = config.hidden_size
        device, dtype = model.device, model.dtype
        self.factory = dict(device=device, dtype=dtype)
        self.head = _HeadMatrices(model.head, self.channels)
        self.layers = []
        for index, layer in enumerate(model.layers):
            kernel = config.first_kernel_size if index == 0 else config.kernel_size
            class_bias = None
            if layer.class_bias is not None:
                class_bias = layer.class_bias(class_labels)  # (B, 4F) gated or (B, 2F) masked
            if config.architecture == "gated":
                self.layers.append(self._gated_layer(layer, kernel, class_bias))
            else:
                self.layers.append(self._masked_layer(layer, kernel, class_bias))

    # ---- weights as matrices ------------------------------------------------------------------------
    def _gated_layer(self, layer, kernel: int, class_bias):
        hidden = self.hidden
        v_bias = h_bias = None
        if class_bias is not None:
            v_bias, h_bias = class_bias[:, :, None].chunk(2, dim=1)  # (B, 2F, 1)
        return dict(
            half=kernel // 2,
            first=layer.first,
            vertical_weight=layer.vertical.masked_weight(),
            vertical_bias=layer.vertical.bias,
            v_class_bias=v_bias,
            h_class_bias=h_bias,
            link_weight=layer.link.weight[:, :, 0, 0],
            link_bias=layer.link.bias,
            horizontal_matrix=_window_matrix(layer.horizontal.masked_weight()),
            horizontal_bias=layer.horizontal.bias,
            output_weight=layer.output.masked_weight()[:, :, 0, 0].t().contiguous(),
            output_bias=layer.output.bias,
            in_channels=self.channels if layer.first else hidden,
        )

    def _masked_layer(self, layer, kernel: int, class_bias):
        hidden = self.hidden
        weight = layer.conv.masked_weight()[:, :, : kernel // 2 + 1]  # rows below the centre are all masked
        bias = layer.conv.bias.expand(self.batch_size, -1)
        if class_bias is not None:
            bias = bias + class_bias
        return dict(
            half=kernel // 2,
            first=layer.first,
            matrix=_window_matrix(weight),
            bias=bias.contiguous(),
            output_weight=layer.output.masked_weight()[:, :, 0, 0].t().contiguous(),
            output_bias=layer.output.bias,
            in_channels=self.channels if layer.first else hidden,
        )

    # ---- sampling -----------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, draw: Callable[[torch.Tensor], torch.Tensor], rows) -> torch.LongTensor:
        """Sample all sub-pixels; `draw(logits (B, L)) -> levels (B,)`; `rows` iterates over row indices."""
        if self.config.architecture == "gated":
            return self._sample_gated(draw, rows)
        return self._sample_masked(draw, rows)

    def _normalise(self, levels: torch.Tensor) -> torch.Tensor:
        return levels.to(self.factory["dtype"]) * (2.0 / (self.config.num_levels - 1)) - 1.0

    def _sample_gated(self, draw, rows) -> torch.LongTensor:
        B, C, S, hidden = self.batch_size, self.channels, self.size, self.hidden
        images = torch.zeros(B, C, S, S, dtype=torch.long, device=self.factory["device"])
        # Vertical-stack inputs of every layer, zero padded: `half` rows on top, `half` columns each side.
        vertical_inputs = [
            torch.zeros(B, layer["in_channels"], S + layer["half"], S + 2 * layer["half"], **self.factory)
            for layer in self.layers
        ]
        for row in rows:
            row_biases = self._vertical_row(vertical_inputs, row)
            # Horizontal-stack inputs of the current row, `(B, (half + S) * in_channels)`, zero padded on the left.
            horizontal_inputs = [
                torch.zeros(B, (layer["half"] + S) * layer["in_channels"], **self.factory) for layer in self.layers
            ]
            image_row = horizontal_inputs[0]
            first_half = self.layers[0]["half"]
            for col in range(S):
                for channel in range(C):
                    skip = self._horizontal_pixel(horizontal_inputs, row_biases, col)
                    levels = draw(self.head(skip, channel))
                    images[:, channel, row, col] = levels
                    image_row[:, (first_half + col) * C + channel] = self._normalise(levels)
            # The finished image row feeds the vertical stack of later rows.
            half = self.layers[0]["half"]
            vertical_inputs[0][:, :, row + half, half : half + S] = self._normalise(images[:, :, row])
        return images

    def _vertical_row(self, vertical_inputs, row: int) -> list[torch.Tensor]:
        """Run the vertical stack on row `row`; returns per-layer horizontal biases `(S, B, 2F)`."""
        hidden, S = self.hidden, self.size
        row_biases = []
        for index, layer in enumerate(self.layers):
            half = layer["half"]
            height = half if layer["first"] else half + 1
            window = vertical_inputs[index][:, :, row : row + height]
            v_pre = F.conv2d(window, layer["vertical_weight"], layer["vertical_bias"])[:, :, 0]  # (B, 2F, S)
            h_bias = torch.einsum("oi,bis->bos", layer["link_weight"], v_pre)
            h_bias = h_bias + (layer["link_bias"] + layer["horizontal_bias"])[None, :, None]
            if layer["h_class_bias"] is not None:
                h_bias = h_bias + layer["h_class_bias"]
                v_pre = v_pre + layer["v_class_bias"]
            row_biases.append(h_bias.permute(2, 0, 1).contiguous())
            if index + 1 < len(self.layers):
                next_half = self.layers[index + 1]["half"]
                v_out = torch.tanh(v_pre[:, :hidden]) * torch.sigmoid(v_pre[:, hidden:])
                vertical_inputs[index + 1][:, :, row + next_half, next_half : next_half + S] = v_out
        return row_biases

    def _horizontal_pixel(self, horizontal_inputs, row_biases, col: int) -> torch.Tensor:
        """Horizontal stack at pixel `col` of the current row; returns the skip features `(B, layers * F)`."""
        hidden = self.hidden
        gated_outputs = []
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            width = layer["half"] + 1
            in_channels = layer["in_channels"]
            inputs = horizontal_inputs[index]
            window = inputs[:, col * in_channels : (col + width) * in_channels]
            pre = torch.addmm(row_biases[index][col], window, layer["horizontal_matrix"])
            gated = _gate(pre, hidden)
            gated_outputs.append(gated)
            if index == last:
                break  # the last layer's horizontal output feeds nothing
            out = torch.addmm(layer["output_bias"], gated, layer["output_weight"])
            if not layer["first"]:
                centre = (col + width - 1) * in_channels
                out = out + inputs[:, centre : centre + hidden]
            next_half = self.layers[index + 1]["half"]
            horizontal_inputs[index + 1][:, (next_half + col) * hidden : (next_half + col + 1) * hidden] = out
        return torch.cat(gated_outputs, dim=1)

    def _sample_masked(self, draw, rows) -> torch.LongTensor:
        B, C, S, hidden = self.batch_size, self.channels, self.size, self.hidden
        images = torch.zeros(B, C, S, S, dtype=torch.long, device=self.factory["device"])
        # Inputs of every layer, channels last, zero padded: `half` rows on top, `half` columns each side.
        inputs = [
            torch.zeros(B, S + layer["half"], S + 2 * layer["half"], layer["in_channels"], **self.factory)
            for layer in self.layers
        ]
        last = len(self.layers) - 1
        first_half = self.layers[0]["half"]
        for row in rows:
            for col in range(S):
                for channel in range(C):
                    gated_outputs = []
                    for index, layer in enumerate(self.layers):
                        half = layer["half"]
                        window = inputs[index][:, row : row + half + 1, col : col + 2 * half + 1].reshape(B, -1)
                        gated = _gate(torch.addmm(layer["bias"], window, layer["matrix"]), hidden)
                        gated_outputs.append(gated)
                        if index == last:
                            break
                        out = torch.addmm(layer["output_bias"], gated, layer["output_weight"])
                        if not layer["first"]:
                            out = out + inputs[index][:, row + half, col + half]
                        next_half = self.layers[index + 1]["half"]
                        inputs[index + 1][:, row + next_half, col + next_half] = out
                    levels = draw(self.head(torch.cat(gated_outputs, dim=1), channel))
                    images[:, channel, row, col] = levels
                    inputs[0][:, row + first_half, col + first_half, channel] = self._normalise(levels)
        return images
