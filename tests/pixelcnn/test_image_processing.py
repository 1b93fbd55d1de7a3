import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoImageProcessor

from hf_argen import PixelCNNConfig, PixelCNNImageProcessor, make_grid


def test_quantises_uint8_to_levels_and_back():
    processor = PixelCNNImageProcessor(num_levels=17, num_channels=1)
    array = np.arange(256, dtype=np.uint8).reshape(16, 16)
    levels = processor(array)["pixel_values"]
    assert levels.dtype == torch.long and levels.shape == (1, 1, 16, 16)
    assert levels.min() == 0 and levels.max() == 16
    assert torch.equal(levels.flatten(), torch.arange(256) * 17 // 256)
    image = processor.postprocess(levels)[0]
    assert image.mode == "L" and np.asarray(image)[0, 0] == 0 and np.asarray(image)[-1, -1] == 255


def test_256_levels_is_lossless_and_rgb_is_explicit():
    processor = PixelCNNImageProcessor(num_levels=256, num_channels=3)
    rgb = np.random.default_rng(0).integers(0, 256, (5, 5, 3), dtype=np.uint8)
    levels = processor([rgb, Image.fromarray(rgb)])["pixel_values"]
    assert levels.shape == (2, 3, 5, 5)
    assert torch.equal(levels[0], torch.from_numpy(rgb.astype(np.int64)).permute(2, 0, 1))
    assert np.array_equal(np.asarray(processor.postprocess(levels)[1]), rgb)
    gray = PixelCNNImageProcessor(num_levels=256, num_channels=1)(Image.fromarray(rgb))["pixel_values"]
    assert gray.shape == (1, 1, 5, 5)
    as_rgb = processor(rgb[..., 0])["pixel_values"]  # grayscale input converted to three equal channels
    assert as_rgb.shape == (1, 3, 5, 5) and torch.equal(as_rgb[0, 0], as_rgb[0, 2])


def test_float_and_channels_first_inputs_and_resize():
    processor = PixelCNNImageProcessor(num_levels=2, num_channels=1, image_size=4)
    levels = processor(torch.ones(1, 8, 8))["pixel_values"]
    assert levels.shape == (1, 1, 4, 4) and (levels == 1).all()
    with pytest.raises(ValueError, match="float `images` must be in"):
        processor(np.full((4, 4), 2.0))
    with pytest.raises(ValueError, match="different sizes"):
        PixelCNNImageProcessor()([np.zeros((4, 4), np.uint8), np.zeros((5, 5), np.uint8)])
    with pytest.raises(ValueError, match="num_levels"):
        PixelCNNImageProcessor(num_levels=1)


def test_save_load_and_from_model_config(tmp_path):
    processor = PixelCNNImageProcessor.from_model_config(PixelCNNConfig(image_size=8, num_levels=17))
    processor.save_pretrained(tmp_path)
    loaded = AutoImageProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded, PixelCNNImageProcessor)
    assert (loaded.num_levels, loaded.num_channels, loaded.image_size) == (17, 1, 8)


def test_make_grid():
    tiles = [Image.new("L", (2, 3), color=i * 20) for i in range(5)]
    grid = make_grid(tiles, num_columns=3, scale=2, padding=1)
    assert grid.size == (3 * (4 + 1) + 1, 2 * (6 + 1) + 1)
