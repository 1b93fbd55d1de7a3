"""Text-to-image (caption tokens, then VQ-VAE codes, in one causal LM) and classifier-free guidance, on tiny random
models (seconds): exact code counts, guidance through `transformers`' generate(), the pipeline, remote code, the
training entry point."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_models import (
    NUM_CODES,
    PRIORS,
    SCENE_CAPTIONS,
    TWO_STAGE_VQVAE,
    caption_ids,
    tiny_pixelcnn,
    tiny_text_to_image,
)
from transformers import AutoModel, pipeline

from hf_argen import (
    ClassConditionalImageGenerationPipeline,
    TextToImagePipeline,
    TextToImageVocabulary,
    VQVAEConfig,
    VQVAEModel,
    VQVAEPriorConfig,
    VQVAEPriorForImageGeneration,
)
from hf_argen.models import TEXT_TO_IMAGE_TASK


@pytest.mark.parametrize("prior_type", ["transformer", "rnn", "gpt2"])
@pytest.mark.parametrize("guidance_scale", [1.0, 3.0])
def test_exactly_num_codes_and_only_codes(prior_type, guidance_scale):
    model, tokenizer = tiny_text_to_image(prior_type)
    prompts = model.prompt_ids(caption_ids(tokenizer, SCENE_CAPTIONS))
    # The bare LM, unconstrained, does draw caption tokens: the constraint is what keeps them out.
    torch.manual_seed(0)
    free = model.prior.generate(prompts, do_sample=True, max_new_tokens=49, attention_mask=torch.ones_like(prompts),
                                pad_token_id=0)  # fmt: skip
    assert (free[:, prompts.shape[1] :] < model.vocabulary.code_offset).any()
    codes = model.generate(prompts, guidance_scale=guidance_scale, seed=0, output_type="codes")
    assert codes.shape == (4, 7, 7) and codes.dtype == torch.long
    assert codes.min() >= 0 and codes.max() < NUM_CODES
    pixels = model.generate(prompts, guidance_scale=guidance_scale, seed=0)
    assert pixels.shape == (4, 1, 28, 28) and pixels.min() >= -1 and pixels.max() <= 1
    assert torch.equal(model.decode(codes), pixels)


def test_guidance_scale_one_is_the_plain_conditional_sampler():
    model, tokenizer = tiny_text_to_image()
    prompts = model.prompt_ids(caption_ids(tokenizer, SCENE_CAPTIONS))
    plain = model.generate(prompts, seed=3, output_type="codes")
    assert torch.equal(model.generate(prompts, guidance_scale=1.0, seed=3, output_type="codes"), plain)
    # ... which is the LM's own generate() on the prompt, nothing else
    torch.manual_seed(3)
    output = model.prior.generate(prompts, do_sample=True, max_new_tokens=49, min_new_tokens=49, eos_token_id=None,
                                  suppress_tokens=list(range(model.vocabulary.code_offset)), pad_token_id=0,
                                  attention_mask=torch.ones_like(prompts), top_k=0)  # fmt: skip
    expected = (output[:, prompts.shape[1] :] - model.vocabulary.code_offset).reshape(-1, 7, 7)
    assert torch.equal(model.generate(prompts, guidance_scale=1.0, seed=3, output_type="codes"), expected)
    guided = model.generate(prompts, guidance_scale=4.0, seed=3, output_type="codes")
    assert not torch.equal(guided, plain)
    # seeds and generators
    generator = torch.Generator().manual_seed(11)
    same = model.generate(prompts, guidance_scale=2.0, generator=generator, output_type="codes")
    generator = torch.Generator().manual_seed(11)
    assert torch.equal(model.generate(prompts, guidance_scale=2.0, generator=generator, output_type="codes"), same)


@pytest.mark.parametrize("prior_type", ["transformer", "gpt2"])
def test_guided_scores_equal_the_formula(prior_type):
    """Each sampled step's scores are log p(x|null) + g (log p(x|caption) - log p(x|null)) over the codes (the
    caption tokens suppressed), with both log-probabilities recomputed by full forward passes."""
    model, tokenizer = tiny_text_to_image(prior_type)
    vocabulary, scale = model.vocabulary, 2.5
    prompts = model.prompt_ids(caption_ids(tokenizer, SCENE_CAPTIONS[:2]))
    null = vocabulary.null_prompts(2)
    torch.manual_seed(0)
    output = model.prior.generate(
        prompts, do_sample=True, max_new_tokens=49, min_new_tokens=49, eos_token_id=None, pad_token_id=0, top_k=0,
        suppress_tokens=vocabulary.non_code_ids, attention_mask=torch.ones_like(prompts), guidance_scale=scale,
        negative_prompt_ids=null, output_scores=True, return_dict_in_generate=True,
    )  # fmt: skip
    codes = output.sequences[:, prompts.shape[1] :]
    length = prompts.shape[1]
    with torch.no_grad():
        conditional = model.prior(input_ids=torch.cat([prompts, codes], 1)).logits[:, length - 1 : -1]
        unconditional = model.prior(input_ids=torch.cat([null, codes], 1)).logits[:, length - 1 : -1]
    conditional, unconditional = conditional.log_softmax(-1), unconditional.log_softmax(-1)
    expected = unconditional + scale * (conditional - unconditional)
    scores = torch.stack(output.scores, 1)
    code_ids = slice(vocabulary.code_offset, None)
    assert torch.isinf(scores[..., : vocabulary.code_offset]).all()  # caption tokens never drawn in image positions
    torch.testing.assert_close(scores[..., code_ids], expected[..., code_ids], atol=1e-4, rtol=1e-4)


def test_vocabulary_layout_and_errors():
    vocabulary = TextToImageVocabulary(num_text_tokens=10, num_codes=16, max_text_length=6)
    prompts = vocabulary.prompts([[5, 6], []])
    assert prompts.tolist() == [[0, 0, 1, 5, 6, 2], [0, 0, 0, 0, 1, 2]]
    assert torch.equal(vocabulary.null_prompts(1)[0], prompts[1])
    sequences = vocabulary.sequences(prompts, torch.tensor([[[0, 15]], [[3, 4]]]))
    assert sequences[:, 6:].tolist() == [[10, 25], [13, 14]] and vocabulary.vocab_size == 26
    with pytest.raises(ValueError, match="at most 4"):
        vocabulary.prompts([[5] * 5])
    with pytest.raises(ValueError, match=r"outside \[0, 10\)"):
        vocabulary.prompts([[12]])
    with pytest.raises(ValueError, match="codes"):
        vocabulary.sequences(prompts, torch.full((2, 1, 2), 16))


def test_model_input_errors():
    model, tokenizer = tiny_text_to_image()
    with pytest.raises(ValueError, match="input_ids"):
        model.generate(torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="temperature"):
        model.generate([[4]], temperature=-1.0)
    with pytest.raises(ValueError, match="guidance_scale"):
        model.generate([[4]], guidance_scale="big")
    with pytest.raises(ValueError, match="seed="):
        model.generate([[4]], generator=3)
    assert model.generate([], output_type="codes").shape == (0, 7, 7)


def test_pipeline_returns_pil_images_and_names_unknown_words(tmp_path):
    model, tokenizer = tiny_text_to_image()
    pipe = TextToImagePipeline(model=model, tokenizer=tokenizer)
    images = pipe(["a 3 above a 7", "a 1 to the left of a 5"], num_images_per_prompt=2, guidance_scale=2.0, seed=0)
    assert len(images) == 4 and all(isinstance(i, Image.Image) and i.size == (28, 28) for i in images)
    captions = ["a 3 above a 7"] * 2 + ["a 1 to the left of a 5"] * 2
    direct = model.generate(caption_ids(tokenizer, captions), guidance_scale=2.0, seed=0, output_type="pil")
    assert [np.asarray(i).tolist() for i in images] == [np.asarray(i).tolist() for i in direct]
    assert len(pipe("A 3 ABOVE A 7", seed=0, top_k=5, top_p=0.9, temperature=0.8)) == 1  # lower-cased like training
    with pytest.raises(ValueError, match=r"'a 3 beside a 7'.*\['beside'\]"):
        pipe(["a 3 above a 7", "a 3 beside a 7"])
    with pytest.raises(ValueError, match="reads at most 8"):
        pipe("a 3 above a 7 above a 3 above a 7")
    with pytest.raises(ValueError, match="unexpected arguments"):
        pipe("a 3 above a 7", class_labels=[1])
    with pytest.raises(ValueError, match="top_p"):
        pipe("a 3 above a 7", top_p=1.5)


def test_save_load_and_remote_code_without_hf_argen(tmp_path, run_without_hf_argen):
    model, tokenizer = tiny_text_to_image()
    model.generation_config.guidance_scale = 2.0
    folder = tmp_path / "t2i"
    TextToImagePipeline(model=model, tokenizer=tokenizer).save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "vqvae_text_to_image" and "text-to-image" in config["custom_pipelines"]
    assert (folder / "pipeline_text_to_image.py").is_file() and (folder / "tokenizer.json").is_file()
    prompts = caption_ids(tokenizer, SCENE_CAPTIONS)
    expected = model.generate(prompts, seed=1, output_type="codes")
    loaded = AutoModel.from_pretrained(folder)
    assert type(loaded).__module__.startswith("hf_argen") and loaded.generation_config.guidance_scale == 2.0
    assert torch.equal(loaded.generate(prompts, seed=1, output_type="codes"), expected)
    local = pipeline(TEXT_TO_IMAGE_TASK, model=str(folder))  # after `import hf_argen`: no remote code
    reference = local(SCENE_CAPTIONS, seed=1)
    torch.save(expected, tmp_path / "expected.pt")
    np.save(tmp_path / "pixels.npy", np.stack([np.asarray(i) for i in reference]))
    result = run_without_hf_argen(
        f"""
        import numpy as np, torch
        from transformers import AutoModel, pipeline
        model = AutoModel.from_pretrained({str(folder)!r}, trust_remote_code=True)
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        prompts = {prompts!r}
        assert torch.equal(model.generate(prompts, seed=1, output_type="codes"), torch.load("expected.pt"))
        generator = pipeline("text-to-image", model={str(folder)!r}, trust_remote_code=True)
        images = generator({SCENE_CAPTIONS!r}, seed=1)
        assert np.array_equal(np.stack([np.asarray(i) for i in images]), np.load("pixels.npy"))
        try:
            generator("a 9 under a 7")
        except ValueError as error:
            assert "under" in str(error), error
        else:
            raise AssertionError("no error for an unknown word")
        print("ok")
    """,
        tmp_path,
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]


def test_class_conditional_prior_with_a_null_class():
    prior = dict(PRIORS["transformer"], vocab_size=NUM_CODES + 12, initializer_range=0.5)
    config = VQVAEPriorConfig(vqvae=VQVAEConfig(**TWO_STAGE_VQVAE), prior=prior, num_classes=10, null_class=True)
    model = VQVAEPriorForImageGeneration(config).eval()
    assert model.vocabulary.null_token_id == NUM_CODES + 11 and model.vocabulary.vocab_size == NUM_CODES + 12
    plain = model.generate(class_labels=[1, 2], seed=0, output_type="codes")
    assert torch.equal(model.generate(class_labels=[1, 2], seed=0, guidance_scale=1.0, output_type="codes"), plain)
    guided = model.generate(class_labels=[1, 2], seed=0, guidance_scale=3.0, output_type="codes")
    assert guided.shape == (2, 7, 7) and guided.max() < NUM_CODES and not torch.equal(guided, plain)
    # the guided scores are the formula against the null class
    torch.manual_seed(0)
    prompt = model.vocabulary.class_tokens([1, 2])[:, None]
    output = model.prior.generate(
        prompt, do_sample=True, max_new_tokens=49, min_new_tokens=49, eos_token_id=None, top_k=0,
        pad_token_id=model.vocabulary.pad_token_id, suppress_tokens=model.vocabulary.non_code_ids,
        guidance_scale=3.0, negative_prompt_ids=torch.full_like(prompt, model.vocabulary.null_token_id),
        output_scores=True, return_dict_in_generate=True,
    )  # fmt: skip
    with torch.no_grad():
        cond = model.prior(input_ids=output.sequences).logits[:, :-1].log_softmax(-1)
        null_sequences = output.sequences.clone()
        null_sequences[:, 0] = model.vocabulary.null_token_id
        uncond = model.prior(input_ids=null_sequences).logits[:, :-1].log_softmax(-1)
    expected = (uncond + 3.0 * (cond - uncond))[..., :NUM_CODES]
    torch.testing.assert_close(torch.stack(output.scores, 1)[..., :NUM_CODES], expected, atol=1e-4, rtol=1e-4)
    # a prior without a null class refuses guidance, naming it
    with pytest.raises(ValueError, match="guidance_scale"):
        VQVAEPriorForImageGeneration(
            VQVAEPriorConfig(vqvae=VQVAEConfig(**TWO_STAGE_VQVAE), prior=PRIORS["transformer"], num_classes=10)
        ).generate(class_labels=[1], guidance_scale=2.0)
    with pytest.raises(ValueError, match="null class"):
        VQVAEPriorConfig(vqvae=VQVAEConfig(**TWO_STAGE_VQVAE), prior=PRIORS["transformer"], num_classes=10,
                         null_class=True)  # fmt: skip


def test_class_guidance_through_the_pipeline_and_the_command(tmp_path):
    from hf_argen.cli import main as cli

    prior = dict(PRIORS["transformer"], vocab_size=NUM_CODES + 12, initializer_range=0.5)
    config = VQVAEPriorConfig(vqvae=VQVAEConfig(**TWO_STAGE_VQVAE), prior=prior, num_classes=10, null_class=True)
    model = VQVAEPriorForImageGeneration(config).eval()
    pipe = ClassConditionalImageGenerationPipeline(model=model)
    guided = pipe(class_labels=[1, 2], guidance_scale=3.0, seed=0)
    expected = model.generate(class_labels=[1, 2], guidance_scale=3.0, seed=0, output_type="pil")
    assert [np.asarray(i).tolist() for i in guided] == [np.asarray(i).tolist() for i in expected]
    plain = pipe(class_labels=[1, 2], seed=0)
    assert [np.asarray(i).tolist() for i in plain] != [np.asarray(i).tolist() for i in guided]
    folder = tmp_path / "guided"
    pipe.save_pretrained(folder)
    out = tmp_path / "figures.json"
    cli.dispatch(["generate", "--model", str(folder), "--class_labels", "1", "2", "--guidance_scale", "3",
                  "--seed", "0", "--device", "cpu", "--output", str(tmp_path / "grid.png"),
                  "--output_json", str(out)])  # fmt: skip
    assert json.loads(out.read_text())["num_samples"] == 2
    # a PixelCNN has no null class: the pipeline and the command refuse guidance by name
    pixelcnn = ClassConditionalImageGenerationPipeline(model=tiny_pixelcnn())
    with pytest.raises(ValueError, match="guidance_scale"):
        pixelcnn(class_labels=[0], guidance_scale=2.0)


def captioned_imagefolder(folder: Path, captions=SCENE_CAPTIONS, copies=5) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    with open(folder / "metadata.jsonl", "w") as handle:
        for index in range(len(captions) * copies):
            name = f"{index:03d}.png"
            Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / name)
            handle.write(json.dumps({"file_name": name, "text": captions[index % len(captions)]}) + "\n")
    return folder


@pytest.mark.parametrize("prior_type", ["transformer", "gpt2"])
def test_train_prior_entry_point_with_captions(tmp_path, prior_type):
    data = captioned_imagefolder(tmp_path / "images")
    VQVAEModel(VQVAEConfig(**TWO_STAGE_VQVAE)).save_pretrained(tmp_path / "vqvae")
    spec = importlib.util.spec_from_file_location(
        "train_prior", Path(__file__).resolve().parents[2] / "training" / "train_prior.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "out"
    result = module.main([
        "--vqvae", str(tmp_path / "vqvae"), "--prior", prior_type, "--dataset_name", str(data),
        "--caption_column", "text", "--condition_dropout", "0.2", "--guidance_scale", "2",
        "--output_dir", str(out), "--hidden_size", "16", "--num_hidden_layers", "1",
        "--num_attention_heads", "2", "--train_batch_size", "4", "--max_train_steps", "3",
        "--lr_warmup_steps", "0", "--checkpointing_steps", "2", "--logging_steps", "1",
        "--cache_dir", str(tmp_path / "cache"),
    ])  # fmt: skip
    assert result.global_step == 3 and math.isfinite(result.metrics["eval_nll_per_code"])
    assert (out / "checkpoint-2").is_dir() and any((tmp_path / "cache").iterdir())  # the code cache
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "vqvae_text_to_image" and config["max_text_length"] == 10
    assert json.loads((out / "generation_config.json").read_text())["guidance_scale"] == 2
    generator = pipeline(TEXT_TO_IMAGE_TASK, model=str(out))
    images = generator(["a 3 above a 7", "a 0 to the left of a 2"], seed=0)
    assert len(images) == 2 and images[0].size == (28, 28)
    with pytest.raises(ValueError, match="condition_dropout"):
        module.main(["--vqvae", str(tmp_path / "vqvae"), "--dataset_name", str(data), "--caption_column", "text",
                     "--condition_dropout", "1.5", "--output_dir", str(tmp_path / "bad")])  # fmt: skip


def test_generate_command_writes_a_grid_per_prompt(tmp_path):
    from hf_argen.cli import main as cli

    model, tokenizer = tiny_text_to_image()
    folder = tmp_path / "t2i"
    TextToImagePipeline(model=model, tokenizer=tokenizer).save_pretrained(folder)
    out = tmp_path / "figures.json"
    cli.dispatch(["generate", "--model", str(folder), "--prompt", "a 3 above a 7", "a 1 to the left of a 5",
                  "--num_images", "3", "--guidance_scale", "2", "--seed", "0", "--device", "cpu",
                  "--output", str(tmp_path / "grid.png"), "--output_json", str(out)])  # fmt: skip
    assert json.loads(out.read_text())["num_samples"] == 6
    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.size == (2 * 57 + 1, 3 * 57 + 1)  # 28x28 images scaled 2x: a column per prompt, 3 rows
    with pytest.raises(ValueError, match="beside"):
        cli.dispatch(["generate", "--model", str(folder), "--prompt", "a 3 beside a 7", "--device", "cpu",
                      "--output", str(tmp_path / "bad.png")])  # fmt: skip
    with pytest.raises(ValueError, match="class_labels"):
        cli.dispatch(["generate", "--model", str(folder), "--class_labels", "3", "--device", "cpu"])


def test_scene_judges():
    from hf_argen.recipes.text_to_image_evaluation import mnist_box, parse_scene_caption, scene_halves

    assert parse_scene_caption("a 3 above a 7") == (3, 7, "above")
    assert parse_scene_caption("A 0  to the left of a 9") == (0, 9, "left")
    with pytest.raises(ValueError, match="scene caption"):
        parse_scene_caption("a cat")
    canvas = np.zeros((32, 32), dtype=np.uint8)
    canvas[4:12, 20:24] = 255  # ink in the right half only
    left, right = scene_halves(Image.fromarray(canvas), "left")
    assert left.sum() == 0 and right.max() == 1.0 and right.shape == (28, 28)
    top, bottom = scene_halves(Image.fromarray(canvas), "above")
    assert bottom.sum() == 0 and top.sum() > 0
    box = mnist_box(right)  # the ink's longer side becomes 20 pixels, centred on its centre of mass
    rows = np.nonzero(box.max(1) > 0.2)[0]
    assert rows.max() - rows.min() + 1 in (19, 20, 21) and abs(np.nonzero(box.max(1))[0].mean() - 13.5) <= 1


def test_card_of_a_text_to_image_folder(tmp_path):
    from hf_argen.recipes.cards import text_to_image_card_metrics, write_text_to_image_card
    from hf_argen.recipes.text_to_image import describe

    model, tokenizer = tiny_text_to_image()
    folder = tmp_path / "t2i"
    TextToImagePipeline(model=model, tokenizer=tokenizer).save_pretrained(folder)
    rows = [
        {"split": "test_held_out_pairs", "system": "real scenes", "guidance_scale": None, "round_trip": 94.2,
         "digits": 97.0, "num_images": 500},
        {"split": "test_held_out_pairs", "system": "text-to-image", "guidance_scale": 3.0, "round_trip": 71.25,
         "digits": 80.0, "num_images": 500},
    ]  # fmt: skip
    metrics = text_to_image_card_metrics(rows, "mnist_scenes", default_scale=3.0)
    assert [m.index for m in metrics] == [False, False, True, True]
    path = write_text_to_image_card(folder, metrics, "hf-argen evaluate --model t2i", describe(model.config, "x"),
                                    ["a 3 above a 7"])  # fmt: skip
    card = path.read_text()
    assert "pipeline_tag: text-to-image" in card and "71.2" in card and "hf-argen evaluate --model t2i" in card
    assert 'generator(["a 3 above a 7"]' in card and "7x7 map of VQ-VAE codes" in card


@pytest.mark.parametrize("composite", ["text_to_image", "class_conditional"])
def test_wrapping_a_live_prior_keeps_it_causal(composite):
    """A composite built around a prior in training (the recipes' sample and save hooks do this mid-run) leaves the
    prior's own config alone: its causal mask stays, so later training steps cannot see the tokens they predict."""
    from hf_argen.recipes.prior import build_prior
    from hf_argen.recipes.text_to_image import text_to_image_model

    vqvae = VQVAEModel(VQVAEConfig(**TWO_STAGE_VQVAE))
    if composite == "text_to_image":
        vocabulary = TextToImageVocabulary(num_text_tokens=12, num_codes=NUM_CODES, max_text_length=6)
        prior = build_prior("transformer", vocabulary, 55, hidden_size=16, num_hidden_layers=1, num_attention_heads=2)
    else:
        from hf_argen import PriorVocabulary

        prior = build_prior("transformer", PriorVocabulary(NUM_CODES, 10), 50, hidden_size=16, num_hidden_layers=1,
                            num_attention_heads=2)  # fmt: skip
    implementation = prior.config._attn_implementation
    tokens = torch.randint(0, NUM_CODES, (2, 50))

    def leak():  # how much the logits before position 40 move when token 40 changes
        changed = tokens.clone()
        changed[:, 40] = (changed[:, 40] + 1) % NUM_CODES
        with torch.no_grad():
            return (prior(input_ids=tokens).logits[:, :40] - prior(input_ids=changed).logits[:, :40]).abs().max()

    assert leak() == 0
    if composite == "text_to_image":
        text_to_image_model(vqvae, prior, vocabulary)
    else:
        VQVAEPriorForImageGeneration(VQVAEPriorConfig(vqvae=vqvae.config, prior=prior.config, num_classes=10),
                                     vqvae=vqvae, prior=prior)  # fmt: skip
    assert prior.config._attn_implementation == implementation and leak() == 0


def test_export_keeps_a_text_to_image_folder_current(tmp_path):
    from hf_argen.export import code_drift, export_folder

    model, tokenizer = tiny_text_to_image()
    folder = tmp_path / "t2i"
    TextToImagePipeline(model=model, tokenizer=tokenizer).save_pretrained(folder)
    assert set(export_folder(folder)) <= {"config.json"}  # (sub-configs gain their dtype once built from config)
    assert code_drift(folder) == [] and (folder / "pipeline_text_to_image.py").is_file()
    (folder / "pipeline_text_to_image.py").write_text("# stale\n")
    assert export_folder(folder) == ["pipeline_text_to_image.py"] and code_drift(folder) == []


def test_decoder_only_fine_tuning_keeps_the_codes(tmp_path):
    """`train_vqvae.py --init_model ... --decoder_only` changes the decoder alone: the codes (what a prior was trained
    on) stay the same, at another image size too."""
    data = captioned_imagefolder(tmp_path / "images")
    VQVAEModel(VQVAEConfig(**TWO_STAGE_VQVAE)).save_pretrained(tmp_path / "vqvae")
    spec = importlib.util.spec_from_file_location(
        "train_vqvae", Path(__file__).resolve().parents[2] / "training" / "train_vqvae.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "out"
    module.main(["--dataset_name", str(data), "--init_model", str(tmp_path / "vqvae"), "--decoder_only",
                 "--image_size", "32", "--output_dir", str(out), "--train_batch_size", "4", "--max_train_steps", "3",
                 "--learning_rate", "1e-2", "--eval_split", "none", "--no_samples"])  # fmt: skip
    from hf_argen.recipes.vqvae import load_vqvae

    before, after = load_vqvae(tmp_path / "vqvae", 32), VQVAEModel.from_pretrained(out).eval()
    assert after.config.image_size == 32
    pixels = torch.rand(6, 1, 32, 32) * 2 - 1
    assert torch.equal(before.encode(pixels), after.encode(pixels))
    for name, tensor in before.state_dict().items():
        assert torch.equal(tensor, after.state_dict()[name]) != name.startswith("decoder."), name
    with pytest.raises(ValueError, match="--init_model"):
        module.main(["--dataset_name", str(data), "--decoder_only", "--output_dir", str(tmp_path / "bad")])


def test_emoji_prompt_splits_are_disjoint_training_names(tmp_path):
    from fake_emoji import fake_emoji_package

    from hf_argen.recipes.datasets import load_captions
    from hf_argen.recipes.text_to_image_evaluation import emoji_prompts

    fake_emoji_package(tmp_path, extra_vendors=("twitter",))
    training = set(load_captions("emoji", "train", data_dir=tmp_path, skin_variations=False)["text"])
    names, real = emoji_prompts(4, data_dir=tmp_path)
    others, _ = emoji_prompts(4, data_dir=tmp_path, split="validation")
    assert len(names) == len(set(names)) == 4 and len(others) == len(set(others)) == 4
    assert not set(names) & set(others) and set(names) | set(others) <= training
    assert emoji_prompts(4, data_dir=tmp_path)[0] == names and all(image.mode == "RGBA" or image.mode == "RGB"
                                                                   for image in real)  # fmt: skip
    with pytest.raises(ValueError, match="split"):
        emoji_prompts(4, data_dir=tmp_path, split="test")


def test_ship_script_stores_bfloat16_weights_that_load_as_float32(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "ship_t2i", Path(__file__).parents[2] / "scripts/ship_text_to_image.py"
    )
    ship = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ship)
    model, tokenizer = tiny_text_to_image()
    run = tmp_path / "run"
    TextToImagePipeline(model=model, tokenizer=tokenizer).save_pretrained(run)
    ship.main(["--model", str(run), "--output", str(tmp_path / "f32"), "--guidance_scale", "2"])
    ship.main(["--model", str(run), "--output", str(tmp_path / "bf16"), "--weights_dtype", "bfloat16"])
    size = {name: (tmp_path / name / "model.safetensors").stat().st_size for name in ("f32", "bf16")}
    assert size["bf16"] < 0.6 * size["f32"]
    loaded = AutoModel.from_pretrained(tmp_path / "bf16")
    original = dict(model.named_parameters())
    for name, parameter in loaded.named_parameters():
        assert parameter.dtype == torch.float32
        assert torch.equal(parameter, original[name].detach().to(torch.bfloat16).float()), name
    assert AutoModel.from_pretrained(tmp_path / "f32").generation_config.guidance_scale == 2.0


def test_emoji_validation_prompts_never_overlap_the_reported_ones(tmp_path):
    from fake_emoji import fake_emoji_package

    from hf_argen.recipes.text_to_image_evaluation import emoji_prompts

    fake_emoji_package(tmp_path, extra_vendors=("twitter",))
    reported, _ = emoji_prompts(6, data_dir=tmp_path)
    for size in (2, 4, 6):  # fewer validation names than reported ones: still disjoint
        validation, _ = emoji_prompts(size, data_dir=tmp_path, split="validation")
        assert len(validation) == size and not set(validation) & set(reported)
    with pytest.raises(ValueError, match="num_prompts"):
        emoji_prompts(7, data_dir=tmp_path, split="validation")
