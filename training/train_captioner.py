#!/usr/bin/env python
"""Train an image captioner p(caption | image) on a captioned image dataset.

    accelerate launch training/train_captioner.py --dataset_name my_images --caption_column text --output_dir out

`--dataset_name` is an imagefolder whose `metadata.jsonl` holds a caption per `file_name`
(`{"file_name": "0001.png", "text": "a red circle"}`), a `save_to_disk` folder, a Hub dataset id, `mnist_scenes`
(two-digit MNIST scenes) or `emoji` (`--data_dir` = the extracted emoji-datasource packages). A word-level tokenizer
is trained on the training captions (once, by the main process); every 10th training image is held out for
validation (loss and greedy exact match). The output folder holds model, tokenizer and image processor:
`pipeline("image-to-text", model=out, trust_remote_code=True)`, or `pipeline("image-captioning", model=out)`
after `import hf_argen`. The defaults (32x32 images, a 2-stage conv encoder, a 2-layer decoder of width 128,
random shift/zoom/rotation, 600 steps of 64) caption a few thousand small images of simple kinds in minutes on a
CPU. Flags are shared by every `training/train_*.py` plus the captioner's own
(`hf_argen.recipes.captioning.CaptionerArguments`).
"""

from __future__ import annotations

DEFAULTS = dict(
    torch_compile="false",  # compiling this model on CUDA is not yet verified; --torch_compile true opts in
    dataset_name="mnist_scenes",
    train_batch_size=64,
    eval_batch_size=128,
    learning_rate=2e-3,
    lr_scheduler="cosine",
    lr_warmup_steps=50,
    weight_decay=0.01,
    adam_beta2=0.98,
    max_train_steps=600,
    checkpointing_steps=200,
    checkpoints_total_limit=2,
    eval_steps=200,
    logging_steps=25,
)


def main(argv=None):
    from hf_argen.recipes.captioning import CaptionerArguments, train_captioner
    from hf_argen.training.arguments import launch_command, parse_training_args, setup_logging

    data, run, flags = parse_training_args(CaptionerArguments, argv, description=__doc__, **DEFAULTS)
    setup_logging()
    return train_captioner(data, run, flags, command=launch_command("training/train_captioner.py", argv))


if __name__ == "__main__":
    from hf_argen.cli import run_cli

    run_cli(main)
