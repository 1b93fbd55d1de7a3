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


def _fold_tanh(weight_or_bias: torch.Tensor, hidden: int, dim: int) -> torch.Tensor:
    """Scale the `f` half of a gate pre-activation by -2, so that `_folded_gate` needs one sigmoid call."""
    scale = torch.ones(2 * hidden, dtype=weight_or_bias.dtype, device=weight_or_bias.device)
    scale[:hidden] = -2.0
    shape = [1] * weight_or_bias.dim()
    shape[dim] = 2 * hidden
    return (weight_or_bias * scale.view(shape)).contiguous()


def _folded_gate(pre: torch.Tensor, hidden: int, out: torch.Tensor) -> torch.Tensor:
    """tanh(f) * sigmoid(g) from `pre = [-2 f; g]`: sigmoid(g) * (1 - 2 sigmoid(-2 f)), written into `out`."""
    s = torch.sigmoid(pre)
    return torch.addcmul(s[:, hidden:], s[:, :hidden], s[:, hidden:], value=-2.0, out=out)


def _output_matrices(layer) -> dict:
    """The horizontal 1x1 output conv as `(F, F)` matrix + bias; absent in the last layer."""
    if layer.output is None:
        return dict(output_weight=None, output_bias=None)
    return dict(output_weight=layer.output.masked_weight()[:, :, 0, 0].t().contiguous(),
                output_bias=layer.output.bias)


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


class _HorizontalSteps:
    """Buffers and pre-made views for the per-sub-pixel horizontal stack of the gated architecture.

    Slicing a tensor costs about as much as a small kernel, so every view a step needs is made once here, and
    every op writes into a preallocated buffer (`out=`): a step is then 4-5 kernels per layer and no slicing.
    """

    def __init__(self, layers, batch_size: int, size: int, hidden: int, factory: dict):
        self.layers = layers
        self.last = len(layers) - 1
        # Horizontal-stack inputs of the current row, `(B, (half + S) * in_channels)`, zero padded on the left.
        # Only columns <= the current one are read; stale values from the previous row meet masked weights.
        self.inputs = [torch.zeros(batch_size, (layer["half"] + size) * layer["in_channels"], **factory)
                       for layer in layers]
        self.skip = torch.empty(batch_size, len(layers) * hidden, **factory)
        self.pre = [torch.empty(batch_size, 2 * hidden, **factory) for _ in layers]
        self.sig = [torch.empty(batch_size, 2 * hidden, **factory) for _ in layers]
        self.sig_f = [sig[:, :hidden] for sig in self.sig]
        self.sig_g = [sig[:, hidden:] for sig in self.sig]
        self.skip_slots = [self.skip[:, i * hidden : (i + 1) * hidden] for i in range(len(layers))]
        self.windows, self.slots, self.centres = [], [], []
        for index, layer in enumerate(layers):
            width, in_channels = layer["half"] + 1, layer["in_channels"]
            inputs = self.inputs[index]
            self.windows.append([inputs[:, col * in_channels : (col + width) * in_channels] for col in range(size)])
            self.centres.append([inputs[:, (col + width - 1) * in_channels : (col + width) * in_channels]
                                 for col in range(size)])
            if index < self.last:
                next_inputs, next_half = self.inputs[index + 1], layers[index + 1]["half"]
                self.slots.append([next_inputs[:, (next_half + col) * hidden : (next_half + col + 1) * hidden]
                                   for col in range(size)])
        first = layers[0]
        num_channels = first["in_channels"]
        self.image_inputs = [[self.inputs[0][:, (first["half"] + col) * num_channels + channel]
                              for channel in range(num_channels)] for col in range(size)]

    def image_input(self, col: int, channel: int) -> torch.Tensor:
        """The `(B,)` view of the first layer's input that holds sub-pixel `(col, channel)` of the row."""
        return self.image_inputs[col][channel]

    def run(self, row_biases, col: int) -> torch.Tensor:
        """Horizontal stack at pixel `col` of the current row; returns the skip features `(B, layers * F)`."""
        for index, layer in enumerate(self.layers):
            pre = torch.addmm(row_biases[index][col], self.windows[index][col], layer["horizontal_matrix"],
                              out=self.pre[index])
            torch.sigmoid(pre, out=self.sig[index])
            # tanh(f) * sigmoid(g) == sigmoid(g) * (1 - 2 sigmoid(-2 f)); the -2 is folded into the weights.
            gated = torch.addcmul(self.sig_g[index], self.sig_f[index], self.sig_g[index], value=-2.0,
                                  out=self.skip_slots[index])
            if index == self.last:
                break  # the last layer's horizontal output feeds nothing
            slot = self.slots[index][col]
            # Stored without the output biases, which come back through the next row bias (see
            # `CachedSampler._fold_output_biases`); the residual is the layer's own input at this pixel.
            if layer["first"]:
                torch.mm(gated, layer["output_weight"], out=slot)
            else:
                torch.addmm(self.centres[index][col], gated, layer["output_weight"], out=slot)
        return self.skip


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
        if config.architecture == "gated":
            self._fold_output_biases()

    def _fold_output_biases(self) -> None:
        """Keep the horizontal stack's 1x1-conv biases out of the per-pixel step.

        The residual stream `h_l` carries the running sum `beta_l` of the output biases of layers <= l, so
        the step stores `h_l - beta_l` instead (no bias add per layer), and the next layer's window matmul
        gets `beta_l` back through its row bias: `beta_l @ M_k` for every window column `k` that lies inside the
        image (left-padding columns hold zeros, not `beta_l`), a `(S, 2F)` correction per layer.
        """
        hidden, size = self.hidden, self.size
        beta = None
        for layer, next_layer in zip(self.layers, self.layers[1:]):
            beta = layer["output_bias"] if beta is None else beta + layer["output_bias"]
            half = next_layer["half"]
            blocks = next_layer["horizontal_matrix"].view(half + 1, hidden, 2 * hidden)  # window column k
            per_column = torch.einsum("f,kfo->ko", beta, blocks)  # (half + 1, 2F)
            correction = torch.zeros(size, 2 * hidden, **self.factory)
            for col in range(size):
                first_inside = max(0, half - col)  # window column k is image column col - half + k
                correction[col] = per_column[first_inside:].sum(dim=0)
            next_layer["row_correction"] = correction[:, None, :]  # (S, 1, 2F)

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
            horizontal_matrix=_fold_tanh(_window_matrix(layer.horizontal.masked_weight()), hidden, dim=1),
            horizontal_bias=layer.horizontal.bias,
            **_output_matrices(layer),
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
            matrix=_fold_tanh(_window_matrix(weight), hidden, dim=1),
            bias=_fold_tanh(bias, hidden, dim=1),
            **_output_matrices(layer),
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
        B, C, S = self.batch_size, self.channels, self.size
        # Vertical-stack inputs of every layer, zero padded: `half` rows on top, `half` columns each side.
        vertical_inputs = [
            torch.zeros(B, layer["in_channels"], S + layer["half"], S + 2 * layer["half"], **self.factory)
            for layer in self.layers
        ]
        steps = _HorizontalSteps(self.layers, B, S, self.hidden, self.factory)
        # Level -> normalised input value, written straight into the image row the first layer reads.
        to_input = self._normalise(torch.arange(self.config.num_levels, device=self.factory["device"]))
        sampled = []
        first_half = self.layers[0]["half"]
        for row in rows:
            row_biases = [bias.unbind(0) for bias in self._vertical_row(vertical_inputs, row)]
            for col in range(S):
                for channel in range(C):
                    levels = draw(self.head(steps.run(row_biases, col), channel))
                    torch.index_select(to_input, 0, levels, out=steps.image_input(col, channel))
                    sampled.append(levels)
            # The finished image row feeds the vertical stack of later rows.
            finished = torch.stack(sampled[-S * C :], dim=1).view(B, S, C).permute(0, 2, 1)
            vertical_inputs[0][:, :, row + first_half, first_half : first_half + S] = to_input[finished]
        return torch.stack(sampled, dim=1).view(B, S, S, C).permute(0, 3, 1, 2).contiguous()

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
            h_bias = _fold_tanh(h_bias, hidden, dim=1).permute(2, 0, 1)  # (S, B, 2F)
            if "row_correction" in layer:
                h_bias = h_bias + layer["row_correction"]
            row_biases.append(h_bias.contiguous())
            if index + 1 < len(self.layers):
                next_half = self.layers[index + 1]["half"]
                v_out = torch.tanh(v_pre[:, :hidden]) * torch.sigmoid(v_pre[:, hidden:])
                vertical_inputs[index + 1][:, :, row + next_half, next_half : next_half + S] = v_out
        return row_biases

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
        skip = torch.empty(B, len(self.layers) * hidden, **self.factory)
        for row in rows:
            for col in range(S):
                for channel in range(C):
                    for index, layer in enumerate(self.layers):
                        half = layer["half"]
                        window = inputs[index][:, row : row + half + 1, col : col + 2 * half + 1].reshape(B, -1)
                        pre = torch.addmm(layer["bias"], window, layer["matrix"])
                        gated = _folded_gate(pre, hidden, out=skip[:, index * hidden : (index + 1) * hidden])
                        if index == last:
                            break
                        out = torch.addmm(layer["output_bias"], gated, layer["output_weight"])
                        if not layer["first"]:
                            out = out + inputs[index][:, row + half, col + half]
                        next_half = self.layers[index + 1]["half"]
                        inputs[index + 1][:, row + next_half, col + next_half] = out
                    levels = draw(self.head(skip, channel))
                    images[:, channel, row, col] = levels
                    inputs[0][:, row + first_half, col + first_half, channel] = self._normalise(levels)
        return images
