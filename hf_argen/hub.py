"""Publishing: model cards (huggingface_hub `ModelCard`/`ModelCardData` with a `model-index`) and uploads.

* :func:`write_pixelcnn_model_card` writes ``README.md`` into a saved model folder: YAML metadata (license,
  library, tags, datasets, ``model-index`` with the measured test bits/dim), the training command, the sample
  grid and a usage snippet.
* :func:`push_to_hub` creates the repo (``exist_ok``) and uploads the folder (checkpoints and logs left out).
  The endpoint is `huggingface_hub`'s (``HF_ENDPOINT``), so tests point it at a local server.
"""

from __future__ import annotations

import json
from pathlib import Path

UPLOAD_IGNORE = [
    "checkpoint-*",
    "checkpoint-*/**",
    ".tmp-*",
    ".tmp-*/**",
    "logs/**",
    "samples/**",
    "train_results.json",
]

_TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

{{ description }}

![samples]({{ sample_grid }})

## Results

| dataset | split | metric | value |
|---|---|---|---|
{% for row in results %}| {{ row.dataset }} | {{ row.split }} | {{ row.metric }} | {{ row.value }} |
{% endfor %}
Measured with:

```bash
{{ eval_command }}
```

## Training

{{ training_data }}

```bash
{{ command }}
```

## Usage

```python
import torch
import hf_argen  # registers the model with the Auto classes (or pass trust_remote_code=True without it)
from transformers import AutoModel

model = AutoModel.from_pretrained("{{ load_path }}")
images = model.generate(class_labels=torch.arange(10), seed=0)  # (10, 1, {{ size }}, {{ size }}) levels
```

```bash
python scripts/generate.py --model {{ load_path }} --class_labels 0 1 2 3 4 5 6 7 8 9 --seed 0 --output grid.png
```
"""


def write_pixelcnn_model_card(
    folder: str | Path,
    repo_id: str | None,
    command: str,
    dataset: str,
    split: str,
    metrics: dict,
    eval_command: str | None = None,
    description: str | None = None,
    training_data: str | None = None,
    sample_grid: str | None = "samples.png",
    hub_dataset_ids: list[str] | None = None,
    load_path: str | None = None,
) -> Path:
    """Write `folder/README.md`; `metrics` holds `bits_per_dim` (or `eval_bits_per_dim`) and optional nats."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    repo_id = repo_id or folder.name
    bits = metrics.get("bits_per_dim", metrics.get("eval_bits_per_dim"))
    nats = metrics.get("nats_per_image", metrics.get("eval_nats_per_image"))
    if bits is None:
        raise ValueError("`metrics` must hold 'bits_per_dim' (or 'eval_bits_per_dim').")
    results = [
        EvalResult(
            task_type="unconditional-image-generation"
            if config.get("num_classes") is None
            else "image-generation",
            task_name="Image generation (likelihood)",
            dataset_type=dataset,
            dataset_name=dataset,
            dataset_split=split,
            metric_type="bits_per_dim",
            metric_name="test bits/dim",
            metric_value=round(bits, 4),
        )
    ]
    if nats is not None:
        results.append(
            EvalResult(
                task_type=results[0].task_type,
                task_name=results[0].task_name,
                dataset_type=dataset,
                dataset_name=dataset,
                dataset_split=split,
                metric_type="nll_nats_per_image",
                metric_name="test NLL (nats/image)",
                metric_value=round(nats, 3),
            )
        )
    card_data = ModelCardData(
        model_name=repo_id,
        license="apache-2.0",
        library_name="transformers",
        pipeline_tag=None,
        tags=["hf_argen", "pixelcnn", "autoregressive", "image-generation"],
        datasets=hub_dataset_ids or None,
        eval_results=results,
    )
    size = config.get("image_size")
    if description is None:
        description = (
            f"A {config.get('architecture', 'gated')} PixelCNN "
            f"({'class-conditional' if config.get('num_classes') else 'unconditional'}, "
            f"{config.get('num_channels')}x{size}x{size}, {config.get('num_levels')} levels per sub-pixel, "
            f"hidden_size={config.get('hidden_size')}, {config.get('num_hidden_layers')} gated layers) from "
            "hf_argen. Exact likelihoods in bits per dimension (sub-pixel)."
        )
    table = [{"dataset": dataset, "split": split, "metric": "bits/dim", "value": f"{bits:.4f}"}]
    if nats is not None:
        table.append({"dataset": dataset, "split": split, "metric": "NLL nats/image", "value": f"{nats:.2f}"})
    card = ModelCard.from_template(
        card_data,
        template_str=_TEMPLATE,
        model_name=repo_id,
        description=description,
        results=table,
        command=command,
        repo_id=repo_id,
        load_path=load_path or repo_id,
        size=size,
        sample_grid=sample_grid or "",
        eval_command=eval_command
        or f"python scripts/evaluate_pixelcnn.py --model {repo_id} --dataset_name {dataset} --split {split}",
        training_data=training_data or "",
    )
    path = folder / "README.md"
    card.save(path)
    return path


_CAPTIONER_TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

{{ description }}

## Results

| dataset | split | images | system | exact match (%) | BLEU-4 |
|---|---|---|---|---|---|
{% for row in results %}| {{ row.dataset }} | {{ row.split }}: {{ row.subset }} | {{ row.num_images }} \
| {{ row.system }} | {{ row.exact_match }} | {{ row.bleu4 }} |
{% endfor %}
Every figure above is reproduced by:

```bash
{{ eval_command }}
```
{{ notes }}
## Training

```bash
{{ command }}
```

## Usage

```python
from transformers import pipeline

captioner = pipeline("image-to-text", model="{{ load_path }}", trust_remote_code=True)
captioner("image.png")  # [{"generated_text": "..."}]
# or, with hf_argen installed: import hf_argen; pipeline("image-captioning", model="{{ load_path }}")
```
"""


def write_captioner_model_card(
    folder: str | Path,
    rows: list[dict],
    eval_command: str,
    command: str | None = None,
    description: str | None = None,
    repo_id: str | None = None,
    notes: str = "",
    dataset_types: dict | None = None,
) -> Path:
    """Write `folder/README.md` for a captioner: a `model-index` with exact match and BLEU-4 per (dataset, split,
    subset, system) row of :func:`hf_argen.caption_evaluation.evaluate_captioner_on_dataset`, the results table,
    the command that measured them, the training command (default: ``training_info.json``'s) and usage."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    folder = Path(folder)
    repo_id = repo_id or folder.name
    if command is None:
        info = folder / "training_info.json"
        command = json.loads(info.read_text()).get("command") if info.is_file() else None
    results = []
    for row in rows:
        if row["system"] != "captioner":  # baselines go in the table, not in the model's own model-index
            continue
        name = f"{row['split']}: {row['subset']}"
        for metric, label in (("exact_match", "exact match (%)"), ("bleu4", "BLEU-4 (sacrebleu)")):
            results.append(
                EvalResult(
                    task_type="image-to-text",
                    task_name="Image captioning",
                    dataset_type=(dataset_types or {}).get(row["dataset"], row["dataset"]),
                    dataset_name=f"{row['dataset']} ({name})",
                    dataset_split=row["split"],
                    metric_type=metric,
                    metric_name=label,
                    metric_value=round(float(row[metric]), 2),
                )
            )
    card_data = ModelCardData(
        model_name=repo_id,
        license="apache-2.0",
        library_name="transformers",
        pipeline_tag="image-to-text",
        tags=["hf_argen", "image-captioning", "custom_code"],
        eval_results=results or None,
    )
    table = [
        {**row, "exact_match": f"{row['exact_match']:.1f}", "bleu4": f"{row['bleu4']:.1f}"} for row in rows
    ]
    card = ModelCard.from_template(
        card_data,
        template_str=_CAPTIONER_TEMPLATE,
        model_name=repo_id,
        description=description or "An image captioner p(caption | image) trained with hf_argen.",
        results=table,
        eval_command=eval_command,
        notes=f"\n{notes.strip()}\n" if notes.strip() else "",
        command=command or "(training command not recorded)",
        load_path=repo_id,
    )
    path = folder / "README.md"
    card.save(path)
    return path


def push_to_hub(
    folder: str | Path,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    commit_message: str = "Upload model",
    ignore_patterns: list[str] | None = None,
    endpoint: str | None = None,
) -> str:
    """Create `repo_id` (if needed) and upload `folder` (no checkpoints/logs); returns the commit URL."""
    from huggingface_hub import HfApi

    if not repo_id:
        raise ValueError("`repo_id` (--hub_model_id) is required to push to the Hub.")
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ValueError(f"{folder} is not a saved model folder (no config.json).")
    api = HfApi(endpoint=endpoint, token=token)
    url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    info = api.upload_folder(
        repo_id=url.repo_id,
        folder_path=str(folder),
        commit_message=commit_message,
        ignore_patterns=UPLOAD_IGNORE if ignore_patterns is None else ignore_patterns,
        repo_type="model",
    )
    return str(info)


__all__ = ["UPLOAD_IGNORE", "push_to_hub", "write_captioner_model_card", "write_pixelcnn_model_card"]
