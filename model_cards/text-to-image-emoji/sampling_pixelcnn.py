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

Image completion (a given raster prefix): the caches are warmed on the given sub-pixels, which are stepped through
with their given levels instead of samples; rows given in full only run through the vertical stack (gated).

All computation reuses the model's own (masked) weights, rearranged once into matrices, so the logits agree
with the full forward pass up to floating-point rounding and samples drawn with the same generator are
identical. The module imports nothing from hf_argen, so it travels with the model folder for remote code.
"""

from __future__ import annotations

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
    return dict(output_weight=layer.output.masked_weight()[:, :, 0, 0].t().contiguous(), output_bias=layer.output.bias)


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


def _group_order(size: int, num_groups: int) -> tuple[torch.Tensor, list[int]]:
    """Order of `size` features sorted by channel group (feature `k` is in group `k % num_groups`, as in the
    model's masks) and the offset of each group's block: `(order (size,), offsets (num_groups + 1))`."""
    groups = torch.arange(size) % num_groups
    order = torch.cat([torch.nonzero(groups == g)[:, 0] for g in range(num_groups)])
    offsets = [0]
    for g in range(num_groups):
        offsets.append(offsets[-1] + int((groups == g).sum()))
    return order, offsets


class _GatedSampler:
    """Cached sampling for the gated architecture; one instance samples one batch.

    Per image row, the vertical stack runs once (one 1-row convolution per layer) and writes each layer's
    horizontal bias for the whole row (link + biases + class bias) into a persistent buffer. Per sub-pixel of
    colour `c`, only the features of channel group `c` are computed: group `c` of a layer depends on groups
    `<= c` of its input at the current pixel, groups `< c` are already final from the steps of the earlier
    colours, and groups `> c` are not needed yet. Features are stored group-sorted (each group one contiguous
    block), so a step is, per layer, one matmul over the cached window into that group's columns, one sigmoid,
    one multiply-add for the gate and one matmul for the 1x1 output conv; features of later groups that are
    still stale meet masked (zero) weights. Every view and buffer a step touches is made once.

    Two foldings keep kernels out of the step: `tanh(f) * sigmoid(g) == sigmoid(g) * (1 - 2 sigmoid(-2 f))`
    with the -2 folded into the weights (one sigmoid call), and the output convs' biases, carried through the
    residual stream, folded into the next layer's row bias.
    """

    def __init__(self, model, batch_size: int, class_labels: torch.Tensor | None):
        config = model.config
        self.batch_size, self.size, self.channels = batch_size, config.image_size, config.num_channels
        self.hidden = hidden = config.hidden_size
        self.factory = dict(device=model.device, dtype=model.dtype)
        C = self.channels
        # First-layer features per sub-pixel: 1 intensity, or E embedding features. The model orders them
        # `e * C + c`; here they are group-sorted, so colour `c` owns the contiguous block `[c * E, (c + 1) * E)`.
        self.input_size = config.input_embedding_size
        self.input_order = _group_order(C * self.input_size, C)[0]
        order, self.offsets = _group_order(hidden, C)
        # Pre-activations `[f; g]` sorted by group, `[f_0; g_0; f_1; g_1; ...]`: one contiguous block per group.
        self.pre_order = torch.cat(
            [torch.cat([order[a:b], hidden + order[a:b]]) for a, b in zip(self.offsets, self.offsets[1:])]
        )
        self.order = order
        self.layers = [self._layer(layer, config, class_labels) for layer in model.pixelcnn.layers]
        self._fold_output_biases()
        self._make_buffers()
        self.head = head = self._head(model.head, config)
        self.head_plan = list(
            zip(
                head["skip_bias"],
                head["skip"],
                head["feature_slots"],
                head["hidden_bias"],
                head["hidden"],
                head["hidden_slots"],
                head["logits_bias"],
                head["logits"],
            )
        )

    # ---- weights, rearranged once -------------------------------------------------------------------
    def _layer(self, layer, config, class_labels) -> dict:
        hidden, order, pre_order = self.hidden, self.order, self.pre_order
        half = (config.first_kernel_size if layer.first else config.kernel_size) // 2
        in_order = self.input_order if layer.first else order
        # Horizontal conv as a window matrix: rows (window column, input feature), columns [f; g] (tanh folded).
        weight = layer.horizontal.masked_weight()[:, in_order]  # (2F, in, 1, half + 1)
        horizontal = _fold_tanh(_window_matrix(weight), hidden, dim=1)
        # The vertical pre-activation is kept with the f half scaled by -2 as well (one sigmoid call for its
        # gate), so the link, which reads it, takes the inverse scale on its input side.
        link = _fold_tanh(layer.link.weight[:, :, 0, 0], hidden, dim=0)
        link = link / _fold_tanh(torch.ones(2 * hidden, **self.factory), hidden, dim=0)[None, :]
        row_bias = _fold_tanh(layer.link.bias + layer.horizontal.bias, hidden, dim=0).expand(self.batch_size, -1)
        v_class_bias = None
        if layer.class_bias is not None:
            v_class, h_class = layer.class_bias(class_labels).chunk(2, dim=1)  # (B, 2F) each
            v_class = _fold_tanh(v_class, hidden, dim=1)
            v_class_bias = v_class[:, :, None, None].contiguous()
            # The model's link reads the vertical pre-activation before its class bias; the sampler adds the
            # class bias first (in place, before the link matmul), so the link's share of it is taken back here.
            row_bias = row_bias + _fold_tanh(h_class, hidden, dim=1) - v_class @ link.t()
        output_weight = None
        if layer.output is not None:
            output_weight = layer.output.masked_weight()[:, :, 0, 0].t()[order][:, order]  # (in, out), sorted
        return dict(
            half=half,
            first=layer.first,
            in_channels=self.channels * self.input_size if layer.first else hidden,
            vertical_weight=_fold_tanh(layer.vertical.masked_weight(), hidden, dim=0).contiguous(
                memory_format=torch.channels_last
            ),
            vertical_bias=_fold_tanh(layer.vertical.bias, hidden, dim=0),
            v_class_bias=v_class_bias,
            link_matrix=link.t()[:, pre_order].contiguous(),  # (2F in, 2F out sorted)
            row_bias=row_bias,  # (B, 2F), unsorted until `_fold_output_biases`
            horizontal_matrix=horizontal,  # unsorted columns until `_fold_output_biases`
            output_weight=output_weight,
            output_bias=None if layer.output is None else layer.output.bias[order],
        )

    def _fold_output_biases(self) -> None:
        """Keep the 1x1 output convs' biases out of the step, then sort every pre-activation by group.

        The residual stream `h_l` carries the running sum `beta_l` of the output biases of layers <= l, so the
        step stores `h_l - beta_l` (no bias add per layer) and the next layer gets `beta_l` back through its
        row bias: `beta_l @ M_k` for every window column `k` inside the image (left-padding columns hold
        zeros, not `beta_l`), a per-column `(S, 2F)` correction.
        """
        hidden, S, B = self.hidden, self.size, self.batch_size
        beta = None
        for layer, next_layer in zip(self.layers, self.layers[1:]):
            beta = layer["output_bias"] if beta is None else beta + layer["output_bias"]
            half = next_layer["half"]
            blocks = next_layer["horizontal_matrix"].view(half + 1, hidden, 2 * hidden)  # window column k
            per_column = torch.einsum("f,kfo->ko", beta, blocks)  # (half + 1, 2F)
            correction = torch.stack([per_column[max(0, half - col) :].sum(dim=0) for col in range(S)])
            next_layer["row_bias"] = next_layer["row_bias"][:, None, :] + correction[None]  # (B, S, 2F)
        for layer in self.layers:
            bias = layer["row_bias"]
            bias = bias[:, None, :].expand(B, S, -1) if bias.dim() == 2 else bias
            layer["row_bias"] = bias[..., self.pre_order].reshape(B * S, 2 * hidden).contiguous()
            matrix = layer["horizontal_matrix"][:, self.pre_order]
            layer["group_matrices"] = [
                matrix[:, 2 * a : 2 * b].contiguous() for a, b in zip(self.offsets, self.offsets[1:])
            ]
            if layer["output_weight"] is not None:
                layer["group_outputs"] = [
                    layer["output_weight"][:, a:b].contiguous() for a, b in zip(self.offsets, self.offsets[1:])
                ]

    def _head(self, head, config) -> dict:
        """The output head as group-sorted matrices; logits are computed for one colour channel at a time."""
        C, order, hidden = self.channels, self.order, self.hidden
        skip_rows = torch.cat([i * hidden + order for i in range(len(self.layers))])
        out_order, out_offsets = _group_order(config.output_hidden_size, C)
        skip = head.skip.masked_weight()[:, :, 0, 0].t()[skip_rows][:, order]
        hidden_weight = head.hidden.masked_weight()[:, :, 0, 0].t()[order][:, out_order]
        logits = head.logits.masked_weight()[:, :, 0, 0]
        spans = list(zip(self.offsets, self.offsets[1:]))
        out_spans = list(zip(out_offsets, out_offsets[1:]))
        # Zero-initialised: the features of groups not computed yet are read (and meet zero weights).
        features = torch.zeros(self.batch_size, hidden, **self.factory)
        hidden_features = torch.zeros(self.batch_size, config.output_hidden_size, **self.factory)
        return dict(
            skip=[skip[:, a:b].contiguous() for a, b in spans],
            skip_bias=[head.skip.bias[order][a:b] for a, b in spans],
            hidden=[hidden_weight[:, a:b].contiguous() for a, b in out_spans],
            hidden_bias=[head.hidden.bias[out_order][a:b] for a, b in out_spans],
            # Output channel `level * C + c` belongs to colour channel `c`.
            logits=[logits[c::C][:, out_order].t().contiguous() for c in range(C)],
            logits_bias=[head.logits.bias[c::C].contiguous() for c in range(C)],
            features=features,
            feature_slots=[features[:, a:b] for a, b in spans],
            hidden_features=hidden_features,
            hidden_slots=[hidden_features[:, a:b] for a, b in out_spans],
        )

    # ---- buffers and views --------------------------------------------------------------------------
    def _make_buffers(self) -> None:
        """Buffers written by `out=` and every view a step needs, made once.

        Buffers start at zero: features of groups not computed yet are read (and meet zero weights), so they
        must be finite.
        """
        B, S, C, hidden, factory = self.batch_size, self.size, self.channels, self.hidden, self.factory
        spans = list(zip(self.offsets, self.offsets[1:]))
        # Horizontal-stack inputs of the current row, `(B, (half + S) * in)`, zero padded on the left, features
        # group-sorted. Only columns <= the current one are read; stale values of the row above meet masked
        # weights.
        self.inputs = [torch.zeros(B, (layer["half"] + S) * layer["in_channels"], **factory) for layer in self.layers]
        self.skip = torch.zeros(B, len(self.layers) * hidden, **factory)
        # Horizontal row biases, rewritten in place for every row: `(B * S, 2F)` viewed as `(B, S, 2F)`.
        self.row_biases = [torch.empty(B * S, 2 * hidden, **factory) for _ in self.layers]
        # plan[col][c]: per layer, the tensors its step at sub-pixel (col, c) reads and writes (see `_step`).
        self.plan = [[[] for _ in range(C)] for _ in range(S)]
        for index, layer in enumerate(self.layers):
            width, in_channels, inputs = layer["half"] + 1, layer["in_channels"], self.inputs[index]
            row_bias = self.row_biases[index].view(B, S, 2 * hidden)
            skip = self.skip[:, index * hidden : (index + 1) * hidden]
            last = index + 1 == len(self.layers)
            per_group = []  # what a step of group c reads and writes at every column
            for c, (a, b) in enumerate(spans):
                pre, sig = torch.empty(B, 2 * (b - a), **factory), torch.empty(B, 2 * (b - a), **factory)
                output = None if last else layer["group_outputs"][c]
                per_group.append(
                    (layer["group_matrices"][c], pre, sig, sig[:, : b - a], sig[:, b - a :], skip[:, a:b], skip, output)
                )
            for col in range(S):
                window = inputs[:, col * in_channels : (col + width) * in_channels]
                centre = (col + width - 1) * in_channels
                for c, (a, b) in enumerate(spans):
                    next_slot = residual = None
                    if not last:
                        next_inputs, next_half = self.inputs[index + 1], self.layers[index + 1]["half"]
                        start = (next_half + col) * hidden
                        next_slot = next_inputs[:, start + a : start + b]
                        residual = None if layer["first"] else inputs[:, centre + a : centre + b]
                    matrix, pre, sig, sig_f, sig_g, gated, skip, output = per_group[c]
                    self.plan[col][c].append(
                        (
                            row_bias[:, col, 2 * a : 2 * b],
                            window,
                            matrix,
                            pre,
                            sig,
                            sig_f,
                            sig_g,
                            gated,
                            skip,
                            next_slot,
                            output,
                            residual,
                        )
                    )
        first, E = self.layers[0], self.input_size
        self.image_inputs = [
            [self.inputs[0][:, ((first["half"] + col) * C + channel) * E :][:, :E] for channel in range(C)]
            for col in range(S)
        ]

    # ---- sampling -----------------------------------------------------------------------------------
    def sample_rows(self, draw, rows, to_input: torch.Tensor):
        """Yield each finished image row, `(B, C, S)` long. `to_input` `(C, num_levels, E)`: the first-layer
        features of each level of each colour channel."""
        B, C, S, E = self.batch_size, self.channels, self.size, self.input_size
        levels_per_channel = to_input.shape[1]
        table = to_input.reshape(C * levels_per_channel, E)
        channel_offsets = torch.arange(C, device=to_input.device)[None, :, None] * levels_per_channel
        # Vertical-stack inputs of every layer, channels last, zero padded: `half` rows on top, `half` columns
        # each side.
        self.vertical_inputs = [
            torch.zeros(B, layer["in_channels"], S + layer["half"], S + 2 * layer["half"], **self.factory).contiguous(
                memory_format=torch.channels_last
            )
            for layer in self.layers
        ]
        first_half = self.layers[0]["half"]
        for row in rows:
            draw.start_row(row)
            # A row given in full (image completion) needs no horizontal stack (nor its row bias): later rows read
            # only the vertical stack and the row's inputs, written below.
            finished = draw.given_row()
            self._vertical_row(row, row_bias=finished is None)
            if finished is None:
                sampled = []
                for col in range(S):
                    for channel in range(C):
                        levels = draw(self._step(col, channel))
                        torch.index_select(to_input[channel], 0, levels, out=self.image_inputs[col][channel])
                        sampled.append(levels)
                finished = torch.stack(sampled, dim=1).view(B, S, C).permute(0, 2, 1)  # (B, C, S)
            # The finished image row feeds the vertical stack of later rows (features in the model's order).
            features = table[finished + channel_offsets].permute(0, 3, 1, 2).reshape(B, E * C, S)
            self.vertical_inputs[0][:, :, row + first_half, first_half : first_half + S] = features
            yield finished.contiguous()

    def _vertical_row(self, row: int, row_bias: bool = True) -> None:
        """Vertical stack on image row `row`: fills every layer's row bias (unless `row_bias` is False) and the next
        layers' inputs."""
        hidden, S = self.hidden, self.size
        for index, layer in enumerate(self.layers):
            if not row_bias and index + 1 == len(self.layers):
                break  # the last layer's vertical stack feeds its row bias only
            half = layer["half"]
            height = half if layer["first"] else half + 1
            window = self.vertical_inputs[index][:, :, row : row + height]
            v_pre = F.conv2d(window, layer["vertical_weight"], layer["vertical_bias"])  # (B, 2F, 1, S), ch. last
            if layer["v_class_bias"] is not None:
                v_pre += layer["v_class_bias"]
            # Channels last, so `(B, 1, S, 2F)` in memory: the row's pre-activations as `(B * S, 2F)` rows.
            v_rows = v_pre.permute(0, 2, 3, 1).reshape(-1, 2 * hidden)
            if row_bias:
                torch.addmm(layer["row_bias"], v_rows, layer["link_matrix"], out=self.row_biases[index])
            if index + 1 < len(self.layers):
                next_half = self.layers[index + 1]["half"]
                s = torch.sigmoid(v_pre[:, :, 0])  # (B, 2F, S); f half holds sigmoid(-2 f)
                out = self.vertical_inputs[index + 1][:, :, row + next_half, next_half : next_half + S]
                torch.addcmul(s[:, hidden:], s[:, :hidden], s[:, hidden:], value=-2.0, out=out)

    def _step(self, col: int, channel: int) -> torch.Tensor:
        """Group `channel` of every layer at pixel `col` of the current row -> logits `(B, num_levels)`."""
        for bias, window, matrix, pre, sig, sig_f, sig_g, gated, skip, next_slot, output, residual in self.plan[col][
            channel
        ]:
            torch.addmm(bias, window, matrix, out=pre)
            torch.sigmoid(pre, out=sig)
            torch.addcmul(sig_g, sig_f, sig_g, value=-2.0, out=gated)
            if next_slot is None:  # the last layer's horizontal output feeds nothing
                break
            # Stored without the output biases, which come back through the next row bias.
            if residual is None:
                torch.mm(skip, output, out=next_slot)
            else:
                torch.addmm(residual, skip, output, out=next_slot)
        skip_bias, skip_weight, features_slot, hidden_bias, hidden_weight, hidden_slot, logits_bias, logits_weight = (
            self.head_plan[channel]
        )
        torch.addmm(skip_bias, self.skip, skip_weight, out=features_slot).relu_()
        torch.addmm(hidden_bias, self.head["features"], hidden_weight, out=hidden_slot).relu_()
        return torch.addmm(logits_bias, self.head["hidden_features"], logits_weight)


class CachedSampler:
    """Incremental sampler for a `PixelCNNForImageGeneration`; one instance samples one batch.

    Args:
        model: the `PixelCNNForImageGeneration`: its backbone `model.pixelcnn` and `model.head` (weights are read, never
            modified).
        batch_size: number of images.
        class_labels: `(B,)` long or None.
    """

    def __init__(self, model, batch_size: int, class_labels: torch.Tensor | None):
        config = model.config
        self.config = config
        self.batch_size = batch_size
        self.size = config.image_size
        self.channels = config.num_channels
        self.hidden = config.hidden_size
        self.factory = dict(device=model.device, dtype=model.dtype)
        self.level_embeddings = model.pixelcnn.level_embeddings
        if config.architecture == "gated":
            self.gated = _GatedSampler(model, batch_size, class_labels)
            return
        self.head = _HeadMatrices(model.head, self.channels)
        self.layers = []
        for index, layer in enumerate(model.pixelcnn.layers):
            kernel = config.first_kernel_size if index == 0 else config.kernel_size
            class_bias = None if layer.class_bias is None else layer.class_bias(class_labels)  # (B, 2F)
            self.layers.append(self._masked_layer(layer, kernel, class_bias))

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
            in_channels=self.channels * self.config.input_embedding_size if layer.first else hidden,
        )

    # ---- sampling -----------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, draw, rows) -> torch.LongTensor:
        """Sample all sub-pixels; `rows` iterates over row indices. `draw.start_row(row)` is called at the start
        of every row and `draw(logits (B, L)) -> levels (B,)` once per sub-pixel, in raster order (for a given
        sub-pixel of an image completion, `draw` returns the given level). The gated sampler asks
        `draw.given_row()` first: a row given in full `(B, C, W)` only runs through the vertical stack.
        Returns `(B, C, H, W)` long."""
        return torch.stack(list(self.sample_rows(draw, rows)), dim=2)

    @torch.no_grad()
    def sample_rows(self, draw, rows):
        """As `sample`, but yields each image row as soon as it is finished: `(B, C, W)` long, in order."""
        if self.config.architecture == "gated":
            yield from self.gated.sample_rows(draw, rows, self.to_input)
        else:
            yield from self._sample_masked(draw, rows)

    @property
    def to_input(self) -> torch.Tensor:
        """`(C, num_levels, E)`: what the first layer reads for each level of each colour channel (E = 1 for an
        intensity in [-1, 1], else the level embedding)."""
        config = self.config
        if self.level_embeddings is not None:
            return self.level_embeddings.weight.view(self.channels, config.num_levels, -1)
        levels = torch.arange(config.num_levels, device=self.factory["device"]).to(self.factory["dtype"])
        intensities = levels * (2.0 / (config.num_levels - 1)) - 1.0
        return intensities[None, :, None].expand(self.channels, -1, -1)

    def _sample_masked(self, draw, rows):
        """Yields each finished row `(B, C, S)`."""
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
        to_input = self.to_input  # (C, num_levels, E); the model orders first-layer features `e * C + c`
        for row in rows:
            draw.start_row(row)  # given sub-pixels (image completion) come back from `draw` as they are
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
                    inputs[0][:, row + first_half, col + first_half, channel::C] = to_input[channel][levels]
            yield images[:, :, row].clone()
