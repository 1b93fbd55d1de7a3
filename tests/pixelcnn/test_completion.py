"""Image completion with a PixelCNN: `generate(pixel_values=..., num_given_rows=... | num_given_subpixels=...)`.

Properties: the kept prefix comes back unchanged; the cached sampler (caches warmed on the prefix) and the naive
one agree for the same generator; no rows given is plain sampling, every row given returns the input; completing a
sample from its own prefix with its own generator gives the sample back (the warmed caches are exact); the class of
a conditional model is drawn from its exact posterior given the prefix."""

import pytest
import torch
from test_sampling import CASES, random_model, sample_with_logits

from hf_argen.models.sampling_utils import rand_tensor


def raster(images: torch.Tensor) -> torch.Tensor:
    """`(B, C, H, W)` -> `(B, H * W * C)` in sampling order."""
    return images.permute(0, 2, 3, 1).reshape(images.shape[0], -1)


def labels_of(model, batch=3) -> dict:
    return dict(class_labels=[0, 2, 1][:batch]) if model.config.num_classes else {}


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_cached_and_naive_completion_agree_and_keep_the_prefix(case):
    model = random_model(**case)
    config = model.config
    images = torch.randint(0, config.num_levels, (3, config.num_channels, config.image_size, config.image_size))
    for given in (dict(num_given_rows=2), dict(num_given_subpixels=config.num_channels * 7 + 1)):
        kwargs = dict(pixel_values=images, **labels_of(model), **given, top_k=3)
        naive, naive_logits = sample_with_logits(model, False, generator=torch.Generator().manual_seed(4), **kwargs)
        cached, cached_logits = sample_with_logits(model, True, generator=torch.Generator().manual_seed(4), **kwargs)
        assert torch.equal(cached, naive)
        kept = given.get("num_given_subpixels") or 2 * config.image_size * config.num_channels
        # Only the other sub-pixels are drawn, with the same logits.
        assert cached_logits.shape[0] == naive_logits.shape[0] == config.num_subpixels - kept
        torch.testing.assert_close(cached_logits, naive_logits, rtol=0, atol=1e-5)
        assert torch.equal(raster(cached)[:, :kept], raster(images)[:, :kept])
        assert not torch.equal(raster(cached)[:, kept:], raster(images)[:, kept:])  # the rest is sampled


@pytest.mark.parametrize("use_cache", [True, False])
@pytest.mark.parametrize("case", CASES[:3] + CASES[4:5], ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_no_rows_given_is_sampling_and_all_rows_given_is_the_input(case, use_cache):
    model = random_model(**case)
    labels = labels_of(model)
    sample = model.generate(seed=11, use_cache=use_cache, num_images=3, **labels)
    images = model.generate(seed=12, num_images=3, **labels)
    zero_rows = model.generate(seed=11, use_cache=use_cache, pixel_values=images, num_given_rows=0, **labels)
    zero_subpixels = model.generate(seed=11, use_cache=use_cache, pixel_values=images, num_given_subpixels=0, **labels)
    assert torch.equal(zero_rows, sample) and torch.equal(zero_subpixels, sample)
    every = dict(num_given_rows=model.config.image_size), dict(num_given_subpixels=model.config.num_subpixels)
    for given in every:
        assert torch.equal(model.generate(seed=11, use_cache=use_cache, pixel_values=images, **given, **labels), images)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_completing_a_sample_from_its_prefix_with_its_generator_gives_it_back(case):
    """Uniforms are tied to positions, so a right cache state reproduces the sample; a cache that missed the given
    rows (a cold vertical stack, say) would draw other levels."""
    model = random_model(**case)
    labels = labels_of(model)
    sample = model.generate(seed=21, num_images=3, **labels)
    for rows in range(model.config.image_size + 1):
        again = model.generate(seed=21, pixel_values=sample, num_given_rows=rows, **labels)
        assert torch.equal(again, sample), rows
    again = model.generate(seed=21, pixel_values=sample, num_given_subpixels=model.config.num_channels * 6 + 2,
                           use_cache=True, **labels)  # fmt: skip
    assert torch.equal(again, sample)


def test_completion_rows_stream_and_equal_generate():
    model = random_model()
    images = model.generate(seed=1, class_labels=[0, 1, 2])
    kwargs = dict(
        class_labels=[2, 2, 0], pixel_values=images, num_given_rows=3, generator=torch.Generator().manual_seed(3)
    )
    rows = list(model.generate_rows(**kwargs))
    assert len(rows) == 5 and all(torch.equal(rows[i], images[:, :, i]) for i in range(3))
    kwargs["generator"] = torch.Generator().manual_seed(3)
    assert torch.equal(torch.stack(rows, dim=2), model.generate(**kwargs))


def test_an_int_class_is_repeated_over_the_images_to_complete():
    model = random_model()
    images = model.generate(seed=1, class_labels=[0, 1, 2])
    one = model.generate(seed=2, class_labels=1, pixel_values=images, num_given_rows=2)
    assert torch.equal(one, model.generate(seed=2, class_labels=[1, 1, 1], pixel_values=images, num_given_rows=2))


@pytest.mark.parametrize(
    "case",
    [{}, dict(architecture="masked"), dict(num_channels=1, input_embedding=True)],
    ids=["gated", "masked", "emb"],
)
def test_class_posterior_is_bayes_rule_on_the_exact_likelihood(case):
    model = random_model(num_classes=4, **case)
    channels = model.config.num_channels
    images = model.generate(seed=1, class_labels=[0, 1, 2, 3])
    joint = torch.stack([model.log_likelihood(images, torch.full((4,), y)) for y in range(4)], dim=1)
    torch.testing.assert_close(model.class_posterior(images), torch.log_softmax(joint, dim=1), atol=1e-4, rtol=0)
    # A prefix: the likelihood of the kept sub-pixels only, read off the full forward pass (the posterior's forward
    # passes see the rows the prefix touches only).
    kept = 2 * 5 * channels + 4
    prefix = []
    for y in range(4):
        logits = model(images, torch.full((4,), y)).logits
        log_probs = torch.log_softmax(logits, dim=-1).gather(-1, images[..., None])[..., 0]
        prefix.append(raster(log_probs)[:, :kept].sum(dim=1))
    expected = torch.log_softmax(torch.stack(prefix, dim=1), dim=1)
    torch.testing.assert_close(model.class_posterior(images, num_given_subpixels=kept), expected, atol=1e-4, rtol=0)
    uniform = model.class_posterior(images, num_given_rows=0).exp()
    torch.testing.assert_close(uniform, torch.full((4, 4), 0.25))


def test_without_class_labels_a_conditional_model_draws_each_class_from_its_posterior(monkeypatch):
    model = random_model(num_classes=4)
    images = model.generate(seed=1, class_labels=[0, 1, 2])
    posterior = torch.log(torch.tensor([[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]))
    monkeypatch.setattr(type(model), "class_posterior", lambda self, *args, **kwargs: posterior)
    drawn = model.generate(generator=torch.Generator().manual_seed(5), pixel_values=images, num_given_rows=2)
    generator = torch.Generator().manual_seed(5)
    rand_tensor((3, 1), generator, "cpu")  # the one uniform per image that drew the classes
    given = model.generate(generator=generator, class_labels=[2, 0, 3], pixel_values=images, num_given_rows=2)
    assert torch.equal(drawn, given)


def test_completion_of_a_shipped_mnist_digit_keeps_its_rows():
    from pathlib import Path

    from transformers import AutoModel

    folder = Path(__file__).resolve().parents[2] / "model_cards" / "pixelcnn-digits"
    model = AutoModel.from_pretrained(folder).eval()
    digits = model.generate(class_labels=[3, 7], seed=0)
    completed = model.generate(pixel_values=digits.repeat(2, 1, 1, 1), num_given_rows=4, seed=1)
    assert torch.equal(completed[:, :, :4], digits.repeat(2, 1, 1, 1)[:, :, :4])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_given_rows=2), "need `pixel_values`"),
        (dict(pixel_values="image", num_given_rows=2), "`pixel_values` must be a torch.Tensor"),
        (dict(pixel_values=torch.zeros(2, 3, 5, 5), num_given_rows=2), "must hold integer levels"),
        (dict(pixel_values=torch.zeros(2, 1, 5, 5, dtype=torch.long), num_given_rows=2), r"shape \(batch, 3, 5, 5\)"),
        (dict(pixel_values=torch.full((2, 3, 5, 5), 6), num_given_rows=2), r"values must be in \[0, 6\)"),
        (dict(pixel_values=torch.zeros(2, 3, 5, 5, dtype=torch.long)), "exactly one of `num_given_rows`"),
        (dict(pixel_values=torch.zeros(2, 3, 5, 5, dtype=torch.long), num_given_rows=1, num_given_subpixels=3),
         "exactly one of"),
        (dict(pixel_values=torch.zeros(2, 3, 5, 5, dtype=torch.long), num_given_rows=6), r"in \[0, 5\], got 6"),
        (dict(pixel_values=torch.zeros(2, 3, 5, 5, dtype=torch.long), num_given_rows=-1), r"in \[0, 5\]"),
        (dict(pixel_values=torch.zeros(2, 3, 5, 5, dtype=torch.long), num_given_rows=2.0), "must be an integer"),
        (dict(pixel_values=torch.zeros(2, 3, 5, 5, dtype=torch.long), num_given_subpixels=76), r"in \[0, 75\]"),
        (dict(pixel_values=torch.zeros(2, 3, 5, 5, dtype=torch.long), num_given_rows=1, num_images=3),
         r"`num_images` \(3\) must equal the batch of `pixel_values` \(2\)"),
        (dict(pixel_values=torch.zeros(2, 3, 5, 5, dtype=torch.long), num_given_rows=1, class_labels=[0, 1, 2]),
         r"one class per image to complete \(2\), or one class as an int, got 3"),
    ],
)  # fmt: skip
def test_bad_completion_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        random_model().generate(**kwargs)


def test_class_posterior_needs_a_conditional_model():
    with pytest.raises(ValueError, match="class-conditional"):
        random_model(num_classes=None).class_posterior(torch.zeros(1, 3, 5, 5, dtype=torch.long))


def test_evaluate_completion_rows_measures_and_writes_the_card(tmp_path):
    """`hf-argen evaluate --completion_rows N` on a tiny MNIST (random images) with an untrained classifier: the
    figure is the classifier's accuracy on the completions; every row kept gives the originals' accuracy."""
    import json

    from tiny_models import save_untrained_mnist_classifier, write_tiny_mnist

    from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration
    from hf_argen.cli.evaluate import main as evaluate
    from hf_argen.recipes.classifier import classifier_accuracy, load_mnist_classifier, mnist_tensors
    from hf_argen.recipes.completion import complete_images

    data = write_tiny_mnist(tmp_path / "mnist")
    classifier_path = save_untrained_mnist_classifier(tmp_path / "classifier.pt")
    config = PixelCNNConfig(image_size=28, num_channels=1, num_levels=256, num_classes=10, hidden_size=4,
                            num_hidden_layers=1, output_hidden_size=4, first_kernel_size=3)  # fmt: skip
    torch.manual_seed(0)
    PixelCNNForImageGeneration(config).save_pretrained(tmp_path / "model")
    model_dir = str(tmp_path / "model")
    common = ["--model", model_dir, "--split", "none", "--data_dir", str(data), "--classifier_path",
              str(classifier_path), "--completion_images", "12", "--device", "cpu", "--seed", "3"]  # fmt: skip
    every = evaluate(common + ["--completion_rows", "28"])
    assert every["completion_agreement"] == every["original_accuracy"] == every["kept_rows_accuracy"]
    out = tmp_path / "completion.json"
    half = evaluate(common + ["--completion_rows", "14", "--output_json", str(out)])
    assert half["completion_images"] == 12 and half["completion_pixel_rows"] == 14
    model = PixelCNNForImageGeneration.from_pretrained(model_dir).eval()
    images, labels = mnist_tensors("test", data)
    completions = complete_images(model, images[:12], 14, seed=3, progress=False)
    classifier = load_mnist_classifier(classifier_path)
    assert half["completion_agreement"] == classifier_accuracy(classifier, completions, labels[:12])[0]
    assert torch.equal(completions[:, :, :14], (images[:12, :, :14] * 255).round() / 255)

    evaluate(["--model", model_dir, "--dataset_name", "mnist", "--split", "test", "--data_dir", str(data),
              "--device", "cpu", "--write_card", "--completion_json", str(out)])  # fmt: skip
    card = (tmp_path / "model" / "README.md").read_text()
    assert "| completions of 12 test images from the top 14 of 28 rows" in card
    assert (
        f"hf-argen evaluate --model {model_dir} --split none --completion_rows 14 --completion_images 12 --seed 3"
        in card
    )
    assert "![completions](completions.png)" in card and (tmp_path / "model" / "completions.png").is_file()
    # The likelihood figures read back from the card's model-index give the same card, without measuring them.
    evaluate(["--model", model_dir, "--split", "none", "--device", "cpu", "--data_dir", str(data), "--write_card",
              "--likelihood_from_card", "--completion_json", str(out)])  # fmt: skip
    assert (tmp_path / "model" / "README.md").read_text() == card
    with pytest.raises(ValueError, match="--split none with --likelihood_from_card"):
        evaluate(["--model", model_dir, "--split", "none", "--write_card", "--completion_json", str(out)])
    out.write_text(json.dumps({"model": model_dir}))
    with pytest.raises(ValueError, match="not an output of an image-completion run"):
        evaluate(["--model", model_dir, "--dataset_name", "mnist", "--data_dir", str(data), "--write_card",
                  "--completion_json", str(out)])  # fmt: skip
    with pytest.raises(ValueError, match="--completion_rows must be >= 0"):
        evaluate(common + ["--completion_rows", "-1"])


@pytest.mark.cuda
def test_completion_on_cuda_with_a_cpu_generator_keeps_the_prefix():
    """Inputs on the CPU, the model on CUDA, a CPU generator: the prefix comes back, cached ~ naive."""
    model = random_model(num_classes=4).to("cuda")
    images = torch.randint(0, 6, (3, 3, 5, 5))
    completed = [
        model.generate(
            pixel_values=images, num_given_subpixels=17, use_cache=use_cache, generator=torch.Generator().manual_seed(0)
        )  # fmt: skip
        for use_cache in (True, False)
    ]
    assert completed[0].device.type == "cuda" and (completed[0] == completed[1]).float().mean() > 0.9  # GPU rounding
    for images_completed in completed:
        assert torch.equal(raster(images_completed.cpu())[:, :17], raster(images)[:, :17])
