"""`hypothesis` property tests: the image processor and the configs either accept an input and give a result
with the documented shape/range, or refuse it with ValueError/TypeError naming the argument."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from huggingface_hub.errors import StrictDataclassError

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from hf_argen import ARRNNConfig, ARTransformerConfig, PixelCNNConfig, PixelCNNImageProcessor, VQVAEConfig  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REFUSED = (ValueError, TypeError, StrictDataclassError)

shapes = st.one_of(
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=9),
    st.tuples(st.integers(0, 9), st.integers(0, 9), st.sampled_from([1, 2, 3, 4])),
    st.tuples(st.sampled_from([1, 3]), st.integers(1, 9), st.integers(1, 9)),
)
dtypes = st.sampled_from([np.uint8, np.int16, np.int64, np.float16, np.float32, np.float64, np.bool_])


@SETTINGS
@given(array=shapes.flatmap(lambda shape: dtypes.flatmap(lambda dtype: hnp.arrays(dtype, shape))),
       num_levels=st.integers(2, 256), num_channels=st.sampled_from([1, 3]),
       image_size=st.one_of(st.none(), st.integers(1, 6)))  # fmt: skip
def test_processor_accepts_valid_images_and_refuses_the_rest_by_name(array, num_levels, num_channels, image_size):
    processor = PixelCNNImageProcessor(num_levels=num_levels, num_channels=num_channels, image_size=image_size)
    try:
        pixel_values = processor(array)["pixel_values"]
    except REFUSED as error:
        assert "images" in str(error)
        return
    assert array.size > 0
    if np.issubdtype(array.dtype, np.floating):
        assert np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1
    assert pixel_values.dtype == torch.long and pixel_values.dim() == 4
    assert pixel_values.shape[1] == num_channels
    if image_size is not None:
        assert pixel_values.shape[-2:] == (image_size, image_size)
    assert 0 <= int(pixel_values.min()) and int(pixel_values.max()) < num_levels
    images = processor.postprocess(pixel_values)  # round trip back to PIL
    assert len(images) == 1 and images[0].mode == ("L" if num_channels == 1 else "RGB")


@SETTINGS
@given(levels=hnp.arrays(np.int64, st.tuples(st.integers(1, 2), st.sampled_from([1, 3]), st.integers(1, 5),
                                             st.integers(1, 5)), elements=st.integers(-2, 20)),
       num_levels=st.integers(2, 16))  # fmt: skip
def test_processor_postprocess_range(levels, num_levels):
    processor = PixelCNNImageProcessor(num_levels=num_levels, num_channels=levels.shape[1])
    if levels.min() < 0 or levels.max() >= num_levels:
        with pytest.raises(ValueError, match="pixel_values"):
            processor.postprocess(levels)
        return
    again = processor(processor.postprocess(levels))["pixel_values"].numpy()
    assert np.array_equal(again, levels)  # levels -> uint8 -> levels is lossless


ints = st.one_of(st.integers(-3, 300), st.floats(allow_nan=True), st.text(max_size=2), st.none(), st.booleans())


@SETTINGS
@given(num_levels=ints, image_size=ints, num_channels=ints, hidden_size=ints, num_classes=ints)
def test_pixelcnn_config_valid_or_refused_by_name(num_levels, image_size, num_channels, hidden_size, num_classes):
    values = dict(num_levels=num_levels, image_size=image_size, num_channels=num_channels, hidden_size=hidden_size,
                  num_classes=num_classes)  # fmt: skip
    try:
        config = PixelCNNConfig(**values)
    except REFUSED as error:
        assert any(name in str(error) for name in values), str(error)
        return
    assert isinstance(config.num_levels, int) and config.num_levels >= 2
    assert config.num_channels in (1, 3) and config.image_size >= 1 and config.hidden_size >= 1
    assert config.num_classes is None or config.num_classes >= 1
    assert PixelCNNConfig.from_dict(config.to_dict()).to_dict() == config.to_dict()


@SETTINGS
@given(image_size=ints, num_embeddings=ints, embedding_dim=ints, downsample_factor=ints)
def test_vqvae_config_valid_or_refused_by_name(image_size, num_embeddings, embedding_dim, downsample_factor):
    values = dict(image_size=image_size, num_embeddings=num_embeddings, embedding_dim=embedding_dim,
                  downsample_factor=downsample_factor)  # fmt: skip
    try:
        config = VQVAEConfig(**values)
    except REFUSED as error:
        assert any(name in str(error) for name in values) or "downsampl" in str(error), str(error)
        return
    assert config.num_embeddings >= 1 and config.embedding_dim >= 1
    assert config.image_size % config.downsample_factor == 0


@SETTINGS
@given(vocab_size=ints, hidden_size=ints, num_hidden_layers=ints, heads=ints, kind=st.sampled_from(["t", "r"]))
def test_causal_lm_configs_valid_or_refused_by_name(vocab_size, hidden_size, num_hidden_layers, heads, kind):
    values = dict(vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_hidden_layers,
                  pad_token_id=None, bos_token_id=None, eos_token_id=None)  # fmt: skip
    try:
        if kind == "t":
            config = ARTransformerConfig(num_attention_heads=heads, **values)
        else:
            config = ARRNNConfig(**values)
    except REFUSED as error:
        assert any(name in str(error) for name in [*values, "num_attention_heads", "head"]), str(error)
        return
    assert config.vocab_size >= 1 and config.hidden_size >= 1 and config.num_hidden_layers >= 1


# ---- the captioner's image processor ------------------------------------------------------------------------------
@st.composite
def captioner_images(draw):
    """(image, finite): a PIL image, numpy array or torch tensor, grey / RGB / RGBA, uint8 or float in range;
    sometimes with one NaN or infinite value (then `finite` is False)."""
    height, width = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    channels = draw(st.sampled_from([None, 1, 3, 4]))  # None: (H, W)
    dtype = draw(st.sampled_from([np.uint8, np.int64, np.float32, np.float64, np.bool_]))
    shape = (height, width) if channels is None else (height, width, channels)
    if dtype in (np.float32, np.float64):
        elements = st.floats(0, 1, width=32 if dtype == np.float32 else 64)
    elif dtype == np.bool_:
        elements = st.booleans()
    else:
        elements = st.integers(0, 255)
    array = draw(hnp.arrays(dtype, shape, elements=elements))
    finite = True
    if dtype in (np.float32, np.float64) and draw(st.booleans()):
        array = array.copy()
        array.flat[draw(st.integers(0, array.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        finite = False
    container = draw(st.sampled_from(["numpy", "channels-first", "torch", "pil"]))
    if container == "channels-first" and channels is not None:
        array = np.moveaxis(array, -1, 0)
    elif container == "torch":
        array = torch.from_numpy(np.ascontiguousarray(array))
    elif container == "pil" and finite and dtype == np.uint8 and channels != 1:
        from PIL import Image

        array = Image.fromarray(array, mode={None: "L", 3: "RGB", 4: "RGBA"}[channels])
    return array, finite


@SETTINGS
@given(drawn=st.lists(captioner_images(), min_size=1, max_size=3), image_size=st.integers(1, 12),
       num_channels=st.sampled_from([1, 3]), image_mean=st.floats(-1, 1), image_std=st.floats(0.1, 2))  # fmt: skip
def test_captioner_image_processor_output_shape_and_range_or_refusal(drawn, image_size, num_channels, image_mean,
                                                                     image_std):  # fmt: skip
    """Any size >= 1x1, grey/RGB/RGBA, uint8/int/bool/float in range, as arrays (channels last or first), tensors
    or PIL images -> (batch, num_channels, image_size, image_size) float32 in the normalised range; a NaN or
    infinite value anywhere -> ValueError naming `images`."""
    from hf_argen.models import CaptionerImageProcessor

    processor = CaptionerImageProcessor(image_size=image_size, num_channels=num_channels, image_mean=image_mean,
                                        image_std=image_std)  # fmt: skip
    images, batch = [image for image, _ in drawn], len(drawn)
    if not all(finite for _, finite in drawn):
        with pytest.raises(ValueError, match="images"):
            processor(images)
        return
    pixel_values = processor(images)["pixel_values"]
    assert pixel_values.shape == (batch, num_channels, image_size, image_size)
    assert pixel_values.dtype == torch.float32 and bool(torch.isfinite(pixel_values).all())
    low, high = (0 - image_mean) / image_std, (1 - image_mean) / image_std
    assert float(pixel_values.min()) >= low - 1e-5 and float(pixel_values.max()) <= high + 1e-5


@SETTINGS
@given(level=st.integers(0, 255), height=st.integers(1, 20), width=st.integers(1, 20), image_size=st.integers(1, 9),
       num_channels=st.sampled_from([1, 3]), layout=st.sampled_from(["grey", "rgb", "rgba-opaque"]))  # fmt: skip
def test_captioner_image_processor_keeps_a_uniform_image_uniform(level, height, width, image_size, num_channels,
                                                                 layout):  # fmt: skip
    """A uniform image stays uniform at its level, whatever its size, mode, and the resize."""
    from hf_argen.models import CaptionerImageProcessor

    shape = {"grey": (height, width), "rgb": (height, width, 3), "rgba-opaque": (height, width, 4)}[layout]
    array = np.full(shape, level, np.uint8)
    if layout == "rgba-opaque":
        array[..., 3] = 255
    pixel_values = CaptionerImageProcessor(image_size=image_size, num_channels=num_channels)(array)["pixel_values"]
    torch.testing.assert_close(pixel_values, torch.full_like(pixel_values, (level / 255 - 0.5) / 0.5))


@SETTINGS
@given(image_size=ints, encoder_channels=st.one_of(ints, st.lists(ints, max_size=3)), hidden_size=ints,
       num_attention_heads=ints, vocab_size=ints, eos_token_id=ints, patch_size=ints,
       encoder_type=st.sampled_from(["conv", "patch", "x"]))  # fmt: skip
def test_captioner_config_valid_or_refused_by_name(image_size, encoder_channels, hidden_size, num_attention_heads,
                                                   vocab_size, eos_token_id, encoder_type, patch_size):  # fmt: skip
    from hf_argen.models import CaptionerConfig

    values = dict(image_size=image_size, encoder_channels=encoder_channels, hidden_size=hidden_size,
                  num_attention_heads=num_attention_heads, vocab_size=vocab_size, eos_token_id=eos_token_id,
                  encoder_type=encoder_type, patch_size=patch_size)  # fmt: skip
    try:
        config = CaptionerConfig(**values)
    except REFUSED as error:
        assert any(name in str(error) for name in values), str(error)
        return
    assert config.hidden_size % config.num_attention_heads == 0 and config.grid_size >= 1
    assert config.image_size % (config.image_size // config.grid_size) == 0
    assert config.eos_token_id is None or 0 <= config.eos_token_id < config.vocab_size
    assert CaptionerConfig.from_dict(config.to_dict()).to_dict() == config.to_dict()
