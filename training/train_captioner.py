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

from hf_argen.cli import run_cli
from hf_argen.recipes.captioning import TRAINING_DEFAULTS, CaptionerArguments, train_captioner
from hf_argen.training.arguments import run_training


def main(argv=None):
    return run_training(
        train_captioner, CaptionerArguments, "training/train_captioner.py", argv, __doc__, TRAINING_DEFAULTS
    )


if __name__ == "__main__":
    run_cli(main)
