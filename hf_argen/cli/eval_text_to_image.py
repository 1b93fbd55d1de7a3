"""`hf-argen evaluate` of a text-to-image model: round trips through the shipped captioners, per guidance scale.

    hf-argen evaluate --model model_cards/text-to-image-mnist-scenes --dataset_name mnist_scenes
    hf-argen evaluate --model model_cards/text-to-image-emoji --dataset_name emoji --data_dir package

`mnist_scenes` (default splits `test` and `test_held_out_pairs`; `validation` to choose a recipe on): one image per
caption of the split, judged by `--captioner` (exact caption match) and by an MNIST classifier on each half
(`--classifier_path`, trained there on first use), beside the same judges on the split's real scenes and on their
VQ-VAE reconstructions. `emoji`: one image per name of `--num_prompts` training names, judged by the emoji captioner,
beside its accuracy on real drawings of those names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import AutoModel, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

from ..recipes.classifier import classifier_accuracy, load_mnist_classifier, mnist_tensors
from ..recipes.text_to_image_evaluation import evaluate_emoji, evaluate_scenes
from . import write_json
from .arguments import RuntimeArguments, positive
from .evaluation_arguments import EvaluateArguments

DEFAULT_CAPTIONERS = {"mnist_scenes": "model_cards/captioner-mnist-scenes", "emoji": "model_cards/captioner-emoji"}
DEFAULT_CLASSIFIER = ".cache/mnist_classifier.pt"


@dataclass
class TextToImageEvalArguments:
    """Flags of text-to-image models only."""

    _argument_group_name = "text-to-image models"

    captioner: str | None = field(
        default=None, metadata={"help": "the judge (default: model_cards/captioner-mnist-scenes or -emoji)"}
    )
    guidance_scales: list[float] = field(
        default_factory=lambda: [1.0, 2.0, 3.0, 5.0], metadata={"help": "guidance scales to measure"}
    )
    num_prompts: int = field(default=500, metadata={"help": "prompts (one image each) per split and guidance scale"})


def print_row(row: dict) -> None:
    scale = "" if row["guidance_scale"] is None else f" guidance {row['guidance_scale']:g}"
    digits = f", both digits right {row['digits']:.1f} %" if row.get("digits") is not None else ""
    print(f"{row['split']}: {row['system']}{scale} ({row['num_images']} images): "
          f"caption round trip {row['round_trip']:.1f} %{digits}", flush=True)  # fmt: skip


def evaluate_text_to_image(name: str, runtime: RuntimeArguments, evaluation: EvaluateArguments, flags, argv) -> list:
    """Generate, judge, print a line per row, write `--output_json`; return the rows."""
    positive("num_prompts", flags.num_prompts)
    dataset = evaluation.dataset_name or "mnist_scenes"
    if dataset not in DEFAULT_CAPTIONERS:
        raise ValueError(f"--dataset_name must be one of {list(DEFAULT_CAPTIONERS)} for a text-to-image model.")
    device = runtime.setup()
    model = AutoModel.from_pretrained(name).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(name)
    judge_name = flags.captioner or DEFAULT_CAPTIONERS[dataset]
    captioner = AutoModelForImageTextToText.from_pretrained(judge_name).to(device).eval()
    processor = AutoProcessor.from_pretrained(judge_name)
    common = dict(seed=runtime.seed, data_dir=evaluation.data_dir, progress=print_row)
    if dataset == "emoji":
        rows = evaluate_emoji(model, tokenizer, captioner, processor, flags.guidance_scales, flags.num_prompts,
                              **common)  # fmt: skip
    else:
        classifier = load_mnist_classifier(evaluation.classifier_path or DEFAULT_CLASSIFIER, evaluation.data_dir,
                                           device=device)  # fmt: skip
        accuracy, _ = classifier_accuracy(classifier, *mnist_tensors("test", evaluation.data_dir))
        print(f"MNIST classifier test accuracy: {100 * accuracy:.2f} %")
        splits = evaluation.split or ["test", "test_held_out_pairs"]
        rows = evaluate_scenes(model, tokenizer, captioner, processor, classifier, splits, flags.guidance_scales,
                               flags.num_prompts, **common)  # fmt: skip
    write_json(runtime.output_json, rows)
    return rows


__all__ = ["TextToImageEvalArguments", "evaluate_text_to_image"]
