#!/usr/bin/env python
"""Which emoji generator draws things that look like emoji of the asked-for category: a text-to-image folder (prompted
with emoji names) against the class-conditional `pixelcnn-emoji` (prompted with the category), judged by the same
shipped emoji captioner, category by category.

    python benchmarks/benchmark_emoji_generators.py --text_to_image model_cards/text-to-image-emoji \\
        --data_dir path/to/emoji-datasource --grid side_by_side.png --num_threads 1

For every category, `--per_category` training names are drawn (seed `--seed`, names without skin tones). The
text-to-image model draws one image per name (its default guidance and temperature unless given); the PixelCNN draws
as many images of that category (temperature 1, its generation defaults). The captioner names every image, and an
image counts as "of its category" when the name it writes belongs to that category (any emoji of emoji.json, every
vendor, skin tones included); a name outside emoji.json counts as wrong. The same judge on one real drawing of each
name (the first training vendor's) gives the ceiling. For the text-to-image model the exact round trip (the captioner
writes the prompt back) is printed too. `--grid` writes one row per category: `--grid_columns` PixelCNN samples, then
as many text-to-image samples.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from transformers import AutoModel, AutoProcessor, AutoTokenizer

from hf_argen import PixelCNNImageProcessor, make_grid
from hf_argen.atomic import atomic_save_image
from hf_argen.caption_evaluation import exact_match, generate_captions
from hf_argen.cli import add_device_argument, resolve_device, run_cli, script_parser, write_json
from hf_argen.recipes.emoji import EMOJI_VENDORS, emoji_records, find_emoji_dir, load_emoji_image_dataset
from hf_argen.recipes.text_to_image_evaluation import generate_images


def parse_args(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--text_to_image", required=True, help="a text-to-image folder trained on emoji")
    parser.add_argument("--pixelcnn", default="model_cards/pixelcnn-emoji", help="a class-conditional emoji PixelCNN")
    parser.add_argument("--captioner", default="model_cards/captioner-emoji", help="the judging emoji captioner")
    parser.add_argument("--data_dir", default=None, help="the emoji-datasource package folder")
    parser.add_argument("--per_category", type=int, default=20, help="names (and PixelCNN samples) per category")
    parser.add_argument("--guidance_scale", type=float, default=None, help="text-to-image guidance (default: its own)")
    parser.add_argument("--temperature", type=float, default=None, help="text-to-image temperature (default: its own)")
    parser.add_argument("--grid", default=None, help="write the side-by-side grid here (PNG)")
    parser.add_argument("--grid_columns", type=int, default=4, help="samples of each model per category in the grid")
    parser.add_argument("--seed", type=int, default=0, help="seed of the names and of both samplers")
    parser.add_argument("--num_threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--output_json", default=None, help="write the table here as JSON ('-': stdout)")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    for name in ("per_category", "grid_columns", "num_threads"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}.")
    if args.grid_columns > args.per_category:
        raise ValueError(f"--grid_columns ({args.grid_columns}) must be <= --per_category ({args.per_category}).")
    return args


def name_categories(folder, categories: list[str]) -> dict[str, int]:
    """Every emoji name any vendor draws (skin tones included) -> its category index."""
    named = {}
    for vendor in EMOJI_VENDORS:
        for record in emoji_records(folder, vendor, skin_variations=True):
            if record["category"] in categories:
                named.setdefault(record["text"], categories.index(record["category"]))
    return named


def chosen_names(data_dir, image_size: int, per_category: int, seed: int):
    """`(names, categories, real drawings)`: `per_category` training names of each category (fewer where a category
    has fewer), each with one real drawing (the first vendor's that draws it)."""
    train = load_emoji_image_dataset("train", data_dir=data_dir, image_size=image_size)
    first = {}
    for index, name in enumerate(train["name"]):
        first.setdefault(name, index)
    labels = train["label"]
    rng = np.random.default_rng(seed)
    names, classes = [], []
    for category in range(train.features["label"].num_classes):
        pool = sorted(name for name, index in first.items() if labels[index] == category)
        names += [pool[i] for i in sorted(rng.permutation(len(pool))[:per_category])]
        classes += [category] * min(per_category, len(pool))
    return names, classes, [train[first[name]]["image"].convert("RGB") for name in names]


def category_hits(captions, classes, named: dict[str, int]) -> np.ndarray:
    return np.array([named.get(caption, -1) == category for caption, category in zip(captions, classes)])


@torch.no_grad()
def pixelcnn_samples(model, classes, seed: int, batch_size: int = 50) -> list[Image.Image]:
    config = model.config
    processor = PixelCNNImageProcessor(num_levels=config.num_levels, num_channels=config.num_channels,
                                       image_size=config.image_size)  # fmt: skip
    generator = torch.Generator().manual_seed(seed)
    images = []
    for start in range(0, len(classes), batch_size):
        labels = torch.tensor(classes[start : start + batch_size], device=model.device)
        images += processor.postprocess(model.generate(class_labels=labels, generator=generator))
    return [image.convert("RGB") for image in images]


def side_by_side(pixelcnn_images, t2i_images, classes, columns: int, size: int) -> Image.Image:
    """One row per category: `columns` PixelCNN samples, a blank, `columns` text-to-image samples."""
    blank = Image.new("RGB", (size, size), (255, 255, 255))
    tiles = []
    for category in sorted(set(classes)):
        rows = [i for i, c in enumerate(classes) if c == category][:columns]
        tiles += [pixelcnn_images[i] for i in rows] + [blank] + [t2i_images[i] for i in rows]
    return make_grid([tile.resize((size, size), Image.NEAREST) for tile in tiles], num_columns=2 * columns + 1)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.num_threads)
    device = resolve_device(args.device)
    t2i = AutoModel.from_pretrained(args.text_to_image).eval().to(device)
    tokenizer = AutoTokenizer.from_pretrained(args.text_to_image)
    pixelcnn = AutoModel.from_pretrained(args.pixelcnn).eval().to(device)
    captioner = AutoModel.from_pretrained(args.captioner).eval().to(device)
    processor = AutoProcessor.from_pretrained(args.captioner)
    categories = [pixelcnn.config.id2label[i] for i in range(pixelcnn.config.num_classes)]
    size = t2i.config.vqvae.image_size
    names, classes, real = chosen_names(args.data_dir, size, args.per_category, args.seed)
    named = name_categories(find_emoji_dir(args.data_dir), categories)
    sampling = {k: v for k, v in (("temperature", args.temperature),) if v is not None}
    guidance = args.guidance_scale if args.guidance_scale is not None else t2i.generation_config.guidance_scale
    systems = {
        "real drawings": real,
        "pixelcnn": pixelcnn_samples(pixelcnn, classes, args.seed),
        "text-to-image": generate_images(t2i, tokenizer, names, guidance, args.seed, **sampling),
    }
    captions = {system: generate_captions(captioner, processor, images) for system, images in systems.items()}
    hits = {system: category_hits(captions[system], classes, named) for system in systems}
    classes_arr = np.array(classes)
    rows = []
    for category, title in enumerate(categories):
        where = classes_arr == category
        rows.append({"category": title, "num_images": int(where.sum()),
                     **{system: 100.0 * float(hits[system][where].mean()) for system in systems}})  # fmt: skip
    rows.append({"category": "all", "num_images": len(classes),
                 **{system: 100.0 * float(hits[system].mean()) for system in systems}})  # fmt: skip
    exact = {system: exact_match(captions[system], names) for system in ("real drawings", "text-to-image")}
    print(
        f"{len(names)} training names, {args.per_category} per category (seed {args.seed}); text-to-image guidance "
        f"{guidance}, {sampling or 'its default temperature'}; % of images whose caption is an emoji of the category"
    )
    print("\n| category | images | real drawings | `pixelcnn-emoji` (category prompt) | text-to-image (name prompt) |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['category']} | {row['num_images']} | {row['real drawings']:.1f} % | {row['pixelcnn']:.1f} % | "
              f"{row['text-to-image']:.1f} % |")  # fmt: skip
    print(
        f"\nexact round trip (caption == name): real drawings {exact['real drawings']:.1f} %, "
        f"text-to-image {exact['text-to-image']:.1f} %"
    )
    if args.grid:
        grid = side_by_side(systems["pixelcnn"], systems["text-to-image"], classes, args.grid_columns, 2 * size)
        atomic_save_image(grid, args.grid)
        print(
            f"wrote {args.grid}: one row per category ({', '.join(categories)}), {args.grid_columns} PixelCNN "
            f"samples, a gap, {args.grid_columns} text-to-image samples"
        )
    figures = {"rows": rows, "exact_round_trip": exact, "guidance_scale": guidance, **sampling,
               "names": names, "captions": captions}  # fmt: skip
    write_json(args.output_json, figures)
    return figures


if __name__ == "__main__":
    run_cli(main)
