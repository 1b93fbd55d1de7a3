"""The figures of the shipped captioners (`hf-argen evaluate`): exact match and BLEU-4 per split of
``mnist_scenes`` and ``emoji``, on the emoji every vendor draws, beside the nearest-neighbour baseline and decoding
restricted to the training names."""

from __future__ import annotations

from ..caption_evaluation import caption_scores, generate_captions, nearest_neighbour_captions
from .datasets import load_captions
from .emoji import EMOJI_VENDORS, emoji_records, find_emoji_dir

DEFAULT_SPLITS = {"mnist_scenes": ("test", "test_held_out_pairs"), "emoji": ("test",)}


SPLIT_DESCRIPTIONS = {
    ("mnist_scenes", "test"): "held-out MNIST test images, seen digit pairs",
    ("mnist_scenes", "test_held_out_pairs"): "held-out digit pairs (never in training), MNIST test images",
}


def short_caption_note(rows: list[dict]) -> str | None:
    """A note for rows whose BLEU-4 says nothing: references of fewer than 4 words (no 4-grams) score 0 whatever the
    captions; exact match is the figure then."""
    if any(row.get("mean_reference_words", 4) < 4 for row in rows):
        return (
            "note: BLEU-4 counts matching 4-word sequences; captions shorter than 4 words have none, so it is 0 "
            "whatever the captions (mean reference length below 4 words here): read exact match instead."
        )
    return None


def emoji_common_indices(test_set, data_dir=None) -> list[int]:
    """Indices of `test_set` rows (an emoji split) whose emoji every one of the four vendors draws."""
    folder = find_emoji_dir(data_dir)
    drawn = [{r["unified"] for r in emoji_records(folder, vendor)} for vendor in EMOJI_VENDORS]
    common = set.intersection(*drawn)
    return [i for i, code in enumerate(test_set["unified"]) if code in common]


def evaluate_captioner_on_dataset(
    model,
    processor,
    dataset_name: str,
    splits=None,
    data_dir=None,
    caption_column: str | None = None,
    test_vendor: str = "facebook",
    batch_size: int = 64,
    num_beams: int = 1,
    max_samples: int | None = None,
    baseline: bool = True,
    progress: bool = False,
    closed_vocabulary: bool = False,
) -> list[dict]:
    """Exact match and BLEU-4 of `model` on each split of `dataset_name`; for ``emoji`` also on the emoji all four
    vendors draw, beside the nearest-neighbour (16x16 raw pixels) baseline over the training vendors' images.

    With `closed_vocabulary` (``emoji``), each split is also captioned with decoding restricted to the training
    split's captions (:func:`hf_argen.caption_evaluation.caption_constraint`), reported as its own system.

    Returns rows ``{"dataset", "split", "subset", "system", "exact_match", "bleu4", "num_images"}``."""
    options = {"test_vendor": test_vendor} if dataset_name == "emoji" else {}
    if dataset_name not in ("mnist_scenes", "emoji"):
        options = {"caption_column": caption_column}
    loaded = {}
    if not splits and dataset_name not in DEFAULT_SPLITS:  # a folder / Hub id: its test split, else validation
        try:
            loaded["test"] = load_captions(dataset_name, "test", data_dir=data_dir, **options)
        except ValueError:
            splits = ["validation"]
    splits = list(splits or DEFAULT_SPLITS.get(dataset_name, ("test",)))
    generate = dict(batch_size=batch_size, num_beams=num_beams, progress=progress)
    rows = []
    for split in splits:
        dataset = loaded.get(split) or load_captions(dataset_name, split, data_dir=data_dir, **options)
        if max_samples is not None:
            dataset = dataset.select(range(min(max_samples, len(dataset))))
        references = list(dataset["text"])
        predictions = generate_captions(model, processor, dataset["image"], **generate)
        subset = SPLIT_DESCRIPTIONS.get((dataset_name, split), "all images")
        if dataset_name == "emoji":
            subset = f"vendor {test_vendor if split == 'test' else split} (unseen drawing style), all its images"
        row = {"dataset": dataset_name, "split": split}
        rows.append({**row, "subset": subset, "system": "captioner", **caption_scores(predictions, references)})
        if dataset_name == "emoji" and split != "train":
            vendor, train, closed = test_vendor if split == "test" else split, None, None
            if baseline or closed_vocabulary:  # the training split without the evaluated vendor
                train = load_captions("emoji", "train", data_dir=data_dir, **options)
                train = train.select([i for i, v in enumerate(train["vendor"]) if v != vendor])
            if closed_vocabulary:
                closed = generate_captions(
                    model, processor, dataset["image"], allowed_captions=list(train["text"]), **generate
                )
            common = emoji_common_indices(dataset, data_dir)
            rows += _emoji_rows(row, subset, predictions, dataset, common, train if baseline else None, closed)
    return rows


def _emoji_rows(row: dict, subset: str, predictions, dataset, common: list[int], gallery=None, closed=None):
    """The emoji rows beside the captioner's: its figures on the emoji all four vendors draw (`common`), the
    nearest-neighbour baseline over `gallery` (the other vendors' images) when given, and `closed`, the captions
    decoded within the training names, when given."""
    references = list(dataset["text"])
    common_refs = [references[i] for i in common]
    everywhere = {**row, "subset": "emoji all four vendors draw"}
    rows = [{**everywhere, "system": "captioner", **caption_scores([predictions[i] for i in common], common_refs)}]
    if gallery is not None:
        codes = set(dataset.select(common)["unified"])
        gallery = gallery.select([i for i, code in enumerate(gallery["unified"]) if code in codes])
        guesses = nearest_neighbour_captions(gallery["image"], list(gallery["text"]), dataset.select(common)["image"])
        system = "nearest neighbour, raw 16x16 pixels"
        rows.append({**everywhere, "system": system, **caption_scores(guesses, common_refs)})
    if closed is not None:
        system = "captioner, decoding restricted to the training names"
        rows.append({**row, "subset": subset, "system": system, **caption_scores(closed, references)})
        rows.append({**everywhere, "system": system, **caption_scores([closed[i] for i in common], common_refs)})
    return rows


__all__ = ["DEFAULT_SPLITS", "emoji_common_indices", "evaluate_captioner_on_dataset", "short_caption_note"]
