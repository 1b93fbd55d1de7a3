"""Receptive field of one pixel for the masked (blind spot) and the gated PixelCNN, side by side.

    python scripts/receptive_field.py --image_size 16 --num_hidden_layers 6 --row 10 --col 8 --output rf.png

Dependencies are read off input gradients (`hf_argen.receptive_field.dependency_map`) of randomly initialised
models: which pixels can influence the logits of the chosen pixel. Earlier pixels that the
masked model cannot see but a gated model of the same depth does are its blind spot.
"""

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration  # noqa: E402
from hf_argen.receptive_field import dependency_map  # noqa: E402

LEGEND = ["later (never seen)", "seen", "earlier, beyond this depth's reach", "blind spot", "target pixel"]
COLOURS = ["#f2f2f2", "#3b6fb6", "#c7c7c7", "#f28e2b", "#d62728"]


def seen_pixels(architecture: str, args) -> np.ndarray:
    """Bool `(H, W)`: pixels the logits of `(row, col)` depend on."""
    config = PixelCNNConfig(
        image_size=args.image_size, num_channels=1, num_levels=256, hidden_size=32,
        num_hidden_layers=args.num_hidden_layers, kernel_size=3, first_kernel_size=args.first_kernel_size,
        output_hidden_size=32, architecture=architecture,
    )
    model = PixelCNNForImageGeneration(config).eval()
    return dependency_map(model, args.row, args.col).any(dim=0).numpy()


def picture(seen: np.ndarray, reachable: np.ndarray, args) -> np.ndarray:
    """Colour index per pixel; `reachable`: earlier pixels a model of this depth without blind spot sees."""
    order = np.arange(args.image_size**2).reshape(args.image_size, args.image_size)
    earlier = order < args.row * args.image_size + args.col
    colours = np.zeros(seen.shape, dtype=int)
    colours[earlier & ~reachable] = 2
    colours[earlier & reachable & ~seen] = 3
    colours[seen] = 1
    colours[args.row, args.col] = 4
    return colours


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image_size", type=int, default=16)
    parser.add_argument("--num_hidden_layers", type=int, default=6, help="layers after the first (mask A) one")
    parser.add_argument("--first_kernel_size", type=int, default=3)
    parser.add_argument("--row", type=int, default=10)
    parser.add_argument("--col", type=int, default=8)
    parser.add_argument("--output", default="receptive_field.png")
    args = parser.parse_args()

    layers = args.num_hidden_layers + 1
    seen = {architecture: seen_pixels(architecture, args) for architecture in ("masked", "gated")}
    reachable = seen["gated"] | seen["masked"]
    figure, axes = plt.subplots(1, 2, figsize=(9, 5.4))
    for axis, architecture in zip(axes, ["masked", "gated"]):
        colours = picture(seen[architecture], reachable, args)
        blind = int((colours == 3).sum())
        axis.imshow(colours, cmap=ListedColormap(COLOURS), vmin=0, vmax=len(COLOURS) - 1)
        axis.set_title(f"{architecture} PixelCNN, {layers} layers\n{blind} blind-spot pixels")
        axis.set_xticks([])
        axis.set_yticks([])
        print(f"{architecture:>6}: {layers} layers, pixel ({args.row}, {args.col}): "
              f"{int(seen[architecture].sum())} pixels seen, {blind} in the blind spot")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in COLOURS]
    figure.legend(handles, LEGEND, loc="lower center", ncol=3, frameon=False)
    figure.tight_layout(rect=(0, 0.1, 1, 0.95))
    figure.savefig(args.output, dpi=120)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
