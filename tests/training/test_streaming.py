"""Training streams: images stay in the datasets' (memory-mapped) Arrow tables and are decoded one batch at a time
(`hf_argen.data.ImageRows`), in DataLoader workers when there are any, with the batches the decoded-up-front tensors
gave (same seed, same batches; a resumed run skips to the same batch); code maps are written to disk batch by
batch and the prior reads them per batch."""

from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from entry_points import load_entry_point

from hf_argen.data import ImageRows, encode_images, png_cell
from hf_argen.models import PixelCNNImageProcessor
from hf_argen.training import LoopArguments, TensorDictDataset, make_accelerator
from hf_argen.training.loop import make_train_loader

ROOT = Path(__file__).resolve().parents[2]


def drawn_dataset(num_images: int, seed: int = 0, side: int = 8) -> datasets.Dataset:
    """RGB noise images with labels 0..2, PNG cells (as a `save_to_disk` or imagefolder dataset stores them)."""
    rng = np.random.default_rng(seed)
    images = [png_cell(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)) for _ in range(num_images)]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["a", "b", "c"])})
    return datasets.Dataset.from_dict({"image": images, "label": [i % 3 for i in range(num_images)]}, features)


def saved_dataset(path: Path, num_images: int) -> Path:
    drawn_dataset(num_images).save_to_disk(str(path))
    return path


def test_image_rows_give_the_levels_the_whole_tensor_gives():
    first, second = drawn_dataset(30), drawn_dataset(12, seed=1)
    processor = PixelCNNImageProcessor(num_levels=16, num_channels=3)
    labels = torch.arange(42) % 5
    rows = ImageRows([first, second], processor, labels)
    expected = torch.cat([encode_images(first, processor), encode_images(second, processor)])
    index = [41, 0, 29, 30, 7, 30]  # across both parts, out of order, repeated
    batch = rows[index]
    assert torch.equal(batch["pixel_values"], expected[index]) and batch["pixel_values"].dtype == torch.long
    assert torch.equal(batch["class_labels"], labels[index])
    assert torch.equal(rows[torch.tensor([3, 4])]["pixel_values"], expected[3:5])
    one = rows[31]
    assert torch.equal(one["pixel_values"], expected[31]) and one["class_labels"].item() == 31 % 5
    floats = ImageRows(first, processor, pixel_transform=torch.Tensor.float)
    assert set(floats[[1, 2]]) == {"pixel_values"} and floats[[1, 2]]["pixel_values"].dtype == torch.float32
    with pytest.raises(IndexError):
        rows[[42]]
    with pytest.raises(ValueError, match="one label per row"):
        ImageRows(first, processor, labels)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_the_loader_draws_the_batches_of_the_decoded_tensors_and_resumes_on_the_same_batch(tmp_path, num_workers):
    """Same seed, same batches as the tensors decoded up front (so outputs of earlier runs hold); with DataLoader
    workers too; `skip_first_batches` (a resumed run) lands on the batch an uninterrupted epoch has there."""
    dataset = datasets.load_from_disk(str(saved_dataset(tmp_path / "data", 50)))
    processor = PixelCNNImageProcessor(num_levels=256, num_channels=3)
    labels = torch.as_tensor(dataset["label"])
    args = LoopArguments(output_dir=str(tmp_path), train_batch_size=4, seed=3, device="cpu",
                         dataloader_num_workers=num_workers)  # fmt: skip
    accelerator = make_accelerator(args)
    tensors = TensorDictDataset(pixel_values=encode_images(dataset, processor), class_labels=labels)
    streamed = make_train_loader(ImageRows(dataset, processor, labels), args, accelerator, collate_fn=lambda b: b)
    reference = make_train_loader(tensors, args, accelerator, collate_fn=lambda b: b)
    for epoch in (0, 1):
        streamed.set_epoch(epoch)
        reference.set_epoch(epoch)
        pairs = list(zip(streamed, reference, strict=True))
        assert len(pairs) == 12
        for got, want in pairs:
            assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    streamed.set_epoch(1)
    resumed = list(accelerator.skip_first_batches(streamed, 5))
    assert torch.equal(resumed[0]["pixel_values"], pairs[5][1]["pixel_values"]) and len(resumed) == 7


TINY = {
    "pixelcnn": ["--hidden_size", "4", "--num_hidden_layers", "1", "--output_hidden_size", "4", "--first_kernel_size",
                 "3"],
    "vqvae": ["--hidden_size", "4", "--num_residual_layers", "1", "--residual_hidden_size", "4", "--embedding_dim", "4",
              "--num_embeddings", "8", "--downsample_factor", "2"],
}  # fmt: skip


@pytest.mark.parametrize("recipe", ["pixelcnn", "vqvae"])
def test_a_run_decodes_only_the_images_it_trains_and_evaluates_on(tmp_path, monkeypatch, recipe):
    """Nothing is decoded up front: 3 steps of 4 images and 5 evaluated images decode (3 + 1) * 4 + 5 images of 200,
    whatever the size of the dataset (Accelerate's prepared loader reads one batch ahead)."""
    data = saved_dataset(tmp_path / "data", 200)
    decoded = []
    quantize = PixelCNNImageProcessor.quantize
    monkeypatch.setattr(
        PixelCNNImageProcessor, "quantize", lambda self, image: decoded.append(1) or quantize(self, image)
    )
    result = load_entry_point(recipe).main(
        ["--dataset_name", str(data), "--output_dir", str(tmp_path / "out"), "--train_batch_size", "4",
         "--max_train_steps", "3", "--max_eval_samples", "5", "--no_samples", "--checkpointing_steps", "100",
         *TINY[recipe]]
    )  # fmt: skip
    assert result.global_step == 3
    assert len(decoded) == (3 + 1) * 4 + 5


def test_codes_are_encoded_and_written_batch_by_batch(tmp_path, monkeypatch):
    """`encode_dataset_codes` encodes `batch_size` images at a time (`datasets.Dataset.map` writes each batch's codes
    to disk), and the prior's batches are the sequences of the whole code tensor, row for row."""
    from hf_argen.models import VQVAEConfig, VQVAEModel
    from hf_argen.models.vocabulary import PriorVocabulary
    from hf_argen.recipes.codes import encode_dataset_codes
    from hf_argen.recipes.prior import CodeSequences, dataset_to_tensors

    torch.manual_seed(0)
    config = VQVAEConfig(image_size=8, num_channels=3, num_embeddings=8, embedding_dim=4, hidden_size=4,
                         num_residual_layers=1, residual_hidden_size=4, downsample_factor=2)  # fmt: skip
    vqvae = VQVAEModel(config).eval()
    sizes = []
    encode = VQVAEModel.encode
    monkeypatch.setattr(VQVAEModel, "encode", lambda self, x: sizes.append(len(x)) or encode(self, x))
    images = drawn_dataset(20)
    coded = encode_dataset_codes(vqvae, images, cache_dir=tmp_path / "cache", batch_size=8, progress=False)
    assert sizes == [8, 8, 4]
    assert coded.cache_files and str(tmp_path / "cache") in coded.cache_files[0]["filename"]  # memory-mapped
    codes, labels = dataset_to_tensors(coded)
    vocabulary = PriorVocabulary(num_codes=8, num_classes=3)
    index = [19, 0, 7, 7]
    expected = vocabulary.sequences(codes, labels)[index]
    assert torch.equal(CodeSequences(coded, vocabulary)[index]["input_ids"], expected)
    pixelcnn = CodeSequences(coded, vocabulary, pixelcnn=True)[index]
    assert torch.equal(pixelcnn["pixel_values"].flatten(1), expected[:, 1:])
    assert (
        torch.equal(pixelcnn["class_labels"], labels[index]) and CodeSequences(coded, vocabulary).sequence_length == 17
    )
