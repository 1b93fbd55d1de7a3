"""Latent priors and the two-stage VQ-VAE pipeline, on tiny randomly initialised models (seconds)."""

import json
import math

import numpy as np
import pytest
import torch
from tiny_models import NUM_CODES, two_stage_vqvae

from hf_argen import VQImageGenerationPipeline, VQVAEModel
from hf_argen.recipes.codes import image_processor_of, vqvae_fingerprint
from hf_argen.recipes.datasets import load_images
from hf_argen.recipes.prior import (
    PriorVocabulary,
    build_prior,
    dataset_to_tensors,
    evaluate_prior,
    load_code_dataset,
    nll_statistics,
)
from hf_argen.recipes.vqvae import levels_to_unit_range


def tiny_pipeline(prior_type="transformer"):
    vqvae = two_stage_vqvae()
    vocabulary = PriorVocabulary(NUM_CODES, 10)
    prior = build_prior(prior_type, vocabulary, 50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2)
    return VQImageGenerationPipeline(vqvae, prior.eval(), num_classes=10)


def test_vocabulary_layout():
    vocabulary = PriorVocabulary(512, 10)
    assert vocabulary.vocab_size == 523 and vocabulary.pad_token_id == 522
    codes = torch.randint(0, 512, (3, 7, 7))
    sequences = vocabulary.sequences(codes, [0, 4, 9])
    assert sequences.shape == (3, 50)
    assert sequences[:, 0].tolist() == [512, 516, 521]
    assert torch.equal(sequences[:, 1:], codes.reshape(3, 49))
    assert vocabulary.non_code_ids == list(range(512, 523))
    with pytest.raises(ValueError, match="class_labels"):
        vocabulary.class_tokens([10])
    with pytest.raises(ValueError, match="codes"):
        vocabulary.sequences(torch.full((1, 7, 7), 512), [0])


@pytest.mark.parametrize("prior_type", ["transformer", "rnn", "pixelcnn"])
def test_pipeline_returns_images(prior_type):
    pipe = tiny_pipeline(prior_type)
    images = pipe(class_labels=[0, 3, 9], generator=torch.Generator().manual_seed(0), temperature=0.8, top_k=4)
    assert len(images) == 3
    assert all(image.size == (28, 28) and image.mode == "L" for image in images)
    pixels = pipe(class_labels=[1, 2], seed=0, output_type="pt")
    assert pixels.shape == (2, 1, 28, 28) and pixels.min() >= -1 and pixels.max() <= 1
    assert pipe(class_labels=[5], seed=0, output_type="codes").shape == (1, 7, 7)


@pytest.mark.parametrize("prior_type", ["transformer", "rnn"])
def test_only_code_ids_are_sampled(prior_type):
    pipe = tiny_pipeline(prior_type)
    non_code = pipe.vocabulary.non_code_ids

    def favour_non_codes(module, args, kwargs, output):  # make class/pad ids overwhelmingly likely
        output.logits[..., non_code] += 30.0
        return output

    pipe.prior.register_forward_hook(favour_non_codes, with_kwargs=True)
    prompt = pipe.vocabulary.class_tokens([0, 1])[:, None]
    torch.manual_seed(0)
    unrestricted = pipe.prior.generate(prompt, do_sample=True, max_new_tokens=49, pad_token_id=0)
    assert (unrestricted[:, 1:] >= NUM_CODES).float().mean() > 0.9  # the hook works: non-codes dominate
    codes = pipe(class_labels=[0, 1, 2, 3], seed=0, output_type="codes")
    assert codes.shape == (4, 7, 7)
    assert codes.min() >= 0 and codes.max() < NUM_CODES


@pytest.mark.parametrize("prior_type", ["transformer", "pixelcnn"])
def test_sampling_is_reproducible_and_leaves_global_rng_alone(prior_type):
    pipe = tiny_pipeline(prior_type)
    state = torch.random.get_rng_state()
    first = pipe(class_labels=[0, 1, 2], generator=torch.Generator().manual_seed(7), output_type="codes")
    assert torch.equal(torch.random.get_rng_state(), state)
    second = pipe(class_labels=[0, 1, 2], generator=torch.Generator().manual_seed(7), output_type="codes")
    other = pipe(class_labels=[0, 1, 2], generator=torch.Generator().manual_seed(8), output_type="codes")
    assert torch.equal(first, second)
    assert not torch.equal(first, other)
    assert torch.equal(pipe(class_labels=[4], seed=3, output_type="codes"),
                       pipe(class_labels=[4], seed=3, output_type="codes"))  # fmt: skip


def test_bad_arguments():
    pipe = tiny_pipeline()
    with pytest.raises(ValueError, match="class_labels"):
        pipe(class_labels=[10])
    with pytest.raises(ValueError, match="temperature"):
        pipe(class_labels=[0], temperature=0.0)
    with pytest.raises(ValueError, match="top_k"):
        pipe(class_labels=[0], top_k=-1)
    with pytest.raises(ValueError, match="top_p"):
        pipe(class_labels=[0], top_p=1.5)
    with pytest.raises(ValueError, match="seed=3"):  # an int seed is `seed=`, not `generator=`
        pipe(class_labels=[0], generator=3)
    with pytest.raises(ValueError, match="output_type"):
        pipe(class_labels=[0], output_type="numpy")
    wrong = build_prior("rnn", PriorVocabulary(NUM_CODES + 1, 10), 50, hidden_size=8, num_hidden_layers=1)
    with pytest.raises(ValueError, match="vocab_size"):
        VQImageGenerationPipeline(two_stage_vqvae(), wrong)
    wrong = build_prior("pixelcnn", PriorVocabulary(NUM_CODES + 1, 10), 50, hidden_size=8, num_hidden_layers=1)
    with pytest.raises(ValueError, match="num_levels"):
        VQImageGenerationPipeline(two_stage_vqvae(), wrong)


def test_pixelcnn_prior_reads_codes_through_an_embedding():
    """Codes are unordered ids: `--prior pixelcnn` embeds them (one learned vector per code), not as intensities."""
    prior = build_prior(
        "pixelcnn", PriorVocabulary(NUM_CODES, 10), 50, hidden_size=8, num_hidden_layers=1, kernel_size=5
    )
    assert prior.config.input_embedding and prior.config.kernel_size == 5
    assert prior.pixelcnn.level_embeddings.weight.shape == (NUM_CODES, 8)


@pytest.mark.parametrize("prior_type", ["transformer", "rnn", "pixelcnn"])
def test_save_and_load_combined_folder(tmp_path, prior_type):
    from transformers import AutoModel

    pipe = tiny_pipeline(prior_type)
    pipe.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "vqvae_prior" and config["num_classes"] == 10
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "generation_config.json").is_file()
    loaded = VQImageGenerationPipeline.from_pretrained(tmp_path)
    assert type(loaded.prior).__name__ == type(pipe.prior).__name__
    expected = pipe(class_labels=[0, 5, 9], seed=1, output_type="pt")
    assert torch.allclose(loaded(class_labels=[0, 5, 9], seed=1, output_type="pt"), expected)
    model = AutoModel.from_pretrained(tmp_path)
    assert torch.allclose(model.generate([0, 5, 9], seed=1), expected)
    with pytest.raises(ValueError, match="config.json"):
        VQImageGenerationPipeline.from_pretrained(tmp_path / "missing")


def test_evaluate_prior_is_the_mean_code_nll():
    pipe = tiny_pipeline()
    sequences = pipe.vocabulary.sequences(torch.randint(0, NUM_CODES, (5, 7, 7)), [0, 1, 2, 3, 4])
    metrics = evaluate_prior(pipe.prior, sequences, batch_size=2)
    loss = pipe.prior(input_ids=sequences, labels=sequences).loss.item()
    assert metrics["nll_per_code"] == pytest.approx(loss, rel=1e-5)
    assert metrics["bits_per_image"] == pytest.approx(loss * 49 / math.log(2), rel=1e-5)
    # an untrained prior spreads its mass over all 27 ids, so it is near log(27) nats per code
    assert abs(metrics["nll_per_code"] - math.log(27)) < 0.5
    # no autograd graph is kept: summed over many batches one would hold every batch's activations
    statistics = nll_statistics(pipe.prior, sequences, batch_size=2)
    assert not statistics["nll_sum"].requires_grad


def synthetic_image_dataset(path, num_per_split=20):
    import datasets
    from PIL import Image

    rng = np.random.default_rng(0)

    def split(n):
        images = [Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)) for _ in range(n)]
        labels = [i % 10 for i in range(n)]
        features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(num_classes=10)})
        return datasets.Dataset.from_dict({"image": images, "label": labels}, features=features)

    datasets.DatasetDict({"train": split(num_per_split), "test": split(num_per_split // 2)}).save_to_disk(str(path))
    return path


def test_code_dataset_is_encoded_once_and_cached(tmp_path, monkeypatch):
    data = synthetic_image_dataset(tmp_path / "images")
    vqvae = two_stage_vqvae()
    cache = tmp_path / "cache"
    dataset = load_code_dataset(vqvae, str(data), "train", cache_dir=cache)
    codes, labels = dataset_to_tensors(dataset)
    assert codes.shape == (20, 7, 7) and labels.tolist() == [i % 10 for i in range(20)]
    assert dataset.features["label"].names == [str(i) for i in range(10)]  # class names travel with the codes
    assert [p.name.startswith(".tmp-") for p in cache.iterdir()] == [False]  # one folder, renamed into place
    images = load_images(str(data), "train")
    expected = torch.cat([vqvae.encode(levels_to_unit_range(image_processor_of(vqvae)([im])["pixel_values"]))
                          for im in images["image"]])  # fmt: skip
    assert torch.equal(codes, expected)

    def fail(*args, **kwargs):
        raise AssertionError("encoded again although cached")

    with monkeypatch.context() as patch:
        patch.setattr(VQVAEModel, "encode", fail)
        cached_codes, _ = dataset_to_tensors(load_code_dataset(vqvae, str(data), "train", cache_dir=cache))
    assert torch.equal(cached_codes, codes)
    # Another VQ-VAE (one weight changed) is another key: encoded again, into a second folder.
    other = two_stage_vqvae()
    other.load_state_dict(vqvae.state_dict())
    with torch.no_grad():
        other.encoder.parameters().__next__().add_(0.5)
    assert vqvae_fingerprint(other) != vqvae_fingerprint(vqvae)
    calls = []
    monkeypatch.setattr(VQVAEModel, "encode", lambda self, x: calls.append(len(x)) or torch.zeros(len(x), 7, 7).long())
    load_code_dataset(other, str(data), "train", cache_dir=cache)
    assert sum(calls) == 20 and len(list(cache.iterdir())) == 2


def test_encode_dataset_codes_passes_a_column_through_and_follows_the_data(tmp_path, monkeypatch):
    """Any recipe's helper: a caption column travels beside the codes; an edited image folder is encoded again."""
    import datasets
    from PIL import Image

    from hf_argen.recipes.codes import encode_dataset_codes

    folder = tmp_path / "folder"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    lines = [json.dumps({"file_name": f"{i}.png", "text": f"caption {i}"}) for i in range(4)]
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    vqvae, cache = two_stage_vqvae(), tmp_path / "cache"
    images = datasets.load_dataset("imagefolder", data_dir=str(folder), split="train")
    coded = encode_dataset_codes(vqvae, images, columns=["text"], cache_dir=cache, name="folder", progress=False)
    assert coded.column_names == ["codes", "text"] and coded["text"] == [f"caption {i}" for i in range(4)]
    assert np.asarray(coded["codes"]).shape == (4, 7, 7)
    assert (
        encode_dataset_codes(vqvae, images, columns=["text"], cache_dir=cache, name="folder")["text"] == coded["text"]
    )
    assert len(list(cache.iterdir())) == 1
    Image.new("RGB", (28, 28), "white").save(folder / "0.png")  # the data changed: a new key
    edited = datasets.load_dataset("imagefolder", data_dir=str(folder), split="train")
    encode_dataset_codes(vqvae, edited, columns=["text"], cache_dir=cache, name="folder")
    assert len(list(cache.iterdir())) == 2
    with pytest.raises(ValueError, match="caption"):
        encode_dataset_codes(vqvae, images, columns=["caption"], cache_dir=cache)


def test_two_processes_caching_the_same_codes_keep_one_complete_folder(tmp_path):
    """The second writer finds the folder in place and keeps it (no error, no temporary folder left)."""
    import datasets

    from hf_argen.recipes.codes import _save_atomically

    path = tmp_path / "cache" / "codes-key"
    first = datasets.Dataset.from_dict({"codes": [[[1]]]})
    _save_atomically(first, path)
    _save_atomically(datasets.Dataset.from_dict({"codes": [[[2]]]}), path)
    assert datasets.load_from_disk(str(path))["codes"] == [[[1]]]
    assert [p.name for p in path.parent.iterdir()] == ["codes-key"]


@pytest.mark.parametrize("prior_type", ["transformer", "rnn", "pixelcnn", "gpt2", "llama", "mamba"])
def test_train_prior_entry_point(tmp_path, prior_type, run_without_hf_argen):
    import importlib.util
    from pathlib import Path

    data = synthetic_image_dataset(tmp_path / "images")
    two_stage_vqvae().save_pretrained(tmp_path / "vqvae")
    spec = importlib.util.spec_from_file_location(
        "train_prior", Path(__file__).resolve().parents[2] / "training" / "train_prior.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "out"
    result = module.main([
        "--vqvae", str(tmp_path / "vqvae"), "--prior", prior_type, "--dataset_name", str(data),
        "--output_dir", str(out), "--hidden_size", "16", "--num_hidden_layers", "1",
        "--num_attention_heads", "2", "--train_batch_size", "4", "--max_train_steps", "3",
        "--lr_warmup_steps", "0", "--checkpointing_steps", "2", "--logging_steps", "1",
        "--cache_dir", str(tmp_path / "cache"),
    ])  # fmt: skip
    assert result.global_step == 3
    assert math.isfinite(result.metrics["eval_nll_per_code"])
    assert (out / "checkpoint-2").is_dir()
    assert any((tmp_path / "cache").iterdir())
    # The output folder is the two-stage model in its final layout, with a card whose snippet loads it.
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "vqvae_prior" and config["custom_pipelines"] and config["id2label"]
    assert (out / "pipeline_image_generation.py").is_file() and (out / "generation_config.json").is_file()
    assert "model-index" in (out / "README.md").read_text()
    pipe = VQImageGenerationPipeline.from_pretrained(out)
    images = pipe(class_labels=list(range(10)), seed=0)
    assert len(images) == 10 and images[0].size == (28, 28)
    if prior_type in ("gpt2", "llama", "mamba"):  # `transformers`' own LM inside the composite, as remote code
        assert type(pipe.prior).__module__.startswith("transformers.models."), type(pipe.prior).__module__
        expected = pipe.generate(class_labels=[0, 3], seed=1, output_type="codes")
        assert_loads_without_hf_argen(out, expected, tmp_path, run_without_hf_argen)


def assert_loads_without_hf_argen(folder, expected_codes, tmp_path, run_without_hf_argen):
    """`folder` loads with `trust_remote_code=True` where `import hf_argen` fails, and samples `expected_codes`."""
    torch.save(expected_codes, tmp_path / "expected.pt")
    result = run_without_hf_argen(
        f"""
        import torch
        from transformers import AutoModel
        model = AutoModel.from_pretrained({str(folder)!r}, trust_remote_code=True)
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        codes = model.generate(class_labels=[0, 3], seed=1, output_type="codes")
        assert torch.equal(codes, torch.load("expected.pt")), (codes, torch.load("expected.pt"))
        print("ok")
    """,
        tmp_path,
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]


def test_pixelcnn_prior_nll_matches_its_likelihood():
    pipe = tiny_pipeline("pixelcnn")
    codes = torch.randint(0, NUM_CODES, (5, 7, 7))
    labels = torch.tensor([0, 1, 2, 3, 9])
    sequences = pipe.vocabulary.sequences(codes, labels)
    metrics = evaluate_prior(pipe.prior, sequences, batch_size=2)
    expected = -pipe.prior.log_likelihood(codes[:, None], labels).sum().item() / (5 * 49)
    assert metrics["nll_per_code"] == pytest.approx(expected, rel=1e-5)
    loss = pipe.prior(pixel_values=codes[:, None], class_labels=labels, labels=codes[:, None]).loss.item()
    assert metrics["nll_per_code"] == pytest.approx(loss, rel=1e-5)


MODEL_CARDS = __import__("pathlib").Path(__file__).resolve().parents[2] / "model_cards"
SHIPPED = ["vqvae-prior-mnist", "vqvae-pixelcnn-prior-mnist"]  # transformer prior, PixelCNN prior


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_card_loads_and_samples(name):
    from safetensors.torch import load_file
    from transformers import AutoModel

    folder = MODEL_CARDS / name
    model = AutoModel.from_pretrained(folder)
    assert model.vocabulary.num_codes == 512 and model.codes_per_image == 49
    shipped = load_file(folder / "model.safetensors")
    original_vqvae = load_file(MODEL_CARDS / "vqvae-mnist" / "model.safetensors")
    assert {f"vqvae.{k}" for k in original_vqvae} <= shipped.keys()
    assert all(torch.equal(shipped[f"vqvae.{k}"], original_vqvae[k]) for k in original_vqvae)
    codes = model.generate(class_labels=[0, 7], seed=0, output_type="codes")
    assert codes.shape == (2, 7, 7) and codes.max() < 512
    assert torch.equal(model.generate(class_labels=["0", "7"], seed=0, output_type="codes"), codes)
    if model.is_pixelcnn:  # a categorical PixelCNN prior, sampled by the cached sampler == the naive one
        assert model.config.prior.input_embedding
        cached = model.prior.generate(class_labels=[0, 7], seed=1, use_cache=True)
        assert torch.equal(cached, model.prior.generate(class_labels=[0, 7], seed=1, use_cache=False))
        assert torch.equal(codes, model.prior.generate(class_labels=[0, 7], seed=0)[:, 0])
    readme = (folder / "README.md").read_text()
    assert "nats/code" in readme and "bits/image" in readme and (folder / "samples.png").is_file()
