"""Benchmark PixelCNN sampling: naive (one forward pass per sub-pixel) against the cached sampler.

    python benchmarks/benchmark_sampling.py --num_threads 1    # the README table (hidden 64, 10 layers, kernel 3)
    python benchmarks/benchmark_sampling.py --quick            # small sizes only

For every image size and batch size it prints, measured in this one run on this machine: one forward pass of the
batch, naive sampling, cached sampling, the speed-up (naive / cached) and cached / one forward pass. Each time
is the fastest of several runs after a warm-up (5 forward passes, 3 cached samplings).
A naive run costs C*H*W forward passes (about an hour at 32x32x3, batch 16, on 2 CPU cores), so where it would
take longer than `--naive_budget` seconds, it is timed over `--naive_steps` real naive steps (forward pass + draw,
which cost the same at every position) and scaled to C*H*W steps; those rows are marked `*`.
"""

import platform
import time
from functools import partial

import torch
from transformers.generation.logits_process import LogitsProcessorList

from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration
from hf_argen.cli import (
    add_device_argument,
    add_hidden_alias,
    resolve_device,
    run_cli,
    script_parser,
    write_json,
)

SIZES = [(1, 8), (3, 16), (1, 28), (3, 32)]  # (channels, image size)


def synchronize() -> None:
    """Wait for queued CUDA kernels, so that wall-clock times cover the work (a no-op without CUDA)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(function, repeats: int = 1) -> float:
    """Fastest of `repeats` timed calls after a warm-up (the minimum is the least noisy on a shared machine)."""
    function()  # warm-up (allocations, kernels)
    times = []
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        function()
        synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def naive_seconds(model, batch_size: int, args) -> tuple[float, bool]:
    """Seconds for a full naive sampling run, measured or scaled from timed steps."""
    config = model.config
    steps = config.num_subpixels
    images = torch.zeros(
        batch_size, config.num_channels, config.image_size, config.image_size, dtype=torch.long, device=model.device
    )
    processors = LogitsProcessorList()  # temperature 1, no top-k / top-p: what `generate()` applies by default
    uniform = torch.rand(batch_size, 1, device=model.device)  # drawn a row at a time: negligible per step

    def naive_step():
        with torch.no_grad():
            logits = model._logits(images, None)[:, 0, 0, 0]
            images[:, 0, 0, 0] = model._sample(logits, processors, uniform)

    per_step = timed(naive_step, repeats=min(args.naive_steps, steps))  # fastest naive step
    if per_step * steps <= args.naive_budget:
        return timed(lambda: model.generate(num_images=batch_size, seed=args.seed, use_cache=False), repeats=1), False
    return per_step * steps, True


def parse_args(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--hidden_size", type=int, default=64, help="channels of every layer")
    parser.add_argument("--num_hidden_layers", type=int, default=10, help="layers after the first")
    parser.add_argument("--kernel_size", type=int, default=3, help="kernel of the layers after the first")
    parser.add_argument("--num_levels", type=int, default=256, help="intensity levels")
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 8, 16], help="batch sizes to time")
    parser.add_argument("--naive_budget", type=float, default=60.0, help="seconds a full naive run may take")
    parser.add_argument("--naive_steps", type=int, default=10, help="timed naive steps when scaling")
    parser.add_argument("--num_threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="only 8x8x1 and 16x16x3")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--output_json", default=None, help="write the table here as JSON ('-': stdout)")
    add_device_argument(parser)
    add_hidden_alias(parser, "--threads", "num_threads", type=int)
    args = parser.parse_args(argv)
    if min(args.batch_sizes) < 1:
        raise ValueError(f"--batch_sizes must be >= 1, got {args.batch_sizes}.")
    return args


def main(argv=None):
    args = parse_args(argv)
    device = resolve_device(args.device)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)

    sizes = SIZES[:2] if args.quick else SIZES
    rows = []
    print(
        f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} "
        f"threads, device {device}; hidden {args.hidden_size}, {args.num_hidden_layers + 1} layers, "
        f"kernel {args.kernel_size}, {args.num_levels} levels"
    )
    print("| image | batch | forward s | naive s | cached s | naive / cached | cached / forward |")
    print("|---|---|---|---|---|---|---|")
    for channels, size in sizes:
        config = PixelCNNConfig(
            image_size=size,
            num_channels=channels,
            num_levels=args.num_levels,
            hidden_size=args.hidden_size,
            num_hidden_layers=args.num_hidden_layers,
            kernel_size=args.kernel_size,
        )
        model = PixelCNNForImageGeneration(config).to(device).eval()
        for batch_size in args.batch_sizes:
            images = torch.randint(0, args.num_levels, (batch_size, channels, size, size), device=device)
            with torch.no_grad():
                forward = timed(partial(model, images), repeats=5)
            cached = timed(partial(model.generate, num_images=batch_size, seed=args.seed), repeats=3)
            naive, scaled = naive_seconds(model, batch_size, args)
            mark = "*" if scaled else ""
            print(
                f"| {size}x{size}x{channels} | {batch_size} | {forward:.3f} | {naive:.1f}{mark} | {cached:.2f} "
                f"| {naive / cached:.0f}x{mark} | {cached / forward:.2f}x |",
                flush=True,
            )
            rows.append(
                {
                    "image": f"{size}x{size}x{channels}",
                    "batch_size": batch_size,
                    "forward_s": forward,
                    "naive_s": naive,
                    "naive_scaled": scaled,
                    "cached_s": cached,
                }
            )
    print("* naive time scaled from timed naive steps (forward pass + draw) to C*H*W steps")
    write_json(args.output_json, {"device": str(device), "num_threads": torch.get_num_threads(), "rows": rows})
    return rows


if __name__ == "__main__":
    run_cli(main)
