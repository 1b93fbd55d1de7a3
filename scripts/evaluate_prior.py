#!/usr/bin/env python
"""Evaluate a two-stage VQ-VAE + prior pipeline folder: the prior's NLL on a split's code maps (nats per code,
bits per image), a class-by-class sample grid and, optionally, class consistency of the samples.

    python scripts/evaluate_prior.py --model model_cards/vqvae-prior-mnist --split test \
        --save_grid samples.png --classifier_path .cache/mnist_classifier.pt

`--write_card` also rewrites the folder's README.md and samples.png with exactly the figures printed here.
Class consistency: the fraction of samples that a separately trained MNIST CNN (the one of
`scripts/class_consistency.py`, trained there on first use) recognises as the requested class.
"""

import argparse
import importlib.util
import math
import sys
import time
from pathlib import Path

try:
    import hf_argen  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def load_class_consistency_module():
    path = Path(__file__).resolve().parent / "class_consistency.py"
    spec = importlib.util.spec_from_file_location("class_consistency", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="model_cards/vqvae-prior-mnist")
    parser.add_argument("--dataset_name", default="mnist")
    parser.add_argument("--split", default="test")
    parser.add_argument("--data_dir", default=None, help="MNIST IDX folder (else $HF_ARGEN_DATA_DIR).")
    parser.add_argument("--cache_dir", default=None, help="cache the encoded code dataset here.")
    parser.add_argument("--batch_size", type=int, default=500)
    parser.add_argument("--num_per_class", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top_k", type=int, default=None)
    parser.add_argument("--save_grid", default=None, help="save the sample grid (one column per class) here.")
    parser.add_argument("--classifier_path", default=None, help="MNIST classifier for class consistency.")
    parser.add_argument("--write_card", action="store_true", help="write README.md + samples.png into --model.")
    parser.add_argument("--command", default=None, help="the command line quoted in the card.")
    parser.add_argument("--train_command", default=None, help="the training command quoted in the card.")
    parser.add_argument("--num_threads", type=int, default=None)
    args = parser.parse_args(argv)

    import torch

    from hf_argen import VQImageGenerationPipeline
    from hf_argen.training.prior import dataset_to_tensors, evaluate_prior, load_code_dataset, prior_model_card

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    pipe = VQImageGenerationPipeline.from_pretrained(args.model)
    codes, labels = dataset_to_tensors(
        load_code_dataset(pipe.vqvae, args.dataset_name, args.split, cache_dir=args.cache_dir, data_dir=args.data_dir)
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
    print(f"test NLL: {metrics['nll_per_code']:.4f} nats/code, {metrics['bits_per_image']:.1f} bits/image "
          f"(uniform over codes: {math.log(num_codes):.4f} nats/code, {uniform_bits:.1f} bits/image) "
          f"[{seconds:.1f}s]")  # fmt: skip

    labels = list(range(pipe.num_classes)) * args.num_per_class
    start = time.perf_counter()
    pixels = pipe(labels, generator=args.seed, temperature=args.temperature, top_k=args.top_k, output_type="pt")
    seconds = time.perf_counter() - start
    print(f"sampled {len(labels)} images (seed {args.seed}, temperature {args.temperature}, top_k {args.top_k}) "
          f"in {seconds:.1f}s")  # fmt: skip
    from hf_argen import make_grid

    grid = make_grid(pipe.to_pil(pixels), num_columns=pipe.num_classes, scale=2)
    if args.save_grid:
        grid.save(args.save_grid)

    consistency = None
    if args.classifier_path:
        module = load_class_consistency_module()
        if Path(args.classifier_path).is_file():
            classifier = module.build_classifier()
            classifier.load_state_dict(torch.load(args.classifier_path))
        else:
            classifier = module.train_classifier(args.classifier_path, args.data_dir)
        classifier.eval()
        test_x, test_y = module.mnist_tensors("test", args.data_dir)
        classifier_accuracy, _ = module.accuracy(classifier, test_x, test_y)
        target = torch.as_tensor(labels)
        consistency, predictions = module.accuracy(classifier, (pixels + 1) / 2, target)
        per_class = [(predictions[target == c] == c).float().mean().item() for c in range(pipe.num_classes)]
        print(f"classifier test accuracy (MNIST test): {100 * classifier_accuracy:.2f}%")
        print(f"class consistency: {100 * consistency:.1f}% of samples recognised as the requested class")
        print("per class: " + ", ".join(f"{c}: {100 * p:.0f}%" for c, p in enumerate(per_class)))
        consistency = {"consistency": consistency, "classifier_accuracy": classifier_accuracy}

    if args.write_card:
        grid.save(Path(args.model) / "samples.png")
        card = prior_model_card(
            pipe,
            metrics,
            dataset=f"{args.dataset_name}/{args.split}",
            num_samples=len(labels),
            sampling=dict(seed=args.seed, temperature=args.temperature, top_k=args.top_k),
            consistency=consistency,
            command=args.command,
            train_command=args.train_command,
        )
        (Path(args.model) / "README.md").write_text(card)
        print(f"wrote {Path(args.model) / 'README.md'} and samples.png")


if __name__ == "__main__":
    main()
