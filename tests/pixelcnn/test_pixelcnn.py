"""Properties of the Gated PixelCNN: causality, no blind spot, exact likelihoods, I/O, sampling, errors."""

import itertools
import json
import textwrap

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tiny_models import tiny_rgb_pixelcnn, tiny_rgb_pixelcnn_config
from transformers import AutoConfig, AutoModel

import hf_argen  # noqa: F401  (registers the Auto classes)
from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration, PixelCNNModel
from hf_argen.receptive_field import dependency_map, raster_index


def all_subpixels(config):
    return [
        (c, r, col)
        for r in range(config.image_size)
        for col in range(config.image_size)
        for c in range(config.num_channels)
    ]


def dependency_matrix(model) -> torch.Tensor:
    """D[i, j] = the logits of sub-pixel i depend on input sub-pixel j (both in generation order)."""
    config = model.config
    n = config.num_subpixels
    matrix = torch.zeros(n, n, dtype=torch.bool)
    for c, r, col in all_subpixels(config):
        deps = dependency_map(model, r, col, c)  # (C, H, W)
        i = raster_index(c, r, col, config.num_channels, config.image_size)
        matrix[i] = deps.permute(1, 2, 0).reshape(-1)  # (H, W, C) flattening == generation order
    return matrix


# ---------------------------------------------------------------------------------------------------------
# Causality and the blind spot
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("input_embedding", [False, True])
@pytest.mark.parametrize("architecture", ["gated", "masked"])
@pytest.mark.parametrize("num_channels", [1, 3])
def test_no_logit_sees_its_own_or_a_later_subpixel(architecture, num_channels, input_embedding):
    model = tiny_rgb_pixelcnn(architecture=architecture, num_channels=num_channels, input_embedding=input_embedding)
    matrix = dependency_matrix(model)
    assert not torch.triu(matrix).any(), "a logit depends on its own or a later sub-pixel"


@pytest.mark.parametrize("input_embedding", [False, True])
def test_colour_order_within_a_pixel(input_embedding):
    model = tiny_rgb_pixelcnn(num_channels=3, input_embedding=input_embedding)
    deps = [dependency_map(model, 2, 2, c) for c in range(3)]  # (C, H, W) each
    assert not deps[0][:, 2, 2].any()  # R sees nothing of its own pixel
    assert deps[1][:, 2, 2].tolist() == [True, False, False]  # G sees R
    assert deps[2][:, 2, 2].tolist() == [True, True, False]  # B sees R and G


@pytest.mark.parametrize("input_embedding", [False, True])
def test_perturbing_current_and_later_subpixels_leaves_logits_unchanged(input_embedding):
    model = tiny_rgb_pixelcnn(num_channels=3, input_embedding=input_embedding)
    config = model.config
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, config.num_levels, (2, 3, 5, 5), generator=generator)
    labels = torch.tensor([0, 2])
    reference = model(images, labels).logits
    order = all_subpixels(config)
    for index in torch.randint(0, len(order), (12,), generator=generator).tolist():
        perturbed = images.clone()
        for c, r, col in order[index:]:
            perturbed[:, c, r, col] = torch.randint(0, config.num_levels, (2,), generator=generator)
        c, r, col = order[index]
        logits = model(perturbed, labels).logits
        torch.testing.assert_close(logits[:, c, r, col], reference[:, c, r, col], rtol=0, atol=1e-6)
    # ... while changing an earlier sub-pixel does change later logits (the test is not vacuous).
    changed = images.clone()
    changed[:, 0, 0, 0] = (changed[:, 0, 0, 0] + 1) % config.num_levels
    assert not torch.allclose(model(changed, labels).logits[:, :, 4, 4], reference[:, :, 4, 4])


@pytest.mark.parametrize("input_embedding", [False, True])
def test_gated_pixelcnn_has_no_blind_spot(input_embedding):
    model = tiny_rgb_pixelcnn(image_size=6, num_hidden_layers=5, input_embedding=input_embedding)
    matrix = dependency_matrix(model)
    n = model.config.num_subpixels
    expected = torch.tril(torch.ones(n, n, dtype=torch.bool), diagonal=-1)
    assert torch.equal(matrix, expected), "some logit misses an earlier sub-pixel"


def test_masked_pixelcnn_has_a_blind_spot_up_and_to_the_right():
    model = tiny_rgb_pixelcnn(image_size=6, num_hidden_layers=5, architecture="masked", num_channels=1)
    row, col = 5, 1
    deps = dependency_map(model, row, col)[0]  # (H, W)
    earlier = torch.zeros(6, 6, dtype=torch.bool)
    earlier[:row] = True
    earlier[row, :col] = True
    missed = earlier & ~deps
    assert missed.any(), "the masked PixelCNN should miss some earlier pixels"
    rows, cols = missed.nonzero(as_tuple=True)
    assert (rows < row).all() and (cols > col).all(), "the blind spot lies up and to the right"


# ---------------------------------------------------------------------------------------------------------
# Exact likelihoods
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("input_embedding", [False, True])
@pytest.mark.parametrize("architecture", ["gated", "masked"])
def test_probabilities_of_all_images_sum_to_one(architecture, input_embedding):
    model = tiny_rgb_pixelcnn(
        image_size=2, num_channels=3, num_levels=2, architecture=architecture, input_embedding=input_embedding
    )
    images = torch.tensor(list(itertools.product([0, 1], repeat=12))).view(-1, 2, 2, 3).permute(0, 3, 1, 2)
    for label in range(3):
        labels = torch.full((images.shape[0],), label)
        total = model.log_likelihood(images, labels).double().exp().sum()
        assert abs(total.item() - 1.0) < 1e-4


def test_categorical_codes_sum_to_one_over_every_map():
    """A 1-channel categorical model over a 2x2 map of 5 unordered codes, as a latent prior is."""
    model = tiny_rgb_pixelcnn(image_size=2, num_channels=1, num_levels=5, input_embedding=True)
    maps = torch.tensor(list(itertools.product(range(5), repeat=4))).view(-1, 1, 2, 2)
    for label in range(3):
        total = model.log_likelihood(maps, torch.full((maps.shape[0],), label)).double().exp().sum()
        assert abs(total.item() - 1.0) < 1e-4


def test_input_embedding_reads_levels_as_categories():
    """With the embedding, the first layer reads one learned vector per (channel, level), not the intensity;
    off by default, so existing configs and weights keep their meaning."""
    assert tiny_rgb_pixelcnn_config().input_embedding is False and tiny_rgb_pixelcnn_config().input_embedding_size == 1
    model = tiny_rgb_pixelcnn(input_embedding=True)
    assert model.config.input_embedding_size == 13 // 3
    embeddings = model.pixelcnn.level_embeddings
    assert embeddings.weight.shape == (3 * 4, 4)
    assert model.pixelcnn.layers[0].horizontal.in_channels == 3 * 4
    assert "pixelcnn.level_embeddings.weight" in model.state_dict()
    assert not any("level_embeddings" in key for key in tiny_rgb_pixelcnn().state_dict())
    images = torch.randint(0, 4, (2, 3, 5, 5))
    features = model.pixelcnn.input_features(images)  # (B, C, H, W, E)
    torch.testing.assert_close(features[1, 2, 3, 4], embeddings.weight[2 * 4 + images[1, 2, 3, 4]])
    # Swapping two levels' embedding rows is the same as relabelling those levels in the input.
    swapped = tiny_rgb_pixelcnn(input_embedding=True)
    swapped.load_state_dict(model.state_dict())
    with torch.no_grad():
        swapped.pixelcnn.level_embeddings.weight[[0, 1]] = embeddings.weight[[1, 0]]
    relabelled = images.clone()
    relabelled[:, 0] = torch.where(images[:, 0] < 2, 1 - images[:, 0], images[:, 0])
    labels = torch.tensor([0, 1])
    torch.testing.assert_close(swapped(relabelled, labels).logits, model(images, labels).logits)


def test_loss_and_bits_per_dim_agree_with_log_likelihood(rgb_pixelcnn):
    images = torch.randint(0, 4, (3, 3, 5, 5))
    labels = torch.tensor([0, 1, 2])
    loss = rgb_pixelcnn(images, labels, labels=images).loss
    log_likelihood = rgb_pixelcnn.log_likelihood(images, labels)
    assert torch.allclose(loss, -log_likelihood.sum() / images.numel(), atol=1e-5)
    bits = rgb_pixelcnn.bits_per_dim(images, labels)
    assert torch.allclose(bits, -log_likelihood / (75 * torch.log(torch.tensor(2.0))), atol=1e-5)


# ---------------------------------------------------------------------------------------------------------
# Save / load, Auto classes, remote code
# ---------------------------------------------------------------------------------------------------------
def test_auto_classes_and_save_load_round_trip(tmp_path):
    config = tiny_rgb_pixelcnn_config()
    model = AutoModel.from_config(config).eval()
    assert isinstance(model, PixelCNNForImageGeneration)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    assert isinstance(AutoConfig.from_pretrained(tmp_path), PixelCNNConfig)
    loaded = AutoModel.from_pretrained(tmp_path)
    images, labels = torch.randint(0, 4, (2, 3, 5, 5)), torch.tensor([1, 2])
    assert torch.equal(model(images, labels).logits, loaded(images, labels).logits)


@pytest.mark.parametrize("architecture", ["gated", "masked"])
def test_backbone_returns_the_features_the_head_reads(architecture):
    """`PixelCNNModel` is the model without its head: its `last_hidden_state` (every layer's gated features,
    concatenated) through the head gives the logits, and the backbone alone loads from a saved head model."""
    model = tiny_rgb_pixelcnn(architecture=architecture, input_embedding=True)
    assert isinstance(model.pixelcnn, PixelCNNModel) and model.base_model is model.pixelcnn
    images, labels = torch.randint(0, 4, (2, 3, 5, 5)), torch.tensor([2, 0])
    outputs = model.pixelcnn(images, labels, output_hidden_states=True)
    assert outputs.last_hidden_state.shape == (2, 4 * 13, 5, 5)
    assert len(outputs.hidden_states) == 4 and outputs.hidden_states[0].shape == (2, 13, 5, 5)
    torch.testing.assert_close(torch.cat(outputs.hidden_states, dim=1), outputs.last_hidden_state)
    logits = model(images, labels).logits
    torch.testing.assert_close(model.head(outputs.last_hidden_state), logits, rtol=0, atol=0)
    with pytest.raises(ValueError, match="class_labels"):
        model.pixelcnn(images)


def test_backbone_loads_alone_and_auto_model_loads_the_generator(tmp_path, rgb_pixelcnn):
    rgb_pixelcnn.save_pretrained(tmp_path)
    backbone = PixelCNNModel.from_pretrained(tmp_path)
    images, labels = torch.randint(0, 4, (2, 3, 5, 5)), torch.tensor([2, 0])
    torch.testing.assert_close(
        backbone(images, labels).last_hidden_state,
        rgb_pixelcnn.pixelcnn(images, labels).last_hidden_state,
        rtol=0,
        atol=0,
    )
    assert type(AutoModel.from_pretrained(tmp_path)) is PixelCNNForImageGeneration


def _rewrite_weights(folder, rename) -> None:
    weights = folder / "model.safetensors"
    tensors = load_file(str(weights))
    save_file({rename(key): value for key, value in tensors.items()}, str(weights), metadata={"format": "pt"})


def test_weights_saved_before_the_backbone_split_load_unchanged(tmp_path):
    """Folders written before `PixelCNNModel` existed hold `layers.*` / `level_embeddings.*` at the top (and stored
    masks); they load into `pixelcnn.*` with every tensor in place (a missing one would raise)."""
    model = tiny_rgb_pixelcnn(input_embedding=True)
    model.save_pretrained(tmp_path)
    _rewrite_weights(tmp_path, lambda key: key.removeprefix("pixelcnn."))
    with safe_open(str(tmp_path / "model.safetensors"), "pt") as weights:
        assert not any(key.startswith("pixelcnn.") for key in weights.keys())
    loaded = PixelCNNForImageGeneration.from_pretrained(tmp_path)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert torch.equal(loaded.generate(class_labels=[1], seed=0), model.generate(class_labels=[1], seed=0))
    # A training checkpoint's state dict in the old layout loads with `load_state_dict` (strict) as well.
    fresh = tiny_rgb_pixelcnn(input_embedding=True)
    fresh.load_state_dict(load_file(str(tmp_path / "model.safetensors")))
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key


def test_truncated_weights_raise_an_oserror_naming_the_file(tmp_path):
    tiny_rgb_pixelcnn().save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(OSError, match="model.safetensors"):
        AutoModel.from_pretrained(tmp_path)


def test_remote_code_load_without_hf_argen(tmp_path, run_without_hf_argen, rgb_pixelcnn):
    model_dir = tmp_path / "rgb_pixelcnn"
    rgb_pixelcnn.save_pretrained(model_dir)
    assert json.loads((model_dir / "config.json").read_text())["auto_map"]["AutoConfig"]
    images, labels = torch.randint(0, 4, (2, 3, 5, 5)), torch.tensor([1, 2])
    samples = rgb_pixelcnn.generate(class_labels=[0, 2], seed=7)
    torch.save(
        {"images": images, "labels": labels, "logits": rgb_pixelcnn(images, labels).logits, "samples": samples},
        tmp_path / "io.pt",
    )
    assert (model_dir / "sampling_pixelcnn.py").exists()  # the cached sampler travels with the rgb_pixelcnn
    script = textwrap.dedent(f"""
        import torch
        from transformers import AutoModel
        rgb_pixelcnn = AutoModel.from_pretrained({str(model_dir)!r}, trust_remote_code=True)
        io = torch.load({str(tmp_path / "io.pt")!r})
        assert type(rgb_pixelcnn).__module__.startswith("transformers_modules"), type(rgb_pixelcnn).__module__
        torch.testing.assert_close(rgb_pixelcnn(io["images"], io["labels"]).logits, io["logits"], rtol=0, atol=1e-6)
        assert torch.equal(rgb_pixelcnn.generate(class_labels=[0, 2], seed=7), io["samples"])
        print("REMOTE_OK")
    """)
    result = run_without_hf_argen(script, tmp_path)
    assert "REMOTE_OK" in result.stdout, result.stderr[-3000:]


# ---------------------------------------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("use_cache", [False, True])
def test_generate_shape_dtype_range_and_reproducibility(use_cache):
    model = tiny_rgb_pixelcnn(image_size=4)
    images = model.generate(class_labels=[0, 1, 2], generator=torch.Generator().manual_seed(3), use_cache=use_cache)
    assert images.shape == (3, 3, 4, 4) and images.dtype == torch.long
    assert images.min() >= 0 and images.max() < 4
    again = model.generate(class_labels=[0, 1, 2], seed=3, use_cache=use_cache)
    assert torch.equal(images, again)
    other = model.generate(class_labels=[0, 1, 2], seed=4, use_cache=use_cache)
    assert not torch.equal(images, other)


def test_generate_unconditional_and_repeated_label():
    model = tiny_rgb_pixelcnn(image_size=3, num_classes=None)
    assert model.generate(num_images=2, seed=0).shape == (2, 3, 3, 3)
    conditional = tiny_rgb_pixelcnn(image_size=3)
    assert conditional.generate(class_labels=1, num_images=4, seed=0).shape == (4, 3, 3, 3)


def test_top_k_one_is_greedy():
    model = tiny_rgb_pixelcnn(image_size=3)
    a = model.generate(class_labels=[0, 1], top_k=1, seed=0)
    b = model.generate(class_labels=[0, 1], top_k=1, seed=123)
    assert torch.equal(a, b)
    assert torch.equal(model.generate(class_labels=[0, 1], top_p=0.0, seed=5), a)  # top-p keeps at least one level


def test_sampling_arguments_follow_generation_config():
    """As in `transformers`: `top_k=0` and `top_p=1.0` switch a warper off, and unset arguments come from the
    model's `generation_config` (here one that makes sampling greedy)."""
    model = tiny_rgb_pixelcnn(image_size=3)
    plain = model.generate(class_labels=[0, 1], seed=2)
    assert torch.equal(model.generate(class_labels=[0, 1], top_k=0, top_p=1.0, temperature=1, seed=2), plain)
    greedy = model.generate(class_labels=[0, 1], top_k=1, seed=2)
    assert not torch.equal(plain, greedy)
    model.generation_config.top_k = 1
    assert torch.equal(model.generate(class_labels=[0, 1], seed=2), greedy)
    assert torch.equal(model.generate(class_labels=[0, 1], top_k=0, seed=2), plain)  # an argument wins
    model.generation_config.top_k = -2
    with pytest.raises(ValueError, match="top_k"):
        model.generate(class_labels=[0, 1], seed=2)


def test_class_conditioning_changes_logits_and_samples():
    model = tiny_rgb_pixelcnn(image_size=4)
    with torch.no_grad():
        for layer in model.pixelcnn.layers:
            layer.class_bias.weight.normal_(std=2.0)
    images = torch.randint(0, 4, (1, 3, 4, 4))
    assert not torch.allclose(model(images, [0]).logits, model(images, [1]).logits)
    zero = model.generate(class_labels=[0] * 4, seed=0)
    one = model.generate(class_labels=[1] * 4, seed=0)
    assert not torch.equal(zero, one)


# ---------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "overrides, name",
    [
        (dict(image_size=0), "image_size"),
        (dict(image_size=-3), "image_size"),
        (dict(num_levels=1), "num_levels"),
        (dict(kernel_size=4), "kernel_size"),
        (dict(first_kernel_size=2), "first_kernel_size"),
        (dict(num_hidden_layers=-1), "num_hidden_layers"),
        (dict(num_channels=2), "num_channels"),
        (dict(hidden_size=2), "hidden_size"),
        (dict(num_classes=0), "num_classes"),
        (dict(architecture="pixelrnn"), "architecture"),
        (dict(dropout=1.5), "dropout"),
    ],
)
def test_bad_config_values_raise(overrides, name):
    with pytest.raises(ValueError, match=name):
        tiny_rgb_pixelcnn_config(**overrides)


def test_bad_pixel_values_raise(rgb_pixelcnn):
    labels = torch.tensor([0, 1])
    with pytest.raises(ValueError, match=r"pixel_values.*\[0, 4\)"):
        rgb_pixelcnn(torch.full((2, 3, 5, 5), 4), labels)
    with pytest.raises(ValueError, match=r"pixel_values.*\[0, 4\)"):
        rgb_pixelcnn(torch.full((2, 3, 5, 5), -1), labels)
    with pytest.raises(ValueError, match="pixel_values.*integer levels"):
        rgb_pixelcnn(torch.rand(2, 3, 5, 5), labels)
    with pytest.raises(ValueError, match=r"pixel_values.*shape \(batch, 3, 5, 5\)"):
        rgb_pixelcnn(torch.zeros(2, 1, 5, 5, dtype=torch.long), labels)
    with pytest.raises(ValueError, match=r"pixel_values.*shape"):
        rgb_pixelcnn(torch.zeros(2, 3, 6, 6, dtype=torch.long), labels)
    with pytest.raises(ValueError, match=r"pixel_values.*shape"):
        rgb_pixelcnn(torch.zeros(3, 5, 5, dtype=torch.long), labels)
    with pytest.raises(ValueError, match="labels"):
        rgb_pixelcnn(torch.zeros(2, 3, 5, 5, dtype=torch.long), labels, labels=torch.full((2, 3, 5, 5), 9))


def test_bad_class_labels_raise(rgb_pixelcnn):
    images = torch.zeros(2, 3, 5, 5, dtype=torch.long)
    with pytest.raises(ValueError, match="class_labels.*required"):
        rgb_pixelcnn(images)
    with pytest.raises(ValueError, match=r"class_labels.*\[0, 3\)"):
        rgb_pixelcnn(images, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="class_labels.*integers"):
        rgb_pixelcnn(images, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"class_labels.*shape \(2,\)"):
        rgb_pixelcnn(images, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="class_labels.*unconditional"):
        tiny_rgb_pixelcnn(num_classes=None)(images, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="class_labels.*required"):
        rgb_pixelcnn.generate(num_images=2)
    with pytest.raises(ValueError, match="num_images"):
        rgb_pixelcnn.generate(class_labels=[0, 1], num_images=3)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(temperature=0), "temperature"),
        (dict(temperature=-1.0), "temperature"),
        (dict(temperature="hot"), "temperature"),
        (dict(top_k=-1), "top_k"),
        (dict(top_k=1.5), "top_k"),
        (dict(top_k=True), "top_k"),
        (dict(top_p=-0.1), "top_p"),
        (dict(top_p=1.5), "top_p"),
        (dict(num_images=0), "num_images"),
        (dict(seed="x"), "seed"),
        (dict(generator="abc"), "generator"),
        (dict(generator=3), r"seed=3"),  # an int seed goes to `seed=`; the error names it
        (dict(generator=torch.Generator(), seed=1), "generator.*seed"),
    ],
)
def test_bad_sampling_arguments_raise(kwargs, name):
    model = tiny_rgb_pixelcnn(num_classes=None)
    with pytest.raises(ValueError, match=name):
        model.generate(**kwargs)


@pytest.mark.parametrize("input_embedding", [False, True])
@pytest.mark.parametrize("architecture", ["gated", "masked"])
def test_every_parameter_gets_a_gradient(architecture, input_embedding):
    """No dead weights: DDP without `find_unused_parameters` needs every parameter in the loss."""
    model = tiny_rgb_pixelcnn(architecture=architecture, input_embedding=input_embedding).train()
    images = torch.randint(0, 4, (2, 3, 5, 5))
    model(images, torch.tensor([0, 1]), labels=images).loss.backward()
    unused = [name for name, parameter in model.named_parameters() if parameter.grad is None]
    assert not unused, unused
