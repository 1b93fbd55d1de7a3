#!/usr/bin/env python
"""Sample from a saved model folder (or Hub id): a PixelCNN or a two-stage VQ-VAE + prior (a PNG grid, one column per
requested class), or a text causal LM (`--prompt`; samples printed, or written to `--output` as text).

    python scripts/generate.py --model model_cards/pixelcnn-digits --class_labels 0 1 2 3 4 5 6 7 8 9 \
        --num_images 4 --seed 0 --output digits.png
    python scripts/generate.py --model model_cards/vqvae-prior-mnist --class_labels 3 7 --device cpu
    python scripts/generate.py --model model_cards/ar-transformer-fortunes --prompt "You will" --num_images 3
"""

import logging
import time
from pathlib import Path

from hf_argen.atomic import atomic_save_image, atomic_write_text
from hf_argen.cli import add_device_argument, resolve_device, run_cli, script_parser

logger = logging.getLogger("generate")
IMAGE_TYPES = ("pixelcnn", "vqvae_prior")
TEXT_TYPES = ("ar_transformer", "ar_rnn")


def class_label(value: str):
    """`--class_labels` entries: ints, or names from the model's `id2label`."""
    return int(value) if value.lstrip("-").isdigit() else value


def model_type_of(model: str) -> str:
    from transformers import AutoConfig

    import hf_argen  # noqa: F401  (registers hf_argen's model types)

    try:
        config = AutoConfig.from_pretrained(model)
    except (OSError, ValueError) as error:
        raise ValueError(f"--model {model!r} is not a model folder or Hub id this script can load ({error}).") from None
    if config.model_type not in IMAGE_TYPES + TEXT_TYPES:
        raise ValueError(f"--model {model!r} is a {config.model_type!r} model; this script samples from "
                         f"{', '.join(IMAGE_TYPES + TEXT_TYPES)} models.")  # fmt: skip
    return config.model_type


def generate_images(args, model_type: str, device) -> None:
    import torch
    from transformers import AutoModel

    from hf_argen import make_grid
    from hf_argen.models import ClassConditionalImageGenerationPipeline

    model = AutoModel.from_pretrained(args.model).eval().to(device)
    if args.prompt is not None:
        raise ValueError("--prompt is for text models; this is an image model (use --class_labels).")
    num_classes = getattr(model.config, "num_classes", None)
    if num_classes is None and args.class_labels:
        raise ValueError("--class_labels given, but the model is unconditional.")
    classes = args.class_labels if args.class_labels else (list(range(num_classes)) if num_classes else None)
    generator = ClassConditionalImageGenerationPipeline(model=model, device=device)
    start = time.perf_counter()
    images = generator(
        class_labels=classes,
        num_images=args.num_images,
        generator=torch.Generator().manual_seed(args.seed),
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
    )
    seconds = time.perf_counter() - start
    columns = len(classes) if classes else min(args.num_images, 10)
    size = images[0].size[0]
    grid = make_grid(images, num_columns=columns, scale=args.scale or max(1, 64 // size))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    atomic_save_image(grid, args.output)
    print(f"saved {len(images)} samples ({columns} per row) to {args.output} in {seconds:.2f}s")


def generate_text(args, device) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if args.class_labels:
        raise ValueError("--class_labels is for image models; this is a text model (use --prompt).")
    model = AutoModelForCausalLM.from_pretrained(args.model).eval().to(device)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    prompt = args.prompt or ""
    inputs = tokenizer([prompt] * args.num_images, return_tensors="pt").to(device)
    if inputs["input_ids"].shape[1] == 0:
        raise ValueError("give a non-empty --prompt.")
    torch.manual_seed(args.seed)
    output = model.generate(**inputs, do_sample=True, temperature=args.temperature, top_k=args.top_k or 0,
                            top_p=args.top_p or 1.0, max_new_tokens=args.max_new_tokens)  # fmt: skip
    texts = tokenizer.batch_decode(output, skip_special_tokens=True)
    if args.output and args.output.endswith(".txt"):
        atomic_write_text(args.output, "\n".join(texts) + "\n")
        print(f"saved {len(texts)} samples to {args.output}")
    else:
        print("\n".join(texts))


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--model", default="model_cards/pixelcnn-digits", help="saved model folder or Hub id")
    parser.add_argument(
        "--class_labels",
        type=class_label,
        nargs="*",
        default=None,
        help="classes to draw, as ids or names (image models; default: every class)",
    )
    parser.add_argument("--prompt", default=None, help="text to continue (text models)")
    parser.add_argument(
        "--num_images",
        type=int,
        default=1,
        help="samples per class (conditional), in total (unconditional) or per prompt (text)",
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--temperature", type=float, default=None, help="default: the model's generation_config")
    parser.add_argument(
        "--top_k",
        type=int,
        default=None,
        help="keep the k likeliest values (default: the generation_config's; text: all)",
    )
    parser.add_argument(
        "--top_p", type=float, default=None, help="nucleus sampling mass (default: the generation_config's; text: 1)"
    )
    parser.add_argument("--max_new_tokens", type=int, default=64, help="text models")
    parser.add_argument("--scale", type=int, default=None, help="upscaling of each image in the grid")
    add_device_argument(parser)
    parser.add_argument("--output", default="samples.png", help="PNG grid (images) or .txt (text)")
    args = parser.parse_args(argv)  # fmt: skip
    if args.num_images < 1:
        raise ValueError(f"--num_images must be >= 1, got {args.num_images}.")
    device = resolve_device(args.device)
    model_type = model_type_of(args.model)
    if model_type in TEXT_TYPES:
        if args.temperature is None:
            args.temperature = 1.0
        generate_text(args, device)
    else:
        generate_images(args, model_type, device)


if __name__ == "__main__":
    run_cli(main)
