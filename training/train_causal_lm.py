#!/usr/bin/env python
"""Train a causal LM (ARTransformerForCausalLM or ARRNNForCausalLM) on a `datasets` text dataset.

    accelerate launch training/train_causal_lm.py --dataset_name fortunes --output_dir out

A byte-level BPE tokenizer is trained with `tokenizers` on the training texts (once, by the main process) and
saved with the model as a `PreTrainedTokenizerFast` with `<bos>`/`<eos>`/`<pad>`; every example is
BOS + text + EOS, so the model learns to end its texts. The output folder loads with
`pipeline("text-generation", model=output_dir)`. Flags are shared by every `training/train_*.py` plus the text
model's own (`hf_argen.recipes.causal_lm.CausalLMArguments`).
"""

from __future__ import annotations

DEFAULTS = dict(
    torch_compile="false",  # compiling this model on CUDA is not yet verified; --torch_compile true opts in
    dataset_name="fortunes",
    train_batch_size=32,
    eval_batch_size=64,
    learning_rate=2e-3,
    lr_scheduler="cosine",
    lr_warmup_steps=100,
    weight_decay=0.01,
    adam_beta2=0.98,
    num_train_epochs=5,
    checkpointing_steps=250,
    checkpoints_total_limit=2,
    eval_steps=250,
)


def main(argv=None):
    from hf_argen.recipes.causal_lm import CausalLMArguments, train_causal_lm
    from hf_argen.training.arguments import launch_command, parse_training_args, setup_logging

    data, run, flags = parse_training_args(CausalLMArguments, argv, description=__doc__, **DEFAULTS)
    setup_logging()
    return train_causal_lm(data, run, flags, command=launch_command("training/train_causal_lm.py", argv))


if __name__ == "__main__":
    from hf_argen.cli import run_cli

    run_cli(main)
