"""Captioner processor: an image processor and a caption tokenizer in one object (`AutoProcessor`)."""

from __future__ import annotations

import numbers

from transformers import BatchFeature, ProcessorMixin

from .image_processing_captioner import CaptionerImageProcessor  # noqa: F401  (saved beside it for remote code)


class CaptionerProcessor(ProcessorMixin):
    r"""Bundles a [`CaptionerImageProcessor`] and a `PreTrainedTokenizerFast` (with bos/eos/pad tokens).

    `processor(images=..., text=...)` returns `pixel_values` and, for captions, `decoder_input_ids`
    (`bos caption eos`, right-padded), `decoder_attention_mask` and `labels` (= `decoder_input_ids` with padding set
    to -100), ready for `CaptionerForConditionalGeneration(**batch)`. `batch_decode`/`decode` turn generated ids
    back into captions.
    """

    def __init__(self, image_processor=None, tokenizer=None, **kwargs):
        super().__init__(image_processor, tokenizer, **kwargs)

    def __call__(self, images=None, text=None, return_tensors="pt", max_length: int | None = None, **kwargs):
        if images is None and text is None:
            raise ValueError("Pass `images`, `text` (captions), or both.")
        data = {}
        if images is not None:
            data.update(self.image_processor(images, return_tensors=return_tensors))
        if text is not None:
            data.update(self.encode_captions(text, max_length=max_length, return_tensors=return_tensors))
        return BatchFeature(data, tensor_type=return_tensors)

    def encode_captions(self, text, max_length: int | None = None, return_tensors="pt") -> dict:
        """Captions -> `decoder_input_ids` (`bos ... eos`, right-padded), `decoder_attention_mask`, `labels`."""
        tokenizer = self.tokenizer
        if isinstance(text, str):
            text = [text]
        elif not isinstance(text, (list, tuple)) and hasattr(text, "__iter__"):
            text = list(text)  # e.g. a `datasets` Column
        if not isinstance(text, (list, tuple)) or not all(isinstance(t, str) for t in text):
            raise ValueError("`text` must be a caption string or a list of caption strings.")
        if not text:
            raise ValueError("`text` is an empty list of captions.")
        bad_type = isinstance(max_length, bool) or not isinstance(max_length, numbers.Integral)
        if max_length is not None and (bad_type or max_length < 2):
            raise ValueError(f"`max_length` must be an integer >= 2 (bos and eos), got {max_length!r}.")
        for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
            if getattr(tokenizer, name) is None:
                raise ValueError(f"The tokenizer needs a {name[:-3]} (bos, eos and pad tokens are required).")
        ids = [
            [tokenizer.bos_token_id] + tokenizer.encode(t, add_special_tokens=False) + [tokenizer.eos_token_id]
            for t in text
        ]
        if max_length is not None:
            ids = [row[: max_length - 1] + [tokenizer.eos_token_id] if len(row) > max_length else row for row in ids]
        longest = max(len(row) for row in ids)
        pad = tokenizer.pad_token_id
        input_ids = [row + [pad] * (longest - len(row)) for row in ids]
        mask = [[1] * len(row) + [0] * (longest - len(row)) for row in ids]
        labels = [row + [-100] * (longest - len(row)) for row in ids]
        return {"decoder_input_ids": input_ids, "decoder_attention_mask": mask, "labels": labels}

    def batch_decode(self, sequences, skip_special_tokens: bool = True, **kwargs) -> list[str]:
        texts = self.tokenizer.batch_decode(sequences, skip_special_tokens=skip_special_tokens, **kwargs)
        return [" ".join(text.split()) for text in texts]

    def decode(self, sequence, skip_special_tokens: bool = True, **kwargs) -> str:
        return " ".join(self.tokenizer.decode(sequence, skip_special_tokens=skip_special_tokens, **kwargs).split())

    @property
    def model_input_names(self):
        return ["pixel_values", "decoder_input_ids", "decoder_attention_mask"]


__all__ = ["CaptionerProcessor"]
