"""A fake emoji-datasource package for tests: 12 emoji of 7 categories drawn as coloured squares by two vendors."""

import json

import numpy as np
from PIL import Image

FAKE_EMOJI = [  # (name, category, drawn by google too)
    ("GRINNING FACE", "Smileys & Emotion", True),
    ("WAVING HAND SIGN", "People & Body", True),
    ("DOG FACE", "Animals & Nature", True),
    ("CAT FACE", "Animals & Nature", True),
    ("RED APPLE", "Food & Drink", False),
    ("PIZZA", "Food & Drink", True),
    ("SOCCER BALL", "Activities", True),
    ("ROCKET", "Travel & Places", True),
    ("KEYCAP: *", "Symbols", True),
    ("HEAVY BLACK HEART", "Smileys & Emotion", True),
    ("THUMBS UP SIGN", "People & Body", True),
    ("AIRPLANE", "Travel & Places", True),
]


def fake_emoji_package(root, extra_vendors=()):
    """`root/package/{emoji.json, img/apple/64/*.png, img/google/64/*.png}`: 12 emoji (one with two skin tones);
    google lacks RED APPLE; `extra_vendors` (e.g. twitter) draw every emoji. Each emoji is a coloured square on
    transparency."""
    folder = root / "package"
    entries = []
    for index, (name, category, google) in enumerate(FAKE_EMOJI):
        code = f"1F{index:03X}"
        entry = {"name": name, "unified": code, "image": f"{code.lower()}.png", "short_name": name.lower(),
                 "category": category, "has_img_apple": True, "has_img_google": google,
                 **{f"has_img_{vendor}": True for vendor in extra_vendors}}  # fmt: skip
        if name == "WAVING HAND SIGN":
            entry["skin_variations"] = {
                tone: {
                    "unified": f"{code}-{tone}",
                    "image": f"{code.lower()}-{tone.lower()}.png",
                    "has_img_apple": True,
                    "has_img_google": True,
                    **{f"has_img_{vendor}": True for vendor in extra_vendors},
                }  # fmt: skip
                for tone in ("1F3FB", "1F3FF")
            }
        entries.append(entry)
    for vendor in ("apple", "google", *extra_vendors):
        image_dir = folder / "img" / vendor / "64"
        image_dir.mkdir(parents=True)
        for index, entry in enumerate(entries):
            items = [entry, *(entry.get("skin_variations") or {}).values()]
            for item in items:
                if item[f"has_img_{vendor}"]:
                    rgba = np.zeros((64, 64, 4), dtype=np.uint8)
                    rgba[16:48, 16:48] = (20 * index, 100, 200 if vendor == "apple" else 50, 255)
                    Image.fromarray(rgba, mode="RGBA").save(image_dir / item["image"])
    (folder / "emoji.json").write_text(json.dumps(entries))
    return folder
