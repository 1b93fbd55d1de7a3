"""Pixel LMs (causal LMs over sub-pixels): the token order is the PixelCNN's, likelihoods are exact and computed by
the PixelCNN's evaluation code, the models are causal, the marginal over classes is exact, samples have the exact
length, and the model-family benchmark runs end to end on a tiny budget."""

import importlib.util
import itertools
import json
import math
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration, PixelVocabulary
from hf_argen.evaluation import class_frequencies, marginal_log_likelihood
from hf_argen.recipes.pixel_lm import (
    MODEL_TYPES,
    build_pixel_lm,
    condition_kwargs,
    generate_pixels,
    generate_pixels_guided,
    pixel_lm_likelihood_report,
    pixel_lm_log_likelihood,
    pixel_lm_loss,
    pixel_lm_scorer,
    row_above_lags,
    set_image_layout,
)

ROOT = Path(__file__).resolve().parents[2]


def load_script(path: str):
    """A script of the repository (`benchmarks/...py`, `scripts/...py`) as a module."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass resolves its annotations through sys.modules
    spec.loader.exec_module(module)
    return module


# The model types, and the RNN that also reads the row above (`input_lags`).
VARIANTS = [*MODEL_TYPES, "rnn-above"]


def tiny_pixel_lm(model_type, num_levels=5, num_classes=3, channels=3, size=3, cell_type="lstm"):
    vocabulary = PixelVocabulary(num_levels, num_classes)
    length = vocabulary.prefix_length + channels * size * size
    lags = row_above_lags(channels, size) if model_type == "rnn-above" else None
    torch.manual_seed(0)
    model = build_pixel_lm(model_type.removesuffix("-above"), vocabulary, length, hidden_size=16, num_hidden_layers=2,
                           num_attention_heads=2, cell_type=cell_type, input_lags=lags).eval()  # fmt: skip
    set_image_layout(model.config, vocabulary, channels, size)
    return model, vocabulary


def random_images(n, num_levels=5, channels=3, size=3, seed=0):
    return torch.randint(0, num_levels, (n, channels, size, size), generator=torch.Generator().manual_seed(seed))


def test_tokens_round_trip_in_raster_then_rgb_order():
    vocabulary = PixelVocabulary(num_levels=7, num_classes=2)
    x = random_images(4, 7, channels=3, size=5)
    tokens = vocabulary.levels_to_tokens(x)
    assert tokens.shape == (4, 75)
    for k in range(75):  # token k = channel k % 3 of pixel k // 3 in raster order
        pixel, channel = divmod(k, 3)
        assert torch.equal(tokens[:, k], x[:, channel, pixel // 5, pixel % 5])
    assert torch.equal(vocabulary.tokens_to_levels(tokens, 3, 5), x)
    sequences = vocabulary.sequences(x, torch.tensor([0, 1, 1, 0]))
    assert sequences[:, 0].eq(vocabulary.bos_token_id).all()
    assert sequences[:, 1].tolist() == [8, 9, 9, 8] and torch.equal(sequences[:, 2:], tokens)
    unconditional = PixelVocabulary(num_levels=7)
    assert unconditional.sequences(x).shape == (4, 76) and unconditional.vocab_size == 9


def test_token_order_is_the_pixelcnns_autoregressive_order():
    """Changing the sub-pixel at token position k leaves every PixelCNN logit at positions <= k unchanged (and some
    later one changes): the PixelCNN factorises images in exactly the pixel LM's token order."""
    torch.manual_seed(0)
    config = PixelCNNConfig(image_size=4, num_channels=3, num_levels=5, hidden_size=12, num_hidden_layers=3,
                            first_kernel_size=3, output_hidden_size=12)  # fmt: skip
    pixelcnn = PixelCNNForImageGeneration(config).eval()
    vocabulary = PixelVocabulary(num_levels=5)
    x = random_images(1, 5, channels=3, size=4)

    def token_logits(images):
        logits = pixelcnn(images).logits  # (B, C, H, W, L) -> (B, T, L) in token order
        return logits.permute(0, 2, 3, 1, 4).reshape(1, -1, 5)

    base = token_logits(x)
    for k in range(0, 48, 5):
        tokens = vocabulary.levels_to_tokens(x).clone()
        tokens[0, k] = (tokens[0, k] + 2) % 5
        changed = token_logits(vocabulary.tokens_to_levels(tokens, 3, 4))
        assert torch.allclose(changed[:, : k + 1], base[:, : k + 1], atol=1e-6)
        if k < 47:
            assert not torch.allclose(changed[:, k + 1 :], base[:, k + 1 :], atol=1e-6)


@pytest.mark.parametrize("model_type", VARIANTS)
def test_bits_per_dim_is_the_exact_sum_of_token_nlls(model_type):
    """The evaluation's log p(x|y) == −(the training loss x dims) == the sum of the per-step log-probs of a cached,
    token-by-token pass (the generation path), each a softmax over the levels only."""
    model, vocabulary = tiny_pixel_lm(model_type)
    x, y = random_images(3), torch.tensor([0, 2, 1])
    log_likelihood = pixel_lm_log_likelihood(model, x, y).double()
    dims = x[0].numel()
    losses = torch.stack([pixel_lm_loss(vocabulary)(model, {"pixel_values": x[i : i + 1], "class_labels": y[i : i + 1]})
                          for i in range(3)]).double()  # fmt: skip
    torch.testing.assert_close(log_likelihood, -losses * dims, rtol=1e-5, atol=1e-4)
    sequences = vocabulary.sequences(x, y)
    stepped = torch.zeros(3, dtype=torch.float64)
    condition = condition_kwargs(model, y)
    assert bool(condition) == model_type.startswith("rnn")  # the RNN also takes the class at every step
    if model_type == "rnn-above":
        assert model.config.input_lags == [5, 8, 11]  # a row of 3 RGB pixels: above left, above, above right
    with torch.no_grad():
        out = model(input_ids=sequences[:, :2], use_cache=True, **condition)
        for t in range(2, sequences.shape[1]):
            log_probs = torch.log_softmax(out.logits[:, -1, : vocabulary.num_levels].double(), dim=-1)
            stepped += log_probs.gather(1, sequences[:, t : t + 1]).squeeze(1)
            if t + 1 < sequences.shape[1]:
                position = {"cache_position": torch.tensor([t])} if model_type == "mamba" else {}
                if model_type == "rnn-above":
                    position = {"context_ids": sequences[:, : t + 1]}
                out = model(input_ids=sequences[:, t : t + 1], cache=out.cache, use_cache=True, **position,
                            **condition)  # fmt: skip
    torch.testing.assert_close(log_likelihood, stepped, rtol=1e-5, atol=1e-3)
    report = pixel_lm_likelihood_report(model, x, y)
    assert math.isclose(report["bits_per_dim"], -log_likelihood.mean().item() / (dims * math.log(2)), rel_tol=1e-6)


@pytest.mark.parametrize("model_type", VARIANTS)
def test_pixel_lm_is_causal(model_type):
    """Changing sub-pixel k leaves the log-probs of sub-pixels 0..k-1 and of sub-pixel k's distribution unchanged."""
    model, vocabulary = tiny_pixel_lm(model_type)
    x, y = random_images(1), torch.tensor([1])
    sequences = vocabulary.sequences(x, y)

    def log_probs(seq):
        with torch.no_grad():
            logits = model(input_ids=seq, use_cache=False, **condition_kwargs(model, y)).logits
            return torch.log_softmax(logits[..., : vocabulary.num_levels], -1)

    base = log_probs(sequences)
    for t in range(2, sequences.shape[1], 4):
        changed = sequences.clone()
        changed[0, t] = (changed[0, t] + 1) % vocabulary.num_levels
        torch.testing.assert_close(log_probs(changed)[:, :t], base[:, :t], rtol=0, atol=1e-5)


def test_marginal_is_exact_and_sums_to_one_over_every_image():
    """For a tiny binary model (2x2, one channel, 2 classes): Σ_x p(x | y) = 1 for every class, the marginal
    equals log Σ_y p(y) p(x | y) computed by hand, and Σ_x p(x) = 1."""
    model, vocabulary = tiny_pixel_lm("rnn", num_levels=2, num_classes=2, channels=1, size=2)
    images = torch.tensor(list(itertools.product([0, 1], repeat=4))).view(16, 1, 2, 2)
    prior = torch.tensor([0.3, 0.7], dtype=torch.float64)
    per_class = torch.stack([pixel_lm_log_likelihood(model, images, torch.full((16,), c)) for c in (0, 1)], 1).double()
    torch.testing.assert_close(per_class.exp().sum(0), torch.ones(2, dtype=torch.float64), rtol=0, atol=1e-5)
    marginal = marginal_log_likelihood(pixel_lm_scorer(model, vocabulary), images, 2, prior, batch_size=5)
    by_hand = torch.log((per_class.exp() * prior).sum(1))
    torch.testing.assert_close(marginal, by_hand, rtol=0, atol=1e-6)
    torch.testing.assert_close(marginal.exp().sum(), torch.tensor(1.0, dtype=torch.float64), rtol=0, atol=1e-5)
    report = pixel_lm_likelihood_report(model, images, torch.zeros(16, dtype=torch.long), prior)
    assert math.isclose(report["marginal_nats_per_image"], -marginal.mean().item(), rel_tol=1e-6)
    assert math.isclose(report["nats_per_image"], -per_class[:, 0].mean().item(), rel_tol=1e-5)
    assert torch.allclose(class_frequencies([1, 1, 0], 2), torch.tensor([1 / 3, 2 / 3], dtype=torch.float64))


@pytest.mark.parametrize("model_type", ["rnn", "rnn-above", "imagegpt", "mamba"])
def test_generate_pixels_exact_length_levels_only_and_seeded(model_type):
    model, vocabulary = tiny_pixel_lm(model_type)
    labels = torch.tensor([0, 1, 2, 0])
    images = generate_pixels(model, class_labels=labels, seed=3)
    assert images.shape == (4, 3, 3, 3) and images.dtype == torch.long
    assert images.min() >= 0 and images.max() < vocabulary.num_levels
    assert torch.equal(images, generate_pixels(model, class_labels=labels, seed=3))
    state = torch.random.get_rng_state()
    generate_pixels(model, class_labels=labels, seed=4)
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is untouched


def test_rnn_takes_the_class_at_every_step():
    """The class-conditional RNN's class reaches every step through its class bias, not only through the class
    token: with the class token held fixed, changing `class_labels` changes the last sub-pixel's distribution (and
    with the bias zeroed it does not); sampling passes the labels to `generate()` (per-class samples differ)."""
    model, vocabulary = tiny_pixel_lm("rnn")
    assert model.config.num_classes == 3
    x = random_images(1)
    sequence = vocabulary.sequences(x, torch.tensor([0]))[:, :-1]

    def last_logits(label):
        with torch.no_grad():
            return model(input_ids=sequence, class_labels=torch.tensor([label])).logits[0, -1]

    assert not torch.allclose(last_logits(0), last_logits(1))
    with torch.no_grad():
        model.model.class_bias.weight.zero_()
    torch.testing.assert_close(last_logits(0), last_logits(1))
    with pytest.raises(ValueError, match="class_labels"):
        model(input_ids=sequence)
    unconditional, _ = tiny_pixel_lm("rnn", num_classes=0)
    assert condition_kwargs(unconditional, None) == {}
    with pytest.raises(ValueError, match="class_labels"):
        unconditional(input_ids=sequence[:, :1], class_labels=torch.tensor([0]))


@pytest.mark.parametrize("model_type", ["rnn", "rnn-above", "transformer"])
@pytest.mark.parametrize("guidance_scale", [1.0, 3.0])
def test_class_posterior_guidance_follows_its_formula(model_type, guidance_scale):
    """At a tiny temperature the guided sampler takes the argmax of its scores; recomputing those scores from scratch
    with uncached forward passes (per class: log p(x_t | x_<t, k); posterior from the exact prefix likelihoods;
    marginal Σ_k p(k | x_<t) p(x_t | x_<t, k); conditional + (g - 1)(conditional - marginal)) gives that argmax at
    every sub-pixel: the cached multi-class bookkeeping is exact. g = 1 is greedy decoding of p(x | y)."""
    model, vocabulary = tiny_pixel_lm(model_type, num_levels=4, num_classes=3, channels=1, size=3)
    with torch.no_grad():  # large random weights: distributions that differ clearly between classes and steps
        for parameter in model.parameters():
            parameter.normal_(0, 0.7, generator=torch.Generator().manual_seed(parameter.numel()))
    labels = torch.tensor([0, 2, 1, 1, 0, 2])
    images = generate_pixels_guided(model, labels, guidance_scale, temperature=1e-6, seed=0)
    assert images.shape == (6, 1, 3, 3)
    tokens = vocabulary.levels_to_tokens(images)
    for b, label in enumerate(labels.tolist()):
        per_class = []
        for k in range(3):  # uncached, one class at a time
            sequence = vocabulary.sequences(images[b : b + 1], torch.tensor([k]))[:, :-1]
            with torch.no_grad():
                logits = model(input_ids=sequence, use_cache=False, **condition_kwargs(model, torch.tensor([k]))).logits
            per_class.append(torch.log_softmax(logits[0, 1:, :4].double(), -1))  # (T, levels) for class k
        per_class = torch.stack(per_class)  # (K, T, levels)
        taken = per_class.gather(2, tokens[b][None, :, None].expand(3, -1, 1))[..., 0]  # (K, T)
        prefix_log_likelihood = torch.cat([torch.zeros(3, 1, dtype=torch.float64), taken.cumsum(1)[:, :-1]], 1)
        posterior = torch.log_softmax(prefix_log_likelihood, dim=0)  # (K, T)
        marginal = torch.logsumexp(posterior[..., None] + per_class, dim=0)  # (T, levels)
        scores = per_class[label] + (guidance_scale - 1) * (per_class[label] - marginal)
        assert torch.equal(scores.argmax(-1), tokens[b])
    with pytest.raises(ValueError, match="guidance_scale"):
        generate_pixels_guided(model, labels, 0.5)
    with pytest.raises(ValueError, match="temperature"):
        generate_pixels_guided(model, labels, 2.0, temperature=0)
    unconditional, _ = tiny_pixel_lm(model_type, num_classes=0)
    with pytest.raises(ValueError, match="class-conditional"):
        generate_pixels_guided(unconditional, labels, 2.0)


@pytest.mark.parametrize("guidance_scale", [1.0, 2.0])
def test_best_of_n_keeps_the_candidate_the_model_finds_most_likely_of_its_class(guidance_scale):
    """`num_candidates=n` samples the labels repeated n times (the same draws) and keeps, per image, the candidate
    with the largest exact posterior p(y | x) (uniform prior), recomputed here from uncached likelihoods."""
    model, vocabulary = tiny_pixel_lm("rnn-above", num_levels=4, num_classes=3, channels=1, size=3)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.7, generator=torch.Generator().manual_seed(parameter.numel()))
    labels, n = torch.tensor([0, 2, 1]), 4
    candidates = generate_pixels_guided(model, labels.repeat_interleave(n), guidance_scale, seed=7)
    best = generate_pixels_guided(model, labels, guidance_scale, seed=7, num_candidates=n)
    per_class = torch.stack([pixel_lm_log_likelihood(model, candidates, torch.full((3 * n,), k)) for k in range(3)], 1)
    posterior = torch.log_softmax(per_class.double(), 1).gather(1, labels.repeat_interleave(n)[:, None]).view(3, n)
    assert posterior.max(1).values.sub(posterior.min(1).values).max() > 0.5  # choosing matters for some image
    for b in range(3):
        chosen = [c for c in range(n) if torch.equal(candidates[b * n + c], best[b])]
        assert chosen and posterior[b, chosen[0]] >= posterior[b].max() - 1e-9
    with pytest.raises(ValueError, match="num_candidates"):
        generate_pixels_guided(model, labels, guidance_scale, num_candidates=0)


def test_pixel_vocabulary_bad_inputs():
    vocabulary = PixelVocabulary(num_levels=4, num_classes=2)
    with pytest.raises(ValueError, match="class_labels"):
        vocabulary.prefix(torch.tensor([2]))
    with pytest.raises(ValueError, match="class_labels"):
        vocabulary.prefix(None, 3)
    with pytest.raises(ValueError, match="pixel_values"):
        vocabulary.levels_to_tokens(torch.full((1, 1, 2, 2), 4))
    with pytest.raises(ValueError, match="pixel_values"):
        vocabulary.levels_to_tokens(torch.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match="tokens"):
        vocabulary.tokens_to_levels(torch.zeros(1, 5, dtype=torch.long), 1, 2)
    with pytest.raises(ValueError, match="num_levels"):
        PixelVocabulary(num_levels=1)
    with pytest.raises(ValueError, match="model_type"):
        build_pixel_lm("lstm", vocabulary, 10)


def test_benchmark_runs_end_to_end_and_resumes(tmp_path):
    module = load_script("benchmarks/benchmark_model_families.py")
    argv = ["--dataset", "digits", "--output_dir", str(tmp_path), "--rows", "independent", "rnn-gru", "vqvae+mamba",
            "--max_train_steps", "2", "--checkpointing_steps", "1", "--hidden_size", "8", "--rnn_layers", "1",
            "--mamba_layers", "1", "--consistency_samples", "10", "--max_test_images", "20",
            "--guidance_scales", "2"]  # fmt: skip
    rows = module.main(argv)
    assert [r["row"] for r in rows] == ["independent", "rnn-gru", "vqvae+mamba"]
    table = (tmp_path / "table.md").read_text()
    assert "RNN over pixels" in table and "independent" in table and "MambaForCausalLM` prior" in table
    prior = rows[2]  # nats per code of the 4x4 code maps of the VQ-VAE trained in the run; bits/image = their sum
    assert 0 < prior["marginal_nats_per_code"] and "bits_per_dim" not in prior
    assert math.isclose(prior["bits_per_image"], prior["marginal_nats_per_code"] * 16 / math.log(2), rel_tol=1e-6)
    gru = json.loads((tmp_path / "rows" / "rnn-gru.json").read_text())
    assert gru["marginal_bits_per_dim"] > 0 and gru["train_steps"] == 2 and 0 <= gru["class_consistency"] <= 1
    assert set(gru["guided_class_consistency"]["2.0"]) == {"seed_1", "seed_2"}
    assert math.isclose(gru["bits_per_image"], gru["marginal_bits_per_dim"] * 64, rel_tol=1e-6)
    # A rerun with the figures gone reloads every trained row (and the VQ-VAE) instead of retraining: same figures.
    for path in (tmp_path / "rows").glob("*.json"):
        path.unlink()
    again = module.main(argv)
    timing = ("sample_16_seconds", "sample_16_cpu_seconds")
    assert [{k: v for k, v in r.items() if k not in timing} for r in again] == [
        {k: v for k, v in r.items() if k not in timing} for r in rows
    ]


def test_benchmark_warm_start_continues_from_saved_weights(tmp_path):
    """`--init_from`: the pixel-LM row starts from a saved model's weights (a run at a negligible learning rate keeps
    its test figures), is marked as such, and a model of another config is refused by name."""
    module = load_script("benchmarks/benchmark_model_families.py")
    argv = ["--dataset", "digits", "--rows", "rnn-lstm-above", "--max_train_steps", "1", "--hidden_size", "8",
            "--rnn_layers", "1", "--consistency_samples", "10", "--max_test_images", "20"]  # fmt: skip
    (first,) = module.main(argv + ["--output_dir", str(tmp_path / "first")])
    source = str(tmp_path / "first" / "rnn-lstm-above")
    (warm,) = module.main(argv + ["--output_dir", str(tmp_path / "warm"), "--init_from", source,
                                  "--learning_rate", "1e-12"])  # fmt: skip
    assert warm["init_from"] == "first/rnn-lstm-above" and "init_from" not in first
    assert math.isclose(warm["bits_per_dim"], first["bits_per_dim"], rel_tol=1e-6)
    table = (tmp_path / "warm" / "table.md").read_text()
    assert "started from the saved `first/rnn-lstm-above` (warm restart)" in table
    with pytest.raises(ValueError, match=r"--init_from .*\['hidden_size'\]"):
        narrower = [("4" if value == "8" else value) for value in argv]  # --hidden_size 4
        module.main(narrower + ["--output_dir", str(tmp_path / "other"), "--init_from", source])


def test_ship_pixel_lm_writes_a_folder_whose_snippet_samples_each_class(tmp_path):
    """`scripts/ship_pixel_lm.py` on a benchmark row: the saved model (class bias included), the sample grid and a
    card with the row's figures, guided consistency among them."""
    vocabulary = PixelVocabulary(num_levels=17, num_classes=10)
    torch.manual_seed(0)
    model = build_pixel_lm("rnn", vocabulary, 2 + 64, hidden_size=8, num_hidden_layers=1)
    set_image_layout(model.config, vocabulary, 1, 8)
    model.save_pretrained(tmp_path / "bench" / "rnn-lstm")
    figures = {"num_subpixels": 64, "bits_per_dim": 3.0, "marginal_bits_per_dim": 3.1, "class_consistency": 0.25,
               "guided_class_consistency": {"2.0": {"seed_1": 0.5, "seed_2": 0.4}}}  # fmt: skip
    (tmp_path / "bench" / "rows").mkdir()
    (tmp_path / "bench" / "rows" / "rnn-lstm.json").write_text(json.dumps(figures))
    out = load_script("scripts/ship_pixel_lm.py").main(["--benchmark_dir", str(tmp_path / "bench"), "--output_dir",
                                             str(tmp_path / "shipped"), "--num_per_class", "1"])  # fmt: skip
    assert (out / "samples.png").is_file() and (out / "model.safetensors").is_file()
    card = (out / "README.md").read_text()
    assert "class-posterior guidance 2.0" in card and "50 % (seed 1), 40 % (seed 2)" in card
    assert "class_labels=torch.arange(10)" in card
    shipped = AutoModelForCausalLM.from_pretrained(out)
    assert shipped.config.num_classes == 10 and shipped.config.id2label[3] == "3"
    # Consistency measured on the shipped folder by `hf-argen evaluate` goes into the card with its command.
    measured = {"model": str(out), "num_samples": 1000, "seed": 0, "consistency": 0.734, "guidance_scale": 2.0,
                "temperature": 0.9}  # fmt: skip
    (tmp_path / "guided.json").write_text(json.dumps(measured))
    argv = ["--benchmark_dir", str(tmp_path / "bench"), "--output_dir", str(out), "--num_per_class", "1"]
    load_script("scripts/ship_pixel_lm.py").main(argv + ["--evaluation_json", str(tmp_path / "guided.json")])
    card = (out / "README.md").read_text()
    assert "| class consistency of 1000 samples, class-posterior guidance 2, temperature 0.9, seed 0 | 73.4 % |" in card
    command = f"hf-argen evaluate --model {out} --split none --num_per_class 100 --seed 0 --guidance_scale 2"
    assert f"{command} --temperature 0.9" in card
    (tmp_path / "other.json").write_text(json.dumps(dict(measured, model=str(tmp_path / "other"))))
    with pytest.raises(ValueError, match="evaluation_json"):
        load_script("scripts/ship_pixel_lm.py").main(argv + ["--evaluation_json", str(tmp_path / "other.json")])


def test_train_causal_lm_pixels_with_the_row_above(tmp_path):
    """`training/train_causal_lm.py --pixels --model_type rnn --row_above` trains a class-conditional pixel RNN on
    digits whose config reads the row above (8x8, one channel: lags 6, 7, 8), reports exact bits/dim and saves a
    folder whose model samples each requested class."""
    module = load_script("training/train_causal_lm.py")
    out = tmp_path / "out"
    module.main(["--pixels", "--model_type", "rnn", "--row_above", "--dataset_name", "digits", "--output_dir", str(out),
                 "--hidden_size", "16", "--num_hidden_layers", "1", "--train_batch_size", "8", "--max_train_steps",
                 "2", "--eval_steps", "2", "--max_eval_samples", "16", "--no_samples"])  # fmt: skip
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.input_lags == [6, 7, 8] and model.config.num_classes == 10
    assert json.loads((out / "training_info.json").read_text())["eval_bits_per_dim"] > 0
    images = generate_pixels(model, class_labels=[3, 7], seed=0)
    assert images.shape == (2, 1, 8, 8) and int(images.max()) < 17


def test_evaluate_command_measures_a_pixel_lm(tmp_path):
    """`hf-argen evaluate` on a saved pixel RNN (reading the row above): a tiny MNIST's test bits/dim are the recipe's
    exact report (marginal with the training frequencies); `--num_per_class` gives the classifier's accuracy on the
    seeded samples, plain and with class-posterior guidance; flags that do not apply are refused by name."""
    from tiny_models import save_untrained_mnist_classifier, write_tiny_mnist

    from hf_argen.cli.evaluate import main as evaluate
    from hf_argen.evaluation import class_frequencies
    from hf_argen.recipes.classifier import class_consistency, load_mnist_classifier, mnist_tensors

    data = write_tiny_mnist(tmp_path / "mnist")
    classifier_path = save_untrained_mnist_classifier(tmp_path / "classifier.pt")
    model, vocabulary = tiny_pixel_lm("rnn-above", num_levels=256, num_classes=10, channels=1, size=28)
    model.save_pretrained(tmp_path / "model")
    common = ["--model", str(tmp_path / "model"), "--data_dir", str(data), "--classifier_path", str(classifier_path),
              "--device", "cpu", "--seed", "3", "--output_json", "-"]  # fmt: skip
    figures = evaluate(common + ["--split", "test", "--max_eval_samples", "6", "--num_per_class", "1"])
    images, labels = mnist_tensors("test", data)
    x = (images[:6] * 255).round().long()
    prior = class_frequencies(mnist_tensors("train", data)[1].tolist(), 10)
    expected = pixel_lm_likelihood_report(model, x, labels[:6], prior)
    assert figures["dataset"] == "mnist" and figures["num_images"] == 6
    assert figures["marginal_bits_per_dim"] == pytest.approx(expected["marginal_bits_per_dim"], rel=1e-5)
    assert figures["bits_per_dim"] == pytest.approx(expected["bits_per_dim"], rel=1e-5)
    classifier = load_mnist_classifier(classifier_path)
    wanted = torch.arange(10)
    for flags, samples in (
        ([], generate_pixels(model, class_labels=wanted, seed=3)),
        (["--guidance_scale", "2"], generate_pixels_guided(model, wanted, 2.0, seed=3)),
        (["--num_candidates", "2"], generate_pixels_guided(model, wanted, 1.0, seed=3, num_candidates=2)),
    ):
        result = evaluate(common + ["--split", "none", "--num_per_class", "1", *flags])
        assert result["guidance_scale"] == (2.0 if "--guidance_scale" in flags else None)
        assert result["consistency"] == class_consistency(classifier, samples.float() / 255, wanted)["consistency"]
    refused = [
        (["--guidance_scale", "2"], "num_per_class"),
        (["--completion_rows", "3"], "completion_rows"),
        (["--split", "none"], "num_per_class"),
        (["--num_candidates", "2"], "num_per_class"),
        (["--split", "none", "--num_per_class", "1", "--num_candidates", "0"], "num_candidates"),
    ]
    for flags, name in refused:
        with pytest.raises(ValueError, match=name):
            evaluate(common + flags)


def test_generate_command_draws_a_pixel_lm_grid(tmp_path):
    """`hf-argen generate` on a saved pixel LM: a grid with one column per requested class (names or ids), the
    samples those of `generate_pixels` (or, with `--guidance_scale` or `--num_candidates`, of `generate_pixels_guided`)
    with the seed."""
    import numpy as np
    from PIL import Image

    from hf_argen import PixelCNNImageProcessor
    from hf_argen.cli.generate import main as generate

    model, vocabulary = tiny_pixel_lm("rnn-above", num_classes=3, channels=1, size=4)
    model.config.id2label = {0: "zero", 1: "one", 2: "two"}
    model.config.label2id = {"zero": 0, "one": 1, "two": 2}
    model.save_pretrained(tmp_path / "model")
    processor = PixelCNNImageProcessor(num_levels=5, num_channels=1, image_size=4)
    common = ["--model", str(tmp_path / "model"), "--num_images", "2", "--seed", "5", "--scale", "1", "--device", "cpu"]
    labels = torch.tensor([2, 0, 2, 0])  # two rows of the columns "two", 0
    for index, (flags, samples) in enumerate((
        ([], generate_pixels(model, class_labels=labels, seed=5)),
        (["--guidance_scale", "2"], generate_pixels_guided(model, labels, 2.0, seed=5)),
        (["--num_candidates", "3"], generate_pixels_guided(model, labels, 1.0, seed=5, num_candidates=3)),
        (["--guidance_scale", "2", "--temperature", "0.9", "--num_candidates", "2"],
         generate_pixels_guided(model, labels, 2.0, seed=5, temperature=0.9, num_candidates=2)),
    )):  # fmt: skip
        out = tmp_path / f"grid{index}.png"
        result = generate(common + ["--class_labels", "two", "0", "--output", str(out), *flags])
        assert result["num_samples"] == 4
        grid = np.asarray(Image.open(out).convert("L"))
        cells = [grid[1 + 5 * r : 5 + 5 * r, 1 + 5 * c : 5 + 5 * c] for r in (0, 1) for c in (0, 1)]
        expected = [np.asarray(image.convert("L")) for image in processor.postprocess(samples)]
        assert all(np.array_equal(cell, image) for cell, image in zip(cells, expected))
    with pytest.raises(ValueError, match="class_labels"):
        generate(common + ["--class_labels", "seven"])
    with pytest.raises(ValueError, match="--num_candidates must be >= 1"):
        generate(common + ["--num_candidates", "0"])
    with pytest.raises(ValueError, match="complete"):
        generate(common + ["--complete", "x.png", "--num_given_rows", "1"])
