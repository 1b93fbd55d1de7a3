"""Configuration of the image captioner: a small image encoder + a transformer decoder with cross-attention."""

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from .validation import check_int, check_num_channels

ENCODER_TYPES = ("conv", "patch", "resnet")
# Written into every saved config: `pipeline("image-to-text", model=folder, trust_remote_code=True)` reads it
# before transformers (>= 5.19) renames the built-in task, and loads the pipeline shipped beside the weights.
CAPTIONING_CUSTOM_PIPELINES = {
    "image-to-text": {
        "impl": "pipeline_captioner.ImageCaptioningPipeline",
        "pt": ["AutoModelForImageTextToText"],
        "type": "multimodal",
    }
}
# Remote code: both Auto model classes resolve to the one class (`register_for_auto_class` records only one).
CAPTIONING_AUTO_MAP = {
    "AutoConfig": "configuration_captioner.CaptionerConfig",
    "AutoModel": "modeling_captioner.CaptionerForConditionalGeneration",
    "AutoModelForImageTextToText": "modeling_captioner.CaptionerForConditionalGeneration",
}


@strict
class CaptionerConfig(PreTrainedConfig):
    r"""
    Configuration for [`CaptionerForConditionalGeneration`]: p(caption | image), an image encoder whose feature grid
    the decoder reads through cross-attention.

    Image encoder:
        image_size (`int`, defaults to 32): images are resized to `image_size x image_size` by the image processor.
        num_channels (`int`, defaults to 3): 1 (grey) or 3 (RGB).
        encoder_type (`str`, defaults to `"conv"`): `"conv"` (stride-2 conv stages, one per `encoder_channels`
            entry; grid `image_size / 2**len(encoder_channels)`) or `"patch"` (ViT-style non-overlapping
            `patch_size` patches, grid `image_size / patch_size`) or `"resnet"` (as `"conv"`, each stage a stride-2
            conv followed by `encoder_blocks_per_stage` residual blocks of two 3x3 convs).
        encoder_channels (`list[int]`, defaults to `[32, 64]`): widths of the conv stages.
        patch_size (`int`, defaults to 4): patch side for `"patch"`.
        encoder_blocks_per_stage (`int`, defaults to 1): residual blocks per stage of the `"resnet"` encoder.
        num_encoder_layers (`int`, defaults to 1): transformer (self-attention) layers over the feature grid.
        mixstyle_probability (`float`, defaults to 0.0): in training only, the chance per batch that each conv stage
            but the last mixes its per-image channel means and standard deviations with another image's
            (MixStyle, Zhou et al. 2021): a regulariser for drawing styles never seen. 0 turns it off.
        mixstyle_alpha (`float`, defaults to 0.1): the mixing weight is drawn from Beta(alpha, alpha).

    Text decoder (`transformers`' names):
        vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size (default
        `4 * hidden_size`), max_position_embeddings (longest caption incl. bos/eos), hidden_dropout,
        attention_dropout, layer_norm_eps, initializer_range, tie_word_embeddings, bos_token_id, eos_token_id,
        pad_token_id, decoder_start_token_id (defaults to `bos_token_id`).
    """

    model_type = "captioner"
    keys_to_ignore_at_inference = ["cache"]

    image_size: int = 32
    num_channels: int = 3
    encoder_type: str = "conv"
    encoder_channels: list[int] | tuple[int, ...] | None = None
    patch_size: int = 4
    num_encoder_layers: int = 1
    encoder_blocks_per_stage: int = 1
    mixstyle_probability: float | int = 0.0
    mixstyle_alpha: float | int = 0.1

    vocab_size: int = 64
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    intermediate_size: int | None = None
    max_position_embeddings: int = 64
    hidden_dropout: float | int = 0.0
    attention_dropout: float | int = 0.0
    layer_norm_eps: float = 1e-5
    initializer_range: float = 0.02
    use_cache: bool = True
    tie_word_embeddings: bool = True
    is_encoder_decoder: bool = True
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None
    decoder_start_token_id: int | None = None
    custom_pipelines: dict | None = None

    def __post_init__(self, **kwargs):
        if self.encoder_channels is None:
            self.encoder_channels = [32, 64]
        self.encoder_channels = list(self.encoder_channels)
        if self.intermediate_size is None and isinstance(self.hidden_size, int):
            self.intermediate_size = 4 * self.hidden_size
        if self.decoder_start_token_id is None:
            self.decoder_start_token_id = self.bos_token_id
        if self.custom_pipelines is None:
            self.custom_pipelines = {task: dict(info) for task, info in CAPTIONING_CUSTOM_PIPELINES.items()}
        super().__post_init__(**kwargs)
        self.auto_map = {**CAPTIONING_AUTO_MAP, **(getattr(self, "auto_map", None) or {})}
        for name, minimum in (
            ("image_size", 1),
            ("patch_size", 1),
            ("num_encoder_layers", 0),
            ("encoder_blocks_per_stage", 0),
            ("vocab_size", 1),
            ("hidden_size", 1),
            ("num_hidden_layers", 1),
            ("num_attention_heads", 1),
            ("intermediate_size", 1),
            ("max_position_embeddings", 2),
        ):
            check_int(name, getattr(self, name), minimum)
        check_num_channels(self.num_channels)
        if self.encoder_type not in ENCODER_TYPES:
            raise ValueError(f"`encoder_type` must be one of {ENCODER_TYPES}, got {self.encoder_type!r}.")
        if self.encoder_type in ("conv", "resnet"):
            if not self.encoder_channels:
                raise ValueError("`encoder_channels` must list at least one conv stage width.")
            for width in self.encoder_channels:
                check_int("encoder_channels", width, 1)
            if self.image_size % 2 ** len(self.encoder_channels):
                raise ValueError(
                    f"`image_size` ({self.image_size}) must be divisible by 2**len(encoder_channels) "
                    f"({2 ** len(self.encoder_channels)})."
                )
        elif self.image_size % self.patch_size:
            raise ValueError(f"`image_size` ({self.image_size}) must be divisible by `patch_size` ({self.patch_size}).")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"`hidden_size` ({self.hidden_size}) must be divisible by `num_attention_heads` "
                f"({self.num_attention_heads})."
            )
        if not 0.0 <= self.mixstyle_probability <= 1.0:
            raise ValueError(f"`mixstyle_probability` must be in [0, 1], got {self.mixstyle_probability!r}.")
        if not 0.0 < self.mixstyle_alpha < float("inf"):
            raise ValueError(f"`mixstyle_alpha` must be a finite number > 0, got {self.mixstyle_alpha!r}.")
        for name in ("hidden_dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"`{name}` must be in [0, 1), got {getattr(self, name)}.")
        for name in ("layer_norm_eps", "initializer_range"):
            if not 0.0 < getattr(self, name) < float("inf"):
                raise ValueError(f"`{name}` must be a finite number > 0, got {getattr(self, name)!r}.")
        for name in ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"):
            value = getattr(self, name)
            for token in value if isinstance(value, list) else [value]:
                if token is not None and (isinstance(token, bool) or not 0 <= token < self.vocab_size):
                    raise ValueError(f"`{name}` must be in [0, vocab_size={self.vocab_size}), got {value!r}.")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def grid_size(self) -> int:
        """Side of the image feature grid the decoder attends to (`grid_size**2` image tokens)."""
        if self.encoder_type in ("conv", "resnet"):
            return self.image_size // 2 ** len(self.encoder_channels)
        return self.image_size // self.patch_size


__all__ = ["CaptionerConfig"]
