"""Receptive field of one pixel for the masked (blind spot) and the gated PixelCNN, side by side.

    python experiments/receptive_field.py --image_size 16 --num_hidden_layers 6 --row 10 --col 8 --figure rf.png

Dependencies are read off input gradients (`hf_argen.receptive_field.dependency_map`) of randomly initialised
models: which pixels can influence the logits of the chosen pixel. Earlier pixels that the
masked model cannot see but a gated model of the same depth does are its blind spot.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from hf_argen.cli import (  # noqa: E402
    add_device_argument,
    add_hidden_alias,
    resolve_device,
    run_cli,
    script_parser,
    write_json,
)
from hf_argen.receptive_field import (  # noqa: E402
    RECEPTIVE_FIELD_COLOURS,
    RECEPTIVE_FIELD_LEGEND,
    receptive_field_maps,
)


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
    maps = receptive_field_maps(args.image_size, args.num_hidden_layers, args.row, args.col,
                                args.first_kernel_size, args.seed, device)  # fmt: skip
    counts = {}
    figure, axes = plt.subplots(1, 2, figsize=(9, 5.4))
    for axis, architecture in zip(axes, ["masked", "gated"]):
        colours = maps[architecture].numpy()
        blind, seen = int((colours == 3).sum()), int((colours == 1).sum())
        axis.imshow(
            colours, cmap=ListedColormap(RECEPTIVE_FIELD_COLOURS), vmin=0, vmax=len(RECEPTIVE_FIELD_COLOURS) - 1
        )
        axis.set_title(f"{architecture} PixelCNN, {layers} layers\n{blind} blind-spot pixels")
        axis.set_xticks([])
        axis.set_yticks([])
        counts[architecture] = {"seen": seen, "blind_spot": blind}
        print(
            f"{architecture:>6}: {layers} layers, pixel ({args.row}, {args.col}): "
            f"{seen} pixels seen, {blind} in the blind spot"
        )
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in RECEPTIVE_FIELD_COLOURS]
    figure.legend(handles, RECEPTIVE_FIELD_LEGEND, loc="lower center", ncol=3, frameon=False)
    figure.tight_layout(rect=(0, 0.1, 1, 0.95))
    figure.savefig(args.figure, dpi=120)
    plt.close(figure)
    print(f"saved {args.figure}")
    result = {"layers": layers, "row": args.row, "col": args.col, **counts}
    write_json(args.output_json, result)
    return result


if __name__ == "__main__":
    run_cli(main)
