#!/usr/bin/env python
"""Evaluate a two-stage VQ-VAE + prior pipeline folder: the prior's NLL on a split's code maps (nats per code,
bits per image), a class-by-class sample grid and, optionally, class consistency of the samples.

    python scripts/evaluate_prior.py --model model_cards/vqvae-prior-mnist --split test \
        --grid samples.png --classifier_path .cache/mnist_classifier.pt

`--write_card` also rewrites the folder's README.md (`hf_argen.hub`) and samples.png with exactly the figures printed
here. The code maps are encoded once and cached; a training run's cache (`<output_dir>/codes`, the folder the
recipe saves the model in) is reused by default when it is there.
Class consistency: the fraction of samples that a separately trained MNIST CNN (the one of
`scripts/class_consistency.py`, trained there on first use) recognises as the requested class.
"""

import math
import shlex
import sys
import time
from pathlib import Path

from hf_argen.atomic import atomic_save_image
from hf_argen.cli import (
    add_device_argument,
    add_hidden_alias,
    resolve_device,
    run_cli,
    script_parser,
    write_json,
)


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--model", default="model_cards/vqvae-prior-mnist", help="a two-stage model folder")
    parser.add_argument("--dataset_name", default="mnist", help="dataset whose code maps are scored")
    parser.add_argument("--split", default="test", help="split to evaluate")
    parser.add_argument("--data_dir", default=None, help="MNIST IDX folder (else $HF_ARGEN_DATA_DIR).")
    parser.add_argument(
        "--cache_dir", default=None, help="cache of the encoded code dataset (default: <model>/codes if there)"
    )
    parser.add_argument("--batch_size", type=int, default=500, help="sequences per forward pass")
    parser.add_argument("--num_per_class", type=int, default=100, help="samples per class")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    parser.add_argument("--top_k", type=int, default=None, help="top-k sampling (default: off)")
    parser.add_argument("--grid", default=None, help="save the sample grid (one column per class) here.")
    parser.add_argument("--classifier_path", default=None, help="MNIST classifier for class consistency.")
    parser.add_argument("--output_json", default=None, help="write the figures here as JSON ('-': stdout)")
    parser.add_argument("--write_card", action="store_true", help="write README.md + samples.png into --model.")
    parser.add_argument(
        "--command", default=None, help="the command line quoted in the card (default: this run's command)"
    )
    parser.add_argument(
        "--train_command", action="append", default=None, help="training command(s) for the card (repeatable)"
    )
    parser.add_argument("--hub_model_id", default=None, help="Hub id the card's usage snippet loads")
    parser.add_argument("--num_threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    add_device_argument(parser)
    add_hidden_alias(parser, "--save_grid", "grid")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)

    import torch

    from hf_argen import VQImageGenerationPipeline
    from hf_argen.hub import CardImage
    from hf_argen.recipes.cards import prior_card_metrics, write_card_for_folder
    from hf_argen.recipes.prior import dataset_to_tensors, evaluate_prior, load_code_dataset

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    pipe = VQImageGenerationPipeline.from_pretrained(args.model)
    pipe.to(device)
    cache_dir = args.cache_dir
    if cache_dir is None and (Path(args.model) / "codes").is_dir():  # the training run's cache
        cache_dir = str(Path(args.model) / "codes")
        print(f"reusing the code cache {cache_dir}")
    codes, labels = dataset_to_tensors(
        load_code_dataset(pipe.vqvae, args.dataset_name, args.split, cache_dir=cache_dir, data_dir=args.data_dir)
    )
    sequences = pipe.vocabulary.sequences(codes, labels)
    start = time.perf_counter()
    metrics = evaluate_prior(pipe.prior, sequences, batch_size=args.batch_size)
    seconds = time.perf_counter() - start
    num_codes = pipe.vocabulary.num_codes
    uniform_bits = pipe.codes_per_image * math.log2(num_codes)
    print(f"prior: {type(pipe.prior).__name__}, {sum(p.numel() for p in pipe.prior.parameters()):,} parameters")
    print(f"{args.dataset_name}/{args.split}: {len(sequences)} images, "
          f"{pipe.codes_per_image} codes each, K={num_codes}")  # fmt: skip
    print(f"{args.split} NLL: {metrics['nll_per_code']:.4f} nats/code, {metrics['bits_per_image']:.1f} bits/image "
          f"(uniform over codes: {math.log(num_codes):.4f} nats/code, {uniform_bits:.1f} bits/image) "
          f"[{seconds:.1f}s]")  # fmt: skip

    labels = list(range(pipe.num_classes)) * args.num_per_class
    start = time.perf_counter()
    pixels = pipe(labels, generator=args.seed, temperature=args.temperature, top_k=args.top_k, output_type="pt")
    seconds = time.perf_counter() - start
    print(f"sampled {len(labels)} images (seed {args.seed}, temperature {args.temperature}, top_k {args.top_k}) "
          f"in {seconds:.1f}s")  # fmt: skip
    from hf_argen import make_grid

    shown = min(len(labels), 10 * pipe.num_classes)  # the grid: the first 10 rows (samples of every class)
    grid = make_grid(pipe.to_pil(pixels[:shown]), num_columns=pipe.num_classes, scale=2)
    if args.grid:
        atomic_save_image(grid, args.grid)

    consistency = None
    if args.classifier_path:
        from hf_argen.recipes.classifier import (
            class_consistency,
            classifier_accuracy,
            load_mnist_classifier,
            mnist_tensors,
        )

        classifier = load_mnist_classifier(args.classifier_path, args.data_dir, device=device)
        test_x, test_y = mnist_tensors("test", args.data_dir)
        test_accuracy, _ = classifier_accuracy(classifier, test_x, test_y)
        result = class_consistency(classifier, (pixels.cpu() + 1) / 2, labels, num_classes=pipe.num_classes)
        print(f"classifier test accuracy (MNIST test): {100 * test_accuracy:.2f}%")
        print(f"class consistency: {100 * result['consistency']:.1f}% of samples recognised as the requested class")
        print("per class: " + ", ".join(f"{c}: {100 * p:.0f}%" for c, p in enumerate(result["per_class"])))
        consistency = {"consistency": result["consistency"], "classifier_accuracy": test_accuracy}

    if args.write_card:
        atomic_save_image(grid, Path(args.model) / "samples.png")
        command = args.command or "python scripts/evaluate_prior.py " + shlex.join(
            sys.argv[1:] if argv is None else argv
        )
        caption = (f"One column per class, the first {shown} of the {len(labels)} samples (seed {args.seed}, "
                   f"temperature {args.temperature}, top_k {args.top_k}).")  # fmt: skip
        rows = prior_card_metrics(metrics, args.split, num_codes, pipe.codes_per_image, consistency, len(labels))
        path = write_card_for_folder(args.model, rows, dataset=args.dataset_name, repo_id=args.hub_model_id,
                                     eval_command=command, train_commands=args.train_command,
                                     images=[CardImage("samples.png", "samples", caption)])  # fmt: skip
        print(f"wrote {path} and samples.png")
    figures = {
        "model": args.model,
        "dataset": args.dataset_name,
        "split": args.split,
        **metrics,
        "num_samples": len(labels),
        "seed": args.seed,
        "temperature": args.temperature,
        "top_k": args.top_k,
        **(consistency or {}),
        "device": str(device),
    }
    write_json(args.output_json, figures)
    return figures


if __name__ == "__main__":
    run_cli(main)
