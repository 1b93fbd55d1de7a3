"""Benchmark image completion against sampling from scratch, on shipped folders.

    python benchmarks/benchmark_completion.py --num_threads 1

For a PixelCNN folder: `generate()` of a batch from scratch, then `generate(pixel_values=..., num_given_rows=r)` for
each `--rows` r (the cached sampler warms its caches on the given rows: a row given in full runs through the
vertical stack only). For a two-stage folder: plain generation against completion of `--code_rows` code rows (the
prior's `generate()` gets the kept codes in its prompt). A class-conditional model is given the classes (no
posterior). Each time is the fastest of `--repeats` rounds after a warm-up round, all measured in this one run; a
round times every variant once, in turn, so that load from other processes falls on all of them alike.
"""

import platform
import time
from functools import partial

import torch
from transformers import AutoModel

from hf_argen.cli import run_cli, script_parser, write_json


def interleaved(functions: dict, repeats: int) -> dict:
    """Fastest time of each function over `repeats` rounds, after a warm-up round; every round runs each function
    once, in turn, so that load from other processes on a shared machine falls on all of them alike."""
    times = {name: [] for name in functions}
    for round_ in range(repeats + 1):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            if round_:
                times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


def table(functions: dict, repeats: int) -> list[dict]:
    seconds = interleaved(functions, repeats)
    scratch = seconds["none (from scratch)"]
    return [{"given": name, "seconds": value, "ratio": value / scratch} for name, value in seconds.items()]


def pixelcnn_rows(model, batch_size: int, rows: list[int], repeats: int) -> list[dict]:
    config = model.config
    labels = dict(class_labels=[i % config.num_classes for i in range(batch_size)]) if config.num_classes else {}
    images = model.generate(seed=1, num_images=batch_size, **labels)
    functions = {"none (from scratch)": partial(model.generate, seed=0, num_images=batch_size, **labels)}
    for given in rows:
        functions[f"{given} of {config.image_size} rows"] = partial(
            model.generate, seed=0, pixel_values=images, num_given_rows=given, **labels
        )
    return table(functions, repeats)


def two_stage_rows(model, batch_size: int, rows: list[int], repeats: int) -> list[dict]:
    labels = [i % model.num_classes for i in range(batch_size)]
    codes = model.generate(class_labels=labels, seed=1, output_type="codes")
    functions = {"none (from scratch)": partial(model.generate, class_labels=labels, seed=0, output_type="codes")}
    size = model.config.vqvae.latent_size
    for given in rows:
        functions[f"{given} of {size} code rows"] = partial(
            model.generate, codes=codes, num_given_rows=given, class_labels=labels, seed=0, output_type="codes"
        )
    return table(functions, repeats)


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--pixelcnn", default="model_cards/pixelcnn-mnist", help="a PixelCNN folder")
    parser.add_argument("--two_stage", nargs="*", default=["model_cards/vqvae-prior-mnist"], help="two-stage folders")
    parser.add_argument("--rows", type=int, nargs="+", default=[7, 14, 21], help="given rows (PixelCNN)")
    parser.add_argument("--code_rows", type=int, nargs="+", default=[3, 4], help="given code rows (two-stage)")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds")
    parser.add_argument("--num_threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--output_json", default=None)
    args = parser.parse_args(argv)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    print(f"# {platform.machine()} CPU, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"batch {args.batch_size}, fastest of {args.repeats} interleaved rounds after a warm-up round")  # fmt: skip
    results = {}
    for folder, measure, given in [(args.pixelcnn, pixelcnn_rows, args.rows)] + [
        (folder, two_stage_rows, args.code_rows) for folder in args.two_stage
    ]:
        model = AutoModel.from_pretrained(folder).eval()
        table = measure(model, args.batch_size, given, args.repeats)
        print(f"\n{folder}\n\n| given | seconds | / from scratch |\n|---|---:|---:|")
        for row in table:
            print(f"| {row['given']} | {row['seconds']:.2f} | {row['ratio']:.2f} |", flush=True)
        results[folder] = table
    write_json(args.output_json, {"num_threads": torch.get_num_threads(), "batch_size": args.batch_size, **results})
    return results


if __name__ == "__main__":
    run_cli(main)
