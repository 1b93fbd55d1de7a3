"""Bad input at every public entry point fails early with `ValueError`/`TypeError`/`OSError` whose message names
the argument (issue "Reliability and security"). Each case: (id, callable, expected message fragment)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub.errors import StrictDataclassError
from PIL import Image
from reliability_models import VQVAE, caption_tokenizer, captioner, pixelcnn, rnn, transformer, two_stage, vqvae

from hf_argen import (
    ARRNNConfig,
    ARTransformerConfig,
    PixelCNNConfig,
    PixelCNNImageProcessor,
    VQVAEConfig,
    VQVAEPriorConfig,
)
from hf_argen.caption_data import standardize_caption_columns
from hf_argen.data import standardize_columns
from hf_argen.models import (
    CaptionerConfig,
    CaptionerImageProcessor,
    CaptionerProcessor,
    ClassConditionalImageGenerationPipeline,
    ImageCaptioningPipeline,
    train_caption_tokenizer,
)
from hf_argen.recipes.datasets import load_captions, load_images
from hf_argen.recipes.mnist import load_digits_dataset, load_idx_dataset, mnist_to_digits_levels, read_idx
from hf_argen.training import LoopArguments

# Configs are strict dataclasses in transformers 5: a value of the wrong type raises huggingface_hub's
# `StrictDataclassError` (naming the field) before any check of ours runs; scripts report it as one line too.
ROOT = Path(__file__).resolve().parents[2]
CAPTIONER = ROOT / "model_cards" / "captioner-mnist-scenes"  # a model that exists: its flags are what is wrong
ERRORS = (ValueError, TypeError, OSError, StrictDataclassError)
_MODELS: dict = {}


def model(kind):
    if kind not in _MODELS:
        _MODELS[kind] = {"pixelcnn": pixelcnn, "vqvae": vqvae, "transformer": transformer, "rnn": rnn,
                         "two_stage": two_stage}[kind]()  # fmt: skip
    return _MODELS[kind]


def levels(*shape, high=4, dtype=torch.long):
    return torch.randint(0, high, shape).to(dtype)


def processor():
    return PixelCNNImageProcessor(num_levels=4, num_channels=1)


def pipe():
    return ClassConditionalImageGenerationPipeline(model=model("pixelcnn"))


def script_main(name):
    """`main` of a script in benchmarks/, experiments/ or scripts/."""
    import runpy

    (path,) = [
        p for folder in ("benchmarks", "experiments", "scripts") if (p := ROOT / folder / f"{name}.py").is_file()
    ]
    return runpy.run_path(str(path), run_name="not_main")["main"]


def generate_cli(*flags):
    from hf_argen.cli import generate

    return generate.main([*flags, "--output", str(ROOT / "tests" / "never-written.png")])


def generate_cli_output(output):
    from hf_argen.cli import generate

    return generate.main(["--output", output])


def evaluate_cli(*flags):
    from hf_argen.cli import evaluate

    return evaluate.main(list(flags))


def loop_args(**overrides):
    return LoopArguments(output_dir="unused", **overrides)


# ---- the captioner ---------------------------------------------------------------------------------------------
def cap():
    if "captioner" not in _MODELS:
        _MODELS["tokenizer"] = caption_tokenizer()
        _MODELS["captioner"] = captioner(_MODELS["tokenizer"])
    return _MODELS["captioner"]


def cap_pixels(*shape, value=None, dtype=torch.float):
    shape = shape or (1, 3, 8, 8)
    pixels = torch.rand(shape) * 2 - 1 if value is None else torch.full(shape, value)
    return pixels.to(dtype)


def cap_forward(pixel_values=None, decoder_input_ids=((1,),), **kwargs):
    ids = decoder_input_ids if isinstance(decoder_input_ids, torch.Tensor) else torch.tensor(decoder_input_ids)
    return cap()(pixel_values=cap_pixels() if pixel_values is None else pixel_values, decoder_input_ids=ids, **kwargs)


def cap_generate(pixel_values=None, **kwargs):
    return cap().generate(pixel_values=cap_pixels() if pixel_values is None else pixel_values, **kwargs)


def cap_image_processor():
    return CaptionerImageProcessor(image_size=8)


def cap_processor():
    cap()
    return CaptionerProcessor(cap_image_processor(), _MODELS["tokenizer"])


def cap_pipe():
    cap()
    return ImageCaptioningPipeline(model=cap(), tokenizer=_MODELS["tokenizer"], image_processor=cap_image_processor())


_FOLDERS: dict = {}


def folder(kind):
    """Temporary folders (removed at exit): "empty", "scratch", "captioned" (an imagefolder: 4 PNGs + metadata.jsonl),
    "not-an-image" (holds `x.png`, a text file)."""
    import json
    import tempfile

    if kind not in _FOLDERS:
        _FOLDERS[kind] = tempfile.TemporaryDirectory(prefix=f"hf-argen-{kind}-")
        path = Path(_FOLDERS[kind].name)
        if kind == "captioned":
            rows = []
            for i, caption in enumerate(["a red square", "a blue circle", "a green bar", "white"]):
                Image.new("RGB", (8, 8), (60 * i, 0, 0)).save(path / f"{i}.png")
                rows.append(json.dumps({"file_name": f"{i}.png", "text": caption}))
            (path / "metadata.jsonl").write_text("\n".join(rows) + "\n")
        elif kind == "not-an-image":
            (path / "x.png").write_text("not a PNG")
    return Path(_FOLDERS[kind].name)


def train_captioner_cli(*flags):
    import runpy

    main = runpy.run_path(str(ROOT / "training" / "train_captioner.py"), run_name="not_main")["main"]
    return main(["--dataset_name", str(folder("captioned")), "--output_dir", str(folder("scratch") / "never"),
                 "--train_batch_size", "2", "--max_train_steps", "1", "--device", "cpu", *flags])  # fmt: skip


def caption_dataset(**columns):
    import datasets

    images = [Image.new("RGB", (2, 2))]
    return datasets.Dataset.from_dict({"image": images, **columns}).cast_column("image", datasets.Image())


CASES = [
    # ---- configs ------------------------------------------------------------------------------------------
    ("pixelcnn-config-num_levels-1", lambda: PixelCNNConfig(num_levels=1), "num_levels"),
    ("pixelcnn-config-num_levels-float", lambda: PixelCNNConfig(num_levels=2.5), "num_levels"),
    ("pixelcnn-config-image_size-0", lambda: PixelCNNConfig(image_size=0), "image_size"),
    ("pixelcnn-config-num_channels-0", lambda: PixelCNNConfig(num_channels=0), "num_channels"),
    ("pixelcnn-config-architecture", lambda: PixelCNNConfig(architecture="resnet"), "architecture"),
    ("pixelcnn-config-num_classes-negative", lambda: PixelCNNConfig(num_classes=-2), "num_classes"),
    ("pixelcnn-config-hidden_size-0", lambda: PixelCNNConfig(hidden_size=0), "hidden_size"),
    ("pixelcnn-config-num_hidden_layers-string", lambda: PixelCNNConfig(num_hidden_layers="3"), "num_hidden_layers"),
    ("vqvae-config-num_embeddings-0", lambda: VQVAEConfig(**{**VQVAE, "num_embeddings": 0}), "num_embeddings"),
    ("vqvae-config-downsample_factor-3", lambda: VQVAEConfig(**{**VQVAE, "downsample_factor": 3}), "downsample"),
    ("vqvae-config-image_size-odd", lambda: VQVAEConfig(**{**VQVAE, "image_size": 7}), "image_size"),
    ("vqvae-config-embedding_dim-0", lambda: VQVAEConfig(**{**VQVAE, "embedding_dim": 0}), "embedding_dim"),
    ("transformer-config-heads", lambda: ARTransformerConfig(hidden_size=30, num_attention_heads=4), "head"),
    ("transformer-config-vocab_size-0", lambda: ARTransformerConfig(vocab_size=0), "vocab_size"),
    ("transformer-config-position-type", lambda: ARTransformerConfig(position_embedding_type="alibi"), "position"),
    ("transformer-config-eos-out-of-vocab", lambda: ARTransformerConfig(vocab_size=10, eos_token_id=10), "eos"),
    ("rnn-config-cell_type", lambda: ARRNNConfig(cell_type="transformer"), "cell_type"),
    ("rnn-config-hidden_size-0", lambda: ARRNNConfig(hidden_size=0), "hidden_size"),
    ("rnn-config-pad-out-of-vocab", lambda: ARRNNConfig(vocab_size=10, pad_token_id=12), "pad"),
    ("rnn-config-num_classes-negative", lambda: ARRNNConfig(num_classes=-1), "num_classes"),
    (
        "rnn-class_labels-unconditional",
        lambda: rnn()(torch.ones(1, 2, dtype=torch.long), class_labels=[0]),
        "class_labels",
    ),
    ("two-stage-sample_codes-unknown", lambda: two_stage().sample_codes([0], tempreature=0.5), "tempreature"),
    (
        "two-stage-config-vocab",
        lambda: VQVAEPriorConfig(
            vqvae=VQVAEConfig(**VQVAE),
            prior=dict(model_type="ar_transformer", vocab_size=99, hidden_size=16, num_attention_heads=2),
            num_classes=3,
        ),
        "vocab_size",
    ),
    (
        "two-stage-config-prior-type",
        lambda: VQVAEPriorConfig(vqvae=VQVAEConfig(**VQVAE), prior=dict(model_type="bert"), num_classes=3),
        "prior",
    ),
    ("loop-train_batch_size-0", lambda: loop_args(train_batch_size=0), "train_batch_size"),
    ("loop-learning_rate-0", lambda: loop_args(learning_rate=0.0), "learning_rate"),
    ("loop-mixed_precision", lambda: loop_args(mixed_precision="fp8"), "mixed_precision"),
    ("loop-ema_decay-1.5", lambda: loop_args(ema_decay=1.5), "ema_decay"),
    ("loop-checkpointing_steps-0", lambda: loop_args(checkpointing_steps=0), "checkpointing_steps"),
    # ---- PixelCNN forward / generate ---------------------------------------------------------------------
    ("pixelcnn-forward-float", lambda: model("pixelcnn")(levels(1, 3, 5, 5, dtype=torch.float)), "pixel_values"),
    ("pixelcnn-forward-level-too-high", lambda: model("pixelcnn")(levels(1, 3, 5, 5) + 4), "pixel_values"),
    ("pixelcnn-forward-negative", lambda: model("pixelcnn")(levels(1, 3, 5, 5) - 4), "pixel_values"),
    ("pixelcnn-forward-channels", lambda: model("pixelcnn")(levels(1, 1, 5, 5)), "pixel_values"),
    ("pixelcnn-forward-3d", lambda: model("pixelcnn")(levels(3, 5, 5)), "pixel_values"),
    (
        "pixelcnn-forward-class-out-of-range",
        lambda: model("pixelcnn")(levels(1, 3, 5, 5), class_labels=torch.tensor([3])),
        "class_labels",
    ),
    (
        "pixelcnn-forward-class-batch",
        lambda: model("pixelcnn")(levels(2, 3, 5, 5), class_labels=torch.tensor([0, 1, 2])),
        "class_labels",
    ),
    ("pixelcnn-forward-class-string", lambda: model("pixelcnn")(levels(1, 3, 5, 5), class_labels="cat"), "class"),
    (
        "pixelcnn-forward-class-float",
        lambda: model("pixelcnn")(levels(1, 3, 5, 5), class_labels=torch.tensor([0.5])),
        "class_labels",
    ),
    ("pixelcnn-generate-class-string", lambda: model("pixelcnn").generate(class_labels="cat"), "class"),
    ("pixelcnn-generate-class-out-of-range", lambda: model("pixelcnn").generate(class_labels=[7]), "class_labels"),
    ("pixelcnn-generate-class-float", lambda: model("pixelcnn").generate(class_labels=[1.5]), "class_labels"),
    ("pixelcnn-generate-num_images-0", lambda: model("pixelcnn").generate(class_labels=0, num_images=0), "num_images"),
    (
        "pixelcnn-generate-num_images-string",
        lambda: model("pixelcnn").generate(class_labels=0, num_images="2"),
        "num_images",
    ),
    (
        "pixelcnn-generate-temperature-0",
        lambda: model("pixelcnn").generate(class_labels=0, temperature=0.0),
        "temperature",
    ),
    (
        "pixelcnn-generate-temperature-nan",
        lambda: model("pixelcnn").generate(class_labels=0, temperature=math.nan),
        "temperature",
    ),
    ("pixelcnn-generate-top_k-negative", lambda: model("pixelcnn").generate(class_labels=0, top_k=-1), "top_k"),
    ("pixelcnn-generate-generator-int", lambda: model("pixelcnn").generate(class_labels=0, generator=1), "seed=1"),
    ("pixelcnn-generate-top_p-1.5", lambda: model("pixelcnn").generate(class_labels=0, top_p=1.5), "top_p"),
    (
        "pixelcnn-generate-generator-string",
        lambda: model("pixelcnn").generate(class_labels=0, generator="abc"),
        "generator",
    ),
    # ---- VQ-VAE encode / decode / forward -----------------------------------------------------------------
    ("vqvae-encode-long", lambda: model("vqvae").encode(levels(1, 1, 8, 8)), "pixel_values"),
    ("vqvae-encode-channels", lambda: model("vqvae").encode(torch.zeros(1, 3, 8, 8)), "pixel_values"),
    ("vqvae-encode-3d", lambda: model("vqvae").encode(torch.zeros(1, 8, 8)), "pixel_values"),
    ("vqvae-encode-nan", lambda: model("vqvae").encode(torch.full((1, 1, 8, 8), math.nan)), "pixel_values"),
    ("vqvae-encode-size", lambda: model("vqvae").encode(torch.zeros(1, 1, 7, 7)), "pixel_values"),
    ("vqvae-forward-list", lambda: model("vqvae")([[0.0]]), "pixel_values"),
    ("vqvae-decode-out-of-range", lambda: model("vqvae").decode(torch.full((1, 4, 4), 16)), "codes"),
    ("vqvae-decode-float", lambda: model("vqvae").decode(torch.zeros(1, 4, 4)), "codes"),
    ("vqvae-decode-1d", lambda: model("vqvae").decode(torch.zeros(16, dtype=torch.long)), "codes"),
    # ---- two-stage ---------------------------------------------------------------------------------------
    ("two-stage-generate-class-out-of-range", lambda: model("two_stage").generate(class_labels=[5]), "class"),
    ("two-stage-generate-class-string", lambda: model("two_stage").generate(class_labels="cat"), "class"),
    (
        "two-stage-generate-num_images-0",
        lambda: model("two_stage").generate(class_labels=0, num_images=0),
        "num_images",
    ),
    (
        "two-stage-generate-temperature-negative",
        lambda: model("two_stage").generate(class_labels=0, temperature=-1.0),
        "temperature",
    ),
    ("two-stage-generate-top_p-1.5", lambda: model("two_stage").generate(class_labels=0, top_p=1.5), "top_p"),
    ("two-stage-generate-generator-int", lambda: model("two_stage").generate(class_labels=0, generator=2), "seed=2"),
    ("two-stage-decode-out-of-range", lambda: model("two_stage").decode(torch.full((1, 4, 4), 99)), "codes"),
    # ---- causal LMs ---------------------------------------------------------------------------------------
    ("transformer-forward-out-of-vocab", lambda: model("transformer")(torch.tensor([[3, 12]])), "input_ids"),
    ("transformer-forward-float", lambda: model("transformer")(torch.tensor([[3.0, 4.0]])), "input_ids"),
    (
        "transformer-forward-too-long",
        lambda: model("transformer")(torch.zeros(1, 33, dtype=torch.long)),
        "max_position_embeddings",
    ),
    ("rnn-forward-out-of-vocab", lambda: model("rnn")(torch.tensor([[3, -1]])), "input_ids"),
    ("rnn-forward-float", lambda: model("rnn")(torch.tensor([[3.0]])), "input_ids"),
    (
        "rnn-generate-max_new_tokens-negative",
        lambda: model("rnn").generate(torch.tensor([[1]]), max_new_tokens=-1, do_sample=False),
        "max_new_tokens",
    ),
    # ---- image processor ------------------------------------------------------------------------------------
    ("processor-num_levels-1", lambda: PixelCNNImageProcessor(num_levels=1), "num_levels"),
    ("processor-num_levels-257", lambda: PixelCNNImageProcessor(num_levels=257), "num_levels"),
    ("processor-num_channels-2", lambda: PixelCNNImageProcessor(num_channels=2), "num_channels"),
    ("processor-image_size-0", lambda: PixelCNNImageProcessor(image_size=0), "image_size"),
    ("processor-empty-array", lambda: processor()(np.zeros((0, 0), dtype=np.uint8)), "images"),
    ("processor-empty-rows", lambda: processor()(np.zeros((0, 5), dtype=np.float32)), "images"),
    ("processor-nan", lambda: processor()(np.full((4, 4), np.nan, dtype=np.float32)), "images"),
    ("processor-inf", lambda: processor()(np.full((4, 4), np.inf)), "images"),
    ("processor-float-above-1", lambda: processor()(np.full((4, 4), 2.0)), "images"),
    ("processor-int-negative", lambda: processor()(np.full((4, 4), -1)), "images"),
    ("processor-4d", lambda: processor()(np.zeros((1, 1, 4, 4))), "images"),
    ("processor-2-channels", lambda: processor()(np.zeros((4, 4, 2))), "images"),
    ("processor-string", lambda: processor()("a.png"), "images"),
    ("processor-none", lambda: processor()(None), "images"),
    ("processor-empty-list", lambda: processor()([]), "images"),
    ("processor-object-array", lambda: processor()(np.array([[object()]])), "images"),
    ("processor-complex", lambda: processor()(np.zeros((4, 4), dtype=np.complex64)), "images"),
    ("processor-pil-0x0", lambda: processor()(Image.new("L", (0, 0))), "images"),
    ("processor-different-sizes", lambda: processor()([np.zeros((4, 4)), np.zeros((5, 5))]), "images"),
    (
        "processor-postprocess-out-of-range",
        lambda: processor().postprocess(torch.full((1, 1, 2, 2), 4)),
        "pixel_values",
    ),
    (
        "processor-postprocess-3d",
        lambda: processor().postprocess(torch.zeros(1, 2, 2, dtype=torch.long)),
        "pixel_values",
    ),
    ("processor-postprocess-nan", lambda: processor().postprocess(torch.full((1, 1, 2, 2), math.nan)), "pixel_values"),
    # ---- pipelines --------------------------------------------------------------------------------------------
    ("pipeline-class-unknown-name", lambda: pipe()("unicorn"), "class"),
    ("pipeline-class-out-of-range", lambda: pipe()(9), "class"),
    ("pipeline-num_images-0", lambda: pipe()(0, num_images=0), "num_images"),
    ("pipeline-seed-string", lambda: pipe()(0, seed="x"), "seed"),
    ("pipeline-top_k-negative", lambda: pipe()(0, top_k=-1), "top_k"),
    ("pipeline-generator-int", lambda: pipe()(0, generator=7), "seed=7"),
    # ---- scripts' flags (run_cli turns these into one line and exit status 2) ---------------------------------
    ("generate-script-num_images-0", lambda: generate_cli("--num_images", "0"), "num_images"),
    ("generate-script-device", lambda: generate_cli("--device", "tpu7"), "device"),
    ("generate-script-model-missing", lambda: generate_cli("--model", "/nonexistent/model"), "model"),
    ("generate-script-class-name", lambda: generate_cli("--class_labels", "unicorn"), "class"),
    ("generate-script-temperature", lambda: generate_cli("--temperature", "-1"), "temperature"),
    ("generate-script-output-suffix", lambda: generate_cli_output("samples.what"), "suffix"),
    ("memory-soak-num_calls-0", lambda: script_main("memory_soak")(["--num_calls", "0"]), "num_calls"),
    (
        "benchmark-evaluation-num_images-0",
        lambda: script_main("benchmark_evaluation")(["--model", "m", "--num_images", "0"]),
        "num_images",
    ),
    (
        "benchmark-evaluation-batch_sizes-0",
        lambda: script_main("benchmark_evaluation")(["--model", "m", "--batch_sizes", "8", "0"]),
        "batch_sizes",
    ),
    # ---- dataset loading -------------------------------------------------------------------------------------
    ("data-folder-missing", lambda: load_images("/nonexistent/folder"), "/nonexistent/folder"),
    ("data-digits-split", lambda: load_images("digits", split="validation"), "split"),
    ("data-idx-split", lambda: load_idx_dataset("mnist", split="dev"), "split"),
    ("data-idx-file-missing", lambda: read_idx("/nonexistent.idx"), "nonexistent.idx"),
    ("data-mnist-fit", lambda: mnist_to_digits_levels(np.zeros((1, 28, 28), np.uint8), fit="x"), "fit"),
    (
        "data-image_column",
        lambda: standardize_columns(load_digits_dataset("test"), image_column="pixels"),
        "image_column",
    ),
    # ---- captioner: config ------------------------------------------------------------------------------------
    ("captioner-config-image_size-0", lambda: CaptionerConfig(image_size=0), "image_size"),
    ("captioner-config-image_size-indivisible", lambda: CaptionerConfig(image_size=30), "image_size"),
    ("captioner-config-num_channels-2", lambda: CaptionerConfig(num_channels=2), "num_channels"),
    ("captioner-config-encoder_type", lambda: CaptionerConfig(encoder_type="vit"), "encoder_type"),
    ("captioner-config-encoder_channels-0", lambda: CaptionerConfig(encoder_channels=[0, 8]), "encoder_channels"),
    ("captioner-config-encoder_channels-empty", lambda: CaptionerConfig(encoder_channels=[]), "encoder_channels"),
    ("captioner-config-patch_size-0", lambda: CaptionerConfig(encoder_type="patch", patch_size=0), "patch_size"),
    ("captioner-config-vocab_size-0", lambda: CaptionerConfig(vocab_size=0), "vocab_size"),
    ("captioner-config-heads", lambda: CaptionerConfig(hidden_size=30, num_attention_heads=4), "num_attention_heads"),
    ("captioner-config-hidden_size-string", lambda: CaptionerConfig(hidden_size="128"), "hidden_size"),
    ("captioner-config-num_hidden_layers-0", lambda: CaptionerConfig(num_hidden_layers=0), "num_hidden_layers"),
    (
        "captioner-config-max_position_embeddings-1",
        lambda: CaptionerConfig(max_position_embeddings=1),
        "max_position_embeddings",
    ),
    ("captioner-config-bos-out-of-vocab", lambda: CaptionerConfig(vocab_size=8, bos_token_id=8), "bos_token_id"),
    ("captioner-config-pad-negative", lambda: CaptionerConfig(vocab_size=8, pad_token_id=-1), "pad_token_id"),
    (
        "captioner-config-decoder_start-out-of-vocab",
        lambda: CaptionerConfig(vocab_size=8, decoder_start_token_id=9),
        "decoder_start_token_id",
    ),
    ("captioner-config-dropout-1", lambda: CaptionerConfig(hidden_dropout=1.0), "hidden_dropout"),
    ("captioner-config-layer_norm_eps-negative", lambda: CaptionerConfig(layer_norm_eps=-1.0), "layer_norm_eps"),
    ("captioner-config-initializer_range-0", lambda: CaptionerConfig(initializer_range=0.0), "initializer_range"),
    # ---- captioner: forward / generate --------------------------------------------------------------------------
    ("captioner-forward-3d", lambda: cap_forward(cap_pixels(3, 8, 8)), "pixel_values"),
    ("captioner-forward-channels", lambda: cap_forward(cap_pixels(1, 1, 8, 8)), "pixel_values"),
    ("captioner-forward-size", lambda: cap_forward(cap_pixels(1, 3, 16, 16)), "pixel_values"),
    ("captioner-forward-integer", lambda: cap_forward(cap_pixels(dtype=torch.uint8)), "pixel_values"),
    ("captioner-forward-nan", lambda: cap_forward(cap_pixels(value=math.nan)), "pixel_values"),
    ("captioner-forward-inf", lambda: cap_forward(cap_pixels(value=-math.inf)), "pixel_values"),
    ("captioner-forward-numpy", lambda: cap_forward(np.zeros((1, 3, 8, 8), np.float32)), "pixel_values"),
    ("captioner-forward-nothing", lambda: cap()(decoder_input_ids=torch.tensor([[1]])), "pixel_values"),
    ("captioner-forward-ids-out-of-vocab", lambda: cap_forward(decoder_input_ids=[[1, 500]]), "decoder_input_ids"),
    ("captioner-forward-ids-float", lambda: cap_forward(decoder_input_ids=[[1.0]]), "decoder_input_ids"),
    ("captioner-forward-ids-1d", lambda: cap_forward(decoder_input_ids=torch.tensor([1])), "decoder_input_ids"),
    ("captioner-forward-ids-batch", lambda: cap_forward(decoder_input_ids=[[1], [1]]), "decoder_input_ids"),
    ("captioner-forward-ids-too-long", lambda: cap_forward(decoder_input_ids=[[1] * 9]), "max_position_embeddings"),
    (
        "captioner-forward-labels-shape",
        lambda: cap_forward(decoder_input_ids=[[1, 2]], labels=torch.tensor([[1]])),
        "labels",
    ),
    (
        "captioner-forward-attention_mask-short",
        lambda: cap_forward(decoder_input_ids=[[1, 2, 3]], decoder_attention_mask=torch.tensor([[1, 0]])),
        "attention_mask",
    ),
    ("captioner-generate-3d", lambda: cap_generate(cap_pixels(3, 8, 8)), "pixel_values"),
    ("captioner-generate-channels", lambda: cap_generate(cap_pixels(1, 4, 8, 8)), "pixel_values"),
    ("captioner-generate-uint8", lambda: cap_generate(cap_pixels(dtype=torch.uint8)), "pixel_values"),
    ("captioner-generate-nan", lambda: cap_generate(cap_pixels(value=math.nan)), "pixel_values"),
    ("captioner-generate-empty-batch", lambda: cap_generate(cap_pixels(0, 3, 8, 8)), "pixel_values"),
    ("captioner-generate-no-images", lambda: cap().generate(max_new_tokens=2), "pixel_values"),
    ("captioner-generate-max_new_tokens-0", lambda: cap_generate(max_new_tokens=0), "max_new_tokens"),
    ("captioner-generate-max_new_tokens-negative", lambda: cap_generate(max_new_tokens=-1), "max_new_tokens"),
    ("captioner-generate-max_new_tokens-string", lambda: cap_generate(max_new_tokens="3"), "max_new_tokens"),
    ("captioner-generate-max_new_tokens-too-many", lambda: cap_generate(max_new_tokens=40), "max_new_tokens"),
    ("captioner-generate-num_beams-0", lambda: cap_generate(num_beams=0, max_new_tokens=2), "num_beams"),
    (
        "captioner-generate-temperature-0",
        lambda: cap_generate(do_sample=True, temperature=0.0, max_new_tokens=2),
        "temperature",
    ),
    ("captioner-generate-top_p-2", lambda: cap_generate(do_sample=True, top_p=2.0, max_new_tokens=2), "top_p"),
    ("captioner-generate-top_k-negative", lambda: cap_generate(do_sample=True, top_k=-1, max_new_tokens=2), "top_k"),
    ("captioner-generate-static-cache", lambda: cap_generate(cache_implementation="static", max_new_tokens=2), "cache"),
    # ---- captioner: image processor and processor ----------------------------------------------------------------
    ("captioner-image-processor-image_size-0", lambda: CaptionerImageProcessor(image_size=0), "image_size"),
    ("captioner-image-processor-num_channels-4", lambda: CaptionerImageProcessor(num_channels=4), "num_channels"),
    ("captioner-image-processor-image_std-0", lambda: CaptionerImageProcessor(image_std=0), "image_std"),
    ("captioner-image-processor-image_mean-nan", lambda: CaptionerImageProcessor(image_mean=math.nan), "image_mean"),
    ("captioner-image-processor-background-string", lambda: CaptionerImageProcessor(background="white"), "background"),
    ("captioner-image-processor-background-300", lambda: CaptionerImageProcessor(background=300), "background"),
    ("captioner-image-processor-0x0", lambda: cap_image_processor()(np.zeros((0, 0), np.uint8)), "images"),
    ("captioner-image-processor-0-rows", lambda: cap_image_processor()(np.zeros((0, 5, 3), np.float32)), "images"),
    ("captioner-image-processor-pil-0x0", lambda: cap_image_processor()(Image.new("RGB", (0, 0))), "images"),
    ("captioner-image-processor-nan", lambda: cap_image_processor()(np.full((4, 4), np.nan, np.float32)), "images"),
    ("captioner-image-processor-inf-tensor", lambda: cap_image_processor()(torch.full((3, 4, 4), math.inf)), "images"),
    ("captioner-image-processor-float-above-1", lambda: cap_image_processor()(np.full((4, 4), 1.5)), "images"),
    ("captioner-image-processor-int-300", lambda: cap_image_processor()(np.full((4, 4), 300)), "images"),
    ("captioner-image-processor-complex", lambda: cap_image_processor()(np.zeros((4, 4), np.complex64)), "images"),
    ("captioner-image-processor-strings", lambda: cap_image_processor()(np.array([["a"]])), "images"),
    ("captioner-image-processor-2-channels", lambda: cap_image_processor()(np.zeros((5, 5, 2), np.uint8)), "images"),
    ("captioner-image-processor-5-channels", lambda: cap_image_processor()(np.zeros((5, 5, 5), np.uint8)), "images"),
    ("captioner-image-processor-4d", lambda: cap_image_processor()(np.zeros((1, 4, 4, 3), np.uint8)), "images"),
    ("captioner-image-processor-path-string", lambda: cap_image_processor()("a.png"), "images"),
    ("captioner-image-processor-int", lambda: cap_image_processor()(3), "images"),
    ("captioner-image-processor-dict", lambda: cap_image_processor()({"image": 1}), "images"),
    ("captioner-image-processor-none", lambda: cap_image_processor()(None), "images"),
    ("captioner-image-processor-empty-list", lambda: cap_image_processor()([]), "images"),
    ("captioner-image-processor-list-of-none", lambda: cap_image_processor()([None]), "images"),
    ("captioner-processor-nothing", lambda: cap_processor()(), "images"),
    ("captioner-processor-text-int", lambda: cap_processor()(text=3), "text"),
    ("captioner-processor-text-empty-list", lambda: cap_processor()(text=[]), "text"),
    ("captioner-processor-max_length-1", lambda: cap_processor()(text=["a red square"], max_length=1), "max_length"),
    ("captioner-processor-max_length-string", lambda: cap_processor()(text=["a"], max_length="3"), "max_length"),
    ("captioner-processor-images-nan", lambda: cap_processor()(images=np.full((4, 4), np.nan)), "images"),
    # ---- captioner: tokenizer training --------------------------------------------------------------------------
    ("captioner-tokenizer-empty", lambda: train_caption_tokenizer([]), "captions"),
    ("captioner-tokenizer-one-string", lambda: train_caption_tokenizer("a red square"), "captions"),
    ("captioner-tokenizer-none", lambda: train_caption_tokenizer(None), "captions"),
    ("captioner-tokenizer-numbers", lambda: train_caption_tokenizer([1, 2]), "captions"),
    ("captioner-tokenizer-kind", lambda: train_caption_tokenizer(["a"], kind="char"), "kind"),
    ("captioner-tokenizer-vocab_size-2", lambda: train_caption_tokenizer(["a"], vocab_size=2), "vocab_size"),
    (
        "captioner-tokenizer-min_frequency-negative",
        lambda: train_caption_tokenizer(["a"], min_frequency=-1),
        "min_frequency",
    ),
    ("captioner-tokenizer-lowercase-string", lambda: train_caption_tokenizer(["a"], lowercase="no"), "lowercase"),
    # ---- captioner: pipeline ------------------------------------------------------------------------------------
    ("captioner-pipeline-missing-path", lambda: cap_pipe()("/nonexistent/image.png"), "/nonexistent/image.png"),
    ("captioner-pipeline-folder-path", lambda: cap_pipe()(str(folder("empty"))), str(folder("empty"))),
    ("captioner-pipeline-not-an-image", lambda: cap_pipe()(str(folder("not-an-image") / "x.png")), "x.png"),
    ("captioner-pipeline-float", lambda: cap_pipe()(3.5), "images"),
    ("captioner-pipeline-none", lambda: cap_pipe()(None), "images"),
    ("captioner-pipeline-empty-list", lambda: cap_pipe()([]), "images"),
    ("captioner-pipeline-nan-array", lambda: cap_pipe()(np.full((4, 4), np.nan)), "images"),
    ("captioner-pipeline-unknown-argument", lambda: cap_pipe()(np.zeros((4, 4), np.uint8), max_tokens=3), "max_tokens"),
    (
        "captioner-pipeline-generate_kwargs-list",
        lambda: cap_pipe()(np.zeros((4, 4), np.uint8), generate_kwargs=[1]),
        "generate_kwargs",
    ),
    ("captioner-pipeline-num_beams-0", lambda: cap_pipe()(np.zeros((4, 4), np.uint8), num_beams=0), "num_beams"),
    (
        "captioner-pipeline-model-missing",
        lambda: __import__("transformers").pipeline("image-captioning", model="/nonexistent/captioner"),
        "/nonexistent/captioner",
    ),
    # ---- captioner: commands' flags --------------------------------------------------------------------------------
    (
        "evaluate-captioner-num_beams-0",
        lambda: evaluate_cli("--kind", "captioner", "--model", str(CAPTIONER), "--num_beams", "0"),
        "num_beams",
    ),
    (
        "evaluate-captioner-batch_size-0",
        lambda: evaluate_cli("--kind", "captioner", "--model", str(CAPTIONER), "--batch_size", "0"),
        "batch_size",
    ),
    (
        "evaluate-captioner-model-missing",
        lambda: evaluate_cli("--model", "/nonexistent/captioner"),
        "/nonexistent/captioner",
    ),
    (
        "emoji-errors-stride-0",
        lambda: script_main("emoji_caption_errors")(["--model", "unused", "--stride", "0"]),
        "stride",
    ),
    (
        "emoji-errors-device",
        lambda: script_main("emoji_caption_errors")(["--model", "unused", "--device", "tpu"]),
        "device",
    ),
    (
        "train-captioner-dataset-missing",
        lambda: train_captioner_cli("--dataset_name", "/nonexistent/captions"),
        "/nonexistent/captions",
    ),
    ("train-captioner-image_size-0", lambda: train_captioner_cli("--image_size", "0"), "image_size"),
    (
        "train-captioner-num_attention_heads",
        lambda: train_captioner_cli("--num_attention_heads", "5"),
        "num_attention_heads",
    ),
    ("train-captioner-caption_column", lambda: train_captioner_cli("--caption_column", "caption"), "caption_column"),
    (
        "train-captioner-max_caption_tokens-1",
        lambda: train_captioner_cli("--max_caption_tokens", "1"),
        "max_caption_tokens",
    ),
    ("train-captioner-augment_blur-2", lambda: train_captioner_cli("--augment_blur", "2"), "augment_blur"),
    (
        "train-captioner-augment_saturation-2",
        lambda: train_captioner_cli("--augment_saturation", "2"),
        "augment_saturation",
    ),
    (
        "train-captioner-augment_channel_gain-1",
        lambda: train_captioner_cli("--augment_channel_gain", "1"),
        "augment_channel_gain",
    ),
    (
        "train-captioner-augment_skin_palette-2",
        lambda: train_captioner_cli("--augment_skin_palette", "2"),
        "augment_skin_palette",
    ),
    (
        "train-captioner-augment_skin_palette-not-emoji",
        lambda: train_captioner_cli("--augment_skin_palette", "0.5"),
        "augment_skin_palette",
    ),
    ("train-captioner-label_smoothing-1", lambda: train_captioner_cli("--label_smoothing", "1"), "label_smoothing"),
    # ---- captioner: dataset loading ---------------------------------------------------------------------------
    ("caption-data-folder-missing", lambda: load_captions("/nonexistent/captions"), "/nonexistent/captions"),
    ("caption-data-folder-empty", lambda: load_captions(str(folder("empty"))), str(folder("empty"))),
    ("caption-data-folder-split", lambda: load_captions(str(folder("captioned")), split="test"), "split"),
    (
        "caption-data-caption_column-missing",
        lambda: load_captions(str(folder("captioned")), caption_column="caption"),
        "caption_column",
    ),
    (
        "caption-data-caption_column-not-text",
        lambda: standardize_caption_columns(caption_dataset(text=["a"], n=[1]), caption_column="n"),
        "caption_column",
    ),
    ("caption-data-no-caption-column", lambda: standardize_caption_columns(caption_dataset(n=[1])), "caption_column"),
    (
        "caption-data-image_column-missing",
        lambda: standardize_caption_columns(caption_dataset(text=["a"]), image_column="picture"),
        "image_column",
    ),
    ("caption-data-scenes-split", lambda: load_captions("mnist_scenes", "validation"), "split"),
    (
        "caption-data-scenes-num_scenes-0",
        lambda: load_captions("mnist_scenes", "test", num_scenes=0),
        "num_scenes",
    ),
    (
        "caption-data-scenes-no-files",
        lambda: load_captions("mnist_scenes", "test", data_dir=str(folder("empty"))),
        "mnist",
    ),
    (
        "caption-data-scenes-held_out_pairs",
        lambda: load_captions("mnist_scenes", "test", held_out_pairs=((1, 1),)),
        "held_out_pairs",
    ),
    ("caption-data-emoji-split", lambda: load_captions("emoji", "validation"), "split"),
    ("caption-data-emoji-test_vendor", lambda: load_captions("emoji", test_vendor="microsoft"), "test_vendor"),
    (
        "caption-data-emoji-no-files",
        lambda: load_captions("emoji", "test", data_dir=str(folder("empty"))),
        "emoji",
    ),
    (
        "caption-data-options-for-a-folder",
        lambda: load_captions(str(folder("captioned")), num_scenes=3),
        "num_scenes",
    ),
]


@pytest.mark.parametrize("call, fragment", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_refused_with_a_message_naming_the_argument(call, fragment):
    with pytest.raises(ERRORS) as caught:
        call()
    assert fragment.lower() in str(caught.value).lower(), str(caught.value)


def test_case_count():
    assert len({case[0] for case in CASES}) == len(CASES) >= 60
