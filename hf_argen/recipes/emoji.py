"""Emoji datasets of the recipes, from the npm packages ``emoji-datasource-{apple,google,twitter,facebook}`` 16.0.0
(64x64 RGBA PNGs under ``img/<vendor>/64/``, names and categories in ``emoji.json``). Get them with
``npm pack emoji-datasource-apple@16.0.0`` (etc.) and ``tar xzf`` each archive in one folder (they merge into
``package/img/<vendor>/64/*.png`` + ``package/emoji.json``); pass that folder as `data_dir` or
``$HF_ARGEN_DATA_DIR`` (:func:`find_emoji_dir`).

* Image models (:func:`load_emoji_image_dataset`): composited on white and area-resized to 32x32 RGB; ``label`` =
  the emoji's category (a ClassLabel over the categories of ``emoji.json``, sorted). Test split: a fixed 10 % of
  emoji *names*, held out for every vendor: the names (lower case, sorted) whose index `i % 10 == 0`
  (:func:`emoji_test_names`); train = the other names, every vendor that draws them. Skin-tone variants are left
  out by default (they would make "People & Body" most of the data); with them, a variant follows its base emoji's
  split. Extra columns ``name`` and ``vendor``.
* The captioner (:func:`load_emoji_dataset`): composited on white (RGB, 64x64), caption = the emoji's name in lower
  case (skin-tone variants add ": <tone>"). ``split`` is ``"train"`` (every vendor but `test_vendor`), ``"test"``
  (`test_vendor`, default ``"facebook"``) or a vendor name. Extra columns: ``vendor``, ``category``, ``unified``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import datasets
from PIL import Image

from ..caption_data import captioned_image_dataset
from ..data import png_cell
from .sources import DATA_DIR_ENV, data_roots

EMOJI_IMAGE_SIZE = 32


EMOJI_SPLITS = ("train", "test")


EMOJI_TEST_EVERY = 10
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


def find_emoji_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Folder holding `emoji.json` and `img/<vendor>/64/` (an extracted `emoji-datasource-*` npm package)."""
    candidates = [root / sub for root in data_roots(data_dir) for sub in ("", "package", "emoji", "emoji/package")]
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


# ----------------------------------------------------------------------------------------------------------
# Emoji images with their categories (for image models)
# ----------------------------------------------------------------------------------------------------------
def emoji_test_names(names) -> set[str]:
    """The held-out emoji names: of the distinct names, sorted, those whose index `i % 10 == 0` (a fixed 10 %)."""
    ordered = sorted({str(n).lower() for n in names})
    return {name for i, name in enumerate(ordered) if i % EMOJI_TEST_EVERY == 0}


def _emoji_entries(folder: Path) -> tuple[list[str], dict[str, str]]:
    """`(categories sorted, {unified code of an emoji or of a skin-tone variant: the base emoji's name})`."""
    entries = json.loads((folder / "emoji.json").read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise ValueError(f"{folder / 'emoji.json'} must hold a list of emoji, got {type(entries).__name__}.")
    categories, base_name = set(), {}
    for entry in entries:
        name = (entry.get("name") or (entry.get("short_name") or "").replace("_", " ")).lower()
        if not name:
            continue
        categories.add(entry.get("category") or "")
        base_name[entry.get("unified") or ""] = name
        for variation in (entry.get("skin_variations") or {}).values():
            base_name[variation.get("unified") or ""] = name
    return sorted(categories), base_name


def emoji_image(path, image_size: int | None = EMOJI_IMAGE_SIZE):
    """An emoji PNG -> RGB PIL image `image_size` square (None: as drawn): composited on white, then area-resized
    (box filter)."""
    with Image.open(path) as image:
        rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    if image_size is not None and rgb.size != (image_size, image_size):
        rgb = rgb.resize((image_size, image_size), Image.BOX)
    return rgb


def load_emoji_image_dataset(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    image_size: int = EMOJI_IMAGE_SIZE,
    vendors=None,
    skin_variations: bool = False,
):
    """Emoji images with their category -> Dataset (`image` RGB `image_size` square, `label`, `name`, `vendor`).

    `split` is ``"train"`` or ``"test"``: the test split holds the emoji of :func:`emoji_test_names` (a fixed 10 %
    of the names of ``emoji.json``) from every vendor, train the rest. Rows go vendor by vendor (`vendors`, default
    those of apple, google, twitter, facebook whose ``img/<vendor>/64`` folder is there), each in ``emoji.json``
    order. `label` is a ClassLabel whose names are the
    categories of ``emoji.json``, sorted. `skin_variations` adds the skin-tone variants (in their base emoji's
    split and category).
    """
    if split not in EMOJI_SPLITS:
        raise ValueError(f"`split` must be one of {EMOJI_SPLITS} for 'emoji', got {split!r}.")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or not 1 <= image_size <= 64:
        raise ValueError(f"`image_size` must be an integer in [1, 64] (the PNGs are 64x64), got {image_size!r}.")
    folder = find_emoji_dir(data_dir)
    if vendors is None:  # every vendor whose package is there
        vendors = tuple(v for v in EMOJI_VENDORS if (folder / "img" / v / "64").is_dir())
    vendors = tuple(vendors)
    if not vendors or not set(vendors) <= set(EMOJI_VENDORS):
        raise ValueError(f"`vendors` must be a non-empty selection of {EMOJI_VENDORS}, got {vendors!r}.")
    categories, base_name = _emoji_entries(folder)
    held_out = emoji_test_names(base_name.values())
    rows = {"image": [], "label": [], "name": [], "vendor": []}
    for vendor in vendors:
        records = emoji_records(folder, vendor, skin_variations)
        if not records:
            raise ValueError(f"{folder} holds no images of vendor {vendor!r} (expected img/{vendor}/64/*.png).")
        for record in records:
            name = base_name.get(record["unified"], record["text"])
            if (name in held_out) != (split == "test"):
                continue
            rows["image"].append(png_cell(emoji_image(record["path"], image_size)))
            rows["label"].append(categories.index(record["category"]))
            rows["name"].append(record["text"])
            rows["vendor"].append(vendor)
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=categories),
            "name": datasets.Value("string"),
            "vendor": datasets.Value("string"),
        }
    )
    return datasets.Dataset.from_dict(rows, features=features)


# ----------------------------------------------------------------------------------------------------------
# Emoji images with their names (for the captioner)
# ----------------------------------------------------------------------------------------------------------
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
    chosen = _split_vendors(split, tuple(vendors), test_vendor)
    image_dirs = _extra_image_dirs(extra_image_dirs)
    _check_extra_styles([*extra_vendors, *(style for style, _ in image_dirs)], test_vendor)
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
            sources += _release_sources(release, named, [*chosen, *extra_vendors], skin_variations, test_vendor)
        for style, image_dir in image_dirs:
            records = emoji_folder_records(image_dir, named)
            if not records:
                raise ValueError(
                    f"`extra_image_dirs`: no image in {image_dir} is named by code points of an emoji "
                    f"of {folder} (expected e.g. 1f44b-1f3fb.png)."
                )
            sources.append((style, records))
    return _caption_dataset(sources)


def _split_vendors(split: str, vendors: tuple[str, ...], test_vendor: str) -> list[str]:
    """The vendors whose drawings make `split`: all but the test vendor, the test vendor, or one vendor."""
    if test_vendor not in vendors or not set(vendors) <= set(EMOJI_VENDORS):
        raise ValueError(f"`vendors` must be among {EMOJI_VENDORS} and include `test_vendor` {test_vendor!r}.")
    if split == "train":
        return [v for v in vendors if v != test_vendor]
    if split == "test":
        return [test_vendor]
    if split in EMOJI_VENDORS:
        return [split]
    raise ValueError(f"`split` must be 'train', 'test' or a vendor {EMOJI_VENDORS} for 'emoji', got {split!r}.")


def _extra_image_dirs(entries) -> list[tuple[str, Path]]:
    """``"<style>=<folder>"`` entries -> `(style, folder)` pairs; ValueError for a malformed or empty one."""
    image_dirs = []
    for entry in entries:
        style, sep, image_dir = str(entry).partition("=")
        if not (sep and style and image_dir):
            raise ValueError(f"`extra_image_dirs` entries must read '<style>=<folder>', got {entry!r}.")
        if not any(Path(image_dir).glob("*.png")):
            raise ValueError(f"`extra_image_dirs`: {image_dir} holds no PNG images.")
        image_dirs.append((style, Path(image_dir)))
    return image_dirs


def _check_extra_styles(styles: list[str], test_vendor: str) -> None:
    """Extra drawing styles are never one of the four vendors nor of the test vendor's family."""
    family = {test_vendor, *RELATED_EMOJI_VENDORS.get(test_vendor, ())}
    clash = sorted(set(styles) & (set(EMOJI_VENDORS) | family))
    if clash:
        raise ValueError(
            f"`extra_vendors` and `extra_image_dirs` must be drawing styles other than {EMOJI_VENDORS} and the "
            f"test vendor's family {sorted(family)}, got {clash}."
        )


def _release_sources(release: Path, named: dict, vendors: list[str], skin_variations: bool, test_vendor: str):
    """`[("<vendor>@<version>", records)]`: the drawings of `vendors` in another release, named as in `named`."""
    if not (release / "emoji.json").is_file():
        raise ValueError(f"`extra_releases`: {release} is not an emoji-datasource package (no emoji.json).")
    found = [(v, emoji_release_records(release, v, named, skin_variations)) for v in vendors]
    found = [(v, records) for v, records in found if records]
    if not found:
        raise ValueError(
            f"`extra_releases`: {release} holds no drawings of {vendors} "
            f"(expected img/<vendor>/64/*.png; the test vendor {test_vendor!r} is never used)."
        )
    version = _release_name(release)
    return [(f"{vendor}@{version}", records) for vendor, records in found]


def _caption_dataset(sources) -> datasets.Dataset:
    """`[(vendor column, records)]` -> Dataset (`image` RGB composited on white, `text`, `vendor`, `category`,
    `unified`)."""
    rows = [
        {
            "image": png_cell(emoji_image(record["path"], image_size=None)),
            "vendor": vendor,
            **{key: record[key] for key in ("text", "category", "unified")},
        }
        for vendor, records in sources
        for record in records
    ]
    return captioned_image_dataset(rows, vendor="string", category="string", unified="string")


__all__ = [
    "EMOJI_VENDORS",
    "SKIN_TONES",
    "emoji_image",
    "emoji_records",
    "emoji_skin_tone",
    "emoji_test_names",
    "find_emoji_dir",
    "load_emoji_dataset",
    "load_emoji_image_dataset",
]
