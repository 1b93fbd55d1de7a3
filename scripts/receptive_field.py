"""Receptive field of one pixel for the masked (blind spot) and the gated PixelCNN, side by side.

    python scripts/receptive_field.py --image_size 16 --num_hidden_layers 6 --row 10 --col 8 --figure rf.png

Dependencies are read off input gradients (`hf_argen.receptive_field.dependency_map`) of randomly initialised
models: which pixels can influence the logits of the chosen pixel. Earlier pixels that the
masked model cannot see but a gated model of the same depth does are its blind spot.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration  # noqa: E402
from hf_argen.cli import (  # noqa: E402
    add_device_argument,
    add_hidden_alias,
    resolve_device,
    run_cli,
    script_parser,
    write_json,
)
from hf_argen.receptive_field import dependency_map  # noqa: E402

LEGEND = ["later (never seen)", "seen", "earlier, beyond this depth's reach", "blind spot", "target pixel"]
COLOURS = ["#f2f2f2", "#3b6fb6", "#c7c7c7", "#f28e2b", "#d62728"]


def seen_pixels(architecture: str, args, device) -> np.ndarray:
    """Bool `(H, W)`: pixels the logits of `(row, col)` depend on."""
    config = PixelCNNConfig(
        image_size=args.image_size, num_channels=1, num_levels=256, hidden_size=32,
        num_hidden_layers=args.num_hidden_layers, kernel_size=3, first_kernel_size=args.first_kernel_size,
        output_hidden_size=32, architecture=architecture,
    )
    model = PixelCNNForImageGeneration(config).to(device).eval()
    return dependency_map(model, args.row, args.col, seed=args.seed).any(dim=0).cpu().numpy()


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


def parse_args(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--image_size", type=int, default=16, help="image height and width")
    parser.add_argument("--num_hidden_layers", type=int, default=6, help="layers after the first (mask A) one")
    parser.add_argument("--first_kernel_size", type=int, default=3, help="kernel of the first layer")
    parser.add_argument("--row", type=int, default=10, help="row of the target pixel")
    parser.add_argument("--col", type=int, default=8, help="column of the target pixel")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random probe inputs")
    parser.add_argument("--figure", default="receptive_field.png", help="save the side-by-side figure (PNG) here")
    parser.add_argument("--output_json", default=None, help="write the pixel counts here as JSON ('-': stdout)")
    add_device_argument(parser)
    add_hidden_alias(parser, "--output", "figure")
    args = parser.parse_args(argv)
    if args.image_size < 2 or args.num_hidden_layers < 0:
        raise ValueError("--image_size must be >= 2 and --num_hidden_layers >= 0.")
    return args


def main(argv=None):
    args = parse_args(argv)
    device = resolve_device(args.device)

    layers = args.num_hidden_layers + 1
    seen = {architecture: seen_pixels(architecture, args, device) for architecture in ("masked", "gated")}
    counts = {}
    reachable = seen["gated"] | seen["masked"]
    figure, axes = plt.subplots(1, 2, figsize=(9, 5.4))
    for axis, architecture in zip(axes, ["masked", "gated"]):
        colours = picture(seen[architecture], reachable, args)
        blind = int((colours == 3).sum())
        axis.imshow(colours, cmap=ListedColormap(COLOURS), vmin=0, vmax=len(COLOURS) - 1)
        axis.set_title(f"{architecture} PixelCNN, {layers} layers\n{blind} blind-spot pixels")
        axis.set_xticks([])
        axis.set_yticks([])
        counts[architecture] = {"seen": int(seen[architecture].sum()), "blind_spot": blind}
        print(f"{architecture:>6}: {layers} layers, pixel ({args.row}, {args.col}): "
              f"{int(seen[architecture].sum())} pixels seen, {blind} in the blind spot")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in COLOURS]
    figure.legend(handles, LEGEND, loc="lower center", ncol=3, frameon=False)
    figure.tight_layout(rect=(0, 0.1, 1, 0.95))
    figure.savefig(args.figure, dpi=120)
    plt.close(figure)
    print(f"saved {args.figure}")
    result = {"layers": layers, "row": args.row, "col": args.col, **counts}
    write_json(args.output_json, result)
    return result


if __name__ == "__main__":
    run_cli(main)
