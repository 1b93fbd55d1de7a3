"""VQ-VAE recipe: metrics, reconstruction grid, model card, and the training entry point (tiny run)."""

import json
import math
import sys
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard
from tiny_models import TINY_VQVAE

from hf_argen.models import VQVAEConfig, VQVAEModel
from hf_argen.recipes.vqvae import (
    evaluate_vqvae,
    levels_to_unit_range,
    reconstruction_grid,
    summarize_statistics,
    unit_range_to_levels,
)

ROOT = Path(__file__).resolve().parents[2]


def test_level_conversions_round_trip():
    levels = torch.arange(256).view(1, 1, 16, 16)
    values = levels_to_unit_range(levels)
    assert values.min() == -1 and values.max() == 1
    assert torch.equal(unit_range_to_levels(values), levels)


def test_summarize_statistics_by_hand():
    config = VQVAEConfig(**TINY_VQVAE)
    counts = torch.zeros(16, dtype=torch.float64)
    counts[:4] = torch.tensor([1.0, 1.0, 1.0, 1.0])  # 4 codes used equally -> perplexity 4
    statistics = {
        "squared_error": torch.tensor(0.04 * 100, dtype=torch.float64),
        "num_subpixels": torch.tensor(100.0, dtype=torch.float64),
        "num_images": torch.tensor(2.0, dtype=torch.float64),
        "code_counts": counts,
    }
    metrics = summarize_statistics(statistics, config)
    assert metrics["mse"] == pytest.approx(0.04)
    # MSE 0.04 on [-1, 1] is 0.01 on [0, 1]: PSNR = 20 dB.
    assert metrics["psnr"] == pytest.approx(20.0)
    assert metrics["perplexity"] == pytest.approx(4.0)
    assert metrics["codebook_usage"] == pytest.approx(0.25) and metrics["codes_used"] == 4
    assert metrics["bits_per_image"] == pytest.approx(16 * 4)  # 4x4 codes, log2(16) = 4 bits each
    assert metrics["num_images"] == 2


def test_evaluate_vqvae_matches_direct_computation(vqvae):
    x = torch.rand(10, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    metrics = evaluate_vqvae(vqvae, x, batch_size=3)  # batches of 3, 3, 3, 1 are summed exactly
    with torch.no_grad():
        codes = vqvae.encode(x)
        reconstruction = vqvae.decode(codes)
    mse = (reconstruction - x).pow(2).mean().item()
    assert metrics["mse"] == pytest.approx(mse, rel=1e-5)
    assert metrics["psnr"] == pytest.approx(10 * math.log10(4 / mse), rel=1e-5)
    assert metrics["codes_used"] == codes.unique().numel()
    assert not vqvae.training


def test_reconstruction_grid_size(vqvae):
    x = torch.rand(7, 1, 8, 8) * 2 - 1
    grid = reconstruction_grid(vqvae, x, num_columns=4, scale=2)
    # 2 rows of originals + 2 rows of reconstructions, 4 columns, 16-pixel tiles with 1-pixel padding.
    assert grid.size == (4 * 17 + 1, 4 * 17 + 1)


def test_model_card_model_index_holds_the_metrics(tmp_path):
    config = VQVAEConfig(**TINY_VQVAE)
    metrics = {
        "psnr": 24.5,
        "mse": 0.0142,
        "codebook_usage": 0.98,
        "codes_used": 502,
        "perplexity": 300.25,
        "bits_per_image": 64.0,
        "num_images": 10000,
    }
    from hf_argen.hub import CardImage
    from hf_argen.recipes.cards import vqvae_card_metrics, write_card_for_folder

    VQVAEModel(config).save_pretrained(tmp_path)
    write_card_for_folder(
        tmp_path,
        vqvae_card_metrics(metrics, "test", config.num_embeddings),
        dataset="mnist",
        repo_id="me/vqvae-test",
        eval_command="hf-argen evaluate ...",
        images=[CardImage("grid.png", "reconstructions")],
    )
    loaded = ModelCard.load(tmp_path / "README.md")
    values = {result.metric_type: result.metric_value for result in loaded.data.eval_results}
    assert values["psnr"] == 24.5 and values["codebook_usage"] == 98.0 and values["perplexity"] == 300.25
    assert values["bits_per_image"] == 64.0
    assert all(result.dataset_split == "test" for result in loaded.data.eval_results)
    assert "![reconstructions](grid.png)" in loaded.text and "hf-argen evaluate" in loaded.text


def test_train_entry_point_tiny_run(tmp_path, monkeypatch):
    pytest.importorskip("hf_argen.training")
    sys.path.insert(0, str(ROOT / "training"))
    import train_vqvae

    output = tmp_path / "out"
    args = [
        "--dataset_name",
        "digits",
        "--output_dir",
        str(output),
        "--max_train_steps",
        "4",
        "--train_batch_size",
        "32",
        "--checkpointing_steps",
        "2",
        "--num_embeddings",
        "8",
        "--embedding_dim",
        "4",
        "--hidden_size",
        "8",
        "--residual_hidden_size",
        "4",
        "--num_residual_layers",
        "1",
        "--downsample_factor",
        "2",
        "--num_sample_images",
        "4",
    ]
    result = train_vqvae.main(args)
    assert result.global_step == 4
    model = VQVAEModel.from_pretrained(output)
    assert model.config.latent_size == 4 and bool(model.quantizer.initialized)
    saved = json.loads((output / "train_results.json").read_text())
    for name in ("eval_psnr", "eval_codebook_usage", "eval_perplexity", "eval_bits_per_image"):
        assert name in saved
    assert saved["eval_bits_per_image"] == 16 * 3  # 4x4 codes x log2(8)
    assert list((output / "samples").glob("*.png"))
    assert (output / "checkpoint-4").is_dir()
