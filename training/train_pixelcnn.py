#!/usr/bin/env python
"""Train a (class-conditional) Gated PixelCNN with Accelerate.

    accelerate launch training/train_pixelcnn.py --dataset_name digits --output_dir out

Flags follow the `diffusers` example scripts. The loop itself is `hf_argen.training.Trainer`.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import shutil
import sys

import torch

try:  # run from a clean clone without `pip install -e .`
    import hf_argen  # noqa: F401
except ImportError:
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset_name",
        default="digits",
        help="digits | mnist | fashion_mnist | mnist_digits | a Hub id | a local folder "
        "(imagefolder or save_to_disk); NAME:SPLIT picks a split.",
    )
    data.add_argument("--dataset_split", default="train")
    data.add_argument(
        "--extra_train_datasets",
        nargs="*",
        default=[],
        help="more training sets as NAME[:SPLIT] (e.g. mnist_digits:train mnist_digits:test), mixed with the main one.",
    )
    data.add_argument(
        "--train_repeats",
        type=int,
        default=1,
        help="how many times the main training set appears in the mix (upweights it).",
    )
    data.add_argument(
        "--source_classes",
        action="store_true",
        help="give every data source (the `source` column, else the dataset name) its own block of classes: "
        "label + num_classes * source index, the main dataset's source first. Labels < num_classes then draw "
        "and score the main dataset's kind (e.g. real digits vs MNIST converted to digits format).",
    )
    data.add_argument("--eval_split", default="test", help="split of --dataset_name to evaluate on; 'none' to skip.")
    data.add_argument(
        "--data_dir",
        default=None,
        help="folder with MNIST/Fashion-MNIST IDX files (else $HF_ARGEN_DATA_DIR).",
    )
    data.add_argument("--image_column", default=None)
    data.add_argument("--label_column", default=None)
    data.add_argument("--unconditional", action="store_true", help="ignore labels (num_classes=None).")

    model = parser.add_argument_group("model")
    model.add_argument("--init_model", default=None, help="start from this saved model (fine-tuning).")
    model.add_argument("--image_size", type=int, default=None, help="default: the dataset's image size.")
    model.add_argument("--num_channels", type=int, default=None, help="default: 3 for RGB data, else 1.")
    model.add_argument("--num_levels", type=int, default=None, help="default: 17 for digits, else 256.")
    model.add_argument("--hidden_size", type=int, default=64)
    model.add_argument("--num_hidden_layers", type=int, default=10)
    model.add_argument("--kernel_size", type=int, default=3)
    model.add_argument("--first_kernel_size", type=int, default=7)
    model.add_argument("--output_hidden_size", type=int, default=256)
    model.add_argument("--architecture", default="gated", choices=["gated", "masked"])
    model.add_argument("--dropout", type=float, default=0.0)

    train = parser.add_argument_group("training")
    train.add_argument("--output_dir", required=True)
    train.add_argument("--train_batch_size", type=int, default=64, help="per process")
    train.add_argument("--eval_batch_size", type=int, default=256)
    train.add_argument("--learning_rate", type=float, default=1e-3)
    train.add_argument("--lr_scheduler", default="cosine")
    train.add_argument("--lr_warmup_steps", type=int, default=0)
    train.add_argument("--weight_decay", type=float, default=0.0)
    train.add_argument("--adam_beta1", type=float, default=0.9)
    train.add_argument("--adam_beta2", type=float, default=0.999)
    train.add_argument("--max_grad_norm", type=float, default=1.0)
    train.add_argument("--num_train_epochs", type=int, default=20)
    train.add_argument("--max_train_steps", type=int, default=None)
    train.add_argument("--gradient_accumulation_steps", type=int, default=1)
    train.add_argument("--mixed_precision", default="no", choices=["no", "fp16", "bf16"])
    train.add_argument("--checkpointing_steps", type=int, default=500)
    train.add_argument("--checkpoints_total_limit", type=int, default=None)
    train.add_argument("--resume_from_checkpoint", default=None, help="a checkpoint folder or 'latest'.")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--report_to", default="none", choices=["none", "tensorboard"])
    train.add_argument("--logging_steps", type=int, default=50)
    train.add_argument("--eval_steps", type=int, default=None)
    train.add_argument("--sample_steps", type=int, default=None)
    train.add_argument("--no_samples", action="store_true", help="skip the final sample grid.")
    train.add_argument("--ema_decay", type=float, default=None)
    train.add_argument("--num_threads", type=int, default=None, help="torch.set_num_threads for this process.")

    hub = parser.add_argument_group("hub")
    hub.add_argument("--push_to_hub", action="store_true")
    hub.add_argument("--hub_model_id", default=None)
    hub.add_argument("--hub_token", default=None)
    hub.add_argument("--hub_private_repo", action="store_true")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from transformers.utils import logging as hf_logging

    from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration, PixelCNNImageProcessor
    from hf_argen.data import load_image_dataset
    from hf_argen.pixelcnn_training import (
        DEFAULT_LEVELS,
        concat_tensors,
        expand_class_embeddings,
        load_tensors,
        make_eval_fn,
        make_sample_fn,
        offset_labels_by_source,
        parse_dataset_spec,
        pixelcnn_loss,
    )
    from hf_argen.training import TensorDictDataset, Trainer, TrainingArguments

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    hf_logging.set_verbosity_warning()
    logging.getLogger("accelerate").setLevel(logging.WARNING)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)

    name, split = parse_dataset_spec(args.dataset_name, args.dataset_split)
    if args.init_model:
        model = PixelCNNForImageGeneration.from_pretrained(args.init_model)
        config = model.config
    else:
        probe = load_image_dataset(
            name,
            split=split,
            data_dir=args.data_dir,
            image_column=args.image_column,
            label_column=args.label_column,
        )
        first = probe[0]["image"]
        image_size = args.image_size or max(first.size)
        num_channels = args.num_channels or (3 if first.mode in ("RGB", "RGBA", "P") else 1)
        num_levels = args.num_levels or DEFAULT_LEVELS.get(name, 256)
        config = None
    processor = PixelCNNImageProcessor(
        num_levels=config.num_levels if config else num_levels,
        num_channels=config.num_channels if config else num_channels,
        image_size=config.image_size if config else image_size,
    )
    common = dict(
        data_dir=args.data_dir,
        image_column=args.image_column,
        label_column=args.label_column,
        conditional=not args.unconditional,
    )
    parts, repeats, sources = [], [], []
    main_tensors, num_classes, main_sources = load_tensors(name, split, processor, **common)
    parts.append(main_tensors)
    repeats.append(args.train_repeats)
    sources.append((f"{name}:{split}", len(main_sources) * args.train_repeats))
    extra_source_lists = []
    for spec in args.extra_train_datasets:
        extra_name, extra_split = parse_dataset_spec(spec)
        tensors, _, extra_sources = load_tensors(extra_name, extra_split, processor, **common)
        extra_source_lists.append(extra_sources)
        parts.append(tensors)
        repeats.append(1)
        sources.append((f"{extra_name}:{extra_split}", len(extra_sources)))
    if args.source_classes and num_classes is not None:
        parts, num_classes = offset_labels_by_source(parts, [main_sources] + extra_source_lists, num_classes)
    train_tensors = concat_tensors(parts, repeats)
    if config is None:
        config = PixelCNNConfig(
            image_size=image_size,
            num_channels=num_channels,
            num_levels=num_levels,
            num_classes=num_classes,
            hidden_size=args.hidden_size,
            num_hidden_layers=args.num_hidden_layers,
            kernel_size=args.kernel_size,
            first_kernel_size=args.first_kernel_size,
            output_hidden_size=args.output_hidden_size,
            architecture=args.architecture,
            dropout=args.dropout,
        )
        torch.manual_seed(args.seed)
        model = PixelCNNForImageGeneration(config)
    else:
        if num_classes is not None and (model.config.num_classes or 0) < num_classes:
            if not args.source_classes or not model.config.num_classes:
                raise ValueError(
                    f"The training data has {num_classes} classes but `--init_model` has "
                    f"{model.config.num_classes}; only `--source_classes` grows a conditional model's classes."
                )
            expand_class_embeddings(model, num_classes)
        if args.dropout != model.config.dropout:
            model.config.dropout = args.dropout
            for module in model.modules():
                if isinstance(module, torch.nn.Dropout):
                    module.p = args.dropout

    eval_fn = None
    if args.eval_split.lower() != "none":
        eval_tensors, _, _ = load_tensors(name, args.eval_split, processor, **common)
        eval_fn = make_eval_fn(eval_tensors, config.num_subpixels, batch_size=args.eval_batch_size)
    sample_fn = (
        None
        if args.no_samples
        else make_sample_fn(processor, config.num_classes, seed=args.seed, scale=max(1, 64 // config.image_size))
    )
    training_args = TrainingArguments.from_namespace(args)
    command = "accelerate launch training/train_pixelcnn.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    trainer = Trainer(
        model,
        training_args,
        TensorDictDataset(**train_tensors),
        compute_loss=pixelcnn_loss,
        eval_fn=eval_fn,
        sample_fn=sample_fn,
        processors=[processor],
        tracker_config={
            "dataset_name": args.dataset_name,
            "train_examples": len(train_tensors["pixel_values"]),
        },
    )
    logging.getLogger(__name__).info("training data: %s (%d examples)", sources, len(train_tensors["pixel_values"]))
    result = trainer.train()
    if trainer.accelerator.is_main_process:
        import json
        from pathlib import Path

        info = {
            "command": command,
            "train_data": [{"dataset": s, "examples": n} for s, n in sources],
            "eval_dataset": None if eval_fn is None else f"{name}:{args.eval_split}",
            **result.metrics,
        }
        Path(args.output_dir, "training_info.json").write_text(json.dumps(info, indent=2))
        grids = sorted(Path(args.output_dir, "samples").glob("step-*.png"))
        if grids:  # the final grid, where model cards expect it
            shutil.copyfile(grids[-1], Path(args.output_dir, "samples.png"))
        if args.push_to_hub:
            from hf_argen.hub import push_to_hub, write_pixelcnn_model_card

            write_pixelcnn_model_card(
                args.output_dir,
                repo_id=args.hub_model_id,
                command=command,
                dataset=name,
                split=args.eval_split,
                metrics=result.metrics,
            )
            push_to_hub(
                args.output_dir,
                repo_id=args.hub_model_id,
                token=args.hub_token,
                private=args.hub_private_repo,
            )
    return result


if __name__ == "__main__":
    main()
