#!/usr/bin/env python
"""Train a causal LM (ARTransformerForCausalLM or ARRNNForCausalLM) on a `datasets` text dataset.

    accelerate launch training/train_causal_lm.py --dataset_name fortunes --output_dir out

A byte-level BPE tokenizer is trained with `tokenizers` on the training texts (once, by the main process) and
saved with the model as a `PreTrainedTokenizerFast` with `<bos>`/`<eos>`/`<pad>`; every example is
BOS + text + EOS, so the model learns to end its texts. The output folder loads with
`pipeline("text-generation", model=output_dir)`.

    accelerate launch training/train_causal_lm.py --pixels --dataset_name digits --model_type rnn --output_dir out

`--pixels` trains a pixel LM instead: images become BOS (+ class token) + sub-pixels in the PixelCNN's order (raster,
R/G/B within a pixel); the model is our LSTM/GRU or transformer, or `transformers`' ImageGPT (`--model_type imagegpt`)
or Mamba (`--model_type mamba`); evaluation reports the PixelCNN's exact bits/dim. Flags are shared by every
`training/train_*.py` plus the causal LM's own (`hf_argen.recipes.causal_lm.CausalLMArguments`).
"""

from hf_argen.cli import run_cli
from hf_argen.recipes.causal_lm import TRAINING_DEFAULTS, CausalLMArguments, train_causal_lm
from hf_argen.training.arguments import run_training


def main(argv=None):
    return run_training(
        train_causal_lm, CausalLMArguments, "training/train_causal_lm.py", argv, __doc__, TRAINING_DEFAULTS
    )


if __name__ == "__main__":
    run_cli(main)
