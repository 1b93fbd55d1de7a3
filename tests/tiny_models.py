"""Every tiny model of the test suite (fast on one CPU core): PixelCNNs, VQ-VAEs, causal LMs, captioners, two-stage
models. `conftest.py` serves the default ones as fixtures; a test that needs another size calls the factory."""

import torch

from hf_argen import (
    ARRNNConfig,
    ARRNNForCausalLM,
    ARTransformerConfig,
    ARTransformerForCausalLM,
    ClassConditionalImageGenerationPipeline,
    PixelCNNConfig,
    PixelCNNForImageGeneration,
    PixelCNNImageProcessor,
    VQVAEConfig,
    VQVAEModel,
    VQVAEPriorConfig,
    VQVAEPriorForImageGeneration,
    VQVAETextToImageConfig,
    VQVAETextToImageForImageGeneration,
)
from hf_argen.models import (
    CaptionerConfig,
    CaptionerForConditionalGeneration,
    CaptionerImageProcessor,
    CaptionerProcessor,
    train_caption_tokenizer,
)


# ---- PixelCNN ---------------------------------------------------------------------------------------------
def tiny_rgb_pixelcnn_config(**overrides) -> PixelCNNConfig:
    """5x5 RGB, 4 levels, 3 classes, 3 layers: every sub-pixel case (first/middle/last row and column, R/G/B)."""
    values = dict(
        image_size=5,
        num_channels=3,
        num_levels=4,
        num_classes=3,
        hidden_size=13,
        num_hidden_layers=3,
        kernel_size=3,
        first_kernel_size=3,
        output_hidden_size=12,
    )
    values.update(overrides)
    return PixelCNNConfig(**values)


def tiny_rgb_pixelcnn(**overrides) -> PixelCNNForImageGeneration:
    """A `tiny_rgb_pixelcnn_config` model with random (not zero) biases, so no two levels tie exactly as they can at
    init."""
    model = PixelCNNForImageGeneration(tiny_rgb_pixelcnn_config(**overrides)).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(std=0.1)
    return model


def tiny_scored_pixelcnn(num_classes=3, seed=0) -> PixelCNNForImageGeneration:
    """4x4 grey, 5 levels, with weights larger than the initialiser's, so that classes change the likelihood."""
    torch.manual_seed(seed)
    config = PixelCNNConfig(
        image_size=4,
        num_channels=1,
        num_levels=5,
        num_classes=num_classes,
        hidden_size=8,
        num_hidden_layers=2,
        kernel_size=3,
        first_kernel_size=3,
        output_hidden_size=8,
    )
    model = PixelCNNForImageGeneration(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.5)
    return model


# ---- VQ-VAE -----------------------------------------------------------------------------------------------
TINY_VQVAE = dict(
    image_size=8,
    num_channels=1,
    num_embeddings=16,
    embedding_dim=4,
    hidden_size=8,
    num_residual_layers=1,
    residual_hidden_size=4,
    downsample_factor=2,
)


def tiny_vqvae(**overrides) -> VQVAEModel:
    """8x8 grey, 16 codes on a 4x4 grid (in training mode, as built)."""
    torch.manual_seed(0)
    return VQVAEModel(VQVAEConfig(**{**TINY_VQVAE, **overrides}))


# ---- causal LMs (transformer and RNN) --------------------------------------------------------------------
LM_VOCAB, PAD, EOS = 40, 0, 1


LM_KINDS = ["transformer-learned", "transformer-rotary", "lstm", "gru"]


def make_model(kind: str, seed: int = 0, **overrides):
    """Tiny model with large random weights, so greedy/beam decoding is not degenerate."""
    torch.manual_seed(seed)
    common = dict(
        vocab_size=LM_VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        pad_token_id=PAD,
        eos_token_id=EOS,
        initializer_range=0.5,
    )
    common.update(overrides)
    if kind.startswith("transformer"):
        config = ARTransformerConfig(
            num_attention_heads=4,
            max_position_embeddings=48,
            position_embedding_type=kind.split("-")[1],
            **common,
        )
        model = ARTransformerForCausalLM(config)
    else:
        model = ARRNNForCausalLM(ARRNNConfig(cell_type=kind, **common))
    return model.eval()


def prompts(batch=3, length=5, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(2, LM_VOCAB, (batch, length), generator=generator)


def no_eos(model):
    """Generation kwargs that disable EOS stopping (fixed-length outputs)."""
    return dict(eos_token_id=None, pad_token_id=PAD)


# ---- captioner -------------------------------------------------------------------------------------------
CAPTIONS = ["a red square", "a blue circle", "a green bar", "a big red circle on a blue square", "white"]


def tiny_tokenizer(captions=CAPTIONS):
    return train_caption_tokenizer(captions)


def tiny_captioner(tokenizer=None, **kwargs):
    tokenizer = tokenizer or tiny_tokenizer()
    defaults = dict(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        image_size=16,
        encoder_channels=[8, 16],
        hidden_size=32,
        num_attention_heads=2,
        num_hidden_layers=2,
        max_position_embeddings=16,
    )
    defaults.update(kwargs)
    return CaptionerForConditionalGeneration(CaptionerConfig(**defaults)).eval()


def tiny_processor(tokenizer=None, image_size=16):
    return CaptionerProcessor(CaptionerImageProcessor(image_size=image_size), tokenizer or tiny_tokenizer())


def random_pixels(batch=3, size=16):
    return torch.rand(batch, 3, size, size) * 2 - 1


# ---- two-stage model -------------------------------------------------------------------------------------
NUM_CODES = 16


TWO_STAGE_VQVAE = dict(image_size=28, num_embeddings=NUM_CODES, embedding_dim=4, hidden_size=8, residual_hidden_size=4,
             num_residual_layers=1, kmeans_init=False)  # fmt: skip


PRIORS = {
    "transformer": dict(
        model_type="ar_transformer",
        vocab_size=NUM_CODES + 11,
        pad_token_id=NUM_CODES + 10,
        bos_token_id=None,
        eos_token_id=None,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=50,
    ),  # fmt: skip
    "rnn": dict(
        model_type="ar_rnn",
        vocab_size=NUM_CODES + 11,
        pad_token_id=NUM_CODES + 10,
        bos_token_id=None,
        eos_token_id=None,
        hidden_size=16,
        num_hidden_layers=1,
    ),  # fmt: skip
    "pixelcnn": dict(
        model_type="pixelcnn",
        image_size=7,
        num_levels=NUM_CODES,
        num_classes=10,
        hidden_size=8,
        num_hidden_layers=1,
        output_hidden_size=8,
        first_kernel_size=3,
    ),  # fmt: skip
}


NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def two_stage_vqvae() -> VQVAEModel:
    """The VQ-VAE of `tiny_two_stage`: 28x28 grey, 16 codes on a 7x7 grid."""
    return VQVAEModel(VQVAEConfig(**TWO_STAGE_VQVAE)).eval()


def tiny_two_stage(prior_type="transformer") -> VQVAEPriorForImageGeneration:
    config = VQVAEPriorConfig(vqvae=VQVAEConfig(**TWO_STAGE_VQVAE), prior=dict(PRIORS[prior_type]), num_classes=10,
                              id2label=dict(enumerate(NAMES)))  # fmt: skip
    return VQVAEPriorForImageGeneration(config).eval()


def tiny_pixelcnn() -> PixelCNNForImageGeneration:
    config = PixelCNNConfig(
        image_size=4,
        num_levels=5,
        num_classes=3,
        hidden_size=4,
        num_hidden_layers=1,
        output_hidden_size=4,
        first_kernel_size=3,
        id2label={0: "circle", 1: "square", 2: "x"},
    )
    return PixelCNNForImageGeneration(config).eval()


def save_with_pipeline(model, folder):
    ClassConditionalImageGenerationPipeline(model=model).save_pretrained(folder)
    if isinstance(model, PixelCNNForImageGeneration):
        PixelCNNImageProcessor.from_model_config(model.config).save_pretrained(folder)
    return folder


# ---- text-to-image model ---------------------------------------------------------------------------------
SCENE_CAPTIONS = ["a 3 above a 7", "a 1 to the left of a 5", "a 7 above a 3", "a 0 to the left of a 2"]


def tiny_text_to_image(prior_type="transformer", captions=SCENE_CAPTIONS, seed=0):
    """A tiny text-to-image model (random weights, large enough to differ between prompts) and its tokenizer."""
    tokenizer = train_caption_tokenizer(captions)
    num_text, max_text_length = len(tokenizer), 10
    vocab = num_text + NUM_CODES
    sizes = dict(vocab_size=vocab, pad_token_id=0, bos_token_id=None, eos_token_id=None, hidden_size=16,
                 num_hidden_layers=1, initializer_range=0.5)  # fmt: skip
    if prior_type == "transformer":
        prior = dict(model_type="ar_transformer", num_attention_heads=2, max_position_embeddings=64, **sizes)
    elif prior_type == "rnn":
        prior = dict(model_type="ar_rnn", **sizes)
    else:  # a transformers causal LM
        sizes.pop("initializer_range")
        prior = dict(model_type=prior_type, num_attention_heads=2, n_positions=64, n_embd=16, n_layer=1,
                     vocab_size=vocab, pad_token_id=0)  # fmt: skip
    config = VQVAETextToImageConfig(vqvae=VQVAEConfig(**TWO_STAGE_VQVAE), prior=prior, text_vocab_size=num_text,
                                    max_text_length=max_text_length)  # fmt: skip
    torch.manual_seed(seed)
    return VQVAETextToImageForImageGeneration(config).eval(), tokenizer


def caption_ids(tokenizer, captions):
    return [tokenizer(caption, add_special_tokens=False).input_ids for caption in captions]


# ---- a tiny MNIST and an untrained MNIST classifier (image completion and class consistency, offline) ------------
def write_tiny_mnist(folder, per_digit: int = 2, seed: int = 0):
    """MNIST-format IDX files (`train-*`, `t10k-*`) of `per_digit` random 28x28 images per digit, labels 0..9 in
    turn, in `folder` (pass it as `--data_dir`)."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    count = 10 * per_digit
    images = rng.integers(0, 256, size=(count, 28, 28)).astype(np.uint8)
    labels = (np.arange(count) % 10).astype(np.uint8)
    for prefix in ("train", "t10k"):
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
            bytes([0, 0, 8, 3]) + b"".join(x.to_bytes(4, "big") for x in (count, 28, 28)) + images.tobytes()
        )
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
            bytes([0, 0, 8, 1]) + count.to_bytes(4, "big") + labels.tobytes()
        )
    return folder


def save_untrained_mnist_classifier(path, seed: int = 0):
    """The MNIST CNN of `hf_argen.recipes.classifier`, untrained (random weights), saved where `--classifier_path`
    finds it, so that no test trains one."""
    from hf_argen.recipes.classifier import build_mnist_classifier

    torch.manual_seed(seed)
    torch.save(build_mnist_classifier().state_dict(), path)
    return path
