"""Captioned image datasets, always returned as a `datasets.Dataset` with an `image` column (PIL) and a `text`
column (the caption).

Entry point: :func:`load_caption_dataset` (`name`, `split`, ...). Names it understands:

* ``"mnist_scenes"``: scenes of two real MNIST digits on a 64x64 canvas, side by side or one above the other at
  jittered positions, captioned "a 3 to the left of a 7" / "a 3 above a 7". Some digit pairs
  (:data:`HELD_OUT_PAIRS`, both orders) never appear in training. Splits: ``"train"`` (MNIST training images,
  seen pairs), ``"test"`` (MNIST test images only, seen pairs) and ``"test_held_out_pairs"`` (MNIST test images,
  held-out pairs only). MNIST comes from local IDX files (`data_dir` or ``HF_ARGEN_DATA_DIR``; see
  :func:`hf_argen.data.find_idx_dir`). Extra columns: ``first``, ``second`` (digits, in caption order) and
  ``relation`` (``"left"``/``"above"``).
* ``"emoji"``: the npm packages ``emoji-datasource-{apple,google,twitter,facebook}`` (16.0.0): 64x64 RGBA PNGs
  composited on white (RGB), caption = the emoji's name in lower case (skin-tone variants add ": <tone>").
  ``split`` is ``"train"`` (every vendor but `test_vendor`), ``"test"`` (`test_vendor`, default ``"facebook"``) or
  a vendor name. Get the files with ``npm pack emoji-datasource-apple@16.0.0`` (etc.) and ``tar xzf`` each
  archive in one folder (they merge into ``package/img/<vendor>/64/*.png`` + ``package/emoji.json``); pass that
  folder as `data_dir` or ``HF_ARGEN_DATA_DIR``. Extra columns: ``vendor``, ``category``, ``unified``.
* a local folder: a `save_to_disk` folder or an `imagefolder` whose ``metadata.jsonl`` holds a caption column
  (``{"file_name": "0001.png", "text": "a red circle"}``); any other string is a Hub dataset id. The caption column
  is `caption_column` (default ``"text"``; also found as ``caption``/``captions``/``sentence``).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from .data import DATA_DIR_ENV

SCENE_SIZE = 64
# Unordered digit pairs never shown in training (both orders); each digit keeps other partners.
HELD_OUT_PAIRS = ((0, 7), (1, 5), (2, 9), (3, 8), (4, 6))
SCENE_SPLITS = ("train", "test", "test_held_out_pairs")
EMOJI_VENDORS = ("apple", "google", "twitter", "facebook")
# drawings of one family: another release's vendor that must not train a model tested on the key vendor
RELATED_EMOJI_VENDORS = {"facebook": ("messenger",)}
SKIN_TONES = {
    "1F3FB": "light skin tone",
    "1F3FC": "medium-light skin tone",
    "1F3FD": "medium skin tone",
    "1F3FE": "medium-dark skin tone",
    "1F3FF": "dark skin tone",
}
_CAPTION_COLUMNS = ("text", "caption", "captions", "sentence", "sentences")


def load_caption_dataset(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    caption_column: str | None = None,
    image_column: str | None = None,
    cache_dir: str | None = None,
    **kwargs,
):
    """Load `split` of a captioned image dataset as a `datasets.Dataset` with columns `image` and `text`.

    Args:
        name: ``"mnist_scenes"``, ``"emoji"``, a local `save_to_disk`/`imagefolder` folder, or a Hub dataset id.
        split: split name (see the module docstring for the named datasets).
        data_dir: folder with the MNIST IDX files / the emoji packages (else ``$HF_ARGEN_DATA_DIR``).
        caption_column / image_column: source columns for folders and Hub datasets (detected when `None`).
        kwargs: options of the named datasets (:func:`make_mnist_scenes`, :func:`load_emoji_dataset`).
    """
    import datasets

    if name == "mnist_scenes":
        return make_mnist_scenes(split, data_dir=data_dir, **kwargs)
    if name == "emoji":
        return load_emoji_dataset(split, data_dir=data_dir, **kwargs)
    if kwargs:
        raise ValueError(f"Unexpected options {sorted(kwargs)} for dataset {name!r}.")
    path = Path(name)
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            dataset = datasets.load_from_disk(str(path))
            if isinstance(dataset, datasets.DatasetDict):
                if split not in dataset:
                    raise ValueError(f"`split` {split!r} not in {path} (has {list(dataset)}).")
                dataset = dataset[split]
        else:
            folder = datasets.load_dataset("imagefolder", data_dir=str(path), cache_dir=cache_dir)
            if split not in folder:
                raise ValueError(f"`split` {split!r} not in the imagefolder {path} (has {list(folder)}).")
            dataset = folder[split]
    else:
        dataset = datasets.load_dataset(name, split=split, cache_dir=cache_dir)
    return standardize_caption_columns(dataset, caption_column, image_column)


def standardize_caption_columns(dataset, caption_column: str | None = None, image_column: str | None = None):
    """Keep the image column (renamed `image`) and the caption column (renamed `text`, strings)."""
    import datasets

    features = dataset.features
    if image_column is None:
        image_column = next((c for c, f in features.items() if isinstance(f, datasets.Image)), None)
        if image_column is None:
            raise ValueError(f"No image column found in {list(features)}; pass `image_column`.")
    elif image_column not in features:
        raise ValueError(f"`image_column` {image_column!r} not in the dataset columns {list(features)}.")
    if caption_column is None:
        caption_column = next((c for c in _CAPTION_COLUMNS if c in features), None)
        if caption_column is None:
            raise ValueError(
                f"No caption column found in {list(features)}; pass `caption_column` (an imagefolder needs a "
                'metadata.jsonl with a caption per `file_name`, e.g. {"file_name": "0001.png", "text": "..."}).'
            )
    elif caption_column not in features:
        raise ValueError(f"`caption_column` {caption_column!r} not in the dataset columns {list(features)}.")
    feature = features[caption_column]
    if not (isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string")):
        raise ValueError(f"`caption_column` {caption_column!r} must hold strings, got {feature}.")
    dataset = dataset.select_columns([image_column, caption_column])
    if image_column != "image":
        dataset = dataset.rename_column(image_column, "image")
    if caption_column != "text":
        dataset = dataset.rename_column(caption_column, "text")
    return dataset


# ----------------------------------------------------------------------------------------------------------
# MNIST scenes
# ----------------------------------------------------------------------------------------------------------
def scene_caption(first: int, second: int, relation: str) -> str:
    """`(3, 7, "left")` -> "a 3 to the left of a 7"; `(3, 7, "above")` -> "a 3 above a 7"."""
    if relation == "left":
        return f"a {first} to the left of a {second}"
    if relation == "above":
        return f"a {first} above a {second}"
    raise ValueError(f"`relation` must be 'left' or 'above', got {relation!r}.")


def scene_pairs(split: str, held_out_pairs=HELD_OUT_PAIRS) -> list[tuple[int, int]]:
    """Ordered digit pairs `(first, second)` of a split: the seen pairs, or only the held-out ones (both orders)."""
    held = {frozenset(pair) for pair in held_out_pairs}
    for pair in held:
        if len(pair) != 2 or not all(isinstance(d, int) and 0 <= d <= 9 for d in pair):
            raise ValueError(f"`held_out_pairs` must be pairs of two different digits 0..9, got {held_out_pairs!r}.")
    pairs = [(a, b) for a in range(10) for b in range(10)]
    if split == "test_held_out_pairs":
        return [p for p in pairs if frozenset(p) in held]
    if split in ("train", "test"):
        return [p for p in pairs if frozenset(p) not in held]
    raise ValueError(f"`split` must be one of {SCENE_SPLITS} for 'mnist_scenes', got {split!r}.")


def compose_scene(
    first: np.ndarray, second: np.ndarray, relation: str, rng: np.random.Generator, size: int = SCENE_SIZE
) -> np.ndarray:
    """Place two uint8 digit images `(h, w)` on a black `size x size` canvas: `first` left of / above `second`,
    each at a jittered position (the two halves never overlap)."""
    canvas = np.zeros((size, size), dtype=np.uint8)
    h, w = first.shape
    half = size // 2
    if relation not in ("left", "above") or h > half + 8 or w > half + 8:
        raise ValueError(f"Cannot place {h}x{w} digits {relation!r} on a {size}x{size} canvas.")
    slack_along = max(half - w, 0)  # room inside each half along the relation's axis
    slack_across = size - h  # room across it
    for index, digit in enumerate((first, second)):
        along = index * half + int(rng.integers(0, slack_along + 1))
        across = int(rng.integers(slack_across // 4, slack_across - slack_across // 4 + 1))
        top, left = (across, along) if relation == "left" else (along, across)
        region = canvas[top : top + h, left : left + w]
        np.maximum(region, digit[: region.shape[0], : region.shape[1]], out=region)
    return canvas


def make_mnist_scenes(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    num_scenes: int | None = None,
    held_out_pairs=HELD_OUT_PAIRS,
    seed: int = 0,
):
    """Two-digit MNIST scenes -> Dataset (`image` 64x64 "L", `text`, `first`, `second`, `relation`).

    Training scenes use MNIST's training images, both test splits MNIST's test images only. `num_scenes` defaults to
    20,000 for ``"train"`` and 2,000 for the test splits; the same `seed` gives the same scenes."""
    import datasets

    from .data import _idx_file, find_idx_dir, read_idx

    pairs = scene_pairs(split, held_out_pairs)
    if num_scenes is None:
        num_scenes = 20_000 if split == "train" else 2_000
    if isinstance(num_scenes, bool) or not isinstance(num_scenes, int) or num_scenes < 1:
        raise ValueError(f"`num_scenes` must be a positive integer, got {num_scenes!r}.")
    folder = find_idx_dir("mnist", data_dir)
    source = "train" if split == "train" else "test"
    images_path, labels_path = _idx_file(folder, source, "images"), _idx_file(folder, source, "labels")
    if images_path is None or labels_path is None:
        raise ValueError(f"{folder} lacks MNIST's {source!r} IDX files.")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8 or len(images) != len(labels):
        raise ValueError(f"{folder}: MNIST images {images.shape} and labels {labels.shape} do not match.")
    by_digit = {d: np.flatnonzero(labels == d) for d in range(10)}
    pairs = [p for p in pairs if len(by_digit[p[0]]) and len(by_digit[p[1]])]
    if not pairs:
        raise ValueError(f"The MNIST {split!r} images hold no digits of the pairs of split {split!r}.")
    rng = np.random.default_rng([seed, SCENE_SPLITS.index(split)])
    rows = {"image": [], "text": [], "first": [], "second": [], "relation": []}
    for _ in range(num_scenes):
        first, second = pairs[int(rng.integers(len(pairs)))]
        relation = "left" if rng.random() < 0.5 else "above"
        a = images[rng.choice(by_digit[first])]
        b = images[rng.choice(by_digit[second])]
        rows["image"].append(_png(compose_scene(a, b, relation, rng)))
        rows["text"].append(scene_caption(first, second, relation))
        rows["first"].append(first)
        rows["second"].append(second)
        rows["relation"].append(relation)
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "text": datasets.Value("string"),
            "first": datasets.Value("int64"),
            "second": datasets.Value("int64"),
            "relation": datasets.Value("string"),
        }
    )
    return datasets.Dataset.from_dict(rows, features=features)


def _png(array: np.ndarray) -> dict:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return {"bytes": buffer.getvalue(), "path": None}


# ----------------------------------------------------------------------------------------------------------
# Emoji
# ----------------------------------------------------------------------------------------------------------
def find_emoji_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Folder holding `emoji.json` and `img/<vendor>/64/` (an extracted `emoji-datasource-*` npm package)."""
    roots = [Path(data_dir)] if data_dir else []
    if os.environ.get(DATA_DIR_ENV):
        roots.append(Path(os.environ[DATA_DIR_ENV]))
    candidates = [root / sub for root in roots for sub in ("", "package", "emoji", "emoji/package")]
    for folder in candidates:
        if (folder / "emoji.json").is_file() and (folder / "img").is_dir():
            return folder
    raise ValueError(
        f"No emoji data found (looked for emoji.json and img/ in {[str(c) for c in candidates] or 'nothing'}). "
        "Get it with `for v in apple google twitter facebook; do npm pack emoji-datasource-$v@16.0.0; done` and "
        "`for f in emoji-datasource-*.tgz; do tar xzf $f; done` in one folder, then pass that folder with "
        f"`--data_dir` (`data_dir=`) or set {DATA_DIR_ENV}."
    )


def emoji_records(folder: Path, vendor: str, skin_variations: bool = True) -> list[dict]:
    """`[{"path", "text", "category", "unified"}]` for every image `vendor` draws (per emoji.json's `has_img_*`)."""
    entries = json.loads((folder / "emoji.json").read_text(encoding="utf-8"))
    image_dir = folder / "img" / vendor / "64"
    records = []
    for entry in entries:
        name = entry.get("name") or (entry.get("short_name") or "").replace("_", " ")
        if not name:
            continue
        name = name.lower()
        variants = [(entry, name)]
        if skin_variations:
            for key, variation in sorted((entry.get("skin_variations") or {}).items()):
                tones = ", ".join(SKIN_TONES.get(part.upper(), part.lower()) for part in key.split("-"))
                variants.append((variation, f"{name}: {tones}"))
        for item, caption in variants:
            path = image_dir / item.get("image", "")
            if item.get(f"has_img_{vendor}") and path.is_file():
                records.append(
                    {
                        "path": path,
                        "text": caption,
                        "category": entry.get("category") or "",
                        "unified": item.get("unified") or "",
                    }
                )
    return records


def emoji_skin_tone(unified: str) -> tuple[str, int]:
    """`(base, tone)` of an emoji code point sequence: `base` without its skin-tone modifiers and `tone` the index
    (0 light .. 4 dark) of its one modifier, or -1 with none or with several different ones
    (``"1F44B-1F3FD"`` -> ``("1F44B", 2)``)."""
    parts = unified.upper().split("-")
    tones = {part for part in parts if part in SKIN_TONES}
    base = "-".join(part for part in parts if part not in SKIN_TONES)
    return base, (list(SKIN_TONES).index(tones.pop()) if len(tones) == 1 else -1)


def _code_key(unified: str) -> str:
    """Code points without variation selectors (FE0F), so releases that qualify an emoji differently match."""
    return "-".join(part for part in unified.upper().split("-") if part != "FE0F")


def emoji_release_records(folder: Path, vendor: str, named: dict, skin_variations: bool = True) -> list[dict]:
    """`vendor`'s drawings in another `emoji-datasource` release `folder`, captioned (with category and code points)
    as in `named`, the main release's records by :func:`_code_key`; emoji it does not name are left out."""
    records = []
    for record in emoji_records(folder, vendor, skin_variations):
        match = named.get(_code_key(record["unified"]))
        if match is not None:
            records.append({**record, **{key: match[key] for key in ("text", "category", "unified")}})
    return records


def emoji_folder_records(folder: Path, named: dict) -> list[dict]:
    """The PNGs of a folder named by code points (``1f44b-1f3fb.png``, as JoyPixels' `emoji-assets` ships them),
    captioned (with category and code points) as in `named`, the main release's records by :func:`_code_key`;
    files it does not name are left out. Joiners (200D) are ignored too: such folders often leave them out of names."""

    def loose(unified):
        return "-".join(part for part in _code_key(unified).split("-") if part != "200D")

    by_loose_key = {loose(record["unified"]): record for record in named.values()}
    records = []
    for path in sorted(folder.glob("*.png")):
        match = by_loose_key.get(loose(path.stem.replace("_", "-")))
        if match is not None:
            records.append({"path": path, **{key: match[key] for key in ("text", "category", "unified")}})
    return records


def _release_name(folder: Path) -> str:
    try:
        return json.loads((folder / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return folder.resolve().parent.name if folder.name == "package" else folder.name


def load_emoji_dataset(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    test_vendor: str = "facebook",
    vendors=EMOJI_VENDORS,
    skin_variations: bool = True,
    extra_releases=(),
    extra_vendors=(),
    extra_image_dirs=(),
):
    """Emoji images composited on white -> Dataset (`image` RGB, `text`, `vendor`, `category`, `unified`).

    `extra_releases`: folders of other `emoji-datasource` releases (each an extracted package, `emoji.json` +
    `img/<vendor>/64/`) whose drawings by the training vendors join ``"train"`` (vendor column
    ``"<vendor>@<version>"``), captioned with the main release's names; the test vendor's drawings in them are
    never used, and the other splits ignore them. `extra_vendors`: further drawing styles of those releases that
    join ``"train"`` too (e.g. ``"emojione"``), never one of `vendors` nor of the test vendor's family
    (Messenger for Facebook). `extra_image_dirs`: ``"<style>=<folder>"`` entries, folders of 64x64 PNGs named by
    code points (:func:`emoji_folder_records`) whose drawings join ``"train"`` as vendor ``<style>``, under the
    same rule."""
    import datasets
    from PIL import Image

    vendors = tuple(vendors)
    if test_vendor not in vendors or not set(vendors) <= set(EMOJI_VENDORS):
        raise ValueError(f"`vendors` must be among {EMOJI_VENDORS} and include `test_vendor` {test_vendor!r}.")
    if split == "train":
        chosen = [v for v in vendors if v != test_vendor]
    elif split == "test":
        chosen = [test_vendor]
    elif split in EMOJI_VENDORS:
        chosen = [split]
    else:
        raise ValueError(f"`split` must be 'train', 'test' or a vendor {EMOJI_VENDORS} for 'emoji', got {split!r}.")
    extra_vendors = tuple(extra_vendors)
    family = {test_vendor, *RELATED_EMOJI_VENDORS.get(test_vendor, ())}
    image_dirs = []
    for entry in extra_image_dirs:
        style, sep, image_dir = str(entry).partition("=")
        if not (sep and style and image_dir):
            raise ValueError(f"`extra_image_dirs` entries must read '<style>=<folder>', got {entry!r}.")
        if not any(Path(image_dir).glob("*.png")):
            raise ValueError(f"`extra_image_dirs`: {image_dir} holds no PNG images.")
        image_dirs.append((style, Path(image_dir)))
    styles = [*extra_vendors, *(style for style, _ in image_dirs)]
    clash = sorted(set(styles) & (set(EMOJI_VENDORS) | family))
    if clash:
        raise ValueError(
            f"`extra_vendors` and `extra_image_dirs` must be drawing styles other than {EMOJI_VENDORS} and the "
            f"test vendor's family {sorted(family)}, got {clash}."
        )
    if extra_vendors and not extra_releases:
        raise ValueError("`extra_vendors` needs `extra_releases`: the releases that hold their drawings.")
    folder = find_emoji_dir(data_dir)
    sources = []  # (vendor column, records)
    for vendor in chosen:
        records = emoji_records(folder, vendor, skin_variations)
        if not records:
            raise ValueError(f"{folder} holds no images of vendor {vendor!r} (expected img/{vendor}/64/*.png).")
        sources.append((vendor, records))
    if split == "train":
        named = {_code_key(record["unified"]): record for _, records in sources for record in records}
        for release in map(Path, extra_releases):
            if not (release / "emoji.json").is_file():
                raise ValueError(f"`extra_releases`: {release} is not an emoji-datasource package (no emoji.json).")
            found = [(v, emoji_release_records(release, v, named, skin_variations)) for v in (*chosen, *extra_vendors)]
            found = [(v, records) for v, records in found if records]
            if not found:
                raise ValueError(
                    f"`extra_releases`: {release} holds no drawings of {[*chosen, *extra_vendors]} "
                    f"(expected img/<vendor>/64/*.png; the test vendor {test_vendor!r} is never used)."
                )
            version = _release_name(release)
            sources.extend((f"{vendor}@{version}", records) for vendor, records in found)
        for style, image_dir in image_dirs:
            records = emoji_folder_records(image_dir, named)
            if not records:
                raise ValueError(
                    f"`extra_image_dirs`: no image in {image_dir} is named by code points of an emoji "
                    f"of {folder} (expected e.g. 1f44b-1f3fb.png)."
                )
            sources.append((style, records))
    rows = {"image": [], "text": [], "vendor": [], "category": [], "unified": []}
    for vendor, records in sources:
        for record in records:
            with Image.open(record["path"]) as image:
                rgba = image.convert("RGBA")
            canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            rows["image"].append(_png(np.asarray(Image.alpha_composite(canvas, rgba).convert("RGB"))))
            rows["text"].append(record["text"])
            rows["vendor"].append(vendor)
            rows["category"].append(record["category"])
            rows["unified"].append(record["unified"])
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "text": datasets.Value("string"),
            "vendor": datasets.Value("string"),
            "category": datasets.Value("string"),
            "unified": datasets.Value("string"),
        }
    )
    return datasets.Dataset.from_dict(rows, features=features)


__all__ = [
    "EMOJI_VENDORS",
    "HELD_OUT_PAIRS",
    "compose_scene",
    "emoji_skin_tone",
    "find_emoji_dir",
    "load_caption_dataset",
    "load_emoji_dataset",
    "make_mnist_scenes",
    "scene_caption",
    "scene_pairs",
    "standardize_caption_columns",
]
