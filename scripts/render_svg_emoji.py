#!/usr/bin/env python
"""Render a folder of SVG emoji named by code points to square RGBA PNGs of the same names.

Some emoji sets ship as SVG only (OpenMoji's `color/svg`, Microsoft's Fluent flat style in the npm package
`@lobehub/fluent-emoji-flat`); rendered to 64x64 they can join the emoji captioner's training through
`train_captioner.py --emoji_extra_image_dirs STYLE=FOLDER`. Needs `cairosvg` (`pip install cairosvg`, which uses
the system's libcairo); hf_argen itself does not.

    python scripts/render_svg_emoji.py --input openmoji/package/color/svg --output openmoji-64
"""

from __future__ import annotations

import io
from pathlib import Path

from hf_argen.cli import run_cli, script_parser


def render(svg_path: Path, size: int):
    """One SVG -> a `size` x `size` RGBA `PIL.Image` (aspect kept, centred on a transparent square)."""
    import cairosvg
    from PIL import Image

    image = Image.open(io.BytesIO(cairosvg.svg2png(url=str(svg_path), output_width=4 * size))).convert("RGBA")
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    square = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    square.paste(image, ((size - image.width) // 2, (size - image.height) // 2))
    return square


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--input", required=True, help="folder of SVG files named by code points (1f44b-1f3fb.svg)")
    parser.add_argument("--output", required=True, help="folder for the PNGs (created; files written atomically)")
    parser.add_argument("--size", type=int, default=64, help="side of the square PNGs in pixels")
    args = parser.parse_args(argv)
    if args.size < 1:
        raise ValueError(f"--size must be a positive number of pixels, got {args.size}.")
    sources = sorted(Path(args.input).glob("*.svg"))
    if not sources:
        raise ValueError(f"--input {args.input!r} holds no .svg files.")
    try:
        import cairosvg  # noqa: F401
    except (ImportError, OSError) as error:  # OSError: the package is there, libcairo is not
        raise ValueError(f"render_svg_emoji.py needs cairosvg and libcairo: pip install cairosvg ({error}).") from None
    from hf_argen.atomic import atomic_save_image

    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    skipped = []
    for svg_path in sources:
        try:
            image = render(svg_path, args.size)
        except Exception as error:  # noqa: BLE001 -- one broken drawing should not stop the set
            skipped.append(f"{svg_path.name}: {error}")
            continue
        atomic_save_image(image, output / f"{svg_path.stem}.png")
    print(f"rendered {len(sources) - len(skipped)} of {len(sources)} SVGs to {output}")
    for line in skipped:
        print(f"  skipped {line}")
    return {"rendered": len(sources) - len(skipped), "skipped": skipped}


if __name__ == "__main__":
    run_cli(main)
