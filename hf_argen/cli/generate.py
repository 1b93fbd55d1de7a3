"""hf-argen generate: sample from a saved model folder (or Hub id): a PixelCNN or a two-stage VQ-VAE + prior (a PNG
grid, one column per requested class), a text-to-image model (`--prompt`, one or more; a PNG grid, one column per
prompt, `--guidance_scale`), a pixel LM (a causal LM over sub-pixels: a PNG grid, one column per class;
`--guidance_scale`: class-posterior guidance; `--num_candidates`: best of n), or a text causal LM (`--prompt`;
samples printed, or written to a .txt `--output`).
`--complete IMAGE --num_given_rows N` completes an image from its top N rows instead (pixel rows of a PixelCNN, code
rows of a two-stage model), `--num_images` times.

    hf-argen generate --model model_cards/pixelcnn-digits --class_labels 0 1 2 3 4 5 6 7 8 9 \\
        --num_images 4 --seed 0 --output digits.png
    hf-argen generate --model model_cards/vqvae-prior-mnist --class_labels 3 7 --device cpu
    hf-argen generate --model model_cards/text-to-image-mnist-scenes \\
        --prompt "a 3 above a 7" "a 1 to the left of a 5" --num_images 4 --guidance_scale 3 --seed 0 --output scenes.png
    hf-argen generate --model model_cards/ar-transformer-fortunes --prompt "You will" --num_images 3
    hf-argen generate --model model_cards/pixel-rnn-mnist --num_images 4 --guidance_scale 3 --temperature 0.9 \\
        --num_candidates 4 --output rnn.png
    hf-argen generate --model model_cards/pixelcnn-mnist --complete demo/examples/digit_7.png --num_given_rows 14 \\
        --num_images 8 --output completions.png
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

from ..atomic import atomic_save_image, atomic_write_text
from ..models import ClassConditionalImageGenerationPipeline, PixelCNNImageProcessor, TextToImagePipeline, make_grid
from ..recipes.pixel_lm import generate_pixels, generate_pixels_guided, image_shape_of, vocabulary_of
from . import write_json
from .arguments import DEFAULT_MODEL, ModelArguments, RuntimeArguments, parse_command, positive

IMAGE_TYPES = ("pixelcnn", "vqvae_prior")
TEXT_TO_IMAGE_TYPES = ("vqvae_text_to_image",)
TEXT_TYPES = ("ar_transformer", "ar_rnn")
PIXEL_LM = "pixel_lm"  # any causal LM whose config has an image layout


@dataclass
class GenerateArguments:
    """What to sample and where the samples go."""

    class_labels: list[str] | None = field(
        default=None, metadata={"help": "classes to draw, as ids or names (image models; default: every class)"}
    )
    prompt: list[str] | None = field(
        default=None,
        metadata={"help": "text to continue (text models: one), or the prompts to draw (text-to-image: one or more)"},
    )
    num_images: int = field(
        default=1, metadata={"help": "samples per class (conditional), in total (unconditional) or per prompt (text)"}
    )
    guidance_scale: float | None = field(
        default=None,
        metadata={
            "help": "classifier-free guidance: text-to-image, or a two-stage model whose prior has a null class "
            "(default: the generation_config's); a class-conditional pixel LM: class-posterior guidance (default: none)"
        },
    )
    num_candidates: int = field(
        default=1,
        metadata={
            "help": "a class-conditional pixel LM: draw this many candidates per image and keep the one the model's "
            "own exact class posterior p(y | x) favours (best of n; with or without --guidance_scale)"
        },
    )
    temperature: float | None = field(default=None, metadata={"help": "default: the model's generation_config"})
    top_k: int | None = field(
        default=None, metadata={"help": "keep the k likeliest values (default: the generation_config's; text: all)"}
    )
    top_p: float | None = field(
        default=None, metadata={"help": "nucleus sampling mass (default: the generation_config's; text: 1)"}
    )
    max_new_tokens: int = field(default=64, metadata={"help": "text models"})
    complete: str | None = field(
        default=None,
        metadata={
            "help": "an image file to complete (image models): keep its top --num_given_rows rows and sample the "
            "rest, --num_images times; a conditional model takes one --class_labels or draws the class from its "
            "posterior given the kept rows"
        },
    )
    num_given_rows: int | None = field(
        default=None, metadata={"help": "with --complete: rows kept (PixelCNN: pixel rows; two-stage: code rows)"}
    )
    scale: int | None = field(default=None, metadata={"help": "upscaling of each image in the grid"})
    output: str = field(default="samples.png", metadata={"help": "PNG grid (images) or .txt (text)"})


def class_label(value: str) -> int | str:
    """`--class_labels` entries: ints, or names from the model's `id2label`."""
    return int(value) if value.lstrip("-").isdigit() else value


def model_type_of(model: str) -> str:
    """The `model_type` of `--model`, checked to be one this command samples from; `PIXEL_LM` for a causal LM over
    sub-pixels (a config with an image layout, `hf_argen.recipes.pixel_lm`)."""
    try:
        config = AutoConfig.from_pretrained(model)
    except (OSError, ValueError) as error:
        raise ValueError(f"--model {model!r} is not a model folder or Hub id hf-argen can load ({error}).") from None
    if getattr(config, "pixel_lm", None):
        return PIXEL_LM
    known = IMAGE_TYPES + TEXT_TO_IMAGE_TYPES + TEXT_TYPES
    if config.model_type not in known:
        raise ValueError(
            f"--model {model!r} is a {config.model_type!r} model; generate samples from {', '.join(known)} models."
        )
    return config.model_type


def sampling_arguments(args: GenerateArguments, seed: int) -> dict:
    """The sampling arguments of an image model's `generate` or pipeline: a CPU generator seeded with `seed`, and
    `--temperature`, `--top_k`, `--top_p` (unset ones: the model's `generation_config`)."""
    return dict(generator=torch.Generator().manual_seed(seed), temperature=args.temperature, top_k=args.top_k,
                top_p=args.top_p)  # fmt: skip


def generate_images(model_name: str, args: GenerateArguments, seed: int, device) -> dict:
    """Sample a grid `(num_images rows, one column per class)` and save it as `--output`."""
    model = AutoModel.from_pretrained(model_name).eval().to(device)
    if args.prompt is not None:
        raise ValueError("--prompt is for text and text-to-image models; this is an image model (use --class_labels).")
    num_classes = getattr(model.config, "num_classes", None)
    if num_classes is None and args.class_labels:
        raise ValueError("--class_labels given, but the model is unconditional.")
    labels = [class_label(value) for value in args.class_labels or []]
    classes = labels or (list(range(num_classes)) if num_classes else None)
    generator = ClassConditionalImageGenerationPipeline(model=model, device=device)
    start = time.perf_counter()
    guidance = {} if args.guidance_scale is None else {"guidance_scale": args.guidance_scale}
    images = generator(class_labels=classes, num_images=args.num_images, **sampling_arguments(args, seed), **guidance)
    seconds = time.perf_counter() - start
    columns = len(classes) if classes else min(args.num_images, 10)
    return save_grid(images, columns, args, seconds, f"samples ({columns} per row)")


def generate_pixel_lm_images(model_name: str, args: GenerateArguments, seed: int, device) -> dict:
    """A pixel LM: a grid of `--num_images` rows, one column per requested class (or `--num_images` unconditional
    samples), saved as `--output`; `--guidance_scale` samples with class-posterior guidance."""
    if args.prompt is not None:
        raise ValueError("--prompt is for text models; this is a pixel LM (use --class_labels).")
    model = AutoModelForCausalLM.from_pretrained(model_name).eval().to(device)
    vocabulary = vocabulary_of(model)
    num_classes = vocabulary.num_classes
    if not num_classes and (args.class_labels or args.guidance_scale is not None or args.num_candidates != 1):
        raise ValueError(
            "--class_labels, --guidance_scale and --num_candidates are for class-conditional models; this one is not."
        )
    names = {str(name): int(index) for name, index in (model.config.label2id or {}).items()}
    classes = []
    for value in args.class_labels or []:
        label = class_label(value)
        if isinstance(label, str) and label not in names:
            raise ValueError(f"--class_labels: {label!r} is not a class of this model ({', '.join(names)}).")
        classes.append(names[label] if isinstance(label, str) else label)
    classes = classes or list(range(num_classes))
    labels = torch.tensor(classes).repeat(args.num_images) if num_classes else None  # row by row, a column per class
    temperature = 1.0 if args.temperature is None else args.temperature
    start = time.perf_counter()
    if args.guidance_scale is None and args.num_candidates == 1:
        levels = generate_pixels(model, class_labels=labels, num_images=None if num_classes else args.num_images,
                                 seed=seed, temperature=temperature, top_k=args.top_k or 0,
                                 top_p=args.top_p or 1.0)  # fmt: skip
    else:
        levels = generate_pixels_guided(model, labels, args.guidance_scale or 1.0, seed=seed, temperature=temperature,
                                        num_candidates=args.num_candidates)  # fmt: skip
    seconds = time.perf_counter() - start
    channels, size, _ = image_shape_of(model)
    processor = PixelCNNImageProcessor(num_levels=vocabulary.num_levels, num_channels=channels,
                                       image_size=size)  # fmt: skip
    columns = len(classes) if num_classes else min(args.num_images, 10)
    return save_grid(processor.postprocess(levels), columns, args, seconds, f"samples ({columns} per row)")


def save_grid(images: list, num_columns: int, args: GenerateArguments, seconds: float, what: str) -> dict:
    """Save `images` as one grid of `num_columns` columns as `--output` (each image scaled by `--scale`, else to about
    64 pixels a side), say how many of `what` it holds; the result's figures."""
    size = images[0].size[0]
    grid = make_grid(images, num_columns=num_columns, scale=args.scale or max(1, 64 // size))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    atomic_save_image(grid, args.output)
    print(f"saved {len(images)} {what} to {args.output} in {seconds:.2f}s")
    return {"num_samples": len(images), "output": args.output, "seconds": round(seconds, 3)}


def load_image(path: str) -> Image.Image:
    """The `--complete` image, as RGB."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError) as error:
        raise ValueError(f"--complete {path!r} is not an image file ({error}).") from None


def complete_image(model_name: str, args: GenerateArguments, seed: int, device) -> dict:
    """`--num_images` completions of `--complete` from its top `--num_given_rows` rows, saved as one grid."""
    if args.num_given_rows is None:
        raise ValueError("--complete needs --num_given_rows (the rows to keep).")
    if args.prompt is not None:
        raise ValueError("--prompt is for text models; --complete completes an image.")
    model = AutoModel.from_pretrained(model_name).eval().to(device)
    if args.guidance_scale is not None and model.config.model_type != "vqvae_prior":
        raise ValueError("--guidance_scale is for two-stage models whose prior has a null class; a PixelCNN has none.")
    labels = [class_label(value) for value in args.class_labels or []]
    if len(labels) > 1:
        raise ValueError(f"--complete takes at most one --class_labels (the class of every completion), got {labels}.")
    image = load_image(args.complete)
    sampling = dict(num_given_rows=args.num_given_rows, class_labels=labels[0] if labels else None,
                    **sampling_arguments(args, seed))  # fmt: skip
    start = time.perf_counter()
    if model.config.model_type == "vqvae_prior":
        pixels = model.from_pil(image).repeat(args.num_images, 1, 1, 1)
        images = model.generate(pixel_values=pixels, output_type="pil", guidance_scale=args.guidance_scale, **sampling)
    else:
        processor = PixelCNNImageProcessor.from_model_config(model.config)
        levels = processor(image)["pixel_values"].repeat(args.num_images, 1, 1, 1)
        images = processor.postprocess(model.generate(pixel_values=levels, **sampling))
    seconds = time.perf_counter() - start
    return save_grid(images, min(args.num_images, 10), args, seconds, f"completions of {args.complete}")


def generate_from_prompts(model_name: str, args: GenerateArguments, seed: int, device) -> dict:
    """Text-to-image: `--num_images` samples of each `--prompt`, a grid with one column per prompt, as `--output`."""
    if args.class_labels:
        raise ValueError("--class_labels is for class-conditional models; this is a text-to-image model (--prompt).")
    if not args.prompt:
        raise ValueError("give one or more --prompt for a text-to-image model.")
    model = AutoModel.from_pretrained(model_name).eval().to(device)
    generator = TextToImagePipeline(model=model, tokenizer=AutoTokenizer.from_pretrained(model_name), device=device)
    start = time.perf_counter()
    images = generator(args.prompt, num_images_per_prompt=args.num_images, guidance_scale=args.guidance_scale,
                       **sampling_arguments(args, seed))  # fmt: skip
    seconds = time.perf_counter() - start
    columns, rows = len(args.prompt), args.num_images
    images = [images[column * rows + row] for row in range(rows) for column in range(columns)]  # a column per prompt
    return save_grid(images, columns, args, seconds, "samples (a column per prompt)")


def generate_text(model_name: str, args: GenerateArguments, seed: int, device) -> dict:
    """Sample `--num_images` continuations of `--prompt`; print them or write them to a .txt `--output`."""
    if args.class_labels:
        raise ValueError("--class_labels is for image models; this is a text model (use --prompt).")
    if args.guidance_scale is not None:
        raise ValueError("--guidance_scale is for text-to-image and two-stage image models, not text models.")
    if args.prompt and len(args.prompt) > 1:
        raise ValueError(f"a text model continues one --prompt, got {len(args.prompt)}.")
    model = AutoModelForCausalLM.from_pretrained(model_name).eval().to(device)
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    inputs = tokenizer([(args.prompt or [""])[0]] * args.num_images, return_tensors="pt").to(device)
    if inputs["input_ids"].shape[1] == 0:
        raise ValueError("give a non-empty --prompt.")
    torch.manual_seed(seed)
    temperature = 1.0 if args.temperature is None else args.temperature
    output = model.generate(
        **inputs,
        do_sample=True,
        temperature=temperature,
        top_k=args.top_k or 0,
        top_p=args.top_p or 1.0,
        max_new_tokens=args.max_new_tokens,
    )
    texts = tokenizer.batch_decode(output, skip_special_tokens=True)
    shown = "\n".join(f"--- sample {i + 1} of {len(texts)} ---\n{text}" for i, text in enumerate(texts)) + "\n"
    if args.output.endswith(".txt"):
        atomic_write_text(args.output, shown)
        print(f"saved {len(texts)} samples to {args.output}")
    else:
        print(shown, end="")
    return {"num_samples": len(texts), "texts": texts}


def main(argv: list[str] | None = None) -> dict:
    model_args, runtime, args = parse_command(
        "generate", (ModelArguments, RuntimeArguments, GenerateArguments), argv, __doc__, model=DEFAULT_MODEL
    )
    positive("num_images", args.num_images)
    positive("num_candidates", args.num_candidates)
    device = runtime.setup()
    model = model_args.required()
    if args.num_given_rows is not None and args.complete is None:
        raise ValueError("--num_given_rows is for --complete (the image to complete).")
    model_type = model_type_of(model)
    if model_type in (*TEXT_TYPES, *TEXT_TO_IMAGE_TYPES, PIXEL_LM) and args.complete is not None:
        raise ValueError("--complete is for PixelCNNs and two-stage models; this model samples whole images or texts.")
    if model_type != PIXEL_LM and args.num_candidates != 1:
        raise ValueError("--num_candidates is for class-conditional pixel LMs (best of n by their class posterior).")
    if model_type == PIXEL_LM:
        result = generate_pixel_lm_images(model, args, runtime.seed, device)
    elif model_type in TEXT_TYPES:
        result = generate_text(model, args, runtime.seed, device)
    elif model_type in TEXT_TO_IMAGE_TYPES:
        result = generate_from_prompts(model, args, runtime.seed, device)
    elif args.complete is not None:
        result = complete_image(model, args, runtime.seed, device)
    else:
        result = generate_images(model, args, runtime.seed, device)
    result = {"model": model, "seed": runtime.seed, "device": str(device), **result}
    write_json(runtime.output_json, result)
    return result
