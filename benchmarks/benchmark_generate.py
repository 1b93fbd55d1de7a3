"""Benchmark `generate()` speed of the causal LMs against `transformers`' GPT-2 of identical size.

Prints three tables:
1. greedy tokens/s of ARTransformerForCausalLM vs GPT2LMHeadModel (same width, depth, heads, MLP, vocabulary,
   learned positions, tied embeddings: identical parameter counts), batch 4, measured interleaved in one run;
2. where a step goes at the first length: the whole `generate()` step, the model's own forward, and the rest;
3. ARRNNForCausalLM per-token time at several generation lengths (should be flat: O(1) per token).

    python benchmarks/benchmark_generate.py [--num_threads 1] [--repeats 9] [--device cuda]
"""

import time

import torch
from transformers import DynamicCache, GPT2Config, GPT2LMHeadModel

from hf_argen import ARRNNConfig, ARRNNForCausalLM, ARTransformerConfig, ARTransformerForCausalLM
from hf_argen.cli import (
    add_device_argument,
    add_hidden_alias,
    resolve_device,
    run_cli,
    script_parser,
    write_json,
)


def parse_args(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--vocab_size", type=int, default=512, help="vocabulary of every model")
    parser.add_argument("--hidden_size", type=int, default=256, help="width of every model")
    parser.add_argument("--num_hidden_layers", type=int, default=4, help="transformer layers (both transformers)")
    parser.add_argument("--num_attention_heads", type=int, default=4, help="attention heads")
    parser.add_argument("--batch_size", type=int, default=4, help="sequences per generate() call")
    parser.add_argument("--prompt_length", type=int, default=16, help="random prompt tokens")
    parser.add_argument("--new_tokens", type=int, nargs="+", default=[64, 512], help="lengths of table 1")
    parser.add_argument("--rnn_new_tokens", type=int, nargs="+", default=[64, 512, 2048], help="lengths of table 2")
    parser.add_argument(
        "--repeats", type=int, default=9, help="timed runs per setting (the fastest is reported: least disturbed)"
    )
    parser.add_argument("--num_threads", type=int, default=1, help="torch CPU threads (1 = quiet on shared CPUs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the prompt")
    parser.add_argument("--output_json", default=None, help="write the tables here as JSON ('-': stdout)")
    add_device_argument(parser)
    add_hidden_alias(parser, "--threads", "num_threads", type=int)
    add_hidden_alias(parser, "--new-tokens", "new_tokens", type=int, nargs="+")
    add_hidden_alias(parser, "--rnn-new-tokens", "rnn_new_tokens", type=int, nargs="+")
    args = parser.parse_args(argv)
    for name in (
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "batch_size",
        "prompt_length",
        "repeats",
    ):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}.")
    return args


def build_models(args):
    torch.manual_seed(args.seed)
    max_positions = args.prompt_length + max(args.new_tokens + args.rnn_new_tokens)
    ours = ARTransformerForCausalLM(
        ARTransformerConfig(
            vocab_size=args.vocab_size,
            hidden_size=args.hidden_size,
            num_hidden_layers=args.num_hidden_layers,
            num_attention_heads=args.num_attention_heads,
            intermediate_size=4 * args.hidden_size,
            max_position_embeddings=max_positions,
        )
    ).eval()
    gpt2 = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=args.vocab_size,
            n_embd=args.hidden_size,
            n_layer=args.num_hidden_layers,
            n_head=args.num_attention_heads,
            n_inner=4 * args.hidden_size,
            n_positions=max_positions,
            attn_implementation="sdpa",
            bos_token_id=None,
            eos_token_id=None,
        )
    ).eval()
    rnn = ARRNNForCausalLM(
        ARRNNConfig(vocab_size=args.vocab_size, hidden_size=args.hidden_size, num_hidden_layers=2, cell_type="lstm")
    ).eval()
    device = resolve_device(args.device)
    return ours.to(device), gpt2.to(device), rnn.to(device)


def num_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())  # tied weights are counted once


@torch.inference_mode()
def time_generate(model, prompt, new_tokens) -> tuple[float, float]:
    """(wall-clock seconds, process CPU seconds) of one greedy `generate` call."""
    if prompt.device.type == "cuda":
        torch.cuda.synchronize(prompt.device)
    start, start_cpu = time.perf_counter(), time.process_time()
    out = model.generate(
        prompt,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        eos_token_id=None,
        pad_token_id=0,
    )
    if prompt.device.type == "cuda":
        torch.cuda.synchronize(prompt.device)
    elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    assert out.shape[1] == prompt.shape[1] + new_tokens
    return elapsed, elapsed_cpu


@torch.inference_mode()
def time_model_steps(model, prompt, new_tokens) -> float:
    """Wall-clock ms per token of the model's own greedy decoding steps on a `DynamicCache` after the prompt: the
    forward calls of `generate()` without its per-token bookkeeping (logits processing, stopping, inputs)."""
    cache = DynamicCache(config=model.config)
    token = model(prompt, cache=cache, use_cache=True).logits[:, -1:].argmax(-1)
    if prompt.device.type == "cuda":
        torch.cuda.synchronize(prompt.device)
    start = time.perf_counter()
    for _ in range(new_tokens - 1):
        token = model(token, cache=cache, use_cache=True).logits[:, -1:].argmax(-1)
    if prompt.device.type == "cuda":
        torch.cuda.synchronize(prompt.device)
    return 1000 * (time.perf_counter() - start) / (new_tokens - 1)


def split_step_time(ours, gpt2, prompt, new_tokens: int, repeats: int) -> dict:
    """Per generated token (ms, wall, fastest of `repeats`): the whole `generate()` step ((time of `new_tokens` -
    time of 1) / (`new_tokens` - 1)) and the model's own forward step; the difference is `generate()`'s own work."""
    split = {}
    for name, model in (("ar_transformer", ours), ("gpt2", gpt2)):
        one = min(time_generate(model, prompt, 1)[0] for _ in range(repeats))
        full = min(time_generate(model, prompt, new_tokens)[0] for _ in range(repeats))
        model_step = min(time_model_steps(model, prompt, new_tokens) for _ in range(repeats))
        split[name] = {"generate_step_ms": 1000 * (full - one) / (new_tokens - 1), "model_step_ms": model_step}
    return split


def main(argv=None):
    args = parse_args(argv)
    device = resolve_device(args.device)
    torch.set_num_threads(args.num_threads)
    ours, gpt2, rnn = build_models(args)
    prompt = torch.randint(
        0,
        args.vocab_size,
        (args.batch_size, args.prompt_length),
        generator=torch.Generator().manual_seed(args.seed),
    ).to(device)
    figures = {"device": str(device), "num_threads": torch.get_num_threads(), "throughput": [], "rnn_per_token": []}
    print(
        f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, batch {args.batch_size}, "
        f"prompt {args.prompt_length} tokens, greedy, fastest of {args.repeats} interleaved runs"
    )
    print(
        f"parameters: ARTransformerForCausalLM {num_parameters(ours):,}, "
        f"GPT2LMHeadModel {num_parameters(gpt2):,}, "
        f"ARRNNForCausalLM (2-layer LSTM) {num_parameters(rnn):,}\n"
    )

    print("Throughput = batch * new tokens / time; wall = wall-clock, cpu = this process's CPU time (less")
    print("sensitive to other jobs on a shared machine). Ratio = ARTransformer / GPT-2.\n")
    print("| new tokens | ARTransformer tok/s (wall / cpu) | GPT-2 tok/s (wall / cpu) | ratio wall | ratio cpu |")
    print("|---:|---:|---:|---:|---:|")
    for new_tokens in args.new_tokens:
        for model in (ours, gpt2):  # warm-up
            time_generate(model, prompt, min(new_tokens, 16))
        runs = {"ours": [], "gpt2": []}
        for _ in range(args.repeats):  # interleaved, so both see the same machine load
            runs["ours"].append(time_generate(ours, prompt, new_tokens))
            runs["gpt2"].append(time_generate(gpt2, prompt, new_tokens))
        tokens = args.batch_size * new_tokens
        tps = {name: [tokens / min(run[k] for run in values) for k in (0, 1)] for name, values in runs.items()}
        print(
            f"| {new_tokens} | {tps['ours'][0]:,.0f} / {tps['ours'][1]:,.0f} | "
            f"{tps['gpt2'][0]:,.0f} / {tps['gpt2'][1]:,.0f} | {tps['ours'][0] / tps['gpt2'][0]:.2f}x | "
            f"{tps['ours'][1] / tps['gpt2'][1]:.2f}x |"
        )
        figures["throughput"].append(
            {
                "new_tokens": new_tokens,
                "ar_transformer_tokens_per_s": tps["ours"][0],
                "gpt2_tokens_per_s": tps["gpt2"][0],
            }
        )

    steps = max(2, args.new_tokens[0])
    split = split_step_time(ours, gpt2, prompt, steps, args.repeats)
    print(f"\nWhere a step goes, {steps} new tokens (ms per token, wall): the whole generate() step, the model's own")
    print("forward on the cache, and the rest (generate()'s per-token work: logits processing, stopping, inputs):\n")
    print("| model | generate() step | model step | generate()'s own work |")
    print("|---|---:|---:|---:|")
    for name, label in (("ar_transformer", "ARTransformer"), ("gpt2", "GPT-2")):
        row = split[name]
        print(f"| {label} | {row['generate_step_ms']:.2f} | {row['model_step_ms']:.2f} | "
              f"{row['generate_step_ms'] - row['model_step_ms']:.2f} |")  # fmt: skip
    figures["step_split"] = {"new_tokens": steps, **split}

    print("\nPer-token time of one generate() step (batch of the same size), ms, wall / cpu:\n")
    print("| new tokens | ARRNN (2-layer LSTM) | ARTransformer |")
    print("|---:|---:|---:|")
    time_generate(rnn, prompt, 16)
    for new_tokens in args.rnn_new_tokens:
        repeats = max(1, args.repeats if new_tokens <= 512 else args.repeats // 2)
        cells = []
        for model in (rnn, ours):
            if args.prompt_length + new_tokens > getattr(model.config, "max_position_embeddings", float("inf")):
                cells.append("(past max_position_embeddings)")
                continue
            runs = [time_generate(model, prompt, new_tokens) for _ in range(repeats)]
            wall, cpu = (1000 * min(run[k] for run in runs) / new_tokens for k in (0, 1))
            cells.append(f"{wall:.2f} / {cpu:.2f}")
        print(f"| {new_tokens} | {cells[0]} | {cells[1]} |")
        figures["rnn_per_token"].append(
            {"new_tokens": new_tokens, "ar_rnn_ms": cells[0], "ar_transformer_ms": cells[1]}
        )
    write_json(args.output_json, figures)
    return figures


if __name__ == "__main__":
    run_cli(main)
