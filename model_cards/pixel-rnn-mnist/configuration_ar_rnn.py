"""Configuration of the recurrent (LSTM / GRU) causal language model."""

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from .validation import check_int, check_special_tokens

CELL_TYPES = ("lstm", "gru")


@strict
class ARRNNConfig(PreTrainedConfig):
    r"""
    Configuration for [`ARRNNForCausalLM`]: a stack of LSTM or GRU layers whose recurrent state is the
    generation cache, so every new token costs O(1) in the sequence length.

    Args:
        vocab_size (`int`, defaults to 512): number of token ids; inputs must lie in `[0, vocab_size)`.
        hidden_size (`int`, defaults to 256): embedding and recurrent state width.
        num_hidden_layers (`int`, defaults to 2): stacked recurrent layers (residual between layers).
        cell_type (`str`, defaults to `"lstm"`): `"lstm"` or `"gru"`.
        hidden_dropout (`float`, defaults to 0.0): dropout on embeddings and between layers.
        layer_norm_eps (`float`, defaults to 1e-5): epsilon of the final LayerNorm.
        initializer_range (`float`, defaults to 0.02): std of the normal embedding initialisation.
        tie_word_embeddings (`bool`, defaults to `True`): share the input embedding and output projection.
        num_classes (`int`, defaults to 0): if > 0, the model is class-conditional: `forward` and `generate` take
            `class_labels` `(batch,)` in `[0, num_classes)`, and a learned class bias (one per layer, as the gated
            PixelCNN's) is added to every layer's input at every step, so the condition never fades with distance.
        input_lags (`list[int]`, *optional*): besides the token at position t, the first layer also reads the
            token at t - lag for each lag (its own embedding per lag; nothing before the sequence start). Over the
            sub-pixels of images, the lags that reach the row above the next sub-pixel give the RNN that row's
            local context, as the input-to-state convolution of a Row LSTM does.
        bos_token_id / eos_token_id / pad_token_id (`int`, *optional*): special ids in `[0, vocab_size)`.

    `layer_types` is set to `"linear_attention"` for every layer: that makes `DynamicCache(config=...)` hold
    one recurrent-state slot per layer (reordered by beam search like any cache).
    """

    model_type = "ar_rnn"
    keys_to_ignore_at_inference = ["cache"]

    vocab_size: int = 512
    hidden_size: int = 256
    num_hidden_layers: int = 2
    cell_type: str = "lstm"
    hidden_dropout: float | int = 0.0
    layer_norm_eps: float = 1e-5
    initializer_range: float = 0.02
    use_cache: bool = True
    tie_word_embeddings: bool = True
    num_classes: int = 0
    input_lags: list[int] | None = None
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None
    layer_types: list[str] | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        for name in ("vocab_size", "hidden_size", "num_hidden_layers"):
            check_int(name, getattr(self, name), 1)
        check_int("num_classes", self.num_classes, 0)
        for lag in self.input_lags or ():
            check_int("input_lags", lag, 1)
        if self.input_lags and len(set(self.input_lags)) != len(self.input_lags):
            raise ValueError(f"`input_lags` must not repeat a lag, got {self.input_lags}.")
        if self.cell_type not in CELL_TYPES:
            raise ValueError(f"`cell_type` must be one of {CELL_TYPES}, got {self.cell_type!r}.")
        if not 0.0 <= self.hidden_dropout < 1.0:
            raise ValueError(f"`hidden_dropout` must be in [0, 1), got {self.hidden_dropout}.")
        self.layer_types = ["linear_attention"] * self.num_hidden_layers
        check_special_tokens(self)

    @property
    def num_states(self) -> int:
        """Recurrent state tensors per layer: (h, c) for LSTM, h for GRU."""
        return 2 if self.cell_type == "lstm" else 1


__all__ = ["ARRNNConfig"]
