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
from reliability_models import VQVAE, pixelcnn, rnn, transformer, two_stage, vqvae

from hf_argen import (
    ARRNNConfig,
    ARTransformerConfig,
    PixelCNNConfig,
    PixelCNNImageProcessor,
    VQVAEConfig,
    VQVAEPriorConfig,
)
from hf_argen.data import (
    load_digits_dataset,
    load_idx_dataset,
    load_image_dataset,
    mnist_to_digits_levels,
    read_idx,
    standardize_columns,
)
from hf_argen.pipelines import ClassConditionalImageGenerationPipeline
from hf_argen.training import LoopArguments

# Configs are strict dataclasses in transformers 5: a value of the wrong type raises huggingface_hub's
# `StrictDataclassError` (naming the field) before any check of ours runs; scripts report it as one line too.
ROOT = Path(__file__).resolve().parents[1]
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
    import runpy

    return runpy.run_path(str(ROOT / "scripts" / f"{name}.py"), run_name="not_main")["main"]


def generate_cli(*flags):
    return script_main("generate")([*flags, "--output", str(ROOT / "tests" / "never-written.png")])


def loop_args(**overrides):
    return LoopArguments(output_dir="unused", **overrides)


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
    ("two-stage-config-vocab", lambda: VQVAEPriorConfig(vqvae=VQVAEConfig(**VQVAE), prior=dict(
        model_type="ar_transformer", vocab_size=99, hidden_size=16, num_attention_heads=2), num_classes=3),
     "vocab_size"),
    ("two-stage-config-prior-type", lambda: VQVAEPriorConfig(vqvae=VQVAEConfig(**VQVAE), prior=dict(
        model_type="bert"), num_classes=3), "prior"),
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
    ("pixelcnn-forward-class-out-of-range", lambda: model("pixelcnn")(
        levels(1, 3, 5, 5), class_labels=torch.tensor([3])), "class_labels"),
    ("pixelcnn-forward-class-batch", lambda: model("pixelcnn")(
        levels(2, 3, 5, 5), class_labels=torch.tensor([0, 1, 2])), "class_labels"),
    ("pixelcnn-forward-class-string", lambda: model("pixelcnn")(levels(1, 3, 5, 5), class_labels="cat"),
     "class"),
    ("pixelcnn-forward-class-float", lambda: model("pixelcnn")(
        levels(1, 3, 5, 5), class_labels=torch.tensor([0.5])), "class_labels"),
    ("pixelcnn-generate-class-string", lambda: model("pixelcnn").generate(class_labels="cat"), "class"),
    ("pixelcnn-generate-class-out-of-range", lambda: model("pixelcnn").generate(class_labels=[7]), "class_labels"),
    ("pixelcnn-generate-class-float", lambda: model("pixelcnn").generate(class_labels=[1.5]), "class_labels"),
    ("pixelcnn-generate-num_images-0", lambda: model("pixelcnn").generate(class_labels=0, num_images=0),
     "num_images"),
    ("pixelcnn-generate-num_images-string", lambda: model("pixelcnn").generate(class_labels=0, num_images="2"),
     "num_images"),
    ("pixelcnn-generate-temperature-0", lambda: model("pixelcnn").generate(class_labels=0, temperature=0.0),
     "temperature"),
    ("pixelcnn-generate-temperature-nan", lambda: model("pixelcnn").generate(class_labels=0, temperature=math.nan),
     "temperature"),
    ("pixelcnn-generate-top_k-0", lambda: model("pixelcnn").generate(class_labels=0, top_k=0), "top_k"),
    ("pixelcnn-generate-top_p-1.5", lambda: model("pixelcnn").generate(class_labels=0, top_p=1.5), "top_p"),
    ("pixelcnn-generate-generator-string", lambda: model("pixelcnn").generate(class_labels=0, generator="abc"),
     "generator"),
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
    ("two-stage-generate-num_images-0", lambda: model("two_stage").generate(class_labels=0, num_images=0),
     "num_images"),
    ("two-stage-generate-temperature-negative", lambda: model("two_stage").generate(class_labels=0,
                                                                                    temperature=-1.0),
     "temperature"),
    ("two-stage-decode-out-of-range", lambda: model("two_stage").decode(torch.full((1, 4, 4), 99)), "codes"),
    # ---- causal LMs ---------------------------------------------------------------------------------------
    ("transformer-forward-out-of-vocab", lambda: model("transformer")(torch.tensor([[3, 12]])), "input_ids"),
    ("transformer-forward-float", lambda: model("transformer")(torch.tensor([[3.0, 4.0]])), "input_ids"),
    ("transformer-forward-too-long", lambda: model("transformer")(torch.zeros(1, 33, dtype=torch.long)),
     "max_position_embeddings"),
    ("rnn-forward-out-of-vocab", lambda: model("rnn")(torch.tensor([[3, -1]])), "input_ids"),
    ("rnn-forward-float", lambda: model("rnn")(torch.tensor([[3.0]])), "input_ids"),
    ("rnn-generate-max_new_tokens-negative", lambda: model("rnn").generate(
        torch.tensor([[1]]), max_new_tokens=-1, do_sample=False), "max_new_tokens"),
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
    ("processor-postprocess-out-of-range", lambda: processor().postprocess(torch.full((1, 1, 2, 2), 4)),
     "pixel_values"),
    ("processor-postprocess-3d", lambda: processor().postprocess(torch.zeros(1, 2, 2, dtype=torch.long)),
     "pixel_values"),
    ("processor-postprocess-nan", lambda: processor().postprocess(torch.full((1, 1, 2, 2), math.nan)),
     "pixel_values"),
    # ---- pipelines --------------------------------------------------------------------------------------------
    ("pipeline-class-unknown-name", lambda: pipe()("unicorn"), "class"),
    ("pipeline-class-out-of-range", lambda: pipe()(9), "class"),
    ("pipeline-num_images-0", lambda: pipe()(0, num_images=0), "num_images"),
    ("pipeline-seed-string", lambda: pipe()(0, seed="x"), "seed"),
    ("pipeline-top_k-negative", lambda: pipe()(0, top_k=-1), "top_k"),
    # ---- scripts' flags (run_cli turns these into one line and exit status 2) ---------------------------------
    ("generate-script-num_images-0", lambda: generate_cli("--num_images", "0"), "num_images"),
    ("generate-script-device", lambda: generate_cli("--device", "tpu7"), "device"),
    ("generate-script-model-missing", lambda: generate_cli("--model", "/nonexistent/model"), "model"),
    ("generate-script-class-name", lambda: generate_cli("--class_labels", "unicorn"), "class"),
    ("generate-script-temperature", lambda: generate_cli("--temperature", "-1"), "temperature"),
    ("generate-script-output-suffix", lambda: script_main("generate")(["--output", "samples.what"]), "suffix"),
    ("memory-soak-num_calls-0", lambda: script_main("memory_soak")(["--num_calls", "0"]), "num_calls"),
    # ---- dataset loading -------------------------------------------------------------------------------------
    ("data-folder-missing", lambda: load_image_dataset("/nonexistent/folder"), "/nonexistent/folder"),
    ("data-digits-split", lambda: load_image_dataset("digits", split="validation"), "split"),
    ("data-idx-split", lambda: load_idx_dataset("mnist", split="dev"), "split"),
    ("data-idx-file-missing", lambda: read_idx("/nonexistent.idx"), "nonexistent.idx"),
    ("data-mnist-fit", lambda: mnist_to_digits_levels(np.zeros((1, 28, 28), np.uint8), fit="x"), "fit"),
    ("data-image_column", lambda: standardize_columns(load_digits_dataset("test"), image_column="pixels"),
     "image_column"),
]


@pytest.mark.parametrize("call, fragment", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_refused_with_a_message_naming_the_argument(call, fragment):
    with pytest.raises(ERRORS) as caught:
        call()
    assert fragment.lower() in str(caught.value).lower(), str(caught.value)


def test_case_count():
    assert len({case[0] for case in CASES}) == len(CASES) >= 60


