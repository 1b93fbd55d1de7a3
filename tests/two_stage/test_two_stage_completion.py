"""Image completion with the two-stage model: keep the first code rows of an image (given as pixels or as codes),
sample the rest with the prior (our transformer, RNN and PixelCNN priors, and a `transformers` GPT-2), decode."""

import pytest
import torch
from tiny_models import NUM_CODES, PRIORS, TWO_STAGE_VQVAE, tiny_two_stage

from hf_argen import VQVAEConfig, VQVAEPriorConfig, VQVAEPriorForImageGeneration
from hf_argen.models.sampling_utils import rand_tensor

PRIOR_TYPES = ["transformer", "rnn", "pixelcnn", "gpt2"]


def two_stage(prior_type: str) -> VQVAEPriorForImageGeneration:
    if prior_type != "gpt2":
        return tiny_two_stage(prior_type)
    gpt2 = dict(model_type="gpt2", vocab_size=NUM_CODES + 11, n_embd=16, n_layer=1, n_head=2, n_positions=50,
                bos_token_id=None, eos_token_id=None, pad_token_id=NUM_CODES + 10)  # fmt: skip
    config = VQVAEPriorConfig(vqvae=VQVAEConfig(**TWO_STAGE_VQVAE), prior=gpt2, num_classes=10)
    return VQVAEPriorForImageGeneration(config).eval()


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_completion_keeps_the_given_codes(prior_type):
    model = two_stage(prior_type)
    codes = torch.randint(0, NUM_CODES, (3, 7, 7), generator=torch.Generator().manual_seed(0))
    for rows in range(8):
        completed = model.generate(codes=codes, num_given_rows=rows, class_labels=[1, 2, 3], seed=5,
                                   output_type="codes")  # fmt: skip
        assert completed.shape == (3, 7, 7) and completed.max() < NUM_CODES
        assert torch.equal(completed[:, :rows], codes[:, :rows]), rows
        if rows < 7:
            assert not torch.equal(completed[:, rows:], codes[:, rows:])
    completed = model.generate(codes=codes, num_given_codes=10, seed=5, output_type="codes")
    assert torch.equal(completed.flatten(1)[:, :10], codes.flatten(1)[:, :10])
    assert torch.equal(model.generate(codes=codes, num_given_rows=7, seed=5, output_type="codes"), codes)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_no_code_rows_given_is_plain_generation(prior_type):
    model = two_stage(prior_type)
    codes = torch.randint(0, NUM_CODES, (2, 7, 7))
    for randomness in (dict(seed=4), dict(generator=torch.Generator().manual_seed(4))):
        completed = model.generate(codes=codes, num_given_rows=0, class_labels=[3, 8], output_type="codes",
                                   **randomness)  # fmt: skip
        randomness = {k: torch.Generator().manual_seed(4) if k == "generator" else v for k, v in randomness.items()}
        assert torch.equal(completed, model.generate(class_labels=[3, 8], output_type="codes", **randomness))


@pytest.mark.parametrize("prior_type", ["transformer", "pixelcnn"])
def test_images_are_encoded_then_completed_then_decoded(prior_type):
    model = two_stage(prior_type)
    pixels = model.generate(class_labels=[1, 6], seed=0)
    codes = model.encode(pixels)
    images = model.generate(pixel_values=pixels, num_given_rows=3, class_labels=[1, 6], seed=2)
    completed = model.generate(codes=codes, num_given_rows=3, class_labels=[1, 6], seed=2, output_type="codes")
    assert torch.equal(images, model.decode(completed)) and torch.equal(completed[:, :3], codes[:, :3])
    pil = model.generate(pixel_values=pixels, num_given_rows=3, class_labels=1, seed=2, output_type="pil")
    assert len(pil) == 2 and pil[0].size == (28, 28)


@pytest.mark.parametrize("prior_type", ["transformer", "rnn", "gpt2"])
def test_class_posterior_of_a_causal_lm_prior_is_bayes_rule_on_its_code_probabilities(prior_type):
    """Against a naive loop: one forward pass per code, probabilities renormalised over code ids (as sampling)."""
    model = two_stage(prior_type)
    codes = torch.randint(0, NUM_CODES, (2, 7, 7), generator=torch.Generator().manual_seed(1))
    kept = 9
    joint = torch.zeros(2, 10)
    for label in range(10):
        sequences = model.vocabulary.sequences(codes, [label, label])
        for t in range(kept):
            logits = model.prior(input_ids=sequences[:, : t + 1]).logits[:, -1, :NUM_CODES]
            joint[:, label] += torch.log_softmax(logits, dim=-1).gather(1, sequences[:, t + 1, None])[:, 0]
    expected = torch.log_softmax(joint, dim=1)
    torch.testing.assert_close(model.class_posterior(codes, num_given_codes=kept), expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(model.class_posterior(codes, 0).exp(), torch.full((2, 10), 0.1))


def test_class_posterior_of_a_pixelcnn_prior_is_its_own():
    model = two_stage("pixelcnn")
    codes = torch.randint(0, NUM_CODES, (2, 7, 7))
    expected = model.prior.class_posterior(codes[:, None], num_given_subpixels=12)
    torch.testing.assert_close(model.class_posterior(codes, 12), expected)


@pytest.mark.parametrize("prior_type", ["transformer", "pixelcnn"])
def test_without_class_labels_each_class_is_drawn_from_its_posterior(prior_type, monkeypatch):
    model = two_stage(prior_type)
    codes = torch.randint(0, NUM_CODES, (2, 7, 7))
    posterior = torch.full((2, 10), -float("inf"))
    posterior[0, 7] = posterior[1, 2] = 0.0
    monkeypatch.setattr(type(model), "class_posterior", lambda self, *args, **kwargs: posterior)
    drawn = model.generate(codes=codes, num_given_rows=2, seed=3, output_type="codes")
    generator = torch.Generator().manual_seed(3)
    rand_tensor((2, 1), generator, "cpu")  # the uniform per image that drew the classes
    given = model.generate(codes=codes, num_given_rows=2, class_labels=[7, 2], generator=generator, output_type="codes")
    assert torch.equal(drawn, given)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_given_rows=2), "need `pixel_values` or `codes`"),
        (dict(codes=torch.zeros(1, 7, 7, dtype=torch.long), pixel_values=torch.zeros(1, 1, 28, 28),
              num_given_rows=1), "not both"),
        (dict(codes=torch.zeros(1, 7, 7, dtype=torch.long)), "exactly one of `num_given_rows`"),
        (dict(codes=torch.zeros(1, 7, 7, dtype=torch.long), num_given_rows=8), r"in \[0, 7\], got 8"),
        (dict(codes=torch.zeros(1, 7, 7, dtype=torch.long), num_given_codes=50), r"in \[0, 49\], got 50"),
        (dict(codes=torch.zeros(1, 7, 7, dtype=torch.long), num_given_rows=True), "must be an integer"),
        (dict(codes=torch.zeros(1, 7, 7), num_given_rows=1), "`codes` must be integers"),
        (dict(codes=torch.full((1, 7, 7), NUM_CODES), num_given_rows=1), r"`codes` must be in \[0, 16\)"),
        (dict(codes=torch.zeros(1, 6, 6, dtype=torch.long), num_given_rows=1), r"shape \(batch, 7, 7\)"),
        (dict(pixel_values=torch.zeros(1, 1, 28, 28, dtype=torch.long), num_given_rows=1), "floating point"),
        (dict(pixel_values=torch.full((1, 1, 28, 28), 3.0), num_given_rows=1), r"in \[-1, 1\]"),
        (dict(codes=torch.zeros(2, 7, 7, dtype=torch.long), num_given_rows=1, num_images=3),
         r"`num_images` \(3\) must equal the number of images to complete \(2\)"),
        (dict(codes=torch.zeros(2, 7, 7, dtype=torch.long), num_given_rows=1, class_labels=[1, 2, 3]),
         r"one class per image to complete \(2\)"),
    ],
)  # fmt: skip
def test_bad_completion_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_two_stage().generate(**kwargs)


def test_evaluate_completion_rows_of_a_two_stage_model(tmp_path):
    """`hf-argen evaluate --completion_rows N` on code rows (tiny MNIST, untrained classifier): the figure is the
    classifier's accuracy on the completions; with `--write_card`, the card shows it with a completion grid."""
    from tiny_models import save_untrained_mnist_classifier, write_tiny_mnist

    from hf_argen.cli.evaluate import main as evaluate
    from hf_argen.recipes.classifier import classifier_accuracy, load_mnist_classifier, mnist_tensors
    from hf_argen.recipes.completion import complete_images

    data = write_tiny_mnist(tmp_path / "mnist")
    classifier_path = save_untrained_mnist_classifier(tmp_path / "classifier.pt")
    folder = tmp_path / "model"
    tiny_two_stage().save_pretrained(folder)
    common = ["--model", str(folder), "--data_dir", str(data), "--classifier_path", str(classifier_path),
              "--completion_rows", "3", "--completion_images", "12", "--device", "cpu", "--seed", "2"]  # fmt: skip
    figures = evaluate(common + ["--split", "none", "--num_per_class", "0"])
    assert figures["num_samples"] == 0 and "nll_per_code" not in figures
    assert figures["completion_rows"] == 3 and figures["completion_pixel_rows"] == 12
    model = VQVAEPriorForImageGeneration.from_pretrained(folder).eval()
    images, labels = mnist_tensors("test", data)
    completions = complete_images(model, images[:12], 3, seed=2, progress=False)
    classifier = load_mnist_classifier(classifier_path)
    assert figures["completion_agreement"] == classifier_accuracy(classifier, completions, labels[:12])[0]

    evaluate(common + ["--num_per_class", "1", "--write_card"])
    card = (folder / "README.md").read_text()
    assert "| completions of 12 test images from the top 3 of 7 code rows" in card
    assert "![completions](completions.png)" in card and (folder / "completions.png").is_file()
    with pytest.raises(ValueError, match="--write_card needs the NLL of a --split and samples"):
        evaluate(common + ["--split", "none", "--write_card"])
    with pytest.raises(ValueError, match=r"--num_per_class must be >= 1 for a two-stage model \(0 with"):
        evaluate([a for a in common if a not in ("--completion_rows", "3")] + ["--num_per_class", "0"])


@pytest.mark.cuda
@pytest.mark.parametrize("prior_type", ["transformer", "pixelcnn"])
def test_completion_on_cuda_from_cpu_inputs(prior_type):
    model = two_stage(prior_type).to("cuda")
    codes = torch.randint(0, NUM_CODES, (2, 7, 7))
    completed = model.generate(codes=codes, num_given_rows=3, generator=torch.Generator().manual_seed(0),
                               output_type="codes")  # fmt: skip
    assert completed.device.type == "cuda" and torch.equal(completed[:, :3].cpu(), codes[:, :3])
    pixels = model.generate(pixel_values=torch.rand(2, 1, 28, 28) * 2 - 1, num_given_rows=2, seed=0)
    assert pixels.shape == (2, 1, 28, 28) and pixels.device.type == "cuda"


def test_from_pil_gives_the_pixels_generate_completes():
    import numpy as np
    from PIL import Image

    model = tiny_two_stage()
    array = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    pixels = model.from_pil(Image.fromarray(array))
    assert pixels.shape == (1, 1, 28, 28) and pixels.dtype == torch.float32
    torch.testing.assert_close(pixels[0, 0], torch.from_numpy(array).float() / 127.5 - 1.0)
    both = model.from_pil([Image.fromarray(array).convert("RGB").resize((56, 56)), Image.fromarray(array)])
    assert both.shape == (2, 1, 28, 28) and both.min() >= -1 and both.max() <= 1
    images = model.generate(pixel_values=both, num_given_rows=2, class_labels=3, seed=0, output_type="pil")
    assert [image.size for image in images] == [(28, 28), (28, 28)]


def test_guided_completion_contrasts_with_the_null_class_after_the_same_kept_codes():
    """Classifier-free guidance in completion: the prior's `generate()` with the class token + kept codes as prompt
    and the null class's token + the same kept codes as the unconditional prompt; scale 1 is plain completion."""
    prior = dict(PRIORS["transformer"], vocab_size=NUM_CODES + 12, initializer_range=0.5)
    config = VQVAEPriorConfig(vqvae=VQVAEConfig(**TWO_STAGE_VQVAE), prior=prior, num_classes=10, null_class=True)
    model = VQVAEPriorForImageGeneration(config).eval()
    codes = torch.randint(0, NUM_CODES, (2, 7, 7), generator=torch.Generator().manual_seed(0))
    given = dict(codes=codes, num_given_rows=3, class_labels=[1, 2], seed=5, output_type="codes")
    plain = model.generate(**given)
    assert torch.equal(model.generate(**given, guidance_scale=1.0), plain)
    guided = model.generate(**given, guidance_scale=3.0)
    assert torch.equal(guided[:, :3], codes[:, :3]) and guided.max() < NUM_CODES and not torch.equal(guided, plain)
    vocabulary = model.vocabulary
    prompt = torch.cat([vocabulary.class_tokens([1, 2])[:, None], codes.flatten(1)[:, :21]], dim=1)
    null = prompt.clone()
    null[:, 0] = vocabulary.null_token_id
    torch.manual_seed(5)
    expected = model.prior.generate(
        prompt, do_sample=True, max_new_tokens=28, min_new_tokens=28, eos_token_id=None, temperature=1.0, top_k=0,
        top_p=1.0, pad_token_id=vocabulary.pad_token_id, suppress_tokens=vocabulary.non_code_ids,
        attention_mask=torch.ones_like(prompt), guidance_scale=3.0, negative_prompt_ids=null,
    )  # fmt: skip
    assert torch.equal(guided.flatten(1), expected[:, 1:])
    with pytest.raises(ValueError, match="guidance_scale"):  # a PixelCNN prior has no null class
        tiny_two_stage("pixelcnn").generate(codes=codes, num_given_rows=3, class_labels=[1, 2], guidance_scale=2.0)
