"""Configuration of the decoder-only autoregressive transformer."""

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from .validation import check_int, check_special_tokens

POSITION_EMBEDDING_TYPES = ("learned", "rotary")


@strict
class ARTransformerConfig(PreTrainedConfig):
    r"""
    Configuration for [`ARTransformerForCausalLM`]: a pre-norm decoder-only transformer with causal
    scaled-dot-product attention, used as a text model or as a prior over discrete codes / flattened pixels.

    Args:
        vocab_size (`int`, defaults to 512): number of token ids; inputs must lie in `[0, vocab_size)`.
        hidden_size (`int`, defaults to 256): model width, divisible by `num_attention_heads`.
        num_hidden_layers (`int`, defaults to 4): decoder blocks.
        num_attention_heads (`int`, defaults to 4): attention heads per block.
        intermediate_size (`int`, *optional*): MLP width; defaults to `4 * hidden_size`.
        max_position_embeddings (`int`, defaults to 1024): longest sequence (prompt + generated tokens).
        position_embedding_type (`str`, defaults to `"learned"`): `"learned"` (absolute) or `"rotary"`.
        rope_theta (`float`, defaults to 10000.0): rotary base frequency (rotary positions only).
        hidden_dropout (`float`, defaults to 0.0): dropout on embeddings and residual branches.
        attention_dropout (`float`, defaults to 0.0): dropout on attention probabilities (training only).
        layer_norm_eps (`float`, defaults to 1e-5): LayerNorm epsilon.
        initializer_range (`float`, defaults to 0.02): std of the normal weight initialisation.
        tie_word_embeddings (`bool`, defaults to `True`): share the input embedding and output projection.
        bos_token_id / eos_token_id / pad_token_id (`int`, *optional*): special ids in `[0, vocab_size)`.
    """

    model_type = "ar_transformer"
    keys_to_ignore_at_inference = ["cache"]

    vocab_size: int = 512
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int | None = None
    max_position_embeddings: int = 1024
    position_embedding_type: str = "learned"
    rope_theta: float | int = 10000.0
    hidden_dropout: float | int = 0.0
    attention_dropout: float | int = 0.0
    layer_norm_eps: float = 1e-5
    initializer_range: float = 0.02
    use_cache: bool = True
    tie_word_embeddings: bool = True
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None

    def __post_init__(self, **kwargs):
        if self.intermediate_size is None:
            self.intermediate_size = 4 * self.hidden_size if isinstance(self.hidden_size, int) else None
        super().__post_init__(**kwargs)
        for name, minimum in (
            ("vocab_size", 1),
            ("hidden_size", 1),
            ("num_hidden_layers", 1),
            ("num_attention_heads", 1),
            ("intermediate_size", 1),
            ("max_position_embeddings", 1),
        ):
            check_int(name, getattr(self, name), minimum)
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"`hidden_size` ({self.hidden_size}) must be divisible by `num_attention_heads` "
                f"({self.num_attention_heads})."
            )
        if self.position_embedding_type not in POSITION_EMBEDDING_TYPES:
            raise ValueError(
                f"`position_embedding_type` must be one of {POSITION_EMBEDDING_TYPES}, "
                f"got {self.position_embedding_type!r}."
            )
        if self.position_embedding_type == "rotary" and self.head_dim % 2:
            raise ValueError(f"Rotary positions need an even head dimension, got {self.head_dim}.")
        if not self.rope_theta > 0:
            raise ValueError(f"`rope_theta` must be > 0, got {self.rope_theta}.")
        for name in ("hidden_dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"`{name}` must be in [0, 1), got {getattr(self, name)}.")
        check_special_tokens(self)

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


__all__ = ["ARTransformerConfig"]
