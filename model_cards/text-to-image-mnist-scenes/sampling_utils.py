"""Sampling helpers shared by the generative models: one source of randomness, sampling arguments checked by
`transformers.GenerationConfig`, class names -> ids.

Randomness: a `torch.Generator` on any device (values are drawn where the generator lives and then moved to the
model's device, as `diffusers.utils.torch_utils.randn_tensor`, so a CPU generator gives the same samples whatever the
model's device), or `None` for the global RNG. An int seed becomes a generator in one place: `make_generator`.
Imports nothing from hf_argen: every model folder carries an identical copy for remote code.
"""

from __future__ import annotations

import copy

import torch
from transformers import GenerationConfig
from transformers.generation.logits_process import (
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

# What sampling means when a model's `generation_config` says nothing: no temperature, top-k or top-p warping.
SAMPLING_DEFAULTS = dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0)


def make_generator(generator: torch.Generator | None = None, seed: int | None = None) -> torch.Generator | None:
    """The one place an int seed is accepted: `seed` -> a CPU `torch.Generator` seeded with it (device-independent
    samples); a `generator` passes through; neither means `None` (the global RNG).

    Raises `ValueError` for both, for a `generator` that is not a `torch.Generator` (an int belongs in `seed`) and
    for a `seed` that is not an int.
    """
    if generator is not None and seed is not None:
        raise ValueError("pass either `generator` or `seed`, not both.")
    if generator is not None and not isinstance(generator, torch.Generator):
        if isinstance(generator, int) and not isinstance(generator, bool):
            raise ValueError(f"`generator` must be a torch.Generator, got {generator}; pass `seed={generator}`.")
        raise ValueError(f"`generator` must be a torch.Generator, got {type(generator).__name__}.")
    if seed is None:
        return generator
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"`seed` must be an int (or use `generator=torch.Generator()`), got {type(seed).__name__}.")
    if not 0 <= seed < 2**64:
        raise ValueError(f"`seed` must be in [0, 2**64), got {seed}.")
    return torch.Generator(device="cpu").manual_seed(seed)


def rand_tensor(shape, generator: torch.Generator | None, device, dtype: torch.dtype = torch.float32):
    """Uniform samples in [0, 1) of `shape` on `device`, drawn on the generator's device, then moved."""
    device = torch.device(device)
    if generator is None:
        return torch.rand(shape, device=device, dtype=dtype)
    if generator.device.type == device.type:
        return torch.rand(shape, generator=generator, device=device, dtype=dtype)
    return torch.rand(shape, generator=generator, device=generator.device, dtype=dtype).to(device)


def inverse_cdf_sample(scores: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """One index per row of `scores` `(B, N)` (logits or log-probabilities) by inverting the CDF of their softmax at
    `uniform` `(B, 1)`: `(B,)` long. Indices of zero probability (masked to -inf) are never drawn."""
    cdf = torch.softmax(scores, dim=-1).cumsum_(dim=-1)
    indices = torch.searchsorted(cdf, uniform, right=True).squeeze(1)
    return indices.clamp_(max=cdf.shape[1] - 1)  # where rounding leaves cdf[:, -1] below the uniform


def seed_from_generator(generator: torch.Generator) -> int:
    """One int drawn from `generator` (on its own device): a seed for code that only uses the global RNG."""
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())


def seeded_generate(model, input_ids: torch.Tensor, seed: int | None = None, **generate_kwargs) -> torch.LongTensor:
    """`model.generate(input_ids, **generate_kwargs)` in eval mode (its training flag restored). `generate()` draws
    from the global RNG: with a `seed`, from a forked RNG seeded with it, so the caller's global RNG is untouched."""
    was_training = model.training
    model.eval()
    try:
        if seed is None:
            return model.generate(input_ids, **generate_kwargs)
        devices = [input_ids.device] if input_ids.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, device_type="cuda"):
            torch.manual_seed(seed)
            return model.generate(input_ids, **generate_kwargs)
    finally:
        model.train(was_training)


def guidance_scale_of(guidance_scale, has_null_condition: bool, null_name: str) -> float | None:
    """The classifier-free guidance scale to pass to `generate()`, or None for none (`guidance_scale` None or 1);
    `ValueError` for a non-number, or for guidance on a model trained without a null condition (`null_name`)."""
    if guidance_scale is None or guidance_scale == 1:
        return None
    if isinstance(guidance_scale, bool) or not isinstance(guidance_scale, (int, float)):
        raise ValueError(f"`guidance_scale` must be a number, got {guidance_scale!r}.")
    if not has_null_condition:
        raise ValueError(
            f"`guidance_scale` {guidance_scale} needs {null_name}, which this model was not trained with; use 1."
        )
    return float(guidance_scale)


def sampling_config(generation_config: GenerationConfig | None = None, **arguments) -> GenerationConfig:
    """A `GenerationConfig` for sampling: the model's `generation_config` when it was written for sampling
    (`do_sample=True`, else `SAMPLING_DEFAULTS`), updated with the `arguments` given (`temperature=`, `top_k=`,
    `top_p=`, ...; `None` means unset), checked by `GenerationConfig.validate(strict=True)` and by the logits warpers
    it makes (`logits_warpers`). Bad values, and names `GenerationConfig` does not have, raise a `ValueError`
    naming the argument."""
    if generation_config is not None and generation_config.do_sample:
        config = copy.deepcopy(generation_config)
    else:
        config = GenerationConfig(**SAMPLING_DEFAULTS)
    unknown = config.update(**{name: value for name, value in arguments.items() if value is not None})
    if unknown:
        raise ValueError(f"unknown sampling arguments {sorted(unknown)}: pass `transformers.GenerationConfig` fields "
                         "(temperature, top_k, top_p, guidance_scale).")  # fmt: skip
    config.validate(strict=True)
    logits_warpers(config)
    return config


def lm_warping(config: GenerationConfig) -> dict:
    """`temperature`, `top_k` and `top_p` of a checked sampling `config` (:func:`sampling_config`) for a causal LM's
    `generate()`, unset ones as explicit "off" values (1.0, 0, 1.0), so that the LM's own generation_config adds
    nothing."""
    return dict(
        temperature=1.0 if config.temperature is None else float(config.temperature),
        top_k=config.top_k or 0,
        top_p=1.0 if config.top_p is None else float(config.top_p),
    )


def logits_warpers(config: GenerationConfig) -> LogitsProcessorList:
    """The warpers `transformers`' `generate()` applies for `config`'s temperature, top-k and top-p, in its order
    and on its conditions (`temperature=1.0`, `top_k=0` and `top_p=1.0` mean off). Each checks its value's range."""
    for name in ("temperature", "top_k", "top_p"):
        value = getattr(config, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"`{name}` must be a number, got {value!r}.")
    warpers = LogitsProcessorList()
    if config.temperature is not None and config.temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(float(config.temperature)))
    if config.top_k is not None and config.top_k != 0:
        warpers.append(TopKLogitsWarper(top_k=config.top_k))
    if config.top_p is not None and config.top_p != 1.0:  # > 1 raises here (`generate()` ignores it)
        warpers.append(TopPLogitsWarper(top_p=float(config.top_p)))
    return warpers


def class_ids(class_labels, id2label: dict | None, num_classes: int | None = None):
    """Class labels given as ints or names -> the same labels as ints (a tensor passes through unchanged).

    Names are looked up in `id2label` (`{id: name}`); an unknown name raises `ValueError` naming the allowed ones.
    """
    if isinstance(class_labels, str):
        return class_ids([class_labels], id2label, num_classes)[0]
    if isinstance(class_labels, torch.Tensor) or class_labels is None or isinstance(class_labels, int):
        return class_labels
    class_labels = list(class_labels)
    if not class_labels:
        raise ValueError("`class_labels` is empty: give at least one class, by id or by name.")
    if not any(isinstance(label, str) for label in class_labels):
        return class_labels
    names = class_names_of(id2label, num_classes)
    unknown = [label for label in class_labels if isinstance(label, str) and label not in names]
    if unknown:
        allowed = ", ".join(repr(name) for name, _ in sorted(names.items(), key=lambda item: item[1]))
        raise ValueError(f"unknown class name(s) {unknown}; this model's classes are: {allowed or 'none'}.")
    return [names[label] if isinstance(label, str) else label for label in class_labels]


def class_names_of(id2label: dict | None, num_classes: int | None = None) -> dict:
    """`{name: id}` of a model's classes: its `id2label` names, unless they are the placeholders `transformers` gives
    every config (``LABEL_0``, ``LABEL_1``: two, whatever the number of classes); then the ids as names ("0", ...)."""
    pairs = {int(index): str(name) for index, name in (id2label or {}).items()}
    if all(name == f"LABEL_{index}" for index, name in pairs.items()):
        pairs = {index: str(index) for index in range(num_classes or 0)}
    if num_classes is not None:
        pairs = {index: name for index, name in pairs.items() if 0 <= index < num_classes}
    return {name: index for index, name in pairs.items()}


__all__ = [
    "SAMPLING_DEFAULTS",
    "class_ids",
    "class_names_of",
    "inverse_cdf_sample",
    "lm_warping",
    "logits_warpers",
    "guidance_scale_of",
    "make_generator",
    "rand_tensor",
    "sampling_config",
    "seed_from_generator",
    "seeded_generate",
]
