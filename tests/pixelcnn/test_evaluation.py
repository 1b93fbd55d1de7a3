"""Exact likelihoods of `hf_argen.evaluation`: conditional, marginal over classes, ensembles."""

import math

import pytest
import torch
from tiny_models import tiny_scored_pixelcnn

from hf_argen.evaluation import (
    class_frequencies,
    pixelcnn_class_log_likelihoods,
    pixelcnn_likelihood_report,
    pixelcnn_log_likelihood,
    pixelcnn_marginal_log_likelihood,
)


def images(n=7, seed=1) -> torch.Tensor:
    return torch.randint(0, 5, (n, 1, 4, 4), generator=torch.Generator().manual_seed(seed))


def brute_force_marginal(models, x, prior) -> torch.Tensor:
    """log sum_y p(y) p(x | y), one image and one class at a time."""
    out = []
    for image in x:
        terms = [
            math.log(p) + pixelcnn_log_likelihood(models, image[None], torch.tensor([y])).item()
            for y, p in enumerate(prior.tolist())
            if p > 0
        ]
        out.append(torch.logsumexp(torch.tensor(terms, dtype=torch.float64), dim=0))
    return torch.stack(out)


@pytest.mark.parametrize("batch_size", [1, 4, 256])
def test_marginal_equals_explicit_sum_over_classes(batch_size, scored_pixelcnn):
    x = images()
    prior = torch.tensor([0.5, 0.0, 0.5], dtype=torch.float64)  # a class of zero probability is skipped
    marginal = pixelcnn_marginal_log_likelihood(scored_pixelcnn, x, prior, batch_size=batch_size)
    expected = brute_force_marginal([scored_pixelcnn], x, prior)
    torch.testing.assert_close(marginal, expected, rtol=0, atol=1e-4)
    per_class = [pixelcnn_log_likelihood(scored_pixelcnn, x, torch.full((len(x),), y)) for y in range(3)]
    assert not torch.allclose(per_class[0], per_class[2])  # the test would be vacuous otherwise


def test_default_batch_size_depends_on_the_device_and_not_the_figures():
    from hf_argen.evaluation import default_eval_batch_size

    assert default_eval_batch_size("cpu") == 16 and default_eval_batch_size(torch.device("cuda", 0)) == 256
    model, x = tiny_scored_pixelcnn(), images(20)  # more images than the CPU default: several batches
    labels = torch.arange(20) % 3
    torch.testing.assert_close(
        pixelcnn_log_likelihood(model, x, labels),
        pixelcnn_log_likelihood(model, x, labels, batch_size=20),
        rtol=0,
        atol=1e-4,
    )
    torch.testing.assert_close(
        pixelcnn_marginal_log_likelihood(model, x),
        pixelcnn_marginal_log_likelihood(model, x, batch_size=60),
        rtol=0,
        atol=1e-4,
    )
    with pytest.raises(ValueError, match="batch_size"):
        pixelcnn_class_log_likelihoods(model, x, [0, 1], batch_size=0)


def test_class_log_likelihoods_match_one_class_at_a_time(scored_pixelcnn):
    x = images(5)
    table = pixelcnn_class_log_likelihoods(scored_pixelcnn, x, [2, 0], batch_size=3)
    assert table.shape == (5, 2)
    for column, y in enumerate([2, 0]):
        torch.testing.assert_close(
            table[:, column], pixelcnn_log_likelihood(scored_pixelcnn, x, torch.full((5,), y)), rtol=0, atol=1e-4
        )


def test_marginal_of_an_ensemble_and_uniform_default():
    models = [tiny_scored_pixelcnn(seed=0), tiny_scored_pixelcnn(seed=1)]
    x = images(4)
    marginal = pixelcnn_marginal_log_likelihood(models, x, None, batch_size=5)
    expected = brute_force_marginal(models, x, torch.full((3,), 1 / 3, dtype=torch.float64))
    torch.testing.assert_close(marginal, expected, rtol=0, atol=1e-4)


def test_unconditional_marginal_equals_conditional():
    model = tiny_scored_pixelcnn(num_classes=None)
    x = images()
    torch.testing.assert_close(pixelcnn_marginal_log_likelihood(model, x), pixelcnn_log_likelihood(model, x).double())
    report = pixelcnn_likelihood_report(model, x)
    assert "marginal_bits_per_dim" not in report
    with pytest.raises(ValueError, match="not class-conditional"):
        pixelcnn_marginal_log_likelihood(model, x, torch.ones(3))


def test_report_holds_both_figures(scored_pixelcnn):
    x, y = images(6), torch.tensor([0, 1, 2, 0, 1, 2])
    prior = class_frequencies(y, 3)
    report = pixelcnn_likelihood_report(scored_pixelcnn, x, y, prior, batch_size=4, progress=True)
    conditional = pixelcnn_log_likelihood(scored_pixelcnn, x, y).double()
    marginal = brute_force_marginal([scored_pixelcnn], x, prior)
    assert report["bits_per_dim"] == pytest.approx(-conditional.mean().item() / (16 * math.log(2)), abs=1e-5)
    assert report["marginal_bits_per_dim"] == pytest.approx(-marginal.mean().item() / (16 * math.log(2)), abs=1e-5)
    assert report["num_images"] == 6


def test_class_frequencies_and_bad_priors():
    torch.testing.assert_close(class_frequencies([0, 0, 2, 2], 4), torch.tensor([0.5, 0, 0.5, 0], dtype=torch.float64))
    with pytest.raises(ValueError, match="labels must be in"):
        class_frequencies([0, 5], 3)
    model = tiny_scored_pixelcnn()
    with pytest.raises(ValueError, match="3 entries"):
        pixelcnn_marginal_log_likelihood(model, images(2), torch.ones(4))
    with pytest.raises(ValueError, match="non-negative"):
        pixelcnn_marginal_log_likelihood(model, images(2), torch.tensor([1.0, -1.0, 1.0]))
