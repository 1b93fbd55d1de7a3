"""Cached (incremental) PixelCNN sampling == the naive one-forward-pass-per-sub-pixel reference."""

import pytest
import torch

from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration


def random_model(**overrides) -> PixelCNNForImageGeneration:
    values = dict(
        image_size=5,
        num_channels=3,
        num_levels=6,
        num_classes=3,
        hidden_size=10,
        num_hidden_layers=3,
        kernel_size=3,
        first_kernel_size=5,
        output_hidden_size=12,
    )
    values.update(overrides)
    model = PixelCNNForImageGeneration(PixelCNNConfig(**values)).eval()
    with torch.no_grad():  # random biases everywhere, so every code path carries signal
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(std=0.2)
    return model


def sample_with_logits(model, use_cache, **kwargs):
    """Generate, recording the logits of every sampling step."""
    recorded = []
    sample = PixelCNNForImageGeneration._sample

    def recording_sample(logits, processors, uniform):
        recorded.append(logits.clone())
        return sample(logits, processors, uniform)

    model._sample = recording_sample
    try:
        images = model.generate(use_cache=use_cache, **kwargs)
    finally:
        del model._sample
    return images, torch.stack(recorded)


CASES = [
    dict(architecture="gated", num_channels=3),
    dict(architecture="gated", num_channels=1),
    dict(architecture="gated", num_channels=3, num_classes=None),
    dict(architecture="gated", num_channels=1, kernel_size=5, first_kernel_size=3, num_hidden_layers=0),
    dict(architecture="masked", num_channels=3),
    dict(architecture="masked", num_channels=1, num_classes=None),
    dict(architecture="gated", num_channels=3, input_embedding=True),
    dict(architecture="gated", num_channels=1, input_embedding=True, num_levels=9, first_kernel_size=3),
    dict(architecture="gated", num_channels=1, input_embedding=True, num_hidden_layers=0),
    dict(architecture="masked", num_channels=3, input_embedding=True),
    dict(architecture="masked", num_channels=1, input_embedding=True, num_classes=None),
]
SAMPLING = [dict(), dict(temperature=0.7), dict(top_k=2), dict(top_p=0.8, temperature=1.3)]


@pytest.mark.parametrize("sampling", SAMPLING, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "plain")
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_cached_and_naive_sampling_are_identical(case, sampling):
    model = random_model(**case)
    labels = dict(class_labels=[0, 2, 1]) if model.config.num_classes else dict(num_images=3)
    naive, naive_logits = sample_with_logits(
        model, False, generator=torch.Generator().manual_seed(5), **labels, **sampling
    )
    cached, cached_logits = sample_with_logits(
        model, True, generator=torch.Generator().manual_seed(5), **labels, **sampling
    )
    assert naive_logits.shape[0] == model.config.num_subpixels
    torch.testing.assert_close(cached_logits, naive_logits, rtol=0, atol=1e-5)
    assert torch.equal(cached, naive)


@pytest.mark.parametrize("input_embedding", [False, True])
def test_cached_logits_match_forward_pass_on_the_sampled_images(input_embedding):
    """Every step's logits equal the full forward pass on the final image (causality makes them final)."""
    model = random_model(image_size=4, input_embedding=input_embedding)
    images, logits = sample_with_logits(model, True, class_labels=[1, 0], seed=0)
    forward = model(images, [1, 0]).logits  # (B, C, H, W, L)
    expected = forward.permute(2, 3, 1, 0, 4).reshape(-1, 2, model.config.num_levels)  # raster, then R, G, B
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("use_cache", [True, False], ids=["cached", "naive"])
def test_progress_bar_over_rows_and_large_level_count(use_cache, capsys):
    """`progress=True` draws a tqdm bar over the image rows (on stderr) and changes no sample; without it,
    nothing is drawn."""
    model = random_model(image_size=3, num_levels=256, num_channels=1)
    quiet = model.generate(class_labels=[0, 1], seed=1, use_cache=use_cache)
    assert capsys.readouterr().err == ""
    images = model.generate(class_labels=[0, 1], seed=1, progress=True, use_cache=use_cache)
    bar = capsys.readouterr().err
    assert "sampling rows" in bar and "/3 [" in bar, bar
    assert torch.equal(images, quiet)
    assert images.shape == (2, 1, 3, 3) and images.max() < 256


@pytest.mark.parametrize("use_cache", [True, False], ids=["cached", "naive"])
@pytest.mark.parametrize("case", [CASES[0], CASES[4], CASES[6]], ids=["gated", "masked", "gated-embedding"])
def test_generate_rows_yields_the_rows_of_generate(case, use_cache):
    """`generate_rows` streams the rows `generate` returns, one `(B, C, W)` tensor per row, lazily."""
    model = random_model(**case)
    kwargs = dict(class_labels=[0, 2, 1], temperature=0.9, use_cache=use_cache)
    images = model.generate(generator=torch.Generator().manual_seed(3), **kwargs)
    rows = model.generate_rows(generator=torch.Generator().manual_seed(3), **kwargs)
    first = next(rows)
    assert first.shape == (3, model.config.num_channels, model.config.image_size) and first.dtype == torch.long
    assert torch.is_grad_enabled()  # sampling's no_grad does not leak into the consumer between rows
    streamed = [first, *rows]
    assert len(streamed) == model.config.image_size
    assert torch.equal(torch.stack(streamed, dim=2), images)


def test_generate_rows_checks_arguments_before_the_first_row():
    model = random_model()
    with pytest.raises(ValueError, match="temperature"):
        model.generate_rows(class_labels=[0], temperature=0)
