#!/usr/bin/env python
"""Check (or, with --fix, refresh) the copies of model modules that travel with saved model folders.

A model folder imports only from itself (that is all `transformers` copies next to the weights for remote code),
so the two-stage model keeps copies of the VQ-VAE, prior and PixelCNN modules, and each shipped folder under
`model_cards/` keeps copies of its model's modules. The package file is the original; a copy inside the package
starts with a `# Copied from` line, a shipped folder's copy is the file itself.

    python scripts/check_copies.py          # exit 1 and list the stale copies
    python scripts/check_copies.py --fix    # rewrite them
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hf_argen"

# two_stage/<name> is a copy of <original>
TWO_STAGE_COPIES = {
    "configuration_vqvae.py": "vqvae/configuration_vqvae.py",
    "modeling_vqvae.py": "vqvae/modeling_vqvae.py",
    "configuration_ar_transformer.py": "causal_lm/transformer/configuration_ar_transformer.py",
    "modeling_ar_transformer.py": "causal_lm/transformer/modeling_ar_transformer.py",
    "configuration_ar_rnn.py": "causal_lm/rnn/configuration_ar_rnn.py",
    "modeling_ar_rnn.py": "causal_lm/rnn/modeling_ar_rnn.py",
    "configuration_pixelcnn.py": "pixelcnn/configuration_pixelcnn.py",
    "modeling_pixelcnn.py": "pixelcnn/modeling_pixelcnn.py",
    "sampling_pixelcnn.py": "pixelcnn/sampling_pixelcnn.py",
    "sampling_utils.py": "pixelcnn/sampling_utils.py",
    "safe_loading.py": "vqvae/safe_loading.py",
}
# <folder>/safe_loading.py of every other model folder is a copy of vqvae/safe_loading.py
FOLDER_COPIES = {
    "pixelcnn/safe_loading.py": "vqvae/safe_loading.py",
    "causal_lm/transformer/safe_loading.py": "vqvae/safe_loading.py",
    "causal_lm/rnn/safe_loading.py": "vqvae/safe_loading.py",
    "captioning/safe_loading.py": "vqvae/safe_loading.py",
}
PIXELCNN_FILES = [
    "configuration_pixelcnn.py",
    "modeling_pixelcnn.py",
    "sampling_pixelcnn.py",
    "sampling_utils.py",
    "image_processing_pixelcnn.py",
    "../pipelines/pipeline_image_generation.py",
    "safe_loading.py",
]
VQVAE_FILES = ["configuration_vqvae.py", "modeling_vqvae.py", "safe_loading.py"]
TRANSFORMER_FILES = ["configuration_ar_transformer.py", "modeling_ar_transformer.py", "safe_loading.py"]
RNN_FILES = ["configuration_ar_rnn.py", "modeling_ar_rnn.py", "safe_loading.py"]
CAPTIONER_FILES = [
    "configuration_captioner.py",
    "modeling_captioner.py",
    "image_processing_captioner.py",
    "processing_captioner.py",
    "pipeline_captioner.py",
    "safe_loading.py",
]
TWO_STAGE_FILES = [
    "configuration_vqvae_prior.py",
    "modeling_vqvae_prior.py",
    "vocabulary.py",
    "../pipelines/pipeline_image_generation.py",
    *TWO_STAGE_COPIES,
]


def header(original: str) -> str:
    module = "hf_argen." + original.removesuffix(".py").replace("/", ".")
    return f"# Copied from {module} (edit it, then check_copies.py --fix)\n"


def expected_copies() -> dict[Path, str]:
    """`{copy path: expected text}` for every copy in the package and in `model_cards/`."""
    expected = {}
    for name, original in TWO_STAGE_COPIES.items():
        expected[PACKAGE / "two_stage" / name] = header(original) + (PACKAGE / original).read_text()
    for copy, original in FOLDER_COPIES.items():
        expected[PACKAGE / copy] = header(original) + (PACKAGE / original).read_text()
    for folder in sorted((ROOT / "model_cards").iterdir()) if (ROOT / "model_cards").is_dir() else []:
        if not (folder / "config.json").is_file():
            continue
        model_type = __import__("json").loads((folder / "config.json").read_text()).get("model_type")
        source, names = {
            "pixelcnn": ("pixelcnn", PIXELCNN_FILES),
            "vqvae": ("vqvae", VQVAE_FILES),
            "vqvae_prior": ("two_stage", TWO_STAGE_FILES),
            "ar_transformer": ("causal_lm/transformer", TRANSFORMER_FILES),
            "ar_rnn": ("causal_lm/rnn", RNN_FILES),
            "captioner": ("captioning", CAPTIONER_FILES),
        }.get(model_type, (None, []))
        for name in names:
            original = (PACKAGE / source / name).resolve()
            expected[folder / Path(name).name] = expected.get(original, None) or original.read_text()
    return expected


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fix", action="store_true", help="rewrite stale copies")
    args = parser.parse_args(argv)
    stale = [path for path, text in expected_copies().items() if not path.is_file() or path.read_text() != text]
    if args.fix:
        for path in stale:
            path.write_text(expected_copies()[path])
    for path in stale:
        print(f"{'fixed' if args.fix else 'stale'}: {path.relative_to(ROOT)}")
    return 0 if args.fix or not stale else 1


if __name__ == "__main__":
    sys.exit(main())
