"""Captioning recipe: a word-level tokenizer trained on the training captions, images resized once to tensors,
random affine augmentation per batch, a `CaptionerForConditionalGeneration`, and a validation hook (loss per token
and greedy exact match); :func:`train_captioner` is the run `training/train_captioner.py` starts. The output folder
holds model + processor (tokenizer, image processor), so it loads straight into
`pipeline("image-to-text", model=output_dir, trust_remote_code=True)` or, after `import hf_argen`,
`pipeline("image-captioning", model=output_dir)`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoTokenizer

from ..atomic import atomic_write_text
from ..caption_evaluation import caption_scores, generate_captions, normalize_caption
from ..data import detect_num_channels
from ..hub import TRAINING_INFO
from ..models import (
    CaptionerConfig,
    CaptionerForConditionalGeneration,
    CaptionerImageProcessor,
    CaptionerProcessor,
    train_caption_tokenizer,
)
from ..training.arguments import VALIDATION, DataArguments, DecoderArguments, RunArguments
from ..training.loop import TrainingLoop, TrainResult, evaluate_across_processes, make_accelerator
from .augmentation import SkinPalette, augment_images, find_skin, random_skin_palette
from .cards import write_captioner_model_card
from .datasets import load_captions

logger = logging.getLogger(__name__)

# `training/train_captioner.py`'s defaults for the shared flags (`--help` shows them).
TRAINING_DEFAULTS = dict(
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
    num_hidden_layers=2,
    dropout=0.1,
)


@dataclass
class CaptionerArguments(DecoderArguments):
    """Flags of `training/train_captioner.py` beyond the shared ones."""

    caption_column: str | None = field(default=None, metadata={"help": "caption column (default: detected, 'text')."})
    num_train_scenes: int = field(default=20_000, metadata={"help": "mnist_scenes: training scenes to compose."})
    test_vendor: str = field(default="facebook", metadata={"help": "emoji: the vendor held out of 'train'."})
    emoji_vendors: list[str] = field(
        default_factory=lambda: ["apple", "google", "twitter", "facebook"],
        metadata={
            "help": "emoji: the vendors in play; 'train' is all of them but --test_vendor. Leave-one-vendor-out "
            "validation: --emoji_vendors apple google twitter --test_vendor twitter --eval_split twitter."
        },
    )
    emoji_extra_releases: list[str] = field(
        default_factory=list,
        metadata={
            "help": "emoji: folders of other emoji-datasource releases (extracted npm packages, e.g. "
            "emoji-datasource-google@3.0.0) whose drawings by the training vendors join 'train', named as in "
            "--data_dir's release; the test vendor's are never used."
        },
    )
    emoji_extra_vendors: list[str] = field(
        default_factory=list,
        metadata={
            "help": "emoji: further drawing styles in --emoji_extra_releases whose drawings join 'train' too (e.g. "
            "emojione); never the four vendors of --data_dir nor the test vendor's family (messenger for facebook)."
        },
    )
    emoji_extra_image_dirs: list[str] = field(
        default_factory=list,
        metadata={
            "help": "emoji: STYLE=FOLDER entries, folders of PNGs named by code points (e.g. joypixels=png/64 of "
            "the npm package emoji-assets) whose drawings join 'train' as vendor STYLE, named as in --data_dir."
        },
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "use only the first N training images."})
    init_model: str | None = field(
        default=None, metadata={"help": "start from this saved captioner (fine-tuning): its weights, tokenizer and "
                                "image size; the architecture and --tokenizer_* flags are then ignored."}
    )  # fmt: skip
    tokenizer_type: str = field(
        default="word", metadata={"help": "word: one token per word; bpe: byte-level BPE.", "choices": ["word", "bpe"]}
    )
    tokenizer_vocab_size: int = field(default=8192, metadata={"help": "most tokens (word: most frequent words)."})
    max_caption_tokens: int = field(default=40, metadata={"help": "longest caption in tokens (bos/eos included)."})
    image_size: int = field(default=32, metadata={"help": "images are resized to this side."})
    num_channels: int | None = field(default=None, metadata={"help": "1 or 3 (default: 1 if every image is grey)."})
    encoder_type: str = field(
        default="conv",
        metadata={"help": "image encoder: strided convolutions, ViT-style patches or residual stages.",
                  "choices": ["conv", "patch", "resnet"]},
    )  # fmt: skip
    encoder_channels: list[int] = field(
        default_factory=lambda: [32, 64], metadata={"help": "conv stage widths (each halves the image side)."}
    )
    patch_size: int = field(default=4, metadata={"help": "patch encoder only."})
    num_encoder_layers: int = field(default=1, metadata={"help": "transformer layers over the image features."})
    augment_translate: float = field(default=0.06, metadata={"help": "random shift, as a fraction of the side."})
    augment_scale: float = field(default=0.08, metadata={"help": "random zoom in 1 +- this."})
    augment_rotate: float = field(default=6.0, metadata={"help": "random rotation in +- degrees."})
    augment_color: float = field(
        default=0.0, metadata={"help": "random saturation and ink contrast in 1 +- this, brightness shift +- this/2 "
                               "(hue is kept: colour names things)."}
    )  # fmt: skip
    augment_saturation: float | None = field(
        default=None,
        metadata={"help": "random saturation in 1 +- this, in [0, 1] (default: --augment_color); 1 reaches grey."},
    )
    augment_channel_gain: float = field(
        default=0.0,
        metadata={
            "help": "random gain per colour channel in 1 +- this, a white-balance shift of the "
            "ink against the white background (keep it small: hues stay)."
        },
    )
    augment_blur: float = field(default=0.0, metadata={"help": "probability of a random Gaussian blur (sigma 0.3..1)."})
    augment_morphology: float = field(
        default=0.0, metadata={"help": "probability of thickening or thinning dark strokes (3x3 min/max filter, "
                               "blended in with a random weight)."}
    )  # fmt: skip
    augment_erase: float = field(
        default=0.0, metadata={"help": "probability of painting a random rectangle (4-16%% of the image) white."}
    )
    augment_random_conv: float = field(
        default=0.0, metadata={"help": "probability of a random-convolution texture change (RandConv, Xu et al. 2021, "
                               "one filter for every colour channel, so hues stay), blended in with a random weight."}
    )  # fmt: skip
    augment_skin_palette: float = field(
        default=0.0, metadata={"help": "emoji: probability of recolouring the skin of a one-tone variant with a random "
                               "mix of the training vendors' colours for its tone (skin: the pixels where a vendor's "
                               "tone variants of an emoji differ)."}
    )  # fmt: skip
    encoder_blocks_per_stage: int = field(default=1, metadata={"help": "resnet encoder: residual blocks per stage."})
    mixstyle_probability: float = field(
        default=0.0,
        metadata={
            "help": "conv/resnet encoder: chance per batch of MixStyle (mixing per-image channel "
            "statistics) after each stage but the last, in training; 0 = off."
        },
    )
    label_smoothing: float = field(default=0.0, metadata={"help": "label smoothing of the training loss."})
    no_augmentation: bool = field(default=False, metadata={"help": "train on the images as they are."})
    eval_exact_match_samples: int = field(
        default=300, metadata={"help": "validation images captioned (greedy) for exact match at each evaluation."}
    )

    def __post_init__(self):
        if self.max_caption_tokens < 2:
            raise ValueError(f"--max_caption_tokens must be >= 2 (bos and eos count), got {self.max_caption_tokens}.")
        if self.augment_saturation is not None and not 0.0 <= self.augment_saturation <= 1.0:
            raise ValueError(f"--augment_saturation must be in [0, 1], got {self.augment_saturation}.")
        if not 0.0 <= self.augment_channel_gain < 1.0:
            raise ValueError(f"--augment_channel_gain must be in [0, 1), got {self.augment_channel_gain}.")
        probabilities = (
            "augment_blur", "augment_morphology", "augment_erase", "augment_random_conv", "augment_skin_palette"
        )  # fmt: skip
        for name in probabilities:  # mixstyle: the config checks it
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"--{name} is a probability in [0, 1], got {getattr(self, name)}.")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"--label_smoothing must be in [0, 1), got {self.label_smoothing}.")


# ----------------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------------
def load_split(data: DataArguments, flags: CaptionerArguments, split: str):
    """`split` of `--dataset_name` as a Dataset with `image` and `text` columns."""

    options = {}
    if data.dataset_name == "mnist_scenes" and split == "train":
        options["num_scenes"] = flags.num_train_scenes
    if data.dataset_name == "emoji":
        options["test_vendor"] = flags.test_vendor
        options["vendors"] = tuple(flags.emoji_vendors)
        if flags.emoji_extra_releases:
            options["extra_releases"] = tuple(flags.emoji_extra_releases)
        if flags.emoji_extra_vendors:
            options["extra_vendors"] = tuple(flags.emoji_extra_vendors)
        if flags.emoji_extra_image_dirs:
            options["extra_image_dirs"] = tuple(flags.emoji_extra_image_dirs)
    if data.dataset_name in ("mnist_scenes", "emoji"):
        return load_captions(data.dataset_name, split, data_dir=data.data_dir, **options)
    return load_captions(
        data.dataset_name, split, data_dir=data.data_dir, caption_column=flags.caption_column,
        image_column=data.image_column,
    )  # fmt: skip


class CaptionDataset(torch.utils.data.Dataset):
    """Images as one `(N, C, S, S)` float16 tensor (normalised) and captions as token-id lists; a batch is
    `pixel_values` + right-padded `decoder_input_ids`/`decoder_attention_mask`/`labels` (see :meth:`collate`)."""

    def __init__(
        self,
        pixel_values: torch.Tensor,
        token_ids: list[list[int]],
        captions: list[str],
        skin: SkinPalette | None = None,
    ):
        self.pixel_values, self.token_ids, self.captions, self.skin = pixel_values, token_ids, captions, skin

    def __len__(self) -> int:
        return len(self.token_ids)

    def __getitem__(self, index):
        return self.__getitems__([index])

    def __getitems__(self, indices):
        index = torch.as_tensor(indices, dtype=torch.long)
        batch = {"pixel_values": self.pixel_values[index], "token_ids": [self.token_ids[i] for i in indices]}
        if self.skin is not None:
            batch.update(skin_mask=self.skin.mask[index], skin_tone=self.skin.tone[index],
                         skin_vendor=self.skin.vendor[index])  # fmt: skip
        return batch


def encode_images(images, image_processor, batch: int = 512) -> torch.Tensor:
    """Images -> float16 `(N, C, S, S)` normalised by `image_processor` (stored once, augmented per batch)."""

    chunks = []
    for start in tqdm(range(0, len(images), batch), desc="images", leave=False):
        arrays = [image_processor.to_array(image) for image in images[start : start + batch]]
        chunks.append(torch.from_numpy(np.stack(arrays)).half())
    return torch.cat(chunks)


def encode_captions(captions: list[str], processor, max_tokens: int) -> list[list[int]]:
    tokenizer = processor.tokenizer
    ids = [tokenizer.encode(c, add_special_tokens=False) for c in captions]
    return [[tokenizer.bos_token_id] + row[: max_tokens - 2] + [tokenizer.eos_token_id] for row in ids]


def make_collate(pad_token_id: int, flags: CaptionerArguments | None = None, palette: torch.Tensor | None = None):
    """Batch builder: float32 pixels (augmented when `flags` asks for it; skin recoloured with `palette`, see
    :func:`random_skin_palette`, when the batch has skin masks), captions padded to the longest."""

    def collate(batch):
        pixels = batch["pixel_values"].float()
        if flags is not None and palette is not None and "skin_mask" in batch and not flags.no_augmentation:
            pixels = random_skin_palette(
                pixels, batch["skin_mask"], batch["skin_tone"], batch["skin_vendor"], palette,
                flags.augment_skin_palette,
            )  # fmt: skip
        if flags is not None:
            pixels = augment_images(pixels, flags)
        rows = batch["token_ids"]
        longest = max(len(r) for r in rows)
        ids = torch.full((len(rows), longest), pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.as_tensor(row)
            mask[i, : len(row)] = 1
        labels = ids.masked_fill(mask == 0, -100)
        return {"pixel_values": pixels, "decoder_input_ids": ids, "decoder_attention_mask": mask, "labels": labels}

    return collate


# ----------------------------------------------------------------------------------------------------------
# Model and evaluation
# ----------------------------------------------------------------------------------------------------------
def build_model(flags: CaptionerArguments, tokenizer, num_channels: int):

    config = CaptionerConfig(
        image_size=flags.image_size,
        num_channels=num_channels,
        encoder_type=flags.encoder_type,
        encoder_channels=list(flags.encoder_channels),
        encoder_blocks_per_stage=flags.encoder_blocks_per_stage,
        mixstyle_probability=flags.mixstyle_probability,
        patch_size=flags.patch_size,
        num_encoder_layers=flags.num_encoder_layers,
        vocab_size=len(tokenizer),
        hidden_size=flags.hidden_size,
        num_hidden_layers=flags.num_hidden_layers,
        num_attention_heads=flags.num_attention_heads,
        max_position_embeddings=flags.max_caption_tokens,
        hidden_dropout=flags.dropout,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = CaptionerForConditionalGeneration(config)
    model.generation_config.update(
        max_new_tokens=flags.max_caption_tokens - 1,
        num_beams=1,
        do_sample=False,
        bos_token_id=tokenizer.bos_token_id,
        decoder_start_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return model


def make_compute_loss(label_smoothing: float):
    """`compute_loss` of the loop: the model's own loss, or cross-entropy with label smoothing (nats per token)."""
    if not label_smoothing:
        return None

    def compute_loss(model, batch):
        labels = batch["labels"]
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits.float()
        return torch.nn.functional.cross_entropy(
            logits[:, :-1].transpose(1, 2), labels[:, 1:], ignore_index=-100, label_smoothing=label_smoothing
        )

    return compute_loss


def make_eval_fn(valid: CaptionDataset, collate, processor, batch_size: int, exact_match_samples: int):
    """Validation loss (nats per caption token, EOS included) on every validation image and greedy exact match
    (%) on the first `exact_match_samples`."""

    references = [normalize_caption(c) for c in valid.captions]
    num_generated = min(exact_match_samples, len(valid))
    # Evenly spaced images (not the first N: named datasets are ordered by kind, e.g. emoji by category).
    spaced = torch.linspace(0, len(valid) - 1, num_generated).round().long() if num_generated else None

    def eval_fn(model, accelerator):
        def loss_statistics(index):
            if len(index) == 0:  # an empty shard (more processes than validation images)
                return {"nll": torch.zeros((), dtype=torch.float64), "tokens": torch.zeros((), dtype=torch.float64)}
            batch = collate(valid.__getitems__(index.tolist()))
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            logits = model(**{k: v for k, v in batch.items() if k != "labels"}, use_cache=False).logits.float()
            targets = batch["labels"][:, 1:]
            nll = torch.nn.functional.cross_entropy(
                logits[:, :-1].transpose(1, 2), targets, ignore_index=-100, reduction="sum"
            )
            return {"nll": nll.double(), "tokens": (targets != -100).sum().double()}

        def match_statistics(index):
            if len(index) == 0:
                return {"hits": 0.0, "count": 0.0}
            index = spaced[index]
            pixels = valid.pixel_values[index].float().to(accelerator.device)
            tokens = model.generate(pixel_values=pixels, num_beams=1, do_sample=False)
            captions = processor.batch_decode(tokens, skip_special_tokens=True)
            hits = sum(normalize_caption(c) == references[i] for c, i in zip(captions, index.tolist()))
            return {"hits": float(hits), "count": float(len(captions))}

        totals = evaluate_across_processes(accelerator, len(valid), batch_size, loss_statistics, desc="eval loss")
        metrics = {"validation_loss": (totals["nll"] / totals["tokens"]).item()}
        if num_generated:
            totals = evaluate_across_processes(
                accelerator, num_generated, batch_size, match_statistics, desc="captions"
            )
            metrics["validation_exact_match"] = 100.0 * (totals["hits"] / totals["count"]).item()
        return metrics

    return eval_fn


# ----------------------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------------------
@dataclass
class CaptionerData:
    """What :func:`build_data` prepares: training and validation sets as tensors (`valid` None: no evaluation), the
    validation rows as loaded (for the card), the processor, the number of channels and the `--init_model`'s
    processor (or None)."""

    train: CaptionDataset
    valid: CaptionDataset | None
    valid_set: object
    processor: CaptionerProcessor
    num_channels: int


def load_splits(data: DataArguments, flags: CaptionerArguments):
    """`(train rows, validation rows or None)`: every 10th training image held out for `--eval_split validation`."""
    dataset = load_split(data, flags, data.dataset_split)
    if flags.max_train_samples is not None:
        dataset = dataset.select(range(min(flags.max_train_samples, len(dataset))))
    return data.split_off_eval(dataset, lambda split: load_split(data, flags, split))


def load_processor(flags: CaptionerArguments, train_set, tokenizer_dir: Path, is_main_process: bool):
    """`(processor, longest caption in tokens)`: the `--init_model`'s processor, else a tokenizer trained once (main
    process) on the training captions and kept in `tokenizer_dir` (a resumed run tokenises exactly as the first one)
    with a new image processor."""
    if flags.init_model:
        processor = CaptionerProcessor.from_pretrained(flags.init_model)
        longest = CaptionerConfig.from_pretrained(flags.init_model).max_position_embeddings
        if is_main_process and not tokenizer_dir.exists():
            processor.tokenizer.save_pretrained(tokenizer_dir)
        return processor, min(flags.max_caption_tokens, longest)  # its position table's length
    if tokenizer_dir.exists():
        logger.info("reusing the tokenizer in %s (--tokenizer_* flags ignored; delete to retrain)", tokenizer_dir)
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    else:
        logger.info("training a %s tokenizer on %d captions", flags.tokenizer_type, len(train_set))
        tokenizer = train_caption_tokenizer(
            list(train_set["text"]), kind=flags.tokenizer_type, vocab_size=flags.tokenizer_vocab_size
        )
        if is_main_process:
            tokenizer.save_pretrained(tokenizer_dir)
    num_channels = flags.num_channels or detect_num_channels(train_set["image"])
    image_processor = CaptionerImageProcessor(image_size=flags.image_size, num_channels=num_channels)
    return CaptionerProcessor(image_processor, tokenizer), flags.max_caption_tokens


def build_data(data: DataArguments, run: RunArguments, flags: CaptionerArguments, accelerator) -> CaptionerData:
    """Build data: the splits, the processor (tokenizer written once), images resized once to tensors, captions
    tokenised, and the skin palettes for `--augment_skin_palette`."""
    with accelerator.main_process_first():  # dataset caches and the tokenizer are written once
        train_set, valid_set = load_splits(data, flags)
        tokenizer_dir = Path(run.output_dir, "tokenizer")
        processor, max_tokens = load_processor(flags, train_set, tokenizer_dir, accelerator.is_main_process)
    num_channels = processor.image_processor.num_channels

    def encode(rows) -> CaptionDataset:
        captions = list(rows["text"])
        pixels = encode_images(rows["image"], processor.image_processor)
        return CaptionDataset(pixels, encode_captions(captions, processor, max_tokens), captions)

    train = encode(train_set)
    if flags.augment_skin_palette:
        if num_channels != 3 or not {"vendor", "unified"} <= set(train_set.column_names):
            raise ValueError(
                "--augment_skin_palette needs RGB images with `vendor` and `unified` columns (--dataset_name emoji)."
            )
        train.skin = find_skin(train.pixel_values, list(train_set["vendor"]), list(train_set["unified"]))
        logger.info(
            "skin palettes of %d one-tone images (vendors %s): %s", int((train.skin.tone >= 0).sum()),
            ", ".join(train.skin.vendors), (train.skin.palette * 255).round().tolist(),
        )  # fmt: skip
    valid = encode(valid_set) if valid_set is not None and len(valid_set) else None
    return CaptionerData(train, valid, valid_set, processor, num_channels)


def train(model, prepared: CaptionerData, data: DataArguments, run: RunArguments, flags, accelerator):
    """Train: the shared loop with per-batch augmentation, the validation hook (loss and greedy exact match) and
    the processor saved beside the model; returns `(TrainResult, the final model)`."""
    pad, train_set, valid = prepared.processor.tokenizer.pad_token_id, prepared.train, prepared.valid
    eval_fn = None
    if valid:
        collate_eval = make_collate(pad)
        eval_fn = make_eval_fn(valid, collate_eval, prepared.processor, run.eval_batch_size,
                               flags.eval_exact_match_samples)  # fmt: skip
    loop = TrainingLoop(
        model,
        run.loop_arguments(),
        train_set,
        collate_fn=make_collate(pad, flags, train_set.skin.palette if train_set.skin else None),
        compute_loss=make_compute_loss(flags.label_smoothing),
        eval_fn=eval_fn,
        processors=[prepared.processor],
        tracker_config={"dataset_name": data.dataset_name, "train_examples": len(train_set)},
        accelerator=accelerator,
    )
    result = loop.train()
    return result, loop.final_model


def train_captioner(
    data: DataArguments, run: RunArguments, flags: CaptionerArguments, command: str | None = None
) -> TrainResult:
    """The run of `training/train_captioner.py`: build data -> build model (or `--init_model`) -> train -> publish
    (`training_info.json`, the card; with `--push_to_hub`, the upload: :func:`publish_captioner`)."""
    accelerator = make_accelerator(run.loop_arguments())
    prepared = build_data(data, run, flags, accelerator)
    torch.manual_seed(run.seed)
    if flags.init_model:
        model = CaptionerForConditionalGeneration.from_pretrained(flags.init_model, dtype=torch.float32)
    else:
        model = build_model(flags, prepared.processor.tokenizer, prepared.num_channels)
    num_parameters = sum(p.numel() for p in model.parameters())
    valid_count = len(prepared.valid) if prepared.valid else 0
    logger.info(
        "%d training / %d validation images (%dx%dx%d), %d tokens; captioner with %d parameters",
        len(prepared.train), valid_count, *prepared.train.pixel_values.shape[-2:], prepared.num_channels,
        len(prepared.processor.tokenizer), num_parameters,
    )  # fmt: skip
    result, final_model = train(model, prepared, data, run, flags, accelerator)
    if accelerator.is_main_process:
        info = {"command": command, "dataset": data.dataset_name, "train_images": len(prepared.train),
                "validation_images": valid_count, "parameters": num_parameters, **result.metrics}  # fmt: skip
        atomic_write_text(Path(run.output_dir, TRAINING_INFO), json.dumps(info, indent=2))
        publish_captioner(run, final_model, prepared.processor, data, prepared.valid_set, flags, command)
    return result  # (the loop has ended the process group: no barrier here)


def publish_captioner(run: RunArguments, model, processor, data: DataArguments, valid_set, flags, command) -> None:
    """Write the model card (exact match and BLEU-4 on the validation images) into `output_dir`; upload the folder
    with `--push_to_hub`."""

    rows = []
    if valid_set is not None and len(valid_set):
        count = min(len(valid_set), max(flags.eval_exact_match_samples, 1))
        subset = valid_set.select(range(count))
        predictions = generate_captions(model.eval(), processor, subset["image"], run.eval_batch_size)
        split = "validation" if data.eval_split == VALIDATION else data.eval_split
        rows.append(
            {
                "dataset": data.dataset_name,
                "split": split,
                "subset": f"first {count} images",
                "system": "captioner",
                **caption_scores(predictions, list(subset["text"])),
            }
        )
    eval_command = f"hf-argen evaluate --model {run.output_dir} --dataset_name {data.dataset_name}"
    path = write_captioner_model_card(run.output_dir, rows, eval_command, command=command, repo_id=run.hub_model_id)
    logger.info("saved the captioner and its card (%s) in %s", path.name, run.output_dir)
    run.push(run.output_dir)


__all__ = [
    "TRAINING_DEFAULTS",
    "CaptionDataset",
    "CaptionerArguments",
    "CaptionerData",
    "build_data",
    "load_processor",
    "load_splits",
    "train",
    "build_model",
    "detect_num_channels",
    "make_collate",
    "make_eval_fn",
    "publish_captioner",
    "train_captioner",
]
