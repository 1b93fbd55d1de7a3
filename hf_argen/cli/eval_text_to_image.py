"""`hf-argen evaluate` of a text-to-image model: round trips through the shipped captioners, per guidance scale.

    hf-argen evaluate --model model_cards/text-to-image-mnist-scenes --dataset_name mnist_scenes
    hf-argen evaluate --model model_cards/text-to-image-emoji --dataset_name emoji --data_dir package

`mnist_scenes` (default splits `test` and `test_held_out_pairs`; `validation` to choose a recipe on): one image per
caption of the split, judged by `--captioner` (exact caption match) and by an MNIST classifier on each half
(`--classifier_path`, trained there on first use), beside the same judges on the split's real scenes and on their
VQ-VAE reconstructions. `emoji`: one image per name of `--num_prompts` training names, judged by the emoji captioner,
beside its accuracy on real drawings of those names (`--split validation`: other training names, from the far end
of the same shuffle, to choose a recipe on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from transformers import AutoModel, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

from ..atomic import atomic_save_image
from ..hub import CardImage
from ..models import make_grid
from ..recipes.cards import text_to_image_card_metrics, write_text_to_image_card
from ..recipes.classifier import classifier_accuracy, load_mnist_classifier, mnist_tensors
from ..recipes.text_to_image import describe
from ..recipes.text_to_image_evaluation import evaluate_emoji, evaluate_scenes, generate_images
from . import write_json
from .arguments import RuntimeArguments, positive
from .eval_captioner import measuring_command
from .evaluation_arguments import EvaluateArguments

DEFAULT_CAPTIONERS = {"mnist_scenes": "model_cards/captioner-mnist-scenes", "emoji": "model_cards/captioner-emoji"}
DEFAULT_CLASSIFIER = ".cache/mnist_classifier.pt"
DEFAULT_SCALES = [1.0, 2.0, 3.0, 5.0]
# The card's sample grid: seen pairs, then held-out pairs (never in training), both relations.
CARD_PROMPTS = {
    "mnist_scenes": ["a 3 above a 7", "a 1 to the left of a 4", "a 6 above a 2", "a 9 to the left of a 5",
                     "a 0 above a 7", "a 1 to the left of a 5", "a 2 above a 9", "a 8 to the left of a 3"],
    "emoji": ["grinning face", "red apple", "rocket", "cat face", "thumbs up sign", "sun with face"],
}  # fmt: skip


@dataclass
class TextToImageEvalArguments:
    """Flags of text-to-image models only."""

    _argument_group_name = "text-to-image models"

    captioner: str | None = field(
        default=None, metadata={"help": "the judge (default: model_cards/captioner-mnist-scenes or -emoji)"}
    )
    guidance_scales: list[float] | None = field(
        default=None, metadata={"help": "guidance scales to measure (default: 1 2 3 5)"}
    )
    num_prompts: int = field(default=500, metadata={"help": "prompts (one image each) per split and guidance scale"})
    card_notes: str = field(default="", metadata={"help": "extra text for the card (what bounds a figure, ...)"})


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
    scales = flags.guidance_scales or DEFAULT_SCALES
    sampling = {"temperature": evaluation.temperature}
    common = dict(seed=runtime.seed, data_dir=evaluation.data_dir, progress=print_row, sampling=sampling)
    if dataset == "emoji":
        split = evaluation.one_split(default="train")
        rows = evaluate_emoji(model, tokenizer, captioner, processor, scales, flags.num_prompts, split=split,
                              **common)  # fmt: skip
    else:
        classifier = load_mnist_classifier(evaluation.classifier_path or DEFAULT_CLASSIFIER, evaluation.data_dir,
                                           device=device)  # fmt: skip
        accuracy, _ = classifier_accuracy(classifier, *mnist_tensors("test", evaluation.data_dir))
        print(f"MNIST classifier test accuracy: {100 * accuracy:.2f} %")
        splits = evaluation.split or ["test", "test_held_out_pairs"]
        rows = evaluate_scenes(model, tokenizer, captioner, processor, classifier, splits, scales,
                               flags.num_prompts, **common)  # fmt: skip
    write_json(runtime.output_json, rows)
    if evaluation.write_card:
        write_card(model, tokenizer, name, rows, dataset, evaluation, flags, argv)
    return rows


def sample_grid(model, tokenizer, prompts: list[str], seed: int = 0, rows: int = 4):
    """A grid of samples at the model's default guidance: one column per prompt, `rows` samples each."""
    images = generate_images(model, tokenizer, prompts * rows, model.generation_config.guidance_scale or 1.0, seed)
    return make_grid(images, num_columns=len(prompts), scale=max(1, 64 // images[0].size[0]))


def write_card(model, tokenizer, name: str, rows: list[dict], dataset: str, evaluation, flags, argv) -> None:
    """The folder's README.md with the figures just measured and a grid of samples (`samples.png`)."""
    folder = Path(name)
    if not (folder / "config.json").is_file():
        raise ValueError(f"--write_card needs a local model folder; {name} is not one.")
    prompts = CARD_PROMPTS.get(dataset) or [rows[0]["split"]]
    atomic_save_image(sample_grid(model, tokenizer, prompts, seed=0), folder / "samples.png")
    caption = f"Samples (guidance {model.generation_config.guidance_scale or 1:g}, seed 0): one column per prompt: "
    images = [CardImage("samples.png", "samples", caption + "; ".join(prompts) + ".")]
    metrics = text_to_image_card_metrics(rows, dataset, model.generation_config.guidance_scale)
    path = write_text_to_image_card(
        folder, metrics, measuring_command(argv), describe(model.config, dataset), prompts[:2],
        commands=evaluation.train_command, repo_id=evaluation.hub_model_id or folder.name, notes=flags.card_notes,
        images=images,
    )  # fmt: skip
    print(f"wrote {path}")


__all__ = ["TextToImageEvalArguments", "evaluate_text_to_image"]
