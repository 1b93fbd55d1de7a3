"""Text-to-image recipe (`training/train_prior.py --caption_column text`): a caption tokenizer trained on the training
captions, every image encoded once to VQ-VAE codes (cached as a `datasets` dataset), and one causal LM trained on
`prompt + codes` (:class:`hf_argen.models.TextToImageVocabulary`) with the caption dropped (the empty caption, the
null prompt) for a fraction `--condition_dropout` of the examples, so that classifier-free guidance works. The output
folder is a `VQVAETextToImageForImageGeneration` with its tokenizer and the `text-to-image` pipeline file.

Data: any captioned image dataset :func:`hf_argen.recipes.datasets.load_captions` loads (``mnist_scenes``, ``emoji``,
an imagefolder with ``metadata.jsonl``, a `save_to_disk` folder, a Hub id), images resized to the VQ-VAE's size.

Metric: ``nll_per_code`` (nats, mean over the codes of the eval split, prompt positions excluded) and
``bits_per_image``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import datasets
import torch
from transformers import GenerationConfig

from ..atomic import atomic_save_pretrained, atomic_write_text
from ..hub import TRAINING_INFO, CardImage
from ..models import (
    TextToImagePipeline,
    TextToImageVocabulary,
    VQVAETextToImageConfig,
    VQVAETextToImageForImageGeneration,
    make_grid,
    train_caption_tokenizer,
)
from ..models.sampling_utils import SAMPLING_DEFAULTS
from ..training.arguments import DataArguments, RunArguments
from ..training.loop import TensorDictDataset, TrainingLoop, TrainResult, make_accelerator
from .cards import keep_last_grid, write_text_to_image_card
from .codes import CODES_COLUMN, encode_dataset_codes
from .datasets import CAPTION_DATASETS, load_captions
from .prior import check_condition_dropout, drop_conditions, make_eval_fn, nll_card_metrics, prior_of_flags, train_prior
from .vqvae import load_vqvae

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------------------
# Data: captions and code maps, encoded once
# ----------------------------------------------------------------------------------------------------------
def caption_options(dataset_name: str, caption_column: str | None, num_scenes: int | None = None) -> dict:
    """The options of :func:`load_captions` for `dataset_name`: the caption column of a generic dataset, the number
    of scenes of ``mnist_scenes``; ``emoji`` without its skin-tone variants (as the emoji PixelCNN: they would be
    most of the data, five near-copies of each base emoji differing in colour alone)."""
    if dataset_name == "emoji":
        return {"skin_variations": False}
    if dataset_name in CAPTION_DATASETS:
        return {"num_scenes": num_scenes} if num_scenes else {}
    return {"caption_column": None if caption_column == "text" else caption_column}


def load_caption_codes(
    vqvae,
    dataset_name: str,
    split: str = "train",
    cache_dir: str | Path | None = None,
    data_dir=None,
    caption_column: str | None = "text",
    num_scenes: int | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> datasets.Dataset:
    """The code maps (`codes`) and captions (`text`) of `split` under `vqvae`: encoded once and cached by
    :func:`hf_argen.recipes.codes.encode_dataset_codes` (the caption column passed through; `cache_dir` None: the
    default cache)."""
    options = caption_options(dataset_name, caption_column, num_scenes)
    images = load_captions(dataset_name, split, data_dir=data_dir, **options)
    name = "-".join([str(dataset_name), split, *map(str, options.values()), "captions"])
    return encode_dataset_codes(vqvae, images, columns=["text"], cache_dir=cache_dir, name=name,
                                batch_size=batch_size, progress=progress)  # fmt: skip


def caption_token_ids(tokenizer, captions) -> list[list[int]]:
    """Token ids of each caption, without special tokens."""
    return tokenizer(list(captions), add_special_tokens=False)["input_ids"]


@dataclass
class TextToImageData:
    """What :func:`build_data` prepares: token sequences `(N, max_text_length + h*w)` to train and evaluate on (`eval`
    None: no evaluation), the evaluation captions, the tokenizer and the vocabulary."""

    train: torch.Tensor
    eval: torch.Tensor | None
    eval_captions: list[str]
    tokenizer: object
    vocabulary: TextToImageVocabulary


def build_data(data: DataArguments, run: RunArguments, flags, vqvae, accelerator) -> TextToImageData:
    """Build data: captions and code maps (encoded once by the main process and cached), a word-level tokenizer
    trained on the training captions, the sequences."""
    load = dict(
        cache_dir=flags.cache_dir,
        data_dir=data.data_dir,
        caption_column=flags.caption_column,
        num_scenes=flags.num_scenes,
        progress=accelerator.is_local_main_process,
    )
    with accelerator.main_process_first():
        train = load_caption_codes(vqvae, data.dataset_name, data.dataset_split, **load)
        train, eval_set = data.split_off_eval(
            train, lambda split: load_caption_codes(vqvae, data.dataset_name, split, **load)
        )
    tokenizer = train_caption_tokenizer(train["text"], kind="word")
    train_ids = caption_token_ids(tokenizer, train["text"])
    longest = max(len(ids) for ids in train_ids)
    vocabulary = TextToImageVocabulary(
        num_text_tokens=len(tokenizer),
        num_codes=vqvae.config.num_embeddings,
        max_text_length=flags.max_text_length or longest + 2,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )

    def sequences(dataset):
        codes = dataset.with_format("torch")[:][CODES_COLUMN].long()
        return vocabulary.sequences(vocabulary.prompts(caption_token_ids(tokenizer, dataset["text"])), codes)

    eval_sequences = None if eval_set is None else sequences(eval_set)
    eval_captions = [] if eval_set is None else list(eval_set["text"])
    return TextToImageData(sequences(train), eval_sequences, eval_captions, tokenizer, vocabulary)


# ----------------------------------------------------------------------------------------------------------
# Model and hooks
# ----------------------------------------------------------------------------------------------------------
def make_compute_loss(vocabulary: TextToImageVocabulary, condition_dropout: float = 0.0):
    """Loss hook: mean NLL per code; in training, each example's prompt is replaced by the null prompt (the empty
    caption) with probability `condition_dropout` (drawn from the global RNG, which the loop seeds and checkpoints)."""
    null_prompt = vocabulary.null_prompts(1)[0]
    length = vocabulary.max_text_length

    def compute_loss(model, batch):
        input_ids = batch["input_ids"]
        if condition_dropout > 0 and model.training:
            input_ids = drop_conditions(input_ids, condition_dropout, null_prompt)
        labels = input_ids.clone()
        labels[:, :length] = -100
        return model(input_ids=input_ids, labels=labels).loss

    return compute_loss


def text_to_image_model(vqvae, prior, vocabulary: TextToImageVocabulary, guidance_scale: float | None = None):
    """The composite model around a trained `prior`; `guidance_scale` becomes its default (`generation_config`)."""
    config = VQVAETextToImageConfig(
        vqvae=vqvae.config,
        prior=prior.config,
        text_vocab_size=vocabulary.num_text_tokens,
        max_text_length=vocabulary.max_text_length,
        text_pad_token_id=vocabulary.pad_token_id,
        text_bos_token_id=vocabulary.bos_token_id,
        text_eos_token_id=vocabulary.eos_token_id,
    )
    model = VQVAETextToImageForImageGeneration(config, vqvae=vqvae, prior=prior)
    defaults = dict(SAMPLING_DEFAULTS, **({"guidance_scale": guidance_scale} if guidance_scale else {}))
    model.generation_config = GenerationConfig(**defaults)
    return model


def make_save_fn(vqvae, tokenizer, vocabulary: TextToImageVocabulary, guidance_scale: float | None = None):
    """The final layout: the text-to-image model, its tokenizer and the pipeline file."""

    def save_fn(prior, output_dir):
        model = text_to_image_model(vqvae, prior, vocabulary, guidance_scale)
        atomic_save_pretrained(TextToImagePipeline(model=model, tokenizer=tokenizer), output_dir)

    return save_fn


def make_sample_fn(vqvae, tokenizer, vocabulary, captions: list[str], guidance_scale=None, seed: int = 0):
    """Sample hook: a grid, one column per caption (up to 10 distinct eval captions), two samples each."""
    shown = list(dict.fromkeys(captions))[:10]

    def sample_fn(prior, step):
        model = text_to_image_model(vqvae, prior, vocabulary, guidance_scale)
        prompts = model.prompt_ids(caption_token_ids(tokenizer, shown * 2))
        images = model.generate(prompts, seed=seed, output_type="pil")
        return make_grid(images, num_columns=len(shown), scale=2)

    return sample_fn


def train(prior, vqvae, prepared: TextToImageData, run: RunArguments, flags, accelerator) -> TrainResult:
    """Train the LM on the sequences with condition dropout; NLL per code on the eval split; sample grids; saved as
    the text-to-image model."""
    vocabulary, length = prepared.vocabulary, prepared.vocabulary.max_text_length
    eval_fn = None
    if prepared.eval is not None:
        eval_fn = make_eval_fn(prepared.eval, batch_size=run.eval_batch_size, prompt_length=length)
    sample_fn = None
    if not run.no_samples and prepared.eval_captions:
        sample_fn = make_sample_fn(vqvae, prepared.tokenizer, vocabulary, prepared.eval_captions,
                                   flags.guidance_scale, seed=run.seed)  # fmt: skip
    loop = TrainingLoop(
        prior,
        run.loop_arguments(tracker_project_name="text_to_image"),
        train_dataset=TensorDictDataset(input_ids=prepared.train),
        compute_loss=make_compute_loss(vocabulary, flags.condition_dropout),
        eval_fn=eval_fn,
        sample_fn=sample_fn,
        save_fn=make_save_fn(vqvae, prepared.tokenizer, vocabulary, flags.guidance_scale),
        tracker_config={
            "vqvae": flags.vqvae,
            "prior": flags.prior,
            "condition_dropout": flags.condition_dropout,
            **prior.config.to_dict(),
        },  # fmt: skip
        accelerator=accelerator,
    )
    return loop.train()


def describe(config, dataset_name: str) -> str:
    """The card's description of a text-to-image folder, from its config."""
    vqvae, prior = config.vqvae, config.prior
    side = vqvae.latent_size
    return (
        f"Text-to-image generation in one `VQVAETextToImageForImageGeneration` (hf_argen), trained on {dataset_name}: "
        f"a causal LM (`{type(prior).__name__.replace('Config', '')}`, hidden_size={prior.hidden_size}, "
        f"{prior.num_hidden_layers} layers) reads the caption's tokens (a word-level tokenizer of "
        f"{config.text_vocab_size} tokens, saved with the model; prompts of at most {config.max_text_length - 2} "
        f"words), then writes a {side}x{side} map of VQ-VAE codes (K={vqvae.num_embeddings}) in raster order, which "
        f"the VQ-VAE decodes to a {vqvae.image_size}x{vqvae.image_size}x{vqvae.num_channels} image. Sampling is the "
        "LM's own `generate()`: exactly h*w codes, caption tokens suppressed in image positions, and classifier-free "
        "guidance by `transformers`' `UnbatchedClassifierFreeGuidanceLogitsProcessor` against the empty caption, "
        "which training puts in place of the caption for a fraction of the examples."
    )


def publish(result: TrainResult, prepared: TextToImageData, data: DataArguments, run: RunArguments, flags, command):
    """Publish (main process): `training_info.json`, the last sample grid as `samples.png`, the card (the eval NLL;
    `hf-argen evaluate --write_card` adds the round trips), the push."""
    folder = Path(run.output_dir)
    codes_per_image = prepared.train.shape[1] - prepared.vocabulary.max_text_length
    metrics = nll_card_metrics(result, data, prepared.vocabulary.num_codes, codes_per_image)
    images = []
    if keep_last_grid(run.output_dir, "samples.png"):
        images = [CardImage("samples.png", "samples", "Samples at the end of training: one column per caption.")]
    info = {"command": command, "dataset": data.dataset_name, "vqvae": flags.vqvae, **result.metrics}
    atomic_write_text(folder / TRAINING_INFO, json.dumps(info, indent=2))
    config = VQVAETextToImageConfig.from_pretrained(folder)
    prompts = list(dict.fromkeys(prepared.eval_captions))[:2] or ["a prompt"]
    write_text_to_image_card(folder, metrics, None, describe(config, data.dataset_name), prompts, commands=[command],
                             repo_id=run.hub_model_id, images=images)  # fmt: skip
    run.push(folder)


def train_text_to_image(data: DataArguments, run: RunArguments, flags, command: str | None = None) -> TrainResult:
    """The run of `training/train_prior.py --caption_column ...`: build data (tokenizer, codes cached once) -> build
    model (a causal LM over caption tokens + codes, of `--prior`'s kind and sizes) -> train -> publish
    (`VQVAETextToImageForImageGeneration` with its tokenizer and pipeline, and its card)."""
    if not data.dataset_name:
        raise ValueError("--dataset_name is required with --caption_column: a captioned image dataset.")
    if flags.prior == "pixelcnn":
        raise ValueError("`--prior pixelcnn` has no text prompt; a text-to-image model needs a causal LM `--prior`.")
    check_condition_dropout(flags.condition_dropout)
    accelerator = make_accelerator(run.loop_arguments(tracker_project_name="text_to_image"))
    vqvae = load_vqvae(flags.vqvae, flags.vqvae_image_size)
    prepared = build_data(data, run, flags, vqvae, accelerator)
    torch.manual_seed(run.seed)
    prior = prior_of_flags(flags, prepared.vocabulary, prepared.train.shape[1])
    result = train(prior, vqvae, prepared, run, flags, accelerator)
    if accelerator.is_main_process:
        publish(result, prepared, data, run, flags, command)
    return result


def train_prior_or_text_to_image(data: DataArguments, run: RunArguments, flags, command: str | None = None):
    """`training/train_prior.py`: a text-to-image model with `--caption_column`, else a class-conditional prior."""
    if flags.caption_column:
        return train_text_to_image(data, run, flags, command)
    return train_prior(data, run, flags, command)


__all__ = [
    "TextToImageData",
    "build_data",
    "describe",
    "caption_token_ids",
    "load_caption_codes",
    "make_compute_loss",
    "make_save_fn",
    "text_to_image_model",
    "train_prior_or_text_to_image",
    "train_text_to_image",
]
