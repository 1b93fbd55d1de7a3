#!/usr/bin/env python
"""Train a class-conditional latent prior over the codes of a trained VQ-VAE.

    python training/train_prior.py --vqvae model_cards/vqvae-mnist --prior transformer --output_dir out

The train and eval splits are encoded once with the VQ-VAE and cached as `datasets` datasets under
`--cache_dir` (default `output_dir/codes`), keyed by the VQ-VAE's weights. The prior (`--prior transformer`:
`ARTransformerForCausalLM`, `--prior rnn`: `ARRNNForCausalLM`, `--prior pixelcnn`: a class-conditional
`PixelCNNForImageGeneration` over the code map with num_levels = K) is trained on `[class token] + h*w codes` in
raster order (token layout: `hf_argen.prior_training.PriorVocabulary`) with the shared loop
`hf_argen.training.Trainer`; it logs the eval split's NLL (nats per code, bits per image) and writes sample
grids. At the end `output_dir/pipeline/` holds the two-stage pipeline (vqvae/ + prior/), loadable with
`hf_argen.pipelines.VQImageGenerationPipeline.from_pretrained`.
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
    data.add_argument("--vqvae", required=True, help="a saved VQVAEModel folder (e.g. model_cards/vqvae-mnist).")
    data.add_argument(
        "--dataset_name",
        default="mnist",
        help="mnist | fashion_mnist | a Hub id | a local folder (imagefolder or save_to_disk); needs labels.",
    )
    data.add_argument("--dataset_split", default="train")
    data.add_argument("--eval_split", default="test", help="split to evaluate on; 'none' to skip.")
    data.add_argument("--data_dir", default=None, help="folder with IDX files (else $HF_ARGEN_DATA_DIR).")
    data.add_argument("--image_column", default=None)
    data.add_argument("--cache_dir", default=None, help="where the code datasets go (default output_dir/codes).")
    data.add_argument("--num_classes", type=int, default=10)

    model = parser.add_argument_group("prior")
    model.add_argument("--prior", default="transformer", choices=["transformer", "rnn", "pixelcnn"])
    model.add_argument("--hidden_size", type=int, default=128)
    model.add_argument("--num_hidden_layers", type=int, default=4)
    model.add_argument("--num_attention_heads", type=int, default=4, help="transformer only.")
    model.add_argument("--cell_type", default="lstm", choices=["lstm", "gru"], help="rnn only.")
    model.add_argument("--hidden_dropout", type=float, default=0.0)

    train = parser.add_argument_group("training")
    train.add_argument("--output_dir", required=True)
    train.add_argument("--train_batch_size", type=int, default=64, help="per process")
    train.add_argument("--eval_batch_size", type=int, default=500)
    train.add_argument("--learning_rate", type=float, default=1e-3)
    train.add_argument("--lr_scheduler", default="cosine")
    train.add_argument("--lr_warmup_steps", type=int, default=100)
    train.add_argument("--weight_decay", type=float, default=0.0)
    train.add_argument("--max_grad_norm", type=float, default=1.0)
    train.add_argument("--num_train_epochs", type=int, default=1)
    train.add_argument("--max_train_steps", type=int, default=None)
    train.add_argument("--checkpointing_steps", type=int, default=500)
    train.add_argument("--checkpoints_total_limit", type=int, default=2)
    train.add_argument("--resume_from_checkpoint", default=None, help="a checkpoint folder or 'latest'.")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--report_to", default="none", choices=["none", "tensorboard"])
    train.add_argument("--logging_steps", type=int, default=50)
    train.add_argument("--eval_steps", type=int, default=None)
    train.add_argument("--sample_steps", type=int, default=None)
    train.add_argument("--max_eval_samples", type=int, default=None, help="evaluate during training on a prefix.")
    train.add_argument("--num_threads", type=int, default=None, help="torch.set_num_threads for this process.")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from transformers.utils import logging as hf_logging

    from hf_argen import VQVAEModel
    from hf_argen.pipelines import VQImageGenerationPipeline
    from hf_argen.prior_training import (
        PriorVocabulary,
        build_prior,
        dataset_to_tensors,
        load_code_dataset,
        make_eval_fn,
        make_sample_fn,
        pixelcnn_inputs,
    )
    from hf_argen.training import TensorDictDataset, Trainer, TrainingArguments

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    hf_logging.set_verbosity_warning()
    logging.getLogger("accelerate").setLevel(logging.WARNING)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)

    vqvae = VQVAEModel.from_pretrained(args.vqvae).eval()
    vocabulary = PriorVocabulary(num_codes=vqvae.config.num_embeddings, num_classes=args.num_classes)
    cache_dir = args.cache_dir or str(Path(args.output_dir) / "codes")
    load = dict(cache_dir=cache_dir, data_dir=args.data_dir, image_column=args.image_column)

    def sequences_of(split):
        codes, labels = dataset_to_tensors(load_code_dataset(vqvae, args.dataset_name, split, **load))
        return vocabulary.sequences(codes, labels)

    train_sequences = sequences_of(args.dataset_split)
    eval_sequences = None if args.eval_split == "none" else sequences_of(args.eval_split)
    if eval_sequences is not None and args.max_eval_samples:
        eval_sequences = eval_sequences[: args.max_eval_samples]

    torch.manual_seed(args.seed)
    prior = build_prior(
        args.prior,
        vocabulary,
        sequence_length=train_sequences.shape[1],
        hidden_size=args.hidden_size,
        num_hidden_layers=args.num_hidden_layers,
        num_attention_heads=args.num_attention_heads,
        hidden_dropout=args.hidden_dropout,
        cell_type=args.cell_type,
    )
    training_args = TrainingArguments.from_namespace(args, tracker_project_name="prior")

    def save_fn(model, output_dir):
        model.save_pretrained(Path(output_dir) / "prior")
        VQImageGenerationPipeline(vqvae, model, num_classes=args.num_classes).save_pretrained(
            Path(output_dir) / "pipeline"
        )

    trainer = Trainer(
        prior,
        training_args,
        train_dataset=(
            TensorDictDataset(**pixelcnn_inputs(train_sequences, vocabulary))
            if args.prior == "pixelcnn"
            else TensorDictDataset(input_ids=train_sequences, labels=train_sequences)
        ),
        eval_fn=None if eval_sequences is None else make_eval_fn(eval_sequences, batch_size=args.eval_batch_size),
        sample_fn=make_sample_fn(vqvae, vocabulary, num_per_class=2, seed=args.seed),
        save_fn=save_fn,
        tracker_config={"vqvae": args.vqvae, "prior": args.prior, **prior.config.to_dict()},
    )
    result = trainer.train()
    if trainer.accelerator.is_main_process:
        logging.getLogger(__name__).info("final metrics: %s", json.dumps(result.metrics))
    return result


if __name__ == "__main__":
    main()
