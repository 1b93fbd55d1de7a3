#!/usr/bin/env python
"""Time one training step (forward + backward + AdamW, batch 64 of 32x32 RGB images, 10-token captions, the emoji
vocabulary of 1,835 words) of the captioner encoders compared for `model_cards/captioner-emoji`, in one run:

    python benchmarks/benchmark_captioner_step.py --num_threads 1

Prints the median step time of each configuration over `--steps` steps (after 2 warm-up steps), `--repeats` times
alternately.
"""

from __future__ import annotations

import time

from hf_argen.cli import run_cli, script_parser

CONFIGS = {
    "conv encoder (48, 96, 192), 3-layer decoder": dict(encoder_type="conv", num_hidden_layers=3),
    "resnet encoder (48, 96, 192), 2-layer decoder": dict(encoder_type="resnet", num_hidden_layers=2),
}


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--num_threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per configuration and repeat")
    parser.add_argument("--repeats", type=int, default=2, help="rounds over the configurations, alternately")
    args = parser.parse_args(argv)
    import torch

    from hf_argen.models import CaptionerConfig, CaptionerForConditionalGeneration

    torch.set_num_threads(args.num_threads)
    for _ in range(args.repeats):
        for name, options in CONFIGS.items():
            torch.manual_seed(0)
            config = CaptionerConfig(
                vocab_size=1835,
                max_position_embeddings=40,
                bos_token_id=1,
                eos_token_id=2,
                pad_token_id=0,
                num_channels=3,
                image_size=32,
                encoder_channels=[48, 96, 192],
                hidden_size=192,
                num_attention_heads=6,
                **options,
            )
            model = CaptionerForConditionalGeneration(config)
            optimizer = torch.optim.AdamW(model.parameters())
            pixels, ids = torch.randn(64, 3, 32, 32), torch.randint(3, 1835, (64, 10))
            times = []
            for _ in range(args.steps + 2):
                start = time.perf_counter()
                model(pixel_values=pixels, decoder_input_ids=ids, labels=ids).loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                times.append(time.perf_counter() - start)
            median = sorted(times[2:])[len(times[2:]) // 2]
            parameters = sum(p.numel() for p in model.parameters()) / 1e6
            print(f"{name}: {median:.3f} s/step (median of {args.steps}), {parameters:.2f} M parameters", flush=True)
    return 0


if __name__ == "__main__":
    run_cli(main)
