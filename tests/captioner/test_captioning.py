"""Image captioner: model, generation, processor, pipeline (local and remote code), caption datasets."""

import json
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_models import CAPTIONS, random_pixels, tiny_captioner, tiny_processor, tiny_tokenizer
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModel,
    AutoModelForImageTextToText,
    AutoProcessor,
    pipeline,
)

import hf_argen  # noqa: F401  (registers the Auto classes and the image-captioning task)
from hf_argen.models import (
    CaptionerConfig,
    CaptionerForConditionalGeneration,
    CaptionerImageProcessor,
    CaptionerProcessor,
    ImageCaptioningPipeline,
    train_caption_tokenizer,
)
from hf_argen.models.modeling_captioner import mix_feature_statistics
from hf_argen.recipes.datasets import load_captions
from hf_argen.recipes.mnist import HELD_OUT_PAIRS, scene_pairs


def save_tiny(folder, model=None, processor=None):
    model = model or tiny_captioner()
    processor = processor or tiny_processor()
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return model, processor


# ---------------------------------------------------------------------------------------------------------
# Model and generation
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoder_type", ["conv", "patch", "resnet"])
@pytest.mark.parametrize("generate_kwargs", [{}, {"num_beams": 3}, {"do_sample": True, "top_k": 5, "top_p": 0.9}])
def test_cached_and_uncached_generation_give_identical_tokens(encoder_type, generate_kwargs):
    model = tiny_captioner(encoder_type=encoder_type)
    pixels = random_pixels()
    outputs = []
    for use_cache in (True, False):
        torch.manual_seed(1)
        outputs.append(
            model.generate(
                pixel_values=pixels, max_new_tokens=8, min_new_tokens=8, use_cache=use_cache, **generate_kwargs
            )
        )
    assert outputs[0].shape == (3, 9)
    assert torch.equal(outputs[0], outputs[1])


def test_encoder_runs_once_per_generate_call_and_cross_keys_once(captioner):
    calls = {"encoder": 0, "cross_k": 0}
    captioner.encoder.register_forward_hook(lambda *args: calls.__setitem__("encoder", calls["encoder"] + 1))
    captioner.decoder.layers[0].cross_attn.k_proj.register_forward_hook(
        lambda *args: calls.__setitem__("cross_k", calls["cross_k"] + 1)
    )
    captioner.generate(pixel_values=random_pixels(2), num_beams=3, max_new_tokens=6, min_new_tokens=6)
    assert calls == {"encoder": 1, "cross_k": 1}


def test_generation_stops_at_eos():
    model = tiny_captioner(tie_word_embeddings=False)
    eos = model.config.eos_token_id
    with torch.no_grad():  # a model that always predicts EOS
        model.decoder.norm.weight.zero_()
        model.decoder.norm.bias.fill_(1.0)
        model.lm_head.weight.zero_()
        model.lm_head.weight[eos] = 1.0
    for kwargs in ({}, {"num_beams": 2}):
        out = model.generate(pixel_values=random_pixels(2), max_new_tokens=10, **kwargs)
        assert out.tolist() == [[model.config.bos_token_id, eos]] * 2


def test_streamer_receives_the_generated_tokens():
    class Collect:
        def __init__(self):
            self.tokens = []

        def put(self, value):
            self.tokens.append(value.flatten().tolist())

        def end(self):
            self.tokens.append("end")

    model, streamer = tiny_captioner(), Collect()
    out = model.generate(pixel_values=random_pixels(1), max_new_tokens=4, min_new_tokens=4, streamer=streamer)
    assert streamer.tokens[-1] == "end"
    assert sum(streamer.tokens[:-1], []) == out[0].tolist()


def test_loss_output_flags_and_attention_implementations():
    processor = tiny_processor()
    batch = processor(
        images=[np.zeros((8, 8), np.uint8), np.ones((20, 10, 3), np.uint8) * 200],
        text=["a red square", "a big red circle on a blue square"],
    )
    model = tiny_captioner()
    out = model(**batch, output_attentions=True, output_hidden_states=True)
    num_tokens = int((batch["labels"][:, 1:] != -100).sum())
    summed = model(**batch, num_items_in_batch=torch.tensor(1)).loss
    torch.testing.assert_close(summed / num_tokens, out.loss)
    assert out.logits.shape == (*batch["decoder_input_ids"].shape, model.config.vocab_size)
    assert len(out.decoder_attentions) == len(out.cross_attentions) == 2
    assert out.cross_attentions[0].shape == (2, 2, batch["decoder_input_ids"].shape[1], model.config.grid_size**2)
    assert len(out.decoder_hidden_states) == 3 and len(out.encoder_hidden_states) == 2
    as_tuple = model(**batch, return_dict=False)
    assert isinstance(as_tuple, tuple) and torch.equal(as_tuple[0], out.loss)
    from_labels = model(pixel_values=batch["pixel_values"], labels=batch["labels"])
    torch.testing.assert_close(from_labels.loss, out.loss)  # padding only changes logits after each caption's end
    eager = CaptionerForConditionalGeneration.from_pretrained(_saved(model), attn_implementation="eager").eval()
    assert eager.config._attn_implementation == "eager"
    torch.testing.assert_close(eager(**batch).logits, model(**batch).logits, rtol=1e-5, atol=1e-5)
    model.train()
    model.activation_checkpointing_enable()
    assert model.decoder.gradient_checkpointing and model.encoder.gradient_checkpointing
    model(**batch).loss.backward()
    assert model.encoder.stem[0].weight.grad is not None


def _saved(model, folder=None):
    import tempfile

    folder = folder or tempfile.mkdtemp()
    model.save_pretrained(folder)
    return folder


def test_save_load_identical_logits_and_auto_classes(tmp_path):
    model, processor = save_tiny(tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and not list(tmp_path.glob("*.bin"))
    assert isinstance(AutoConfig.from_pretrained(tmp_path), CaptionerConfig)
    batch = processor(images=[np.zeros((8, 8), np.uint8)], text=["a red square"])
    for auto_class in (AutoModel, AutoModelForImageTextToText):
        loaded = auto_class.from_pretrained(tmp_path).eval()
        assert isinstance(loaded, CaptionerForConditionalGeneration)
        assert torch.equal(loaded(**batch).logits, model(**batch).logits)
    assert isinstance(AutoProcessor.from_pretrained(tmp_path), CaptionerProcessor)
    assert isinstance(AutoImageProcessor.from_pretrained(tmp_path), CaptionerImageProcessor)
    config = json.loads((tmp_path / "config.json").read_text())
    assert set(config["auto_map"]) >= {"AutoConfig", "AutoModel", "AutoModelForImageTextToText"}
    assert "image-to-text" in config["custom_pipelines"]
    for name in (
        "modeling_captioner.py",
        "configuration_captioner.py",
        "pipeline_captioner.py",
        "processing_captioner.py",
        "image_processing_captioner.py",
    ):
        assert (tmp_path / name).is_file(), name


def test_remote_code_load_of_model_processor_and_pipeline_without_hf_argen(tmp_path, run_without_hf_argen):
    model_dir = tmp_path / "model"
    model, processor = save_tiny(model_dir)
    image = (np.arange(300).reshape(10, 10, 3) % 256).astype(np.uint8)
    pixels = processor(images=image)["pixel_values"]
    tokens = model.generate(pixel_values=pixels, max_new_tokens=5, num_beams=2)
    text = processor.batch_decode(tokens)[0]
    np.save(tmp_path / "image.npy", image)
    torch.save({"pixels": pixels, "tokens": tokens}, tmp_path / "io.pt")
    script = textwrap.dedent(f"""
        import numpy as np, torch
        from transformers import AutoModelForImageTextToText, AutoProcessor, pipeline
        folder = {str(model_dir)!r}
        io = torch.load({str(tmp_path / "io.pt")!r})
        model = AutoModelForImageTextToText.from_pretrained(folder, trust_remote_code=True)
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
        assert type(processor).__module__.startswith("transformers_modules"), type(processor).__module__
        image = np.load({str(tmp_path / "image.npy")!r})
        assert torch.equal(processor(images=image)["pixel_values"], io["pixels"])
        assert torch.equal(model.generate(pixel_values=io["pixels"], max_new_tokens=5, num_beams=2), io["tokens"])
        pipe = pipeline("image-to-text", model=folder, trust_remote_code=True)
        assert type(pipe).__name__ == "ImageCaptioningPipeline", type(pipe)
        print("TEXT=" + repr(pipe(image, max_new_tokens=5, num_beams=2)))
        print("REMOTE_OK")
    """)
    result = run_without_hf_argen(script, tmp_path)
    assert "REMOTE_OK" in result.stdout, result.stderr[-3000:]
    assert f"TEXT={[{'generated_text': text}]!r}" in result.stdout


def test_model_input_errors(captioner):
    with pytest.raises(ValueError, match="pixel_values"):
        captioner(decoder_input_ids=torch.tensor([[1]]))
    with pytest.raises(ValueError, match="shape"):
        captioner(pixel_values=torch.rand(1, 3, 8, 8), decoder_input_ids=torch.tensor([[1]]))
    with pytest.raises(ValueError, match="float"):
        captioner(pixel_values=torch.zeros(1, 3, 16, 16, dtype=torch.long), decoder_input_ids=torch.tensor([[1]]))
    with pytest.raises(ValueError, match="decoder_input_ids"):
        captioner(pixel_values=random_pixels(1), decoder_input_ids=torch.tensor([[1000]]))
    with pytest.raises(ValueError, match="decoder_input_ids"):
        captioner(pixel_values=random_pixels(1))
    with pytest.raises(ValueError, match="max_position_embeddings"):
        captioner(pixel_values=random_pixels(1), decoder_input_ids=torch.ones(1, 20, dtype=torch.long))
    with pytest.raises(ValueError, match="max_position_embeddings"):
        captioner.generate(pixel_values=random_pixels(1), max_new_tokens=40)
    with pytest.raises(ValueError, match="divisible"):
        CaptionerConfig(image_size=30)
    with pytest.raises(ValueError, match="encoder_type"):
        CaptionerConfig(encoder_type="vit")
    with pytest.raises(ValueError, match="eos_token_id"):
        CaptionerConfig(vocab_size=4, eos_token_id=9)


# ---------------------------------------------------------------------------------------------------------
# Tokenizer, image processor, processor
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["word", "bpe"])
def test_tokenizer_round_trip_and_special_tokens(kind):
    tokenizer = train_caption_tokenizer(CAPTIONS, kind=kind, vocab_size=300)
    assert (tokenizer.pad_token, tokenizer.bos_token, tokenizer.eos_token) == ("<pad>", "<bos>", "<eos>")
    ids = tokenizer.encode("A Big red circle", add_special_tokens=False)
    assert tokenizer.decode(ids) == "a big red circle"
    with pytest.raises(ValueError, match="kind"):
        train_caption_tokenizer(CAPTIONS, kind="char")
    with pytest.raises(ValueError, match="captions"):
        train_caption_tokenizer([])


def test_image_processor_modes_sizes_and_rgba_on_white():
    processor = CaptionerImageProcessor(image_size=8)
    rgba = Image.new("RGBA", (30, 20), (255, 0, 0, 0))  # fully transparent red -> white
    grey = Image.new("L", (5, 7), 0)
    out = processor(
        [rgba, grey, np.zeros((9, 9), np.uint8), np.ones((3, 12, 12), np.float32), np.zeros((12, 12, 4), np.uint8)]
    )["pixel_values"]
    assert out.shape == (5, 3, 8, 8) and out.dtype == torch.float32
    torch.testing.assert_close(out[0], torch.ones(3, 8, 8))  # white
    torch.testing.assert_close(out[1], -torch.ones(3, 8, 8))  # black
    torch.testing.assert_close(out[3], torch.ones(3, 8, 8))
    torch.testing.assert_close(out[4], torch.ones(3, 8, 8))  # transparent array -> white
    grey_processor = CaptionerImageProcessor(image_size=4, num_channels=1)
    assert grey_processor(Image.new("RGB", (6, 6), (255, 255, 255)))["pixel_values"].shape == (1, 1, 4, 4)
    for bad, match in [
        (np.zeros((5, 5, 2)), "shape"),
        (np.full((4, 4), 2.0), r"\[0, 1\]"),
        (np.full((4, 4), 300), "255"),
        ("not an image", "PIL"),
        ([], "empty"),
        (None, "images"),
    ]:
        with pytest.raises(ValueError, match=match):
            processor(bad)


def test_processor_encodes_captions_for_training():
    tokenizer = tiny_tokenizer()
    batch = tiny_processor(tokenizer)(images=[np.zeros((4, 4), np.uint8)] * 2, text=["a red square", "white"])
    bos, eos, pad = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    (white,) = tokenizer.encode("white", add_special_tokens=False)
    assert batch["decoder_input_ids"][1].tolist() == [bos, white, eos, pad, pad]
    assert batch["decoder_attention_mask"][1].tolist() == [1, 1, 1, 0, 0]
    assert batch["labels"][1].tolist() == [bos, white, eos, -100, -100]
    assert tiny_processor(tokenizer).batch_decode(batch["decoder_input_ids"]) == ["a red square", "white"]
    with pytest.raises(ValueError, match="text"):
        tiny_processor(tokenizer)(text=[3])
    with pytest.raises(ValueError, match="images"):
        tiny_processor(tokenizer)()


# ---------------------------------------------------------------------------------------------------------
# Pipeline and a tiny overfit
# ---------------------------------------------------------------------------------------------------------
def test_pipeline_inputs_outputs_and_errors(tmp_path):
    save_tiny(tmp_path / "model")
    pipe = pipeline("image-captioning", model=str(tmp_path / "model"))
    assert isinstance(pipe, ImageCaptioningPipeline)
    path = tmp_path / "x.png"
    Image.new("RGBA", (10, 12), (0, 0, 255, 128)).save(path)
    inputs = [Image.new("RGB", (7, 7)), str(path), path, np.zeros((6, 6), np.uint8)]
    for single in inputs:
        out = pipe(single, max_new_tokens=3)
        assert isinstance(out, list) and len(out) == 1 and isinstance(out[0]["generated_text"], str)
    batched = pipe(inputs, batch_size=3, max_new_tokens=3, num_beams=2)
    assert len(batched) == 4 and all(len(o) == 1 and "generated_text" in o[0] for o in batched)
    one_by_one = [pipe(x, max_new_tokens=3, num_beams=2) for x in inputs]
    assert batched == one_by_one
    sampled = pipe(inputs[0], max_new_tokens=3, do_sample=True, top_k=3, top_p=0.9, temperature=0.7)
    assert isinstance(sampled[0]["generated_text"], str)
    with pytest.raises(ValueError, match="Unknown argument"):
        pipe(inputs[0], max_tokens=3)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        pipe(str(tmp_path / "missing.png"))
    (tmp_path / "truncated.png").write_bytes(path.read_bytes()[:60])  # a truncated PNG, and a text file
    (tmp_path / "notes.png").write_text("not an image")
    for broken in ("truncated.png", "notes.png"):
        with pytest.raises(ValueError, match=f"Image file '.*{broken}' cannot be read as an image"):
            pipe(str(tmp_path / broken))
    with pytest.raises(ValueError, match="PIL"):
        pipe(3.5)


def test_tiny_model_overfits_a_handful_of_captioned_images_and_captions_them(tmp_path):
    colours = {
        "a red square": (255, 0, 0),
        "a blue circle": (0, 0, 255),
        "a green bar": (0, 255, 0),
        "a big red circle on a blue square": (255, 0, 255),
        "white": (255, 255, 255),
    }
    images = [Image.new("RGB", (16, 16), colour) for colour in colours.values()]
    captions = list(colours)
    tokenizer = tiny_tokenizer(captions)
    processor = tiny_processor(tokenizer)
    model = tiny_captioner(tokenizer, num_encoder_layers=0)
    batch = processor(images=images, text=captions)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(150):
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    assert loss.item() < 0.05
    save_tiny(tmp_path / "model", model, processor)
    pipe = pipeline("image-captioning", model=str(tmp_path / "model"))
    assert [o[0]["generated_text"] for o in pipe(images, max_new_tokens=10)] == captions
    assert [o[0]["generated_text"] for o in pipe(images, max_new_tokens=10, num_beams=3, batch_size=2)] == captions


# ---------------------------------------------------------------------------------------------------------
# Caption datasets
# ---------------------------------------------------------------------------------------------------------
def _write_idx(folder, prefix, images, labels):
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
        bytes([0, 0, 8, 3]) + b"".join(x.to_bytes(4, "big") for x in (n, h, w)) + images.tobytes()
    )
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
        bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + labels.astype(np.uint8).tobytes()
    )


def test_mnist_scenes_hold_out_pairs_and_use_test_images_only(tmp_path):
    labels = np.arange(40) % 10
    _write_idx(tmp_path, "train", np.full((40, 28, 28), 100, np.uint8), labels)  # train digits: value 100
    _write_idx(tmp_path, "t10k", np.full((40, 28, 28), 200, np.uint8), labels)  # test digits: value 200
    held = {frozenset(p) for p in HELD_OUT_PAIRS}
    train = load_captions("mnist_scenes", "train", data_dir=tmp_path, num_scenes=200)
    assert set(train.column_names) >= {"image", "text"} and len(train) == 200
    assert all(frozenset((a, b)) not in held for a, b in zip(train["first"], train["second"]))
    assert {np.asarray(image).max() for image in train["image"]} == {100}
    for split in ("test", "test_held_out_pairs"):
        test = load_captions("mnist_scenes", split, data_dir=tmp_path, num_scenes=50)
        assert {np.asarray(image).max() for image in test["image"]} == {200}
        assert all((frozenset((a, b)) in held) == (split != "test") for a, b in zip(test["first"], test["second"]))
    row = test[0]
    expected = (
        f"a {row['first']} " + ("to the left of" if row["relation"] == "left" else "above") + f" a {row['second']}"
    )
    assert row["text"] == expected and row["image"].size == (64, 64)
    assert len(scene_pairs("test_held_out_pairs")) == 2 * len(HELD_OUT_PAIRS)
    again = load_captions("mnist_scenes", "train", data_dir=tmp_path, num_scenes=200)
    assert again["text"] == train["text"]
    with pytest.raises(ValueError, match="split"):
        load_captions("mnist_scenes", "validation", data_dir=tmp_path)


def test_imagefolder_and_save_to_disk_caption_datasets(tmp_path):
    import datasets

    folder = tmp_path / "folder"
    folder.mkdir()
    rows = []
    for i, caption in enumerate(["a red square", "a blue circle"]):
        Image.new("RGB", (8, 8), (i * 200, 0, 0)).save(folder / f"{i}.png")
        rows.append(json.dumps({"file_name": f"{i}.png", "text": caption}))
    (folder / "metadata.jsonl").write_text("\n".join(rows) + "\n")
    dataset = load_captions(str(folder))
    assert dataset.column_names == ["image", "text"] and sorted(dataset["text"]) == ["a blue circle", "a red square"]
    renamed = dataset.rename_column("text", "description")
    renamed.save_to_disk(str(tmp_path / "disk"))
    loaded = load_captions(str(tmp_path / "disk"), caption_column="description")
    assert loaded.column_names == ["image", "text"] and loaded["text"] == renamed["description"]
    with pytest.raises(ValueError, match="caption"):
        load_captions(str(tmp_path / "disk"))
    with pytest.raises(ValueError, match="split"):
        load_captions(str(folder), split="test")
    assert isinstance(loaded, datasets.Dataset)


def test_emoji_dataset_split_by_vendor_rgba_on_white(tmp_path):
    package = tmp_path / "package"
    entries = [
        {
            "name": "GRINNING FACE",
            "image": "1f600.png",
            "unified": "1F600",
            "category": "Smileys & Emotion",
            **{f"has_img_{v}": True for v in ("apple", "google", "twitter", "facebook")},
        },
        {
            "name": "WAVING HAND SIGN",
            "image": "1f44b.png",
            "unified": "1F44B",
            "category": "People & Body",
            "has_img_apple": True,
            "has_img_facebook": False,
            "skin_variations": {"1F3FB": {"unified": "1F44B-1F3FB", "image": "1f44b-1f3fb.png", "has_img_apple": True}},
        },
    ]
    package.mkdir()
    (package / "emoji.json").write_text(json.dumps(entries))
    for vendor in ("apple", "google", "twitter", "facebook"):
        (package / "img" / vendor / "64").mkdir(parents=True)
        for name in ("1f600.png", "1f44b.png", "1f44b-1f3fb.png"):
            Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(package / "img" / vendor / "64" / name)
    train = load_captions("emoji", "train", data_dir=tmp_path)
    assert sorted(set(train["vendor"])) == ["apple", "google", "twitter"]
    assert "waving hand sign: light skin tone" in train["text"] and "grinning face" in train["text"]
    assert np.asarray(train[0]["image"]).min() == 255 and train[0]["image"].mode == "RGB"  # transparent -> white
    test = load_captions("emoji", "test", data_dir=tmp_path)
    assert test["text"] == ["grinning face"] and test["vendor"] == ["facebook"]
    # leave-one-vendor-out validation: train on two vendors, validate on a third
    two = load_captions(
        "emoji", "train", data_dir=tmp_path, vendors=("apple", "google", "twitter"), test_vendor="twitter"
    )
    assert sorted(set(two["vendor"])) == ["apple", "google"]
    with pytest.raises(ValueError, match="vendors"):
        load_captions("emoji", "train", data_dir=tmp_path, vendors=("apple", "google"), test_vendor="twitter")
    with pytest.raises(ValueError, match="split"):
        load_captions("emoji", "validation", data_dir=tmp_path)
    with pytest.raises(ValueError, match="No emoji data"):
        load_captions("emoji", "train", data_dir=tmp_path / "nothing")


def _emoji_release(folder, version, entries, vendors, colour):
    folder.mkdir(parents=True)
    (folder / "emoji.json").write_text(json.dumps(entries))
    (folder / "package.json").write_text(json.dumps({"version": version}))
    for vendor in vendors:
        (folder / "img" / vendor / "64").mkdir(parents=True)
        for entry in entries:
            for item in [entry, *(entry.get("skin_variations") or {}).values()]:
                Image.new("RGBA", (64, 64), colour).save(folder / "img" / vendor / "64" / item["image"])


def test_emoji_extra_releases_join_train_only_named_by_the_main_release(tmp_path):
    flags = {f"has_img_{v}": True for v in ("apple", "google", "twitter", "facebook")}
    main = [
        {"name": "HEAVY BLACK HEART", "image": "2764-fe0f.png", "unified": "2764-FE0F", "category": "Symbols", **flags},
        {
            "name": "WAVING HAND SIGN",
            "image": "1f44b.png",
            "unified": "1F44B",
            "category": "People & Body",
            **flags,
            "skin_variations": {"1F3FB": {"unified": "1F44B-1F3FB", "image": "1f44b-1f3fb.png", **flags}},
        },
    ]
    _emoji_release(tmp_path / "package", "16.0.0", main, ("apple", "google", "twitter", "facebook"), (0, 0, 0, 0))
    old = [  # an older release: the heart without its variation selector, an older name, an emoji since removed
        {"name": "OLD HEART NAME", "image": "2764.png", "unified": "2764", "category": "Symbols", **flags},
        {
            "name": "WAVING HAND",
            "image": "1f44b.png",
            "unified": "1F44B",
            "category": "People",
            **flags,
            "skin_variations": {"1F3FB": {"unified": "1F44B-1F3FB", "image": "1f44b-1f3fb.png", **flags}},
        },
        {"name": "GONE", "image": "1f999.png", "unified": "1F999", "category": "Symbols", **flags},
    ]
    _emoji_release(tmp_path / "google-3" / "package", "3.0.0", old, ("google",), (255, 0, 0, 255))
    _emoji_release(tmp_path / "facebook-3" / "package", "3.0.0", old, ("facebook",), (0, 255, 0, 255))
    extra = [tmp_path / "google-3" / "package"]
    train = load_captions("emoji", "train", data_dir=tmp_path, extra_releases=extra)
    old_rows = [i for i, vendor in enumerate(train["vendor"]) if vendor == "google@3.0.0"]
    assert len(train) == 9 + 3 and len(old_rows) == 3
    assert sorted(train[i]["text"] for i in old_rows) == [
        "heavy black heart",
        "waving hand sign",
        "waving hand sign: light skin tone",
    ]
    assert {train[i]["category"] for i in old_rows} == {"Symbols", "People & Body"}
    assert "2764-FE0F" in [train[i]["unified"] for i in old_rows]
    assert np.asarray(train[old_rows[0]]["image"])[0, 0].tolist() == [255, 0, 0]  # the old drawing
    # other splits ignore them, and the test vendor's drawings in another release are never used
    test = load_captions("emoji", "test", data_dir=tmp_path, extra_releases=extra)
    assert set(test["vendor"]) == {"facebook"} and len(test) == 3
    with pytest.raises(ValueError, match="extra_releases.*test vendor 'facebook'"):
        load_captions("emoji", "train", data_dir=tmp_path, extra_releases=[tmp_path / "facebook-3" / "package"])
    with pytest.raises(ValueError, match="extra_releases.*no emoji.json"):
        load_captions("emoji", "train", data_dir=tmp_path, extra_releases=[tmp_path / "nothing"])


def test_emoji_other_drawing_styles_join_train_but_never_the_test_vendors_family(tmp_path):
    flags = {f"has_img_{v}": True for v in ("apple", "google", "twitter", "facebook", "emojione", "messenger")}
    couple = {
        "name": "COUPLE WITH HEART: MAN, MAN",
        "image": "1f468-200d-2764-fe0f-200d-1f468.png",
        "unified": "1F468-200D-2764-FE0F-200D-1F468",
        "category": "People & Body",
        **flags,
    }
    main = [
        {"name": "RED APPLE", "image": "1f34e.png", "unified": "1F34E", "category": "Food & Drink", **flags},
        couple,
    ]
    _emoji_release(tmp_path / "package", "16.0.0", main, ("apple", "google", "twitter", "facebook"), (0, 0, 0, 0))
    old = [{"name": "RED APPLE", "image": "1f34e.png", "unified": "1F34E", "category": "Foods", **flags}]
    _emoji_release(tmp_path / "old" / "package", "4.0.4", old, ("emojione", "messenger", "google"), (9, 9, 9, 255))
    assets = tmp_path / "png" / "64"  # a folder named by code points without joiners and selectors
    assets.mkdir(parents=True)
    for stem, colour in [("1f34e", (1, 2, 3, 255)), ("1f468-2764-1f468", (4, 5, 6, 255)), ("1f999", (7, 8, 9, 255))]:
        Image.new("RGBA", (64, 64), colour).save(assets / f"{stem}.png")
    old_release = [tmp_path / "old" / "package"]
    train = load_captions(
        "emoji",
        "train",
        data_dir=tmp_path,
        extra_releases=old_release,
        extra_vendors=["emojione"],
        extra_image_dirs=[f"joy={assets}"],
    )
    by_vendor = {}
    for row in train:
        by_vendor.setdefault(row["vendor"], []).append(row)
    assert sorted(by_vendor) == ["apple", "emojione@4.0.4", "google", "google@4.0.4", "joy", "twitter"]
    assert [row["text"] for row in by_vendor["emojione@4.0.4"]] == ["red apple"]
    assert sorted(row["text"] for row in by_vendor["joy"]) == ["couple with heart: man, man", "red apple"]
    assert {row["unified"] for row in by_vendor["joy"]} == {"1F34E", "1F468-200D-2764-FE0F-200D-1F468"}
    apple_row = next(row for row in by_vendor["joy"] if row["text"] == "red apple")
    assert np.asarray(apple_row["image"])[0, 0].tolist() == [1, 2, 3]
    assert "joy" not in load_captions("emoji", "test", data_dir=tmp_path, extra_image_dirs=[f"joy={assets}"])["vendor"]
    for extra, match in [
        ({"extra_releases": old_release, "extra_vendors": ["messenger"]}, r"extra_vendors.*\['messenger'\]"),
        ({"extra_releases": old_release, "extra_vendors": ["google"]}, r"extra_vendors.*\['google'\]"),
        ({"extra_image_dirs": [f"facebook={assets}"]}, r"extra_image_dirs.*\['facebook'\]"),
        ({"extra_vendors": ["emojione"]}, "extra_vendors.*needs `extra_releases`"),
        ({"extra_image_dirs": [str(assets)]}, "'<style>=<folder>'"),
        ({"extra_image_dirs": [f"joy={tmp_path / 'nothing'}"]}, "holds no PNG"),
    ]:
        with pytest.raises(ValueError, match=match):
            load_captions("emoji", "train", data_dir=tmp_path, **extra)


def test_resnet_encoder_grid_blocks_and_config_errors(tmp_path):
    model = tiny_captioner(encoder_type="resnet", encoder_blocks_per_stage=2)
    assert model.config.grid_size == 4
    assert sum(type(m).__name__ == "CaptionerResidualBlock" for m in model.encoder.modules()) == 4
    features = model.encoder(random_pixels()).last_hidden_state
    assert features.shape == (3, 16, 32)
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForImageTextToText.from_pretrained(tmp_path).eval()
    pixels, ids = random_pixels(), torch.tensor([[1, 4, 5]] * 3)
    with torch.no_grad():
        assert torch.equal(
            model(pixel_values=pixels, decoder_input_ids=ids).logits,
            reloaded(pixel_values=pixels, decoder_input_ids=ids).logits,
        )
    assert tiny_captioner(encoder_type="resnet", encoder_blocks_per_stage=0).config.grid_size == 4
    with pytest.raises(ValueError, match="encoder_blocks_per_stage"):
        tiny_captioner(encoder_type="resnet", encoder_blocks_per_stage=-1)
    with pytest.raises(ValueError, match="divisible"):
        tiny_captioner(encoder_type="resnet", encoder_channels=[8, 8, 8, 8, 8])
    # configs saved before the option existed load with its default
    assert CaptionerConfig(encoder_type="conv").encoder_blocks_per_stage == 1


@pytest.mark.parametrize("encoder_type", ["conv", "resnet"])
def test_mixstyle_changes_training_features_only_and_keeps_the_weights_layout(encoder_type):
    plain = tiny_captioner(encoder_type=encoder_type)
    mixing = tiny_captioner(encoder_type=encoder_type, mixstyle_probability=1.0, mixstyle_alpha=0.3)
    assert plain.state_dict().keys() == mixing.state_dict().keys()  # shipped folders load either way
    mixing.load_state_dict(plain.state_dict())
    pixels = random_pixels()
    with torch.no_grad():
        assert torch.equal(plain.encoder(pixels).last_hidden_state, mixing.encoder(pixels).last_hidden_state)
        mixing.train()
        torch.manual_seed(0)
        mixed = mixing.encoder(pixels).last_hidden_state
        assert not torch.allclose(mixed, plain.encoder(pixels).last_hidden_state)
    # per image, each stage's output keeps its spatial pattern: only the channel statistics are exchanged
    features = torch.randn(4, 3, 5, 5)
    out = mix_feature_statistics(features, alpha=0.1)
    normalise = lambda x: (x - x.mean((2, 3), keepdim=True)) / x.std((2, 3), keepdim=True)  # noqa: E731
    torch.testing.assert_close(normalise(out), normalise(features), atol=1e-4, rtol=1e-4)
    for bad in ({"mixstyle_probability": 1.5}, {"mixstyle_probability": -0.1}, {"mixstyle_alpha": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            tiny_captioner(**bad)
    assert CaptionerConfig().mixstyle_probability == 0.0  # configs saved before the option existed


def test_static_cache_is_refused_with_a_clear_error():
    model = tiny_captioner().eval()
    pixel_values = torch.rand(1, model.config.num_channels, model.config.image_size, model.config.image_size) * 2 - 1
    with pytest.raises(ValueError, match="dynamic cache only"):
        model.generate(pixel_values=pixel_values, max_new_tokens=3, cache_implementation="static")
