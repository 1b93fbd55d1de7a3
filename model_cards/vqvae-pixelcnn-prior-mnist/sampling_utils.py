"""Sampling helpers shared by the generative models: randomness on any device, class names -> ids.

Randomness: a CPU `torch.Generator`, one on the model's device, or an int seed.
Values are drawn where the generator lives and then moved to the model's device (as
`diffusers.utils.torch_utils.randn_tensor`), so a CPU generator gives the same samples whatever the model's device.
Imports nothing from hf_argen: every model folder carries an identical copy for remote code.
"""

from __future__ import annotations

import torch


def resolve_generator(generator: torch.Generator | int | None = None, seed: int | None = None):
    """`generator` (a `torch.Generator`, an int seed or `None`) and `seed` -> a `torch.Generator` or `None`.

    An int seed gives a CPU generator seeded with it (device-independent samples); `None` for both means the
    global RNG. Raises `ValueError` for anything else.
    """
    if generator is not None and seed is not None:
        raise ValueError("pass either `generator` or `seed`, not both.")
    if generator is None:
        generator = seed
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, bool) or not isinstance(generator, int):
        raise ValueError(f"`generator` must be a torch.Generator or an int seed, got {type(generator).__name__}.")
    return torch.Generator(device="cpu").manual_seed(generator)


def rand_tensor(shape, generator: torch.Generator | None, device, dtype: torch.dtype = torch.float32):
    """Uniform samples in [0, 1) of `shape` on `device`, drawn on the generator's device, then moved."""
    device = torch.device(device)
    if generator is None:
        return torch.rand(shape, device=device, dtype=dtype)
    if generator.device.type == device.type:
        return torch.rand(shape, generator=generator, device=device, dtype=dtype)
    return torch.rand(shape, generator=generator, device=generator.device, dtype=dtype).to(device)


def seed_from_generator(generator: torch.Generator) -> int:
    """One int drawn from `generator` (on its own device): a seed for code that only uses the global RNG."""
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())


def sampling_defaults(generation_config, temperature=None, top_k=None, top_p=None) -> tuple:
    """Unset `temperature`/`top_k`/`top_p` from a `generation_config` written for sampling (`do_sample=True`),
    else 1.0 / None / None; `top_k=0` and `top_p=1.0` mean "off" (None)."""
    use = generation_config is not None and getattr(generation_config, "do_sample", False)
    if temperature is None:
        temperature = (getattr(generation_config, "temperature", None) if use else None) or 1.0
    if top_k is None and use:
        top_k = getattr(generation_config, "top_k", None) or None
    if top_p is None and use:
        top_p = getattr(generation_config, "top_p", None)
        top_p = None if top_p is None or top_p >= 1.0 else top_p
    return temperature, top_k, top_p


def class_ids(class_labels, id2label: dict | None, num_classes: int | None = None):
    """Class labels given as ints or names -> the same labels as ints (a tensor passes through unchanged).

    Names are looked up in `id2label` (`{id: name}`); an unknown name raises `ValueError` naming the allowed ones.
    """
    if isinstance(class_labels, str):
        return class_ids([class_labels], id2label, num_classes)[0]
    if isinstance(class_labels, torch.Tensor) or class_labels is None or isinstance(class_labels, int):
        return class_labels
    class_labels = list(class_labels)
    if not any(isinstance(label, str) for label in class_labels):
        return class_labels
    names = {str(name): int(index) for index, name in (id2label or {}).items()}
    if num_classes is not None:
        names = {name: index for name, index in names.items() if 0 <= index < num_classes}
    unknown = [label for label in class_labels if isinstance(label, str) and label not in names]
    if unknown:
        allowed = ", ".join(repr(name) for name, _ in sorted(names.items(), key=lambda item: item[1]))
        raise ValueError(
            f"unknown class name(s) {unknown}; this model's classes are: {allowed or 'none (no id2label)'}."
        )
    return [names[label] if isinstance(label, str) else label for label in class_labels]


__all__ = ["class_ids", "sampling_defaults", "rand_tensor", "resolve_generator", "seed_from_generator"]
