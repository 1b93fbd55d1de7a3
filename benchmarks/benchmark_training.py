"""Benchmark PixelCNN training: the bare model step against the shared loop's step, measured in one run.

    python benchmarks/benchmark_training.py --device cuda      # the MNIST GPU config: hidden 128, 12 layers,
                                                            # batch 128, bf16, torch.compile on (auto for CUDA)
    python benchmarks/benchmark_training.py --device cpu --mixed_precision no --hidden_size 32 --num_hidden_layers 4 \\
        --batch_size 16 --steps 20 --num_threads 1          # a small CPU run

Both steps train the same model (fresh, same seed) on random images of the configured size (speed does not depend
on the data), under the same `--mixed_precision`, `--torch_compile`, `--channels_last` and `--max_grad_norm`:

* bare: forward + backward + gradient clipping + AdamW (fused on CUDA) on one batch already on the device, the
  loss read back once every `--log_every` steps (as the loop logs);
* loop: `hf_argen.training.TrainingLoop` over a dataset held in host memory (its sampler, pinned batches copied
  asynchronously on CUDA, accumulation of the loss on the device, the learning-rate schedule, logging every
  `--log_every` steps, checkpoints off).

The first `--warmup_steps` (compilation, cuDNN and allocator warm-up) are excluded; the rest are timed from the
first logging step after the warm-up to the last, both of which wait for the device; with `--repeats N` the two
are measured alternately N times and the fastest of each is kept. `loop / bare` > 1 is what the loop adds on top
of the model's own step.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import tempfile
import time
from contextlib import nullcontext

import torch

from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration
from hf_argen.cli import add_device_argument, resolve_device, run_cli, script_parser, write_json
from hf_argen.recipes.pixelcnn import pixelcnn_loss
from hf_argen.training import LoopArguments, TensorDictDataset, TrainingLoop
from hf_argen.training.loop import compile_enabled

logger = logging.getLogger(__name__)


def parse_args(argv=None):
    parser = script_parser(__doc__)
    model = parser.add_argument_group("model (defaults: the MNIST GPU config)")
    model.add_argument("--image_size", type=int, default=28, help="image height and width")
    model.add_argument("--num_channels", type=int, default=1, help="1 (grey) or 3 (RGB)")
    model.add_argument("--num_levels", type=int, default=256, help="intensity levels")
    model.add_argument("--num_classes", type=int, default=10, help="classes (0: unconditional)")
    model.add_argument("--hidden_size", type=int, default=128, help="channels of every layer")
    model.add_argument("--num_hidden_layers", type=int, default=12, help="layers after the first")
    model.add_argument("--kernel_size", type=int, default=3, help="kernel of the layers after the first")
    model.add_argument("--first_kernel_size", type=int, default=7, help="kernel of the first layer")
    model.add_argument("--output_hidden_size", type=int, default=256, help="width of the output head")
    run = parser.add_argument_group("training step")
    run.add_argument("--batch_size", type=int, default=128, help="images per step")
    run.add_argument("--mixed_precision", choices=["no", "fp16", "bf16"], default="bf16", help="autocast precision")
    run.add_argument(
        "--torch_compile",
        choices=["auto", "true", "false"],
        default="auto",
        nargs="?",
        const="true",
        help="torch.compile the training forward ('auto': on for CUDA)",
    )
    run.add_argument("--channels_last", action="store_true", help="channels_last weights (NHWC convolutions)")
    run.add_argument("--cudnn_benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    run.add_argument("--max_grad_norm", type=float, default=1.0, help="gradient clipping (<= 0: none)")
    run.add_argument("--learning_rate", type=float, default=1e-3, help="AdamW learning rate")
    run.add_argument("--warmup_steps", type=int, default=10, help="untimed steps first (compilation included)")
    run.add_argument("--steps", type=int, default=40, help="timed steps")
    run.add_argument("--log_every", type=int, default=10, help="read the loss back every N steps (both steps)")
    run.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="measure bare and loop alternately this many times; the fastest of each is reported",
    )
    parser.add_argument("--only", choices=["bare", "loop"], default=None, help="time only one of the two")
    parser.add_argument("--num_threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the random images")
    parser.add_argument("--output_json", default=None, help="write the results here as JSON ('-': stdout)")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    for name in ("batch_size", "steps", "log_every", "hidden_size", "num_hidden_layers", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if args.warmup_steps < args.log_every or args.warmup_steps % args.log_every or args.steps % args.log_every:
        parser.error("--warmup_steps and --steps must be multiples of --log_every (and warm-up >= one window)")
    return args


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_model(args) -> PixelCNNForImageGeneration:
    torch.manual_seed(args.seed)
    config = PixelCNNConfig(
        image_size=args.image_size,
        num_channels=args.num_channels,
        num_levels=args.num_levels,
        num_classes=args.num_classes or None,
        hidden_size=args.hidden_size,
        num_hidden_layers=args.num_hidden_layers,
        kernel_size=args.kernel_size,
        first_kernel_size=args.first_kernel_size,
        output_hidden_size=args.output_hidden_size,
    )
    return PixelCNNForImageGeneration(config)


def random_images(args, num_images: int) -> dict:
    generator = torch.Generator().manual_seed(args.seed)
    shape = (num_images, args.num_channels, args.image_size, args.image_size)
    data = {"pixel_values": torch.randint(0, args.num_levels, shape, generator=generator)}
    if args.num_classes:
        data["class_labels"] = torch.randint(0, args.num_classes, (num_images,), generator=generator)
    return data


def time_bare_step(args, device: torch.device, compile_model: bool) -> float:
    """Seconds per bare step (mean over the timed steps)."""
    model = build_model(args).to(device)
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    model.train()
    fused = True if device.type == "cuda" else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, fused=fused)
    step_model = torch.compile(model) if compile_model else model
    batch = {k: v.to(device) for k, v in random_images(args, args.batch_size).items()}
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.mixed_precision)
    autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else nullcontext
    scaler = torch.amp.GradScaler(device.type) if args.mixed_precision == "fp16" else None
    running = torch.zeros((), device=device)

    def step():
        with autocast():
            loss = pixelcnn_loss(step_model, batch)
        (scaler.scale(loss) if scaler else loss).backward()
        if scaler:
            scaler.unscale_(optimizer)
        if args.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        if scaler:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        running.add_(loss.detach().float())

    for index in range(args.warmup_steps):
        step()
        if (index + 1) % args.log_every == 0:
            running.item()  # the logging read-back, as in the loop
    synchronize(device)
    start = time.perf_counter()
    for index in range(args.steps):
        step()
        if (index + 1) % args.log_every == 0:
            running.item()
    synchronize(device)
    return (time.perf_counter() - start) / args.steps


class _TimedLoop(TrainingLoop):
    """The loop, noting the time of every logging step (each of which waits for the device: `.item()`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log_times = {}

    def _log(self, metrics, step):
        if "train_loss" in metrics:
            self.log_times[step] = time.perf_counter()
        super()._log(metrics, step)


def time_loop_step(args, device: torch.device) -> float:
    """Seconds per loop step (mean over the timed steps)."""
    total = args.warmup_steps + args.steps
    data = TensorDictDataset(**random_images(args, args.batch_size * total))
    with tempfile.TemporaryDirectory() as output_dir:
        loop_args = LoopArguments(
            output_dir=output_dir,
            train_batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            max_train_steps=total,
            max_grad_norm=args.max_grad_norm if args.max_grad_norm > 0 else None,
            mixed_precision=args.mixed_precision,
            checkpointing_steps=None,
            logging_steps=args.log_every,
            seed=args.seed,
            device=str(device),
            torch_compile=args.torch_compile,
            channels_last=args.channels_last,
        )
        loop = _TimedLoop(
            build_model(args), loop_args, data, compute_loss=pixelcnn_loss, save_fn=lambda model, folder: None
        )
        loop.train()
    return (loop.log_times[total] - loop.log_times[args.warmup_steps]) / args.steps


def main(argv=None):
    args = parse_args(argv)
    device = resolve_device(args.device)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    if args.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
    compile_model = compile_enabled(args.torch_compile, device)
    logging.getLogger("hf_argen.training.loop").setLevel(logging.WARNING)
    os.environ.setdefault("TQDM_DISABLE", "1")  # the loop's progress bar
    seconds = {}
    for _ in range(args.repeats):  # alternated, so that a slow spell of a shared machine hits both
        if args.only in (None, "bare"):
            seconds["bare"] = min(seconds.get("bare", math.inf), time_bare_step(args, device, compile_model))
        if args.only in (None, "loop"):
            seconds["loop"] = min(seconds.get("loop", math.inf), time_loop_step(args, device))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(
        f"PixelCNN {args.image_size}x{args.image_size}x{args.num_channels}, {args.num_levels} levels, hidden "
        f"{args.hidden_size}, {args.num_hidden_layers + 1} layers, batch {args.batch_size}; {device} ({name}), "
        f"{args.mixed_precision}, torch.compile {'on' if compile_model else 'off'}, channels_last "
        f"{'on' if args.channels_last else 'off'}; {args.steps} timed steps after {args.warmup_steps}"
    )
    print("| step | ms/step | steps/s | images/s |")
    print("|---|---:|---:|---:|")
    rows = []
    for kind, value in seconds.items():
        row = {"step": kind, "ms_per_step": 1e3 * value, "steps_per_s": 1 / value}
        row["images_per_s"] = args.batch_size / value
        rows.append(row)
        print(f"| {kind} | {row['ms_per_step']:.1f} | {row['steps_per_s']:.2f} | {row['images_per_s']:,.0f} |")
    ratio = seconds["loop"] / seconds["bare"] if len(seconds) == 2 else None
    if ratio is not None:
        print(f"loop / bare (time per step): {ratio:.3f}")
    write_json(
        args.output_json,
        {
            "device": str(device),
            "device_name": name,
            "torch": torch.__version__,
            "num_threads": torch.get_num_threads(),
            "torch_compile": compile_model,
            "args": vars(args),
            "rows": rows,
            "loop_over_bare": ratio,
        },
    )


if __name__ == "__main__":
    run_cli(main)
