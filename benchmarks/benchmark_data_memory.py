#!/usr/bin/env python
"""Peak memory of training on large image datasets, and training speed on MNIST: this checkout against another one
(e.g. the code before training streamed), measured in one run.

    git worktree add /tmp/before <commit before streaming>
    nice -n 10 python benchmarks/benchmark_data_memory.py memory --before_tree /tmp/before --sizes 10000 40000 100000
    nice -n 10 python benchmarks/benchmark_data_memory.py speed --before_tree /tmp/before --data_dir <MNIST IDX folder>

``memory`` writes procedurally drawn 64x64x3 images (a random gradient background, low-amplitude noise and one
circle, square or triangle, the class; PNG in a `save_to_disk` folder, ~8 KB each) of each size under
``--work_dir``, then runs a short `training/train_pixelcnn.py` and `training/train_vqvae.py` on each
(``--max_train_steps``, the validation images carved from the training split, the first ``--max_eval_samples`` of
them evaluated) with each code tree, under ``/usr/bin/time -f %M``: the peak resident memory of the run. A run whose
resident memory passes ``--limit_gb`` (summed over its processes, read every 0.2 s from /proc) is stopped there and
shown as ``> limit`` (the machine it runs on is shared: a run that would need more memory than is free is not let
grow). The datasets are deleted at the end unless ``--keep_data``.

``speed`` trains the same small PixelCNN (hidden_size 32, 4 layers, batch ``--speed_batch_size``: a short step, so
decoding counts for more than in a real run) on MNIST with each code tree in turn, ``--rounds`` times (interleaved:
before, after, before, ...), and reports optimizer steps per second between the first logging step and the last (the
data loading before training and the first steps are left out); the ratio after / before is the median of the rounds'.

``data_path`` isolates what streaming changes, in one process: the same small PixelCNN takes training steps on MNIST
batches that come, alternately, from a tensor of every image decoded up front (the code before streaming) and from
:class:`hf_argen.data.ImageRows` (decoded per batch from the Arrow table, the code now); both get the same images in
the same order, so the two step times differ only by the data path (the `ImageRows` batches come through a
`DataLoader` with ``--dataloader_num_workers`` workers, as in training). Reports the median step time of each
(``--speed_steps`` steps each, after 10 warm-up steps) and their ratio, wall and CPU time (of the training process).

Every run uses ``--num_threads 1`` (and OMP_NUM_THREADS=1).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration
from hf_argen.cli import run_cli, script_parser, write_json
from hf_argen.data import ImageRows
from hf_argen.models import PixelCNNImageProcessor
from hf_argen.recipes.datasets import load_images
from hf_argen.recipes.pixelcnn import pixelcnn_loss

ROOT = Path(__file__).resolve().parents[1]
SHAPES = ("circle", "square", "triangle")
SIDE = 64
CHUNK = 5000


# ----------------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------------
def draw_image(rng: np.random.Generator, label: int) -> np.ndarray:
    """One 64x64x3 uint8 image: a gradient between two random colours, noise of +-6 levels, one shape of class
    `label` (circle, square, triangle) in a third colour at a random place and size."""
    start, end, colour = rng.integers(0, 256, size=(3, 3))
    ramp = np.linspace(0.0, 1.0, SIDE)[:, None, None]
    background = start * (1 - ramp) + end * ramp
    array = np.broadcast_to(background, (SIDE, SIDE, 3)) + rng.integers(-6, 7, size=(SIDE, SIDE, 3))
    image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
    size = int(rng.integers(16, 48))
    x, y = rng.integers(0, SIDE - size, size=2).tolist()
    draw, fill = ImageDraw.Draw(image), tuple(int(c) for c in colour)
    if label == 0:
        draw.ellipse([x, y, x + size, y + size], fill=fill)
    elif label == 1:
        draw.rectangle([x, y, x + size, y + size], fill=fill)
    else:
        draw.polygon([(x + size / 2, y), (x, y + size), (x + size, y + size)], fill=fill)
    return np.asarray(image)


def write_dataset(path: Path, num_images: int, seed: int = 0) -> Path:
    """A `save_to_disk` folder of `num_images` drawn images (columns `image`, `label` with the shape names)."""
    import datasets

    from hf_argen.data import png_cell

    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=list(SHAPES))})
    rng = np.random.default_rng(seed)
    chunks = []
    for start in range(0, num_images, CHUNK):
        labels = rng.integers(0, len(SHAPES), size=min(CHUNK, num_images - start)).tolist()
        images = [png_cell(draw_image(rng, label)) for label in labels]
        chunks.append(datasets.Dataset.from_dict({"image": images, "label": labels}, features=features))
    datasets.utils.disable_progress_bars()
    datasets.concatenate_datasets(chunks).save_to_disk(str(path))
    return path


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# ----------------------------------------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------------------------------------
def tree_rss_kb(pid: int) -> int:
    """Resident memory (KB) of `pid` and every process below it (from /proc)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status") as handle:
                total += next((int(line.split()[1]) for line in handle if line.startswith("VmRSS:")), 0)
            with open(f"/proc/{current}/task/{current}/children") as handle:
                pending += [int(child) for child in handle.read().split()]
        except (OSError, ValueError):
            continue
    return total


STEP_LOG = re.compile(r"step (\d+): train_loss")


def run_measured(command: list[str], cwd: Path, env: dict, limit_kb: int | None, log: Path) -> dict:
    """`command` under `/usr/bin/time -f "%M %e"` (peak RSS in KB of the largest process, seconds), stopped when the
    resident memory of its processes passes `limit_kb`; its output goes to `log`, and the moment each "step N:
    train_loss" log line arrives is noted. Returns `{"max_rss_kb", "seconds", "returncode", "stopped_at_limit",
    "step_times": [(seconds since start, step), ...]}`."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as timing, open(log, "w") as output:
        timed = ["/usr/bin/time", "-o", timing.name, "-f", "%M %e", *command]
        began = time.perf_counter()
        process = subprocess.Popen(timed, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, start_new_session=True)  # fmt: skip
        step_times = []

        def read() -> None:  # stderr is line-buffered: a log line arrives when it is written
            for line in process.stdout:
                output.write(line)
                match = STEP_LOG.search(line)
                if match:
                    step_times.append((time.perf_counter() - began, int(match.group(1))))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        stopped = False
        while process.poll() is None:
            if limit_kb is not None and tree_rss_kb(process.pid) > limit_kb:
                stopped = True
                os.killpg(process.pid, signal.SIGKILL)  # the run's own process group (start_new_session)
                break
            time.sleep(0.2)
        returncode = process.wait()
        reader.join()
        lines = [line.split() for line in Path(timing.name).read_text().splitlines() if line.strip()]
    numbers = [line for line in lines if len(line) == 2 and line[0].isdigit()]
    rss, seconds = (int(numbers[-1][0]), float(numbers[-1][1])) if numbers else (None, None)
    return {"max_rss_kb": rss, "seconds": seconds, "returncode": returncode, "stopped_at_limit": stopped,
            "step_times": step_times}  # fmt: skip


def training_env(tree: Path, data_dir: str | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}  # fmt: skip
    if data_dir:
        env["HF_ARGEN_DATA_DIR"] = data_dir
    return env


MODEL_FLAGS = {
    "pixelcnn": ["--hidden_size", "32", "--num_hidden_layers", "4", "--output_hidden_size", "64"],
    "vqvae": ["--hidden_size", "32", "--num_embeddings", "64"],
}


# A small PixelCNN: its step is short, so decoding the batch's images counts for more than it would in a real run.
SPEED_MODEL_FLAGS = ["--hidden_size", "32", "--num_hidden_layers", "4", "--output_hidden_size", "64"]


def memory_command(model: str, dataset: Path, output_dir: Path, args) -> list[str]:
    return [
        sys.executable, f"training/train_{model}.py", "--dataset_name", str(dataset), "--output_dir", str(output_dir),
        "--max_train_steps", str(args.max_train_steps), "--train_batch_size", str(args.train_batch_size),
        "--max_eval_samples", str(args.max_eval_samples), "--eval_batch_size", str(args.train_batch_size),
        "--checkpointing_steps",
        "100000", "--no_samples", "--num_threads", "1", "--dataloader_num_workers", str(args.dataloader_num_workers),
        *MODEL_FLAGS[model],
    ]  # fmt: skip


def measure_memory(args) -> list[dict]:
    work = Path(args.work_dir).resolve()  # the runs start in each code tree
    work.mkdir(parents=True, exist_ok=True)
    trees = {"before": Path(args.before_tree).resolve(), "after": ROOT} if args.before_tree else {"after": ROOT}
    rows = []
    try:
        for size in args.sizes:
            dataset = work / f"drawn-{size}"
            if not dataset.is_dir():
                began = time.perf_counter()
                write_dataset(dataset, size)
                print(f"wrote {size} images ({folder_size(dataset) / 2**20:.0f} MiB) in "
                      f"{time.perf_counter() - began:.0f} s", flush=True)  # fmt: skip
            for model in args.models:
                for name, tree in trees.items():
                    output_dir = work / f"run-{model}-{size}-{name}"
                    command = memory_command(model, dataset, output_dir, args)
                    limit = int(args.limit_gb * 2**20) if args.limit_gb else None
                    log = work / f"run-{model}-{size}-{name}.log"
                    result = run_measured(command, tree, training_env(tree), limit, log)
                    shutil.rmtree(output_dir, ignore_errors=True)
                    row = {"images": size, "model": model, "code": name, **result}
                    rows.append(row)
                    print(format_memory_row(row, args.limit_gb), flush=True)
    finally:
        if not args.keep_data:
            for size in args.sizes:
                shutil.rmtree(work / f"drawn-{size}", ignore_errors=True)
    return rows


def format_memory_row(row: dict, limit_gb: float | None) -> str:
    if row["stopped_at_limit"]:
        peak = f"> {limit_gb:.1f} (stopped)"
    elif row["max_rss_kb"] is None or row["returncode"] != 0:
        peak = f"failed ({row['returncode']})"
    else:
        peak = f"{row['max_rss_kb'] / 2**20:.2f}"
    seconds = "" if row["seconds"] is None else f"{row['seconds']:.0f}"
    return f"| {row['images']:>7} | {row['model']:<8} | {row['code']:<6} | {peak:>16} | {seconds:>5} |"


# ----------------------------------------------------------------------------------------------------------
# Speed on MNIST
# ----------------------------------------------------------------------------------------------------------
def steps_per_second(step_times: list[tuple[float, int]]) -> float:
    """Optimizer steps per second between the first and the last "step N: train_loss" log line."""
    if len(step_times) < 2:
        raise ValueError("fewer than two logging steps in the run's log: raise --speed_steps.")
    (t0, s0), (t1, s1) = step_times[0], step_times[-1]
    return (s1 - s0) / (t1 - t0)


def measure_speed(args) -> list[dict]:
    if not args.before_tree:
        raise ValueError("speed: --before_tree is required (the checkout to compare with).")
    trees = {"before": Path(args.before_tree).resolve(), "after": ROOT}
    work = Path(args.work_dir).resolve()  # the runs start in each code tree
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for round_index in range(args.rounds):
        for name, tree in trees.items():
            output_dir = work / f"speed-{name}-{round_index}"
            command = [
                sys.executable, "training/train_pixelcnn.py", "--dataset_name", "mnist", "--output_dir",
                str(output_dir), "--max_train_steps", str(args.speed_steps), "--logging_steps", "10",
                "--eval_split", "none", "--no_samples", "--checkpointing_steps", "100000", "--num_threads", "1",
                "--dataloader_num_workers", str(args.dataloader_num_workers), "--train_batch_size",
                str(args.speed_batch_size), *SPEED_MODEL_FLAGS,
            ]  # fmt: skip
            log = work / f"speed-{name}-{round_index}.log"
            result = run_measured(command, tree, training_env(tree, args.data_dir), None, log)
            shutil.rmtree(output_dir, ignore_errors=True)
            if result["returncode"] != 0:
                raise RuntimeError(f"the {name} run failed; see {log}")
            rate = steps_per_second(result["step_times"])
            rows.append({"round": round_index, "code": name, "steps_per_second": rate, **result})
            print(f"round {round_index} {name:<6} {rate:.3f} steps/s, peak {result['max_rss_kb'] / 2**20:.2f} GiB, "
                  f"{result['seconds']:.0f} s in all", flush=True)  # fmt: skip
    return rows


def speed_summary(rows: list[dict]) -> dict:
    rates = {name: [r["steps_per_second"] for r in rows if r["code"] == name] for name in ("before", "after")}
    ratios = [a / b for a, b in zip(rates["after"], rates["before"])]
    return {"before": statistics.median(rates["before"]), "after": statistics.median(rates["after"]),
            "ratio_after_over_before": statistics.median(ratios), "ratios": ratios}  # fmt: skip


def measure_data_path(args) -> dict:
    """Median step seconds (wall, CPU) with batches from a decoded tensor and from `ImageRows`, alternating steps."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    images = load_images("mnist", "train", data_dir=args.data_dir)
    processor = PixelCNNImageProcessor(num_levels=256, num_channels=1, image_size=28)
    rows = ImageRows(images, processor)
    steps = args.speed_steps + 10
    order = torch.randperm(len(rows))[: 2 * steps * args.speed_batch_size].view(2 * steps, -1)
    decoded = rows[order.view(-1)]["pixel_values"].view(2 * steps, args.speed_batch_size, 1, 28, 28)  # up front
    config = PixelCNNConfig(image_size=28, num_channels=1, num_levels=256, hidden_size=32, num_hidden_layers=4,
                            output_hidden_size=64)  # fmt: skip
    model = PixelCNNForImageGeneration(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    # ImageRows batches through a DataLoader (the loop's way: whole batches, `--dataloader_num_workers` workers)
    loader = iter(torch.utils.data.DataLoader(rows, batch_sampler=order[1::2].tolist(), collate_fn=lambda batch: batch,
                                              num_workers=args.dataloader_num_workers))  # fmt: skip
    times = {"tensor": [], "rows": []}
    for step in range(2 * steps):
        source = "tensor" if step % 2 == 0 else "rows"
        start, start_cpu = time.perf_counter(), time.process_time()
        batch = {"pixel_values": decoded[step]} if source == "tensor" else next(loader)
        pixelcnn_loss(model, batch).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= 20:
            times[source].append((time.perf_counter() - start, time.process_time() - start_cpu))
    medians = {name: [statistics.median(t[k] for t in values) for k in (0, 1)] for name, values in times.items()}
    ratios = [medians["tensor"][k] / medians["rows"][k] for k in (0, 1)]
    return {"tensor": medians["tensor"], "rows": medians["rows"], "ratio_wall": ratios[0], "ratio_cpu": ratios[1]}


# ----------------------------------------------------------------------------------------------------------
def parse_args(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("what", choices=["memory", "speed", "data_path"], help="what to measure")
    parser.add_argument("--before_tree", default=None, help="a checkout of the code to compare with")
    parser.add_argument("--work_dir", default="runs/data_memory", help="datasets, run folders and logs")
    parser.add_argument("--sizes", type=int, nargs="+", default=[40000, 100000], help="dataset sizes (images)")
    parser.add_argument("--models", nargs="+", default=["pixelcnn", "vqvae"], choices=["pixelcnn", "vqvae"])
    parser.add_argument("--max_train_steps", type=int, default=20, help="optimizer steps of each memory run")
    parser.add_argument("--train_batch_size", type=int, default=8, help="training and eval batch of the memory runs")
    parser.add_argument("--max_eval_samples", type=int, default=64, help="validation images evaluated")
    parser.add_argument("--limit_gb", type=float, default=6.0, help="stop a run whose memory passes this (GiB)")
    parser.add_argument("--keep_data", action="store_true", help="keep the generated datasets")
    parser.add_argument("--dataloader_num_workers", type=int, default=0, help="DataLoader workers of every run")
    parser.add_argument("--data_dir", default=None, help="speed: the MNIST IDX folder (else $HF_ARGEN_DATA_DIR)")
    parser.add_argument("--rounds", type=int, default=3, help="speed: interleaved rounds")
    parser.add_argument("--speed_steps", type=int, default=60, help="speed: optimizer steps per run")
    parser.add_argument("--speed_batch_size", type=int, default=16, help="speed: --train_batch_size")
    parser.add_argument("--output_json", default=None, help="write the rows here")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    print(f"{os.cpu_count()} CPUs, {sys.platform}, python {sys.version.split()[0]}", flush=True)
    if args.what == "memory":
        print("| images  | model    | code   | peak RSS (GiB)   |   s   |\n|---|---|---|---|---|", flush=True)
        rows = measure_memory(args)
        write_json(args.output_json, rows)
        return 0
    if args.what == "data_path":
        figures = measure_data_path(args)
        print(f"median step (s, wall / CPU) over {args.speed_steps} steps each, batch {args.speed_batch_size}: decoded "
              f"tensor {figures['tensor'][0]:.4f} / {figures['tensor'][1]:.4f}, ImageRows {figures['rows'][0]:.4f} / "
              f"{figures['rows'][1]:.4f}; steps/s ImageRows / tensor = {figures['ratio_wall']:.3f} wall, "
              f"{figures['ratio_cpu']:.3f} CPU")  # fmt: skip
        write_json(args.output_json, figures)
        return 0
    rows = measure_speed(args)
    summary = speed_summary(rows)
    print(f"steps/s (median of {args.rounds} rounds): before {summary['before']:.3f}, after {summary['after']:.3f}; "
          f"after / before = {summary['ratio_after_over_before']:.3f} "
          f"(rounds: {', '.join(f'{r:.3f}' for r in summary['ratios'])})")  # fmt: skip
    write_json(args.output_json, {"rows": rows, "summary": summary})
    return 0


if __name__ == "__main__":
    run_cli(main)
