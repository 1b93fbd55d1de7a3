"""The lecture's comparison on one table: test bits/dim of five models of 8x8 digits (17 levels).

Models, all unconditional and all exact likelihoods:
1. independent per-pixel categorical (counts + Jeffreys smoothing, alpha = 0.5);
2. ARRNNForCausalLM (LSTM) over the 64 pixels flattened in raster order, after a BOS token;
3. ARTransformerForCausalLM over the same sequences;
4. masked PixelCNN (`PixelCNNConfig(architecture="masked")`, with blind spot);
5. gated PixelCNN (vertical + horizontal stacks, no blind spot).

Data: scikit-learn digits, the project's fixed split (test = index % 5 == 0: 360 images; train: 1,437).
Training uses the shared loop (`hf_argen.training.TrainingLoop`) with the same budget for every neural model;
each model is saved under `--output_dir/<name>`, and a rerun reuses finished models (and resumes unfinished
ones from their last checkpoint).

    python experiments/compare_digits_models.py --output_dir runs/digits-compare
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import torch

from hf_argen import (
    ARRNNConfig,
    ARRNNForCausalLM,
    ARTransformerConfig,
    ARTransformerForCausalLM,
    PixelCNNConfig,
    PixelCNNForImageGeneration,
)
from hf_argen.atomic import atomic_write_text
from hf_argen.cli import add_device_argument, resolve_device, run_cli, script_parser, write_json
from hf_argen.evaluation import independent_categorical_log_likelihood
from hf_argen.recipes.mnist import digits_split_indices
from hf_argen.training import LoopArguments, TensorDictDataset, TrainingLoop

NUM_LEVELS, SIZE = 17, 8
NUM_PIXELS = SIZE * SIZE
BOS = NUM_LEVELS  # token id of the sequence models' start token
MODELS = ("independent", "rnn", "transformer", "pixelcnn-masked", "pixelcnn-gated")


def parse_args(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--output_dir", required=True, help="models are saved (and reused) under output_dir/<name>")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="models to compare")
    parser.add_argument("--num_train_epochs", type=int, default=60, help="epochs of every neural model")
    parser.add_argument("--train_batch_size", type=int, default=32, help="training batch")
    parser.add_argument("--batch_size", type=int, default=256, help="evaluation batch")
    parser.add_argument("--learning_rate", type=float, default=2e-3, help="peak learning rate (cosine schedule)")
    parser.add_argument("--hidden_size", type=int, default=128, help="width of the RNN and the transformer")
    parser.add_argument("--dropout", type=float, default=0.2, help="dropout of every neural model")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation and data order")
    parser.add_argument("--num_threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--output_json",
        default=None,
        help="also write the table here as JSON (besides output_dir/comparison_table.json)",
    )
    add_device_argument(parser)
    args = parser.parse_args(argv)
    for name in ("num_train_epochs", "train_batch_size", "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}.")
    return args


def load_digits_levels() -> dict[str, torch.Tensor]:
    """`{"train": (1437, 1, 8, 8), "test": (360, 1, 8, 8)}` long levels in [0, 17)."""
    from sklearn.datasets import load_digits

    images = torch.as_tensor(load_digits().images, dtype=torch.long)[:, None]
    return {split: images[torch.as_tensor(digits_split_indices(split, len(images)))] for split in ("train", "test")}


def to_sequence(pixel_values: torch.Tensor) -> torch.Tensor:
    """`(B, 1, 8, 8)` levels -> `(B, 65)` tokens: BOS, then the pixels in raster order."""
    flat = pixel_values.flatten(1)
    return torch.cat([torch.full_like(flat[:, :1], BOS), flat], dim=1)


# ---- models -------------------------------------------------------------------------------------------------
def build(name: str, args):
    torch.manual_seed(args.seed)
    if name == "rnn":
        return ARRNNForCausalLM(
            ARRNNConfig(
                vocab_size=NUM_LEVELS + 1,
                hidden_size=args.hidden_size,
                num_hidden_layers=2,
                cell_type="lstm",
                hidden_dropout=args.dropout,
                bos_token_id=BOS,
            )
        )
    if name == "transformer":
        return ARTransformerForCausalLM(
            ARTransformerConfig(
                vocab_size=NUM_LEVELS + 1,
                hidden_size=args.hidden_size,
                num_hidden_layers=4,
                num_attention_heads=4,
                max_position_embeddings=NUM_PIXELS + 1,
                position_embedding_type="learned",
                hidden_dropout=args.dropout,
                bos_token_id=BOS,
            )
        )
    architecture = name.split("-")[1]
    return PixelCNNForImageGeneration(
        PixelCNNConfig(
            image_size=SIZE,
            num_channels=1,
            num_levels=NUM_LEVELS,
            hidden_size=64,
            num_hidden_layers=6,
            kernel_size=3,
            first_kernel_size=5,
            output_hidden_size=128,
            architecture=architecture,
            dropout=args.dropout,
        )
    )


def loss_fn(name: str):
    if name in ("rnn", "transformer"):

        def sequence_loss(model, batch):
            tokens = to_sequence(batch["pixel_values"])
            return model(input_ids=tokens, labels=tokens, use_cache=False).loss  # nats per pixel

        return sequence_loss

    def pixelcnn_loss(model, batch):
        return model(pixel_values=batch["pixel_values"], labels=batch["pixel_values"]).loss

    return pixelcnn_loss


@torch.no_grad()
def log_likelihood(name: str, model, pixel_values: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Exact log p(x) in nats per image, `(N,)` on the CPU (batches run on the model's device)."""
    from tqdm.auto import tqdm

    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in tqdm(range(0, len(pixel_values), batch_size), desc=f"log p(x) {name}", unit="batch", leave=False):
        batch = pixel_values[start : start + batch_size].to(device)
        if name in ("rnn", "transformer"):
            tokens = to_sequence(batch)
            log_probs = torch.log_softmax(model(input_ids=tokens, use_cache=False).logits[:, :-1].double(), -1)
            out.append(log_probs.gather(-1, tokens[:, 1:, None]).squeeze(-1).sum(1).cpu())
        else:
            out.append(model.log_likelihood(batch).double().cpu())
    return torch.cat(out)


def bits_per_dim(log_likelihood_nats: torch.Tensor) -> float:
    return (-log_likelihood_nats.mean() / (NUM_PIXELS * math.log(2))).item()


def train_model(name: str, data: dict, args) -> tuple[torch.nn.Module, float]:
    output_dir = Path(args.output_dir, name)
    model_class = {"rnn": ARRNNForCausalLM, "transformer": ARTransformerForCausalLM}.get(
        name, PixelCNNForImageGeneration
    )
    if (output_dir / "train_results.json").exists() and (output_dir / "model.safetensors").exists():
        info = (
            json.loads((output_dir / "comparison.json").read_text())
            if (output_dir / "comparison.json").exists()
            else {}
        )
        return model_class.from_pretrained(output_dir), info.get("train_seconds", float("nan"))
    model = build(name, args)
    training_args = LoopArguments(
        output_dir=str(output_dir),
        train_batch_size=args.train_batch_size,
        learning_rate=args.learning_rate,
        lr_scheduler="cosine",
        lr_warmup_steps=50,
        num_train_epochs=args.num_train_epochs,
        seed=args.seed,
        checkpointing_steps=500,
        checkpoints_total_limit=1,
        resume_from_checkpoint="latest",
        logging_steps=200,
        weight_decay=0.01,
        use_cpu=resolve_device(args.device).type == "cpu",
    )
    trainer = TrainingLoop(
        model, training_args, TensorDictDataset(pixel_values=data["train"]), compute_loss=loss_fn(name)
    )
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    atomic_write_text(output_dir / "comparison.json", json.dumps({"train_seconds": seconds}))
    return trainer.unwrapped_model, seconds


def main(argv=None):
    args = parse_args(argv)
    device = resolve_device(args.device)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    logging.getLogger("accelerate").setLevel(logging.WARNING)
    torch.set_num_threads(args.num_threads)
    data = load_digits_levels()
    rows = []
    for name in args.models:
        if name == "independent":
            train_ll = independent_categorical_log_likelihood(data["train"], data["train"], NUM_LEVELS)
            test_ll = independent_categorical_log_likelihood(data["train"], data["test"], NUM_LEVELS)
            rows.append((name, NUM_PIXELS * (NUM_LEVELS - 1), bits_per_dim(train_ll), bits_per_dim(test_ll), 0.0))
            continue
        model, seconds = train_model(name, data, args)
        model.to(device)
        parameters = sum(p.numel() for p in model.parameters())
        rows.append(
            (
                name,
                parameters,
                bits_per_dim(log_likelihood(name, model, data["train"], args.batch_size)),
                bits_per_dim(log_likelihood(name, model, data["test"], args.batch_size)),
                seconds,
            )
        )
        logging.info("%s: test %.4f bits/dim", name, rows[-1][3])

    labels = {
        "independent": "independent per-pixel categorical",
        "rnn": "ARRNNForCausalLM (2-layer LSTM) over flattened pixels",
        "transformer": "ARTransformerForCausalLM (4 layers) over flattened pixels",
        "pixelcnn-masked": "masked PixelCNN (blind spot)",
        "pixelcnn-gated": "gated PixelCNN",
    }
    print(
        f"\ndigits 8x8, 17 levels, fixed split (train 1,437 / test 360); {args.num_train_epochs} epochs, "
        f"batch {args.train_batch_size}, lr {args.learning_rate} cosine, dropout {args.dropout}, seed {args.seed}\n"
    )
    print("| model | parameters | train bits/dim | test bits/dim | train time (s) |")
    print("|---|---:|---:|---:|---:|")
    for name, parameters, train_bpd, test_bpd, seconds in rows:
        print(f"| {labels[name]} | {parameters:,} | {train_bpd:.3f} | {test_bpd:.3f} | {seconds:.0f} |")
    table = [
        dict(zip(("model", "parameters", "train_bits_per_dim", "test_bits_per_dim", "train_seconds"), row))
        for row in rows
    ]
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(args.output_dir, "comparison_table.json"), json.dumps(table, indent=2))
    write_json(args.output_json, table)
    return table


if __name__ == "__main__":
    run_cli(main)
