"""VQ-VAE: shapes, straight-through gradient, EMA codebook, k-means init, dead-code restarts, save/load,
errors."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from tiny_models import TINY_VQVAE, tiny_vqvae
from transformers import AutoConfig, AutoModel

import hf_argen  # noqa: F401  (registration)
from hf_argen.models import VQVAEConfig, VQVAEModel
from hf_argen.models.modeling_vqvae import VQVAEQuantizer, kmeans

ROOT = Path(__file__).resolve().parents[2]


def images(batch=4, channels=1, size=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, channels, size, size, generator=generator) * 2 - 1


# ---- shapes and API ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("factor,channels", [(1, 1), (2, 3), (4, 1)])
def test_shapes_and_ranges(factor, channels):
    model = tiny_vqvae(downsample_factor=factor, num_channels=channels).eval()
    x = images(channels=channels)
    codes = model.encode(x)
    side = 8 // factor
    assert codes.shape == (4, side, side) and codes.dtype == torch.long
    assert codes.min() >= 0 and codes.max() < 16
    decoded = model.decode(codes)
    assert decoded.shape == x.shape and decoded.dtype == torch.float32
    assert decoded.min() >= -1 and decoded.max() <= 1
    out = model(x)
    assert out.reconstruction.shape == x.shape
    assert torch.equal(out.codes, codes)
    # In eval mode forward == decode(encode(x)).
    torch.testing.assert_close(out.reconstruction, decoded)
    assert out.loss.dim() == 0 and torch.isfinite(out.loss)
    assert 1.0 <= out.perplexity.item() <= 16.0
    assert out.codebook_usage.item() == pytest.approx(codes.unique().numel() / 16)


def test_perplexity_and_usage_match_the_code_histogram(vqvae):
    out = vqvae(images(batch=8))
    counts = torch.bincount(out.codes.flatten(), minlength=16).float()
    probs = counts / counts.sum()
    nonzero = probs[probs > 0]
    expected = torch.exp(-(nonzero * nonzero.log()).sum())
    torch.testing.assert_close(out.perplexity, expected)
    assert out.codebook_usage.item() == (counts > 0).float().mean().item()


def test_config_properties():
    config = VQVAEConfig()
    assert (config.image_size, config.num_channels, config.latent_size) == (28, 1, 7)
    assert config.bits_per_image == pytest.approx(49 * 9)


# ---- gradients ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("update", ["ema", "gradient"])
def test_straight_through_gradient_reaches_encoder(update):
    model = tiny_vqvae(codebook_update=update).train()
    out = model(images())
    # The reconstruction term alone reaches the encoder only through the quantiser.
    out.reconstruction_loss.backward()
    for name, parameter in model.encoder.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    if update == "gradient":
        # The codebook learns from the codebook loss, not from the straight-through path.
        assert model.quantizer.codebook.grad is None or model.quantizer.codebook.grad.abs().sum() == 0
        model.zero_grad()
        model(images()).loss.backward()
        assert model.quantizer.codebook.grad.abs().sum() > 0
    else:
        assert not model.quantizer.codebook.requires_grad


def test_straight_through_is_identity_on_the_quantiser_input():
    quantizer = VQVAEQuantizer(VQVAEConfig(**{**TINY_VQVAE, "kmeans_init": False, "dead_code_steps": 0}))
    latents = torch.randn(2, 4, 3, 3, requires_grad=True)
    out = quantizer(latents)
    weights = torch.randn_like(out.quantized)
    (out.quantized * weights).sum().backward()
    torch.testing.assert_close(latents.grad, weights)
    # Forward value is the nearest centroid.
    flat = latents.detach().permute(0, 2, 3, 1).reshape(-1, 4)
    nearest = torch.cdist(flat, quantizer.codebook).argmin(1)
    assert torch.equal(out.codes.flatten(), nearest)
    torch.testing.assert_close(out.quantized.detach().permute(0, 2, 3, 1).reshape(-1, 4), quantizer.codebook[nearest])


# ---- EMA codebook ------------------------------------------------------------------------------------------
def test_ema_update_matches_hand_computation():
    config = VQVAEConfig(
        **{
            **TINY_VQVAE,
            "num_embeddings": 3,
            "embedding_dim": 2,
            "decay": 0.5,
            "epsilon": 0.1,
            "kmeans_init": False,
            "dead_code_steps": 0,
        }
    )
    quantizer = VQVAEQuantizer(config)
    with torch.no_grad():
        quantizer.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0], [-10.0, 5.0]]))
        quantizer.ema_cluster_size.copy_(torch.tensor([2.0, 1.0, 1.0]))
        quantizer.ema_embed_sum.copy_(quantizer.codebook * quantizer.ema_cluster_size[:, None])
    # Three vectors near code 0, one near code 1, none near code 2.
    vectors = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [8.0, 12.0]])
    quantizer(vectors.view(1, 2, 2, 2).permute(0, 3, 1, 2), update=True)
    # N = 0.5 * [2, 1, 1] + 0.5 * [3, 1, 0] = [2.5, 1, 0.5]; n = 4
    # m0 = 0.5 * [0, 0] + 0.5 * [2, 3] = [1, 1.5]; m1 = 0.5 * [10, 10] + 0.5 * [8, 12] = [9, 11];
    # m2 = 0.5 * [-10, 5]
    # smoothed N~ = (N + 0.1) / (4 + 0.3) * 4
    size = torch.tensor([2.5, 1.0, 0.5])
    smoothed = (size + 0.1) / 4.3 * 4
    sums = torch.tensor([[1.0, 1.5], [9.0, 11.0], [-5.0, 2.5]])
    torch.testing.assert_close(quantizer.ema_cluster_size, size)
    torch.testing.assert_close(quantizer.ema_embed_sum, sums)
    torch.testing.assert_close(quantizer.codebook, sums / smoothed[:, None])
    # Centroid 0 moved from the origin towards its assigned mean [2/3, 1].
    moved = quantizer.codebook[0]
    assert torch.dist(moved, torch.tensor([2 / 3, 1.0])) < torch.dist(torch.zeros(2), torch.tensor([2 / 3, 1.0]))


def test_ema_converges_to_cluster_means():
    config = VQVAEConfig(
        **{
            **TINY_VQVAE,
            "num_embeddings": 2,
            "embedding_dim": 2,
            "decay": 0.8,
            "kmeans_init": False,
            "dead_code_steps": 0,
        }
    )
    quantizer = VQVAEQuantizer(config)
    with torch.no_grad():
        quantizer.codebook.copy_(torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
        quantizer.ema_embed_sum.copy_(quantizer.codebook)
    vectors = torch.tensor([[-3.0, 1.0], [-2.0, 1.0], [2.0, -1.0], [4.0, -1.0]]).view(1, 2, 2, 2).permute(0, 3, 1, 2)
    for _ in range(100):
        quantizer(vectors, update=True)
    torch.testing.assert_close(quantizer.codebook, torch.tensor([[-2.5, 1.0], [3.0, -1.0]]), atol=1e-3, rtol=0)


def test_eval_mode_and_no_grad_leave_the_codebook_alone():
    model = tiny_vqvae()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    model(images())
    model.encode(images())
    model.train()
    with torch.no_grad():
        model(images())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    model(images())  # training step: k-means init and EMA update
    assert not torch.equal(model.quantizer.codebook, before["quantizer.codebook"])
    assert bool(model.quantizer.initialized)


# ---- k-means init and dead-code restarts -----------------------------------------------------------------
def test_kmeans_recovers_separated_clusters():
    torch.manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    vectors = (centres[:, None, :] + 0.1 * torch.randn(4, 50, 2)).reshape(-1, 2)
    found, counts = kmeans(vectors, 4, 20)
    order = torch.cdist(centres, found).argmin(1)
    assert sorted(order.tolist()) == [0, 1, 2, 3]
    torch.testing.assert_close(found[order], centres, atol=0.05, rtol=0)
    assert counts.sum() == 200


def test_kmeans_init_from_first_training_batch():
    model = tiny_vqvae(num_embeddings=4, kmeans_iters=20).train()
    assert not bool(model.quantizer.initialized)
    # Hand the quantiser four well-separated clusters as "encoder outputs".
    torch.manual_seed(1)
    centres = torch.tensor([[5.0, 0, 0, 0], [0, 5.0, 0, 0], [0, 0, 5.0, 0], [0, 0, 0, 5.0]])
    latents = centres[torch.arange(64) % 4] + 0.01 * torch.randn(64, 4)
    out = model.quantizer(latents.view(4, 4, 4, 4).permute(0, 3, 1, 2), update=True)
    assert bool(model.quantizer.initialized)
    codebook = model.quantizer.codebook
    order = torch.cdist(centres, codebook).argmin(1)
    assert sorted(order.tolist()) == [0, 1, 2, 3]
    torch.testing.assert_close(codebook[order], centres, atol=0.05, rtol=0)
    assert out.codebook_usage.item() == 1.0
    # Initialised once only: a second batch does not re-run k-means.
    model.quantizer(torch.zeros(1, 4, 4, 4), update=True)
    assert torch.cdist(centres, model.quantizer.codebook).min(1).values.max() < 0.5


def test_dead_code_restart_reseeds_unused_codes():
    config = VQVAEConfig(
        **{
            **TINY_VQVAE,
            "num_embeddings": 4,
            "embedding_dim": 2,
            "kmeans_init": False,
            "dead_code_steps": 3,
            "decay": 0.9,
        }
    )
    quantizer = VQVAEQuantizer(config)
    with torch.no_grad():
        far = torch.tensor([[0.0, 0.0], [100.0, 100.0], [-100.0, 100.0], [100.0, -100.0]])
        quantizer.codebook.copy_(far)
        quantizer.ema_embed_sum.copy_(far)
    # Every vector is near code 0: codes 1-3 are never used.
    torch.manual_seed(0)
    vectors = torch.tensor([[1.0, 1.0], [1.5, 1.0], [-1.0, 2.0], [2.0, -1.0]])
    latents = vectors.view(1, 2, 2, 2).permute(0, 3, 1, 2)
    for step in range(1, 3):
        quantizer(latents, update=True)
        assert quantizer.unused_steps.tolist() == [0, step, step, step]
        # Not yet restarted: the EMA keeps unused centroids (up to Laplace smoothing).
        torch.testing.assert_close(quantizer.codebook[1:], far[1:], atol=0.01, rtol=0)
    quantizer(latents, update=True)  # third unused step: restart
    assert quantizer.unused_steps.tolist() == [0, 0, 0, 0]
    for code in range(1, 4):
        # Each dead code now sits exactly on one of the batch's encoder outputs...
        assert torch.cdist(quantizer.codebook[code : code + 1], vectors).min() < 1e-6
        # ...with EMA statistics that keep it there.
        torch.testing.assert_close(
            quantizer.ema_embed_sum[code] / quantizer.ema_cluster_size[code], quantizer.codebook[code]
        )
    # And the re-seeded codes get used on the next batch.
    out = quantizer(latents, update=False)
    assert out.codebook_usage.item() > 0.25


def test_dead_code_restart_can_be_disabled():
    model = tiny_vqvae(num_embeddings=64, dead_code_steps=0).train()
    for _ in range(3):
        model(images())
    assert model.quantizer.unused_steps.max() == 0


# ---- save / load -----------------------------------------------------------------------------------------
def test_save_load_round_trip_is_identical(tmp_path):
    model = tiny_vqvae().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for seed in range(3):
        loss = model(images(seed=seed)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not (tmp_path / "pytorch_model.bin").exists()
    loaded = AutoModel.from_pretrained(tmp_path)
    assert isinstance(loaded, VQVAEModel)
    state, loaded_state = model.state_dict(), loaded.state_dict()
    assert state.keys() == loaded_state.keys()
    # The EMA statistics and restart counters are saved with the weights (persistent buffers).
    for name in ("codebook", "ema_cluster_size", "ema_embed_sum", "unused_steps", "initialized"):
        assert f"quantizer.{name}" in state
    assert model.quantizer.unused_steps.sum() > 0  # non-trivial state to round-trip
    for key in state:
        assert torch.equal(state[key], loaded_state[key]), key
    assert bool(loaded.quantizer.initialized)
    x = images(seed=7)
    assert torch.equal(model.encode(x), loaded.encode(x))
    torch.testing.assert_close(model(x).reconstruction, loaded(x).reconstruction, rtol=0, atol=0)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), VQVAEConfig)


def test_remote_code_load_without_hf_argen(tmp_path, run_without_hf_argen, vqvae):
    vqvae.save_pretrained(tmp_path / "vqvae")
    config = (tmp_path / "vqvae" / "config.json").read_text()
    assert "auto_map" in config and "AutoConfig" in config and "AutoModel" in config
    x = images(seed=3)
    torch.save(
        {"x": x, "codes": vqvae.encode(x), "reconstruction": vqvae(x).reconstruction},
        tmp_path / "expected.pt",
    )
    script = textwrap.dedent(
        f"""
        import torch
        from transformers import AutoModel
        vqvae = AutoModel.from_pretrained({str(tmp_path / "vqvae")!r}, trust_remote_code=True).eval()
        assert type(vqvae).__module__.startswith("transformers_modules"), type(vqvae).__module__
        expected = torch.load({str(tmp_path / "expected.pt")!r})
        assert torch.equal(vqvae.encode(expected["x"]), expected["codes"])
        # Thread counts may differ from the parent process (float summation order): allow rounding only.
        torch.testing.assert_close(vqvae(expected["x"]).reconstruction, expected["reconstruction"],
                                   rtol=1e-5, atol=1e-6)
        print("ok")
        """
    )
    result = run_without_hf_argen(
        script, tmp_path, {"HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


# ---- errors -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad,match",
    [
        (torch.zeros(2, 1, 8, 8, dtype=torch.long), "dtype"),
        (torch.zeros(2, 3, 8, 8), "shape"),
        (torch.zeros(2, 1, 16, 16), "shape"),
        (torch.zeros(1, 8, 8), "shape"),
        (torch.full((2, 1, 8, 8), 255.0), r"\[-1, 1\]"),
        (torch.full((2, 1, 8, 8), float("nan")), r"\[-1, 1\]"),
        ([[0.0]], "torch.Tensor"),
    ],
)
def test_bad_pixel_values(bad, match):
    model = tiny_vqvae()
    for call in (model, model.encode):
        with pytest.raises(ValueError, match="pixel_values") as info:
            call(bad)
        assert info.match(match)


@pytest.mark.parametrize(
    "bad,match",
    [
        (torch.full((2, 4, 4), 16), r"\[0, 16\)"),
        (torch.full((2, 4, 4), -1), r"\[0, 16\)"),
        (torch.zeros(2, 4, 4, dtype=torch.float), "dtype"),
        (torch.zeros(2, 5, 4, dtype=torch.long), "shape"),
        (torch.zeros(4, 4, dtype=torch.long), "shape"),
    ],
)
def test_bad_codes(bad, match):
    with pytest.raises(ValueError, match="codes") as info:
        tiny_vqvae().decode(bad)
    assert info.match(match)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"num_embeddings": 1}, "num_embeddings"),
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"num_channels": 2}, "num_channels"),
        ({"downsample_factor": 3}, "downsample_factor"),
        ({"image_size": 30, "downsample_factor": 4}, "image_size"),
        ({"decay": 1.0}, "decay"),
        ({"decay": -0.1}, "decay"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"commitment_cost": -1.0}, "commitment_cost"),
        ({"codebook_update": "adam"}, "codebook_update"),
        ({"dead_code_steps": -1}, "dead_code_steps"),
        ({"kmeans_iters": 0}, "kmeans_iters"),
        ({"hidden_size": 0}, "hidden_size"),
    ],
)
def test_bad_config(kwargs, name):
    with pytest.raises(ValueError, match=name):
        VQVAEConfig(**kwargs)


# ---- shipped model ------------------------------------------------------------------------------------------
SHIPPED = sorted(  # VQ-VAE folders (the prior pipeline folder holds one in vqvae/ and has its own test)
    folder
    for folder in (Path(__file__).resolve().parents[2] / "model_cards").glob("vqvae-*")
    if (folder / "config.json").exists() and '"vqvae_prior"' not in (folder / "config.json").read_text()
)


@pytest.mark.parametrize("folder", SHIPPED, ids=[folder.name for folder in SHIPPED])
def test_shipped_model_folder(folder):
    from huggingface_hub import ModelCard

    model = AutoModel.from_pretrained(folder).eval()
    config = model.config
    codes = model.encode(torch.zeros(2, config.num_channels, config.image_size, config.image_size) - 1)
    assert codes.shape == (2, config.latent_size, config.latent_size)
    # The card's model-index holds the targets' figures.
    card = ModelCard.load(folder / "README.md")
    values = {result.metric_type: result.metric_value for result in card.data.eval_results}
    assert values["codebook_usage"] >= 95.0
    assert values["perplexity"] >= config.num_embeddings / 2
    assert values["bits_per_image"] == pytest.approx(config.bits_per_image)
    assert (folder / "model.safetensors").stat().st_size < 5 * 2**20


# ---- distributed codebook maintenance ----------------------------------------------------------------------
DISTRIBUTED_SCRIPT = """
import os, sys, torch, torch.distributed as dist, torch.multiprocessing as mp
sys.path.insert(0, {root!r})
from hf_argen.models.configuration_vqvae import VQVAEConfig
from hf_argen.models.modeling_vqvae import VQVAEQuantizer

def latents(rank, step):
    generator = torch.Generator().manual_seed(100 * step + rank)
    return torch.randn(3, 4, 2, 2, generator=generator) * (rank + 1)

def overrides(mode):
    config = dict(image_size=8, num_embeddings=8, embedding_dim=4, downsample_factor=2, decay=0.5)
    if mode == "exact":
        return dict(config, kmeans_init=False, dead_code_steps=0)
    return dict(config, kmeans_init=True, dead_code_steps=1)

def run(rank, world, out):
    dist.init_process_group("gloo", init_method="file://" + os.path.join(out, "rendezvous"), rank=rank,
                            world_size=world)
    for mode in ("exact", "synced"):
        torch.manual_seed(0)  # the same initial state on every process (DDP broadcasts it too)
        quantizer = VQVAEQuantizer(VQVAEConfig(**overrides(mode)))
        torch.manual_seed(1 + rank)  # different local randomness: k-means seeds and restart picks must be synced
        for step in range(4):
            quantizer(latents(rank, step), update=True)
        torch.save(quantizer.state_dict(), os.path.join(out, mode, f"rank{{rank}}.pt"))
    dist.destroy_process_group()

def main(out):
    for mode in ("exact", "synced"):
        os.makedirs(os.path.join(out, mode))
    mp.spawn(run, args=(2, out), nprocs=2)  # one process group for both modes (each start imports torch)
    torch.manual_seed(0)  # the exact updates on one process, from both ranks' batches concatenated
    quantizer = VQVAEQuantizer(VQVAEConfig(**overrides("exact")))
    for step in range(4):
        quantizer(torch.cat([latents(0, step), latents(1, step)]), update=True)
    torch.save(quantizer.state_dict(), os.path.join(out, "exact", "single.pt"))

if __name__ == "__main__":
    main(sys.argv[1])
"""


def test_distributed_codebook_updates(tmp_path):
    """Two gloo processes: EMA statistics are summed over processes, k-means seeds and restarts are synced."""
    script = tmp_path / "dist_vq.py"
    script.write_text(DISTRIBUTED_SCRIPT.format(root=str(ROOT)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for mode in ("exact", "synced"):
        rank0, rank1 = (torch.load(tmp_path / mode / f"rank{r}.pt") for r in (0, 1))
        for key in rank0:  # every process holds the same codebook state
            assert torch.equal(rank0[key], rank1[key]), (mode, key)
    # Summed statistics == one process seeing the whole global batch.
    single = torch.load(tmp_path / "exact" / "single.pt")
    for key, value in torch.load(tmp_path / "exact" / "rank0.pt").items():
        torch.testing.assert_close(value, single[key], rtol=1e-5, atol=1e-6)
    assert bool(torch.load(tmp_path / "synced" / "rank0.pt")["initialized"])
