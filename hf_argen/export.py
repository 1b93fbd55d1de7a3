"""Shipped model folders are build output: their code and config come from the package, their weights and card from
training and evaluation.

`export_folder(folder)` rebuilds a saved model folder's remote code (`*.py`) and `config.json` with today's
package, exactly as `save_pretrained` writes them (with the pipeline the folder names in `custom_pipelines`), and
keeps everything else it holds (weights, tokenizer and processor files, card, samples). `code_drift(folder)` says
what an export would change, for a test that keeps every shipped folder current.

    hf-argen export model_cards/*          # rewrite in place
    hf-argen export --check model_cards/*  # exit 1 and list the folders whose code or config is stale
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from transformers import AutoConfig, AutoTokenizer

from .atomic import atomic_write_text
from .auto import auto_class_for, saved_processors
from .models import (
    ClassConditionalImageGenerationPipeline,
    PixelCNNForImageGeneration,
    TextToImagePipeline,
    VQVAEPriorForImageGeneration,
    VQVAETextToImageForImageGeneration,
)
from .models.pipeline_image_generation import REMOTE_TASK
from .models.pipeline_text_to_image import REMOTE_TASK as TEXT_TO_IMAGE_REMOTE_TASK

# Keys of config.json that record where and how the folder was written, not what the model is.
VOLATILE_CONFIG_KEYS = ("transformers_version",)


def saved_files(folder: str | Path) -> dict[str, str]:
    """`{file name: text}` of the code and `config.json` that `save_pretrained` writes today for `folder`'s model
    (through `ClassConditionalImageGenerationPipeline` or `TextToImagePipeline` where its config names one)."""
    folder = Path(folder)
    config = AutoConfig.from_pretrained(folder)
    model = auto_class_for(config).from_config(config)  # randomly initialised: the saved code needs no weights
    pipelines = getattr(model.config, "custom_pipelines", None) or {}
    with tempfile.TemporaryDirectory() as temp:
        if REMOTE_TASK in pipelines and isinstance(model, (PixelCNNForImageGeneration, VQVAEPriorForImageGeneration)):
            ClassConditionalImageGenerationPipeline(model=model).save_pretrained(temp)
        elif TEXT_TO_IMAGE_REMOTE_TASK in pipelines and isinstance(model, VQVAETextToImageForImageGeneration):
            TextToImagePipeline(model=model, tokenizer=AutoTokenizer.from_pretrained(folder)).save_pretrained(temp)
        else:
            model.save_pretrained(temp)
        for processor in saved_processors(folder):
            processor.save_pretrained(temp)
        files = {path.name: path.read_text() for path in Path(temp).glob("*.py")}
        files["config.json"] = (Path(temp) / "config.json").read_text()
    return files


def _comparable_config(text: str) -> dict:
    config = json.loads(text)
    for key in VOLATILE_CONFIG_KEYS:
        config.pop(key, None)
    return config


def code_drift(folder: str | Path, expected: dict[str, str] | None = None) -> list[str]:
    """Names of the files an export would write, remove or change in `folder` (empty when it is current);
    `expected` is `saved_files(folder)`, computed when not given."""
    folder = Path(folder)
    expected = saved_files(folder) if expected is None else expected
    drift = sorted(path.name for path in folder.glob("*.py") if path.name not in expected)
    for name, text in expected.items():
        path = folder / name
        if not path.is_file():
            drift.append(name)
        elif name == "config.json":
            if _comparable_config(path.read_text()) != _comparable_config(text):
                drift.append(name)
        elif path.read_text() != text:
            drift.append(name)
    return sorted(drift)


def export_folder(folder: str | Path) -> list[str]:
    """Rewrite `folder`'s code and config.json from the package (each file atomically); remove code files the model
    no longer needs. Weights and every other file are kept. Returns the names written or removed."""
    folder = Path(folder)
    expected = saved_files(folder)
    drift = code_drift(folder, expected)
    for name in drift:
        if name in expected:
            atomic_write_text(folder / name, expected[name])
        else:
            (folder / name).unlink()
    return drift


__all__ = ["code_drift", "export_folder", "saved_files"]
