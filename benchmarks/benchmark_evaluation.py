"""Benchmark exact PixelCNN likelihood evaluation: time per image against the batch size.

    python benchmarks/benchmark_evaluation.py --model model_cards/pixelcnn-mnist
    python benchmarks/benchmark_evaluation.py --model model_cards/pixelcnn-emoji --batch_sizes 8 16 32 256

Times `hf_argen.evaluation.pixelcnn_log_likelihood` (one forward pass per image, as the conditional figure of
`hf-argen evaluate`; the marginal one is the same pass over image-class pairs) on `--num_images`
random images of the model's shape, for every batch size, in this one run on this machine. The batch sizes take
turns over `--rounds` rounds and each keeps its fastest round (the least noisy figure on a shared machine).
Prints ms per image and each batch size's time relative to the fastest; `hf-argen evaluate` picks
its default `--batch_size` per device from this.
"""

import platform
import time

import torch

from hf_argen.cli import add_device_argument, resolve_device, run_cli, script_parser, write_json


def parse_args(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--model", required=True, help="saved PixelCNN folder or Hub id")
    parser.add_argument(
        "--batch_sizes", type=int, nargs="+", default=[8, 16, 32, 64, 128, 256], help="batch sizes to time"
    )
    parser.add_argument("--num_images", type=int, default=256, help="images per timed evaluation")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per batch size (the fastest is kept)")
    parser.add_argument("--num_threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random images")
    parser.add_argument("--output_json", default=None, help="write the table here as JSON ('-': stdout only)")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    for name in ("num_images", "rounds"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}.")
    if min(args.batch_sizes) < 1:
        raise ValueError(f"--batch_sizes must all be >= 1, got {args.batch_sizes}.")
    return args


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv=None):
    args = parse_args(argv)
    device = resolve_device(args.device)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)

    from hf_argen import PixelCNNForImageGeneration
    from hf_argen.evaluation import pixelcnn_log_likelihood

    model = PixelCNNForImageGeneration.from_pretrained(args.model).to(device).eval()
    config = model.config
    generator = torch.Generator().manual_seed(args.seed)
    shape = (args.num_images, config.num_channels, config.image_size, config.image_size)
    images = torch.randint(0, config.num_levels, shape, generator=generator)
    labels = None
    if config.num_classes:
        labels = torch.randint(0, config.num_classes, (args.num_images,), generator=generator)

    def evaluate(batch_size: int) -> float:
        synchronize(device)
        start = time.perf_counter()
        pixelcnn_log_likelihood(model, images, labels, batch_size=batch_size)
        synchronize(device)
        return time.perf_counter() - start

    for batch_size in args.batch_sizes:  # warm-up: allocator pools, kernels
        pixelcnn_log_likelihood(model, images[: min(batch_size, args.num_images)], labels, batch_size=batch_size)
    best = {batch_size: float("inf") for batch_size in args.batch_sizes}
    for _ in range(args.rounds):
        for batch_size in args.batch_sizes:
            best[batch_size] = min(best[batch_size], evaluate(batch_size))

    fastest = min(best.values())
    print(
        f"# {args.model}: {config.num_channels}x{config.image_size}x{config.image_size}, hidden "
        f"{config.hidden_size}, {config.num_hidden_layers} layers; {args.num_images} images; "
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, device {device}"
    )
    print("| batch size | ms per image | time / fastest |")
    print("|---|---|---|")
    rows = []
    for batch_size in args.batch_sizes:
        ms = 1000 * best[batch_size] / args.num_images
        print(f"| {batch_size} | {ms:.1f} | {best[batch_size] / fastest:.2f}x |")
        rows.append({"batch_size": batch_size, "ms_per_image": ms, "relative_to_fastest": best[batch_size] / fastest})
    write_json(args.output_json, {"model": args.model, "device": str(device),
                                  "num_threads": torch.get_num_threads(), "rows": rows})  # fmt: skip


if __name__ == "__main__":
    run_cli(main)
