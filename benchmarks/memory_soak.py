#!/usr/bin/env python
"""Memory soak: resident memory (RSS) over repeated `generate` / pipeline calls of every model kind.

Each workload is warmed up (`--warmup` calls: caches, allocator pools, lazily built masks), then called
`--num_calls` times; RSS is read (from /proc) after the warm-up and after the last call, with `gc.collect()`
before each reading. Drift = (last - first) / first; a leak shows as drift growing with `--num_calls`.
Workloads use the shipped folders under `model_cards/` (no download), plus a tiny random RNN LM.

    python benchmarks/memory_soak.py                     # 100 calls each, prints a table
    python benchmarks/memory_soak.py --num_calls 300 --output_json soak.json
    python benchmarks/memory_soak.py --max_drift 0.05    # exit 1 if any workload drifts more than 5 %
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import torch

from hf_argen.cli import add_device_argument, resolve_device, run_cli, script_parser, write_json

ROOT = Path(__file__).resolve().parents[1]
CARDS = ROOT / "model_cards"


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; `psutil` elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import psutil

        return psutil.Process().memory_info().rss


def workloads(device: torch.device) -> dict:
    """`{name: zero-argument call}`: one generate/pipeline call each (small batches: the loop, not the batch,
    is what a leak multiplies)."""
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    import hf_argen  # noqa: F401  (registers the Auto classes)
    from hf_argen import ARRNNConfig, ARRNNForCausalLM
    from hf_argen.models import ClassConditionalImageGenerationPipeline

    calls = {}
    pixelcnn = AutoModel.from_pretrained(CARDS / "pixelcnn-digits").to(device).eval()
    calls["pixelcnn-digits generate"] = lambda: pixelcnn.generate(class_labels=[0, 1], seed=0)
    pipe = ClassConditionalImageGenerationPipeline(model=pixelcnn)
    calls["pixelcnn-digits pipeline"] = lambda: pipe(class_labels=[2, 3], seed=0)
    two_stage = AutoModel.from_pretrained(CARDS / "vqvae-prior-mnist").to(device).eval()
    calls["vqvae-prior-mnist generate"] = lambda: two_stage.generate(class_labels=[0, 1], seed=0)
    two_stage_pipe = ClassConditionalImageGenerationPipeline(model=two_stage)
    calls["vqvae-prior-mnist pipeline"] = lambda: two_stage_pipe(class_labels=[4], seed=0)
    vqvae = AutoModel.from_pretrained(CARDS / "vqvae-mnist").to(device).eval()
    images = torch.rand(4, vqvae.config.num_channels, vqvae.config.image_size, vqvae.config.image_size) * 2 - 1

    def round_trip():
        with torch.no_grad():
            return vqvae.decode(vqvae.encode(images.to(device)))

    calls["vqvae-mnist encode+decode"] = round_trip
    lm = AutoModelForCausalLM.from_pretrained(CARDS / "ar-transformer-fortunes").to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(CARDS / "ar-transformer-fortunes")
    prompt = tokenizer(["The"], return_tensors="pt").to(device)
    calls["ar-transformer-fortunes generate"] = lambda: lm.generate(
        **prompt, max_new_tokens=32, do_sample=True, pad_token_id=tokenizer.pad_token_id
    )
    torch.manual_seed(0)
    rnn = ARRNNForCausalLM(ARRNNConfig(vocab_size=64, hidden_size=64, num_hidden_layers=2, pad_token_id=0,
                                       bos_token_id=1, eos_token_id=2)).to(device).eval()  # fmt: skip
    start = torch.tensor([[1]], device=device)
    calls["ar-rnn (random) generate"] = lambda: rnn.generate(start, max_new_tokens=32, do_sample=True)
    for name in ("captioner-mnist-scenes", "captioner-emoji"):
        calls.update(captioner_workloads(name, device))
    return calls


def captioner_workloads(name: str, device: torch.device) -> dict:
    """A shipped captioner: `generate` on 2 preprocessed images (beam search, 3 beams) and the captioning
    pipeline on one PIL image (greedy), images drawn once from a fixed seed."""
    import numpy as np
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor, pipeline

    model = AutoModelForImageTextToText.from_pretrained(CARDS / name).to(device).eval()
    processor = AutoProcessor.from_pretrained(CARDS / name)
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)) for _ in range(2)]
    pixel_values = processor(images=images)["pixel_values"].to(device)
    pipe = pipeline("image-captioning", model=model, tokenizer=processor.tokenizer,
                    image_processor=processor.image_processor, device=device)  # fmt: skip
    return {
        f"{name} generate": lambda: model.generate(pixel_values=pixel_values, num_beams=3, max_new_tokens=16),
        f"{name} pipeline": lambda: pipe(images[0], max_new_tokens=16),
    }


def soak(call, num_calls: int, warmup: int) -> dict:
    with torch.no_grad():
        for _ in range(warmup):
            call()
        gc.collect()
        first = rss_bytes()
        for _ in range(num_calls):
            call()
        gc.collect()
        last = rss_bytes()
    return {"rss_first_mib": first / 2**20, "rss_last_mib": last / 2**20, "drift": (last - first) / first}


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--num_calls", type=int, default=100, help="measured calls per workload")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured calls first")
    parser.add_argument("--only", nargs="+", default=None, help="workload names (substrings) to run")
    parser.add_argument("--max_drift", type=float, default=None, help="exit 1 if a drift exceeds this fraction")
    parser.add_argument("--num_threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--output_json", default=None, help="write the table here as JSON ('-': stdout)")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    if args.num_calls < 1 or args.warmup < 0:
        raise ValueError(f"--num_calls must be >= 1 and --warmup >= 0, got {args.num_calls} and {args.warmup}.")
    torch.set_num_threads(args.num_threads)
    rows = {}
    for name, call in workloads(resolve_device(args.device)).items():
        if args.only and not any(part in name for part in args.only):
            continue
        rows[name] = soak(call, args.num_calls, args.warmup)
    print(f"{'workload':36s} {'calls':>5s} {'RSS first MiB':>13s} {'RSS last MiB':>12s} {'drift':>7s}")
    for name, row in rows.items():
        print(f"{name:36s} {args.num_calls:5d} {row['rss_first_mib']:13.1f} {row['rss_last_mib']:12.1f} "
              f"{100 * row['drift']:+6.2f}%")  # fmt: skip
    write_json(args.output_json, {"num_calls": args.num_calls, "warmup": args.warmup, "workloads": rows})
    if args.max_drift is not None and any(row["drift"] > args.max_drift for row in rows.values()):
        return 1
    return 0


if __name__ == "__main__":
    run_cli(main)
