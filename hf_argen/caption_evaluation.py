"""Scoring captioners: captions generated for a dataset, exact match and BLEU-4 (`sacrebleu`), and the
nearest-neighbour baseline on raw pixels. Used by `training/train_captioner.py` (validation exact match) and
`hf-argen evaluate` (the shipped figures).
"""

from __future__ import annotations

import numpy as np
import torch


def normalize_caption(text: str) -> str:
    """Lower-cased, whitespace collapsed: the form captions are compared in (the tokenizer lower-cases)."""
    return " ".join(str(text).lower().split())


def exact_match(predictions: list[str], references: list[str]) -> float:
    """Share (%) of predictions equal to their reference after :func:`normalize_caption`."""
    if len(predictions) != len(references) or not references:
        raise ValueError(f"Need equally many predictions and references, got {len(predictions)} and {len(references)}.")
    hits = sum(normalize_caption(p) == normalize_caption(r) for p, r in zip(predictions, references))
    return 100.0 * hits / len(references)


def bleu4(predictions: list[str], references: list[str]) -> float:
    """Corpus BLEU-4 (`sacrebleu.corpus_bleu`, default 13a tokenisation, one reference per image), 0..100."""
    try:
        import sacrebleu
    except ImportError as error:  # an optional dependency (the [train] extra)
        raise ImportError(
            "BLEU needs sacrebleu: `pip install sacrebleu` (or `pip install hf_argen[train]`)."
        ) from error
    predictions = [normalize_caption(p) for p in predictions]
    references = [normalize_caption(r) for r in references]
    return float(sacrebleu.corpus_bleu(predictions, [references]).score)


def caption_scores(predictions: list[str], references: list[str]) -> dict:
    """`{"exact_match": %, "bleu4": 0..100, "num_images": N, "mean_reference_words": mean words per reference}` (BLEU-4
    is 0 for references shorter than 4 words: they have no 4-grams)."""
    words = [len(normalize_caption(r).split()) for r in references]
    return {
        "exact_match": exact_match(predictions, references),
        "bleu4": bleu4(predictions, references),
        "num_images": len(references),
        "mean_reference_words": sum(words) / max(len(words), 1),
    }


def caption_constraint(tokenizer, captions):
    """`prefix_allowed_tokens_fn` for `generate()` that lets the decoder write only one of `captions` (closed-
    vocabulary decoding: a trie of their token ids, each ended by EOS). Decoder inputs start with one start token."""
    trie: dict[tuple, set] = {}
    for caption in set(captions):
        ids = tokenizer.encode(caption, add_special_tokens=False) + [tokenizer.eos_token_id]
        for end in range(len(ids)):
            trie.setdefault(tuple(ids[:end]), set()).add(ids[end])
    allowed = {prefix: sorted(tokens) for prefix, tokens in trie.items()}
    finished = [tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id]

    def prefix_allowed_tokens_fn(batch_id, input_ids):
        return allowed.get(tuple(input_ids[1:].tolist()), finished)

    return prefix_allowed_tokens_fn


@torch.no_grad()
def generate_captions(
    model,
    processor,
    images,
    batch_size: int = 64,
    num_beams: int = 1,
    max_new_tokens: int | None = None,
    progress: bool = False,
    allowed_captions=None,
) -> list[str]:
    """Captions of `images` (a list, or a `datasets` column of PIL images) by `model` (greedy or beam search);
    with `allowed_captions`, decoding may only write one of them (:func:`caption_constraint`)."""
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    kwargs = {"num_beams": num_beams, "do_sample": False}
    if allowed_captions is not None:
        kwargs["prefix_allowed_tokens_fn"] = caption_constraint(processor.tokenizer, allowed_captions)
    if max_new_tokens is not None:
        kwargs["max_new_tokens"] = max_new_tokens
    captions = []
    for start in tqdm(range(0, len(images), batch_size), disable=not progress, desc="captioning"):
        chunk = images[start : start + batch_size]
        pixels = processor.image_processor(list(chunk), return_tensors="pt")["pixel_values"]
        tokens = model.generate(pixel_values=pixels.to(device, model.dtype), **kwargs)
        captions += processor.batch_decode(tokens, skip_special_tokens=True)
    return captions


def pixel_vectors(images, size: int = 16) -> np.ndarray:
    """Images (PIL, any mode; transparency on white) -> `(N, 3 * size * size)` float32 RGB in [0, 1]."""
    from PIL import Image

    rows = []
    for image in images:
        if image.mode in ("RGBA", "LA", "P"):
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        small = image.convert("RGB").resize((size, size), Image.BILINEAR)
        rows.append(np.asarray(small, dtype=np.float32).reshape(-1) / 255.0)
    return np.stack(rows)


def nearest_neighbour_captions(
    train_images, train_captions: list[str], test_images, size: int = 16, batch_size: int = 512
) -> list[str]:
    """The baseline: each test image gets the caption of its nearest training image (Euclidean distance on raw
    `size x size` RGB pixels)."""
    gallery = torch.from_numpy(pixel_vectors(train_images, size))
    queries = torch.from_numpy(pixel_vectors(test_images, size))
    nearest = []
    for start in range(0, len(queries), batch_size):
        nearest.append(torch.cdist(queries[start : start + batch_size], gallery).argmin(dim=1))
    return [train_captions[i] for i in torch.cat(nearest).tolist()]


# ----------------------------------------------------------------------------------------------------------
# The figures of the shipped captioners
# ----------------------------------------------------------------------------------------------------------


__all__ = [
    "bleu4",
    "caption_constraint",
    "caption_scores",
    "exact_match",
    "generate_captions",
    "nearest_neighbour_captions",
    "normalize_caption",
    "pixel_vectors",
]
