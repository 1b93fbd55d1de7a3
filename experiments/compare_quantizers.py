#!/usr/bin/env python
"""Compare quantisers inside the same VQ-VAE, in one run: same data and data order, same steps, same code
size.

    python experiments/compare_quantizers.py --dataset_name mnist --max_train_steps 1500

Rows:
* ``hf_argen EMA``: this package's quantiser (`codebook_update="ema"`, k-means++ init on the first batch,
  dead-code restart after `--dead_code_steps` unused steps).
* ``vector_quantize_pytorch``: `VectorQuantize` (EMA with the same decay, `kmeans_init=True`,
  `threshold_ema_dead_code=2`: codes whose EMA cluster size falls below 2 are re-seeded from the batch).
* ``plain gradient codebook``: the original VQ-VAE codebook, a parameter trained by the codebook loss
  ||sg(z_e) - e||^2, uniform init, no k-means, no restarts.

Encoder, decoder, commitment weight, optimiser, seed and data order are identical; only the quantiser differs.
Each model is trained by the shared loop (`hf_argen.training.TrainingLoop`) and evaluated on the test split with
`hf_argen.recipes.vqvae.evaluate_vqvae`. Prints a Markdown table.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time

import torch
from torch import nn

from hf_argen.cli import add_device_argument, resolve_device, run_cli, script_parser, write_json


class VectorQuantizeAdapter(nn.Module):
    """`vector_quantize_pytorch.VectorQuantize` behind the `VQVAEQuantizer` interface."""

    def __init__(self, config, threshold_ema_dead_code: float = 2.0):
        super().__init__()
        from vector_quantize_pytorch import VectorQuantize

        self.vq = VectorQuantize(
            dim=config.embedding_dim,
            codebook_size=config.num_embeddings,
            decay=config.decay,
            eps=config.epsilon,
            kmeans_init=True,
            kmeans_iters=config.kmeans_iters,
            threshold_ema_dead_code=threshold_ema_dead_code,
            commitment_weight=1.0,  # VQVAEModel applies commitment_cost itself
            accept_image_fmap=True,
        )

    def forward(self, latents, update: bool = False):
        from hf_argen.models.modeling_vqvae import QuantizerOutput

        quantized, codes, commitment = self.vq(latents)
        counts = torch.bincount(codes.flatten(), minlength=self.vq.codebook_size).float()
        probs = counts / counts.sum()
        nonzero = probs[probs > 0]
        return QuantizerOutput(
            quantized=quantized,
            codes=codes,
            commitment_loss=commitment.sum(),
            codebook_loss=latents.new_zeros(()),
            perplexity=torch.exp(-(nonzero * nonzero.log()).sum()),
            codebook_usage=(counts > 0).float().mean(),
        )


def parse_args(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--dataset_name", default="mnist", help="mnist, fashion_mnist, digits, a folder or Hub id")
    parser.add_argument("--data_dir", default=None, help="folder with IDX files (else $HF_ARGEN_DATA_DIR)")
    parser.add_argument("--split", default="test", help="split the metrics are measured on (training: 'train')")
    parser.add_argument("--max_train_steps", type=int, default=1500, help="training steps per quantiser")
    parser.add_argument("--train_batch_size", type=int, default=128, help="training batch")
    parser.add_argument("--batch_size", type=int, default=500, help="evaluation batch")
    parser.add_argument("--learning_rate", type=float, default=3e-4, help="Adam learning rate")
    parser.add_argument("--num_embeddings", type=int, default=512, help="codebook size K")
    parser.add_argument("--embedding_dim", type=int, default=32, help="code dimension d")
    parser.add_argument("--hidden_size", type=int, default=64, help="encoder/decoder width")
    parser.add_argument("--decay", type=float, default=0.99, help="EMA decay of the codebook")
    parser.add_argument("--dead_code_steps", type=int, default=100, help="restart a code unused this many steps")
    parser.add_argument(
        "--max_train_samples", type=int, default=None, help="use only the first N training images (a quick run)"
    )
    parser.add_argument("--max_eval_samples", type=int, default=None, help="evaluate the first N images only")
    parser.add_argument(
        "--only", nargs="*", default=None, choices=["ema", "vqtorch", "gradient"], help="run only these rows"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation and data order")
    parser.add_argument("--num_threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--output_json", default=None, help="write the table here as JSON ('-': stdout)")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    for name in ("max_train_steps", "train_batch_size", "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}.")
    return args


def main(argv=None):
    args = parse_args(argv)
    device = resolve_device(args.device)
    from hf_argen import VQVAEConfig, VQVAEModel
    from hf_argen.recipes.vqvae import evaluate_vqvae, load_pixel_values
    from hf_argen.training import LoopArguments, TensorDictDataset, TrainingLoop

    logging.basicConfig(level=logging.WARNING)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    train = load_pixel_values(args.dataset_name, "train", data_dir=args.data_dir)[: args.max_train_samples]
    test = load_pixel_values(args.dataset_name, args.split, data_dir=args.data_dir)[: args.max_eval_samples]
    common = dict(
        image_size=train.shape[-1],
        num_channels=train.shape[1],
        num_embeddings=args.num_embeddings,
        embedding_dim=args.embedding_dim,
        hidden_size=args.hidden_size,
        decay=args.decay,
    )
    variants = {
        "ema": (
            "hf_argen EMA (k-means++, dead-code restart)",
            VQVAEConfig(**common, dead_code_steps=args.dead_code_steps),
        ),
        "vqtorch": (
            "vector_quantize_pytorch VectorQuantize (EMA, kmeans_init, threshold_ema_dead_code=2)",
            VQVAEConfig(**common),
        ),
        "gradient": (
            "plain gradient codebook (no EMA, no k-means, no restart)",
            VQVAEConfig(**common, codebook_update="gradient", kmeans_init=False, dead_code_steps=0),
        ),
    }
    rows = []
    for key, (label, config) in variants.items():
        if args.only and key not in args.only:
            continue
        torch.manual_seed(args.seed)
        model = VQVAEModel(config)  # identical encoder/decoder initialisation for every row
        if key == "vqtorch":
            model.quantizer = VectorQuantizeAdapter(config)
        with tempfile.TemporaryDirectory() as output_dir:
            training_args = LoopArguments(
                output_dir=output_dir,
                train_batch_size=args.train_batch_size,
                learning_rate=args.learning_rate,
                max_train_steps=args.max_train_steps,
                max_grad_norm=None,
                checkpointing_steps=None,
                seed=args.seed,
                logging_steps=max(args.max_train_steps // 5, 1),
                use_cpu=device.type == "cpu",
            )
            trainer = TrainingLoop(
                model,
                training_args,
                train_dataset=TensorDictDataset(pixel_values=train),
                save_fn=lambda model, output_dir: None,
            )
            start = time.perf_counter()
            trainer.train()
            seconds = time.perf_counter() - start
        metrics = evaluate_vqvae(model.to(device), test, batch_size=args.batch_size)
        rows.append((label, metrics, seconds / args.max_train_steps))
        print(f"done: {label}: {metrics}", file=sys.stderr, flush=True)

    k = args.num_embeddings
    print(
        f"\n{args.dataset_name}: {len(train)} train images, {args.max_train_steps} steps of "
        f"{args.train_batch_size}, K={k}, d={args.embedding_dim}, "
        f"{config.latent_size}x{config.latent_size} codes; metrics on {len(test)} {args.split} images\n"
    )
    print("| quantiser | PSNR (dB) | codebook usage | perplexity (of K) | train s/step |")
    print("|---|---|---|---|---|")
    for label, metrics, per_step in rows:
        print(
            f"| {label} | {metrics['psnr']:.2f} | {100 * metrics['codebook_usage']:.1f} % "
            f"({metrics['codes_used']}/{k}) | {metrics['perplexity']:.1f} / {k} | {per_step:.3f} |"
        )
    result = [{"quantizer": label, **metrics, "train_seconds_per_step": per_step} for label, metrics, per_step in rows]
    write_json(args.output_json, {"dataset": args.dataset_name, "split": args.split, "rows": result})
    return result


if __name__ == "__main__":
    run_cli(main)
