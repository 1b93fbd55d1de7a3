"""hf-argen evaluate: measure a saved model folder's figures (and optionally write them into its card).

    hf-argen evaluate --model model_cards/pixelcnn-digits --dataset_name digits --split test
    hf-argen evaluate --model model_cards/pixelcnn-mnist --dataset_name mnist --split none --num_per_class 100
    hf-argen evaluate --model model_cards/vqvae-mnist --dataset_name mnist --check_targets
    hf-argen evaluate --model model_cards/vqvae-prior-mnist --classifier_path .cache/mnist_classifier.pt
    hf-argen evaluate --model model_cards/captioner-mnist-scenes --dataset_name mnist_scenes
    hf-argen evaluate --model model_cards/ar-transformer-fortunes
    hf-argen evaluate --model model_cards/pixelcnn-mnist --split none --completion_rows 14 --completion_images 500
    hf-argen evaluate --model model_cards/text-to-image-mnist-scenes --dataset_name mnist_scenes
    hf-argen evaluate --model model_cards/pixel-rnn-mnist --split test --num_per_class 100 --guidance_scale 2

The kind of evaluation follows the folder's config.json (`--kind` forces one):
* pixelcnn: exact bits/dim on `--split`; a class-conditional model twice, conditional -log p(x | y) and marginal
  -log sum_y p(y) p(x | y) (`--class_prior`); `--num_per_class N` also measures the class consistency of N samples
  per class with an MNIST classifier (`--split none`: only that); `--ensemble` folders average the conditionals.
* vqvae: PSNR, bits per image of the code map, codebook usage, perplexity; `--check_targets` exits 1 unless usage
  >= 95 % and perplexity >= K/2.
* prior (two-stage VQ-VAE + prior): the prior's NLL on the split's code maps, a class-by-class sample grid and, with
  `--classifier_path`, the samples' class consistency.
* captioner: exact match and BLEU-4 per split (mnist_scenes: `test` and `test_held_out_pairs`; emoji: the unseen
  `--test_vendor`, beside a nearest-neighbour baseline).
* text_to_image: caption round trips through the shipped captioners per guidance scale (mnist_scenes: also an MNIST
  classifier on each half; `hf_argen.cli.eval_text_to_image`).
* pixel_lm (a causal LM over sub-pixels, `hf_argen.recipes.pixel_lm`): exact bits/dim as for a PixelCNN;
  `--num_per_class N` the class consistency of N samples per class, `--guidance_scale` with class-posterior guidance.
* text (causal LM): validation NLL on the held-out texts of the training split, and the share of samples that end
  with EOS.

`--completion_rows N` (pixelcnn, prior) completes the first `--completion_images` MNIST test images from their top N
rows (pixel rows; code rows of a two-stage model), the class drawn from the model's posterior given those rows, and
reports how often the MNIST classifier gives a completion the original's class (`hf_argen.recipes.completion`).

`--write_card` (re)writes the folder's README.md (`hf_argen.hub`) with exactly the figures printed; training
commands and notes come from the folder's training_info.json (or `--train_command`).
Flags of another kind than the model's are refused.
"""

from __future__ import annotations

import dataclasses
import sys

from transformers import AutoConfig, AutoModelForCausalLM

from .arguments import DEFAULT_MODEL, ModelArguments, RuntimeArguments, command_parser
from .eval_captioner import CaptionerEvalArguments, evaluate_captioner
from .eval_pixel_lm import PixelLMEvalArguments, evaluate_pixel_lm
from .eval_pixelcnn import PixelCNNEvalArguments, evaluate_pixelcnn
from .eval_prior import PriorEvalArguments, evaluate_prior
from .eval_text import TextEvalArguments, evaluate_text
from .eval_text_to_image import TextToImageEvalArguments, evaluate_text_to_image
from .eval_vqvae import VQVAEEvalArguments, evaluate_vqvae
from .evaluation_arguments import EvaluateArguments

# kind -> (its own flags, the function that runs it)
KINDS = {
    "pixelcnn": (PixelCNNEvalArguments, evaluate_pixelcnn),
    "pixel_lm": (PixelLMEvalArguments, evaluate_pixel_lm),
    "vqvae": (VQVAEEvalArguments, evaluate_vqvae),
    "prior": (PriorEvalArguments, evaluate_prior),
    "captioner": (CaptionerEvalArguments, evaluate_captioner),
    "text": (TextEvalArguments, evaluate_text),
    "text_to_image": (TextToImageEvalArguments, evaluate_text_to_image),
}
MODEL_TYPE_KINDS = {
    "pixelcnn": "pixelcnn",
    "vqvae": "vqvae",
    "vqvae_prior": "prior",
    "captioner": "captioner",
    "vqvae_text_to_image": "text_to_image",
}


def detect_kind(model: str) -> str:
    """The evaluation kind of `model`'s config.json (`model_type`; a causal LM over sub-pixels, with an image layout
    `pixel_lm`, is `pixel_lm`; any other causal LM is `text`)."""
    config = AutoConfig.from_pretrained(model)
    if config.model_type in MODEL_TYPE_KINDS:
        return MODEL_TYPE_KINDS[config.model_type]
    if getattr(config, "pixel_lm", None):
        return "pixel_lm"
    if type(config) in AutoModelForCausalLM._model_mapping:
        return "text"
    raise ValueError(f"--model {model!r} is a {config.model_type!r} model; evaluate knows {', '.join(KINDS)} models.")


def refuse_other_kinds_flags(kind: str, parsed: dict) -> None:
    """A `ValueError` naming the first flag set (away from its default) that belongs to another kind."""
    for other, values in parsed.items():
        if other == kind:
            continue
        for flag in dataclasses.fields(values):
            if getattr(values, flag.name) != flag.default:
                raise ValueError(f"--{flag.name} is a flag of {other} models; --model is a {kind} model.")


def main(argv: list[str] | None = None) -> dict | list:
    flag_classes = [flags for flags, _ in KINDS.values()]
    parser = command_parser("evaluate", (ModelArguments, RuntimeArguments, EvaluateArguments, *flag_classes), __doc__)
    parser.set_defaults(model=DEFAULT_MODEL)
    model_args, runtime, evaluation, *kind_flags = parser.parse_args_into_dataclasses(args=argv)
    model = model_args.required()
    evaluation.check()
    kind = evaluation.kind or detect_kind(model)
    parsed = dict(zip(KINDS, kind_flags))
    refuse_other_kinds_flags(kind, parsed)
    argv = sys.argv[1:] if argv is None else list(argv)
    return KINDS[kind][1](model, runtime, evaluation, parsed[kind], argv)


__all__ = ["KINDS", "EvaluateArguments", "detect_kind", "main"]
