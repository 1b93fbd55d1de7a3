#!/usr/bin/env python
"""Copy a trained captioner (a training `output_dir` or a checkpoint folder + the run's processor) into a model
folder to ship, optionally with its weights stored in float16 (they load as float32: `config.dtype` stays
float32), which halves the folder; with `--average`, the weights are the mean of those checkpoints' (checkpoint
averaging, e.g. over a constant-learning-rate stretch of training); with `--image_size`, the model takes images of
another size: the encoder's learned grid positions are interpolated (bicubic) to the new grid, as when a vision
transformer is fine-tuned at a higher resolution, and the processor resizes to it (fine-tune the result with
`train_captioner.py --init_model`).

    python scripts/export_captioner.py --model out --output model_cards/captioner-emoji --float16
    python scripts/export_captioner.py --model out --average out/checkpoint-500 out/checkpoint-1000 --output avg
    python scripts/export_captioner.py --model out --image_size 64 --output out-64
"""

from __future__ import annotations

from pathlib import Path

from hf_argen.cli import run_cli, script_parser


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--model", required=True, help="a saved captioner folder (model, tokenizer, image processor)")
    parser.add_argument("--processor", default=None, help="folder with the processor (default: --model)")
    parser.add_argument("--output", required=True, help="the model folder to write (replaced atomically)")
    parser.add_argument("--float16", action="store_true", help="store the weights in float16")
    parser.add_argument(
        "--average",
        nargs="+",
        default=None,
        help="checkpoint folders of the same model whose weights are averaged into --model's",
    )
    parser.add_argument(
        "--image_size",
        type=int,
        default=None,
        help="the input side to re-grid the model and its processor to (positions interpolated)",
    )
    args = parser.parse_args(argv)
    import json

    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from hf_argen.atomic import atomic_save_pretrained, atomic_write_text

    model = AutoModelForImageTextToText.from_pretrained(args.model, dtype=torch.float32)
    processor = AutoProcessor.from_pretrained(args.processor or args.model)
    if args.average:
        from hf_argen.training import load_checkpoint_weights

        weights = [load_checkpoint_weights(folder) for folder in args.average]
        state = model.state_dict()
        mismatched = [folder for folder, w in zip(args.average, weights) if set(w) != set(weights[0])]
        if mismatched or not set(weights[0]) <= set(state):
            raise ValueError(f"--average: {mismatched or args.average} do not hold the weights of --model's captioner.")
        averaged = {k: (sum(w[k].double() for w in weights) / len(weights)).to(state[k].dtype) for k in weights[0]}
        model.load_state_dict(averaged, strict=False)  # tied weights (the output layer) follow the embeddings
    if args.image_size is not None:
        resize_image_grid(model, processor, args.image_size)
    processor.tokenizer.init_kwargs.pop("local_files_only", None)  # how it was loaded here, not part of it
    output = Path(args.output)
    if args.float16:
        model.to(torch.float16)
    atomic_save_pretrained(model, output)
    atomic_save_pretrained(processor, output)
    if args.float16:  # float16 on disk, float32 when loaded
        config = json.loads((output / "config.json").read_text())
        config["dtype"] = "float32"
        atomic_write_text(output / "config.json", json.dumps(config, indent=2, sort_keys=True) + "\n")
    size = sum(f.stat().st_size for f in output.iterdir() if f.is_file())
    print(f"wrote {output} ({size / 1e6:.1f} MB)")
    return 0


def resize_image_grid(model, processor, image_size: int) -> None:
    """Set the captioner's and its processor's `image_size` and interpolate the encoder's learned positions
    `(grid**2, hidden)` bicubically to the new grid (in place)."""
    import torch
    import torch.nn.functional as F

    config = model.config
    factor = config.image_size // config.grid_size  # the encoder's downsampling
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < factor or image_size % factor:
        raise ValueError(
            f"--image_size must be a positive multiple of {factor} (the encoder's downsampling), got {image_size!r}."
        )
    old, new = config.grid_size, image_size // factor
    positions = model.encoder.embed_positions.data.float()
    grid = positions.T.reshape(1, -1, old, old)  # (1, hidden, old, old)
    resized = F.interpolate(grid, size=(new, new), mode="bicubic", align_corners=False)
    model.encoder.embed_positions = torch.nn.Parameter(resized.reshape(-1, new * new).T.contiguous())
    config.image_size = image_size
    processor.image_processor.image_size = image_size


if __name__ == "__main__":
    run_cli(main)
