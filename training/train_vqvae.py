#!/usr/bin/env python
"""Train a VQ-VAE (EMA codebook) with Accelerate.

    accelerate launch training/train_vqvae.py --dataset_name mnist --output_dir out

Flags follow the `diffusers` example scripts. The loop itself is `hf_argen.training.Trainer`; every
`--eval_steps` (and at the end) it logs, on the eval split: reconstruction MSE, PSNR, codebook usage,
perplexity; every `--sample_steps` (and at the end) it writes a reconstruction grid to `output_dir/samples/`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch

try:  # run from a clean clone without `pip install -e .`
    import hf_argen  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset_name",
        default="mnist",
        help="mnist | fashion_mnist | digits | a Hub id | a local folder (imagefolder or save_to_disk).",
    )
    data.add_argument("--dataset_split", default="train")
    data.add_argument("--eval_split", default="test", help="split to evaluate on; 'none' to skip.")
    data.add_argument(
        "--data_dir",
        default=None,
        help="folder with MNIST/Fashion-MNIST IDX files (else $HF_ARGEN_DATA_DIR).",
    )
    data.add_argument("--image_column", default=None)
    data.add_argument(
        "--image_size", type=int, default=None, help="resize to this size (default: as stored)."
    )
    data.add_argument("--num_channels", type=int, default=1, choices=[1, 3])

    model = parser.add_argument_group("model (see VQVAEConfig)")
    model.add_argument("--init_model", default=None, help="start from this saved model (fine-tuning).")
    model.add_argument("--num_embeddings", type=int, default=512)
    model.add_argument("--embedding_dim", type=int, default=32)
    model.add_argument("--hidden_size", type=int, default=64)
    model.add_argument("--num_residual_layers", type=int, default=2)
    model.add_argument("--residual_hidden_size", type=int, default=32)
    model.add_argument("--downsample_factor", type=int, default=4)
    model.add_argument("--commitment_cost", type=float, default=0.25)
    model.add_argument("--codebook_update", default="ema", choices=["ema", "gradient"])
    model.add_argument("--decay", type=float, default=0.99)
    model.add_argument("--epsilon", type=float, default=1e-5)
    model.add_argument("--no_kmeans_init", action="store_true")
    model.add_argument("--kmeans_iters", type=int, default=10)
    model.add_argument("--dead_code_steps", type=int, default=100)

    train = parser.add_argument_group("training")
    train.add_argument("--output_dir", required=True)
    train.add_argument("--train_batch_size", type=int, default=128, help="per process")
    train.add_argument("--eval_batch_size", type=int, default=500)
    train.add_argument("--learning_rate", type=float, default=3e-4)
    train.add_argument("--lr_scheduler", default="constant")
    train.add_argument("--lr_warmup_steps", type=int, default=0)
    train.add_argument("--weight_decay", type=float, default=0.0)
    train.add_argument("--max_grad_norm", type=float, default=None)
    train.add_argument("--num_train_epochs", type=int, default=10)
    train.add_argument("--max_train_steps", type=int, default=None)
    train.add_argument("--gradient_accumulation_steps", type=int, default=1)
    train.add_argument("--mixed_precision", default="no", choices=["no", "fp16", "bf16"])
    train.add_argument("--checkpointing_steps", type=int, default=500)
    train.add_argument("--checkpoints_total_limit", type=int, default=2)
    train.add_argument("--resume_from_checkpoint", default=None, help="a checkpoint folder or 'latest'.")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--report_to", default="none", choices=["none", "tensorboard"])
    train.add_argument("--logging_steps", type=int, default=50)
    train.add_argument("--eval_steps", type=int, default=None)
    train.add_argument("--sample_steps", type=int, default=None)
    train.add_argument("--num_sample_images", type=int, default=20, help="images in the reconstruction grid.")
    train.add_argument(
        "--num_threads", type=int, default=None, help="torch.set_num_threads for this process."
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from transformers.utils import logging as hf_logging

    from hf_argen import VQVAEConfig, VQVAEModel
    from hf_argen.training import TensorDictDataset, Trainer, TrainingArguments
    from hf_argen.vqvae_training import load_pixel_values, make_eval_fn, make_sample_fn

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    hf_logging.set_verbosity_warning()
    logging.getLogger("accelerate").setLevel(logging.WARNING)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)

    load = dict(
        data_dir=args.data_dir,
        num_channels=args.num_channels,
        image_size=args.image_size,
        image_column=args.image_column,
    )
    train_pixels = load_pixel_values(args.dataset_name, args.dataset_split, **load)
    eval_pixels = (
        None if args.eval_split == "none" else load_pixel_values(args.dataset_name, args.eval_split, **load)
    )
    shown = (eval_pixels if eval_pixels is not None else train_pixels)[: args.num_sample_images]

    if args.init_model:
        model = VQVAEModel.from_pretrained(args.init_model)
    else:
        config = VQVAEConfig(
            image_size=train_pixels.shape[-1],
            num_channels=args.num_channels,
            num_embeddings=args.num_embeddings,
            embedding_dim=args.embedding_dim,
            hidden_size=args.hidden_size,
            num_residual_layers=args.num_residual_layers,
            residual_hidden_size=args.residual_hidden_size,
            downsample_factor=args.downsample_factor,
            commitment_cost=args.commitment_cost,
            codebook_update=args.codebook_update,
            decay=args.decay,
            epsilon=args.epsilon,
            kmeans_init=not args.no_kmeans_init,
            kmeans_iters=args.kmeans_iters,
            dead_code_steps=args.dead_code_steps,
        )
        torch.manual_seed(args.seed)
        model = VQVAEModel(config)

    training_args = TrainingArguments.from_namespace(args, tracker_project_name="vqvae")
    trainer = Trainer(
        model,
        training_args,
        train_dataset=TensorDictDataset(pixel_values=train_pixels),
        eval_fn=None if eval_pixels is None else make_eval_fn(eval_pixels, batch_size=args.eval_batch_size),
        sample_fn=make_sample_fn(shown),
        tracker_config={"dataset_name": args.dataset_name, **model.config.to_dict()},
    )
    result = trainer.train()
    if trainer.accelerator.is_main_process:
        logging.getLogger(__name__).info("final metrics: %s", json.dumps(result.metrics))
    return result


if __name__ == "__main__":
    main()
