"""Publishing: one model-card writer for every model kind, and uploads.

* :func:`write_model_card` is the one writer: a `huggingface_hub.ModelCard` from one template (:data:`CARD_TEMPLATE`)
  with YAML metadata (license, library, tags, datasets named by their Hub ids, a ``model-index`` whose every
  metric names the split it was measured on), what the model is conditioned on, a usage snippet, the figures, the
  commands that measured them and that trained the model, and images. It knows nothing of a model kind; a
  captioner or any later model passes its own description, conditioning, metrics and snippet.
  hf_argen's own model kinds fill it in with :func:`hf_argen.recipes.cards.write_card_for_folder`.
* :func:`push_to_hub` creates the repo (``exist_ok``) and uploads the folder (checkpoints and logs left out).
  The endpoint is `huggingface_hub`'s (``HF_ENDPOINT``), so tests point it at a local server.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import huggingface_hub
from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData
from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalTokenNotFoundError, RepositoryNotFoundError
from huggingface_hub.utils import filter_repo_objects, validate_repo_id

from .atomic import atomic_write_text

UPLOAD_IGNORE = [
    "checkpoint-*",
    "checkpoint-*/**",
    ".tmp-*",
    ".tmp-*/**",
    "logs/**",
    "samples/**",
    "train_results.json",
    "codes/**",
    "tokenizer/**",
]

TRAINING_INFO = "training_info.json"
NO_TOKEN = "no Hub token: pass --hub_token, set $HF_TOKEN or run `hf auth login`."

# Dataset names of hf_argen's loaders -> (Hub id or public name, display name). A name not listed is used as
# it is when it looks like a Hub id; a local folder is named by its last component, never by its path.

CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

{{ description }}

**Conditioned on:** {{ conditioning }}
{% for image in images %}
![{{ image.alt }}]({{ image.path }}){% if image.caption %}

{{ image.caption }}{% endif %}
{% endfor %}{% if limitations %}
**Limitations:** {{ limitations }}
{% endif %}
## Usage

```python
{{ usage }}
```
{% if cli %}
From a checkout of the hf_argen repository:

```bash
{{ cli }}
```
{% endif %}{% if metrics %}
## Results

| dataset | split | metric | value |
|---|---|---|---:|
{% for metric in metrics -%}
| {{ metric.dataset_label }} | {{ metric.split }} | {{ metric.name }} | {{ metric.display }} |
{% endfor %}{% if metrics_note %}
{{ metrics_note }}
{% endif %}{% if eval_command %}
Measured with:

```bash
{{ eval_command }}
```
{% endif %}{% endif %}{% if training or train_commands %}
## Training
{% if training %}
{{ training }}
{% endif %}{% if train_commands %}
```bash
{{ train_commands }}
```
{% endif %}{% endif %}{% for section in sections %}
## {{ section.title }}

{{ section.text }}
{% endfor %}"""


@dataclass
class CardMetric:
    """One figure of a card: `type` (machine name, e.g. ``bits_per_dim``), `name` (what a reader sees; it names
    the split), `value`, the `split` and `dataset` it was measured on, how to print it (`fmt`) and whether it goes
    into the ``model-index`` (`index`; figures of samples rather than of a split stay in the table only)."""

    type: str
    name: str
    value: float
    split: str
    dataset: str | None = None
    fmt: str = ".4f"
    index: bool = True
    unit: str = ""

    @property
    def display(self) -> str:
        return f"{self.value:{self.fmt}}{self.unit}"


@dataclass
class CardImage:
    path: str
    alt: str = "samples"
    caption: str = ""


@dataclass
class CardSection:
    title: str
    text: str


PLACEHOLDER_NAMESPACE = "your-name"
_NOTE = "# {repo_id}: the Hub id this model gets when pushed (`hf-argen push --hub_model_id` writes it in);"


def placeholder_note(repo_id: str, folder_name: str) -> str:
    """The comment above a card's snippet whose `repo_id` is a placeholder: what it stands for, and the local form."""
    return (f"{_NOTE.format(repo_id=repo_id)}\n# a local copy loads by its path: "
            f'from_pretrained("path/to/{folder_name}", trust_remote_code=True)')  # fmt: skip


def retarget_card(folder: str | Path, repo_id: str) -> bool:
    """Make the card `folder/README.md` name `repo_id`: the repo id its usage snippet loads (and the `--model` of its
    command line) becomes `repo_id`, and the placeholder note goes. True when the card changed."""
    path = Path(folder) / "README.md"
    if not path.is_file():
        return False
    text = path.read_text()
    lines = [line for line in text.split("\n") if not (line.startswith("# ") and ": the Hub id this model gets" in line)
             and not line.startswith("# a local copy loads by its path")]  # fmt: skip
    found = re.search(r'(?:from_pretrained\(|model=)"([^"]+)"', "\n".join(lines))
    if found is None or found.group(1) == repo_id:
        return False
    old = found.group(1)
    text = "\n".join(lines).replace(f'"{old}"', f'"{repo_id}"').replace(f"--model {old} ", f"--model {repo_id} ")
    atomic_write_text(path, text)
    return True


def dataset_reference(name: str | None, known: dict | None = None) -> tuple[str, str]:
    """`(id, display name)` of a dataset: `known[name]` (short names -> `(Hub id, display name)`) where listed,
    never a local path."""
    if not name:
        return "unknown", "unknown"
    base, _, _ = str(name).partition(":")
    if known and base in known:
        return known[base]
    path = Path(base)
    if path.is_absolute() or base.startswith((".", "~")) or path.exists() or len(path.parts) > 2:
        return path.name, path.name  # a local folder: its name only
    return base, base


_MACHINE_PATH = re.compile(r"""(?<![\w.-])/(?:tmp|work|home|root|Users|mnt|scratch|var|usr/local)/[^\s,;:)"`']*""")


def machine_paths(text: str) -> list[str]:
    """The paths of a machine (/tmp/..., /work/..., /home/...) that `text` names; a shipped card names none."""
    return _MACHINE_PATH.findall(text)


def write_model_card(
    folder: str | Path,
    *,
    model_name: str,
    description: str,
    conditioning: str,
    usage: str,
    metrics: list[CardMetric] = (),
    dataset: str | None = None,
    task_type: str = "image-generation",
    task_name: str | None = None,
    tags: list[str] = (),
    datasets: list[str] | None = None,
    known_datasets: dict | None = None,
    pipeline_tag: str | None = None,
    eval_command: str | None = None,
    metrics_note: str | None = None,
    train_commands: list[str] | str = (),
    training: str | None = None,
    images: list[CardImage] = (),
    cli: str | None = None,
    sections: list[CardSection] = (),
    license: str = "apache-2.0",
    limitations: str | None = None,
) -> Path:
    """Write `folder/README.md` from :data:`CARD_TEMPLATE` and return its path.

    `dataset` is the dataset of every metric without its own (a Hub id, or a short name that `known_datasets` maps
    to `(Hub id, display name)`; it is named by :func:`dataset_reference`, never by a local path); `datasets`
    (default: those of the metrics) go into the metadata. `metrics` with ``index=True`` form the ``model-index``: one
    result per (dataset, split), each metric naming its split. `usage` is a Python snippet that runs as written;
    `cli` an optional shell line. `limitations` is said in bold under the images, before the usage (what the
    model does not do that a reader of its samples or figures might expect).
    """
    task_name = task_name or task_type.replace("-", " ").capitalize()
    rows, results, named = _metric_rows(metrics, dataset, known_datasets, task_type, task_name)
    if datasets is None:
        datasets = named or ([dataset_reference(dataset, known_datasets)[0]] if dataset else [])
    card_data = ModelCardData(
        model_name=model_name,
        license=license,
        library_name="transformers",
        pipeline_tag=pipeline_tag,
        tags=list(dict.fromkeys(["hf_argen", *tags, "custom_code"])),
        datasets=list(datasets) or None,
        eval_results=results or None,
    )
    if not isinstance(train_commands, str):
        train_commands = "\n".join(train_commands)
    card = ModelCard.from_template(
        card_data,
        template_str=CARD_TEMPLATE,
        model_name=model_name,
        description=description.strip(),
        conditioning=conditioning.strip(),
        usage=usage.strip(),
        cli=cli,
        metrics=rows,
        metrics_note=metrics_note,
        eval_command=eval_command,
        training=(training or "").strip(),
        train_commands=train_commands.strip(),
        images=[image.__dict__ for image in images],
        sections=[section.__dict__ for section in sections],
        limitations=(limitations or "").strip(),
    )
    path = Path(folder) / "README.md"
    atomic_write_text(path, str(card))
    return path


def _metric_rows(metrics, dataset, known_datasets, task_type: str, task_name: str):
    """`(table rows, model-index EvalResults, dataset ids in order)` of `metrics`."""
    rows, results, named = [], [], []
    for metric in metrics:
        dataset_id, label = dataset_reference(metric.dataset or dataset, known_datasets)
        if dataset_id not in named:
            named.append(dataset_id)
        name = metric.name.replace("|", "\\|")  # a table cell
        rows.append({"dataset_label": label, "split": metric.split, "name": name, "display": metric.display})
        if metric.index:
            results.append(
                EvalResult(
                    task_type=task_type,
                    task_name=task_name,
                    dataset_type=dataset_id,
                    dataset_name=label,
                    dataset_split=metric.split,
                    metric_type=metric.type,
                    metric_name=metric.name,
                    metric_value=round(float(metric.value), 4),
                )
            )
    return rows, results, named


def read_training_info(folder: str | Path) -> dict:
    """`folder/training_info.json` (written by the training recipes), or `{}`."""
    path = Path(folder) / TRAINING_INFO
    return json.loads(path.read_text()) if path.is_file() else {}


def looks_like_local_path(name: str) -> bool:
    """True when `name` can only mean a local path: it starts with '.', '/' or '~', holds a path separator after a
    first component that exists here, or is not a valid Hub repo id (`huggingface_hub`'s own validation)."""
    name = str(name)
    if name.startswith((".", "/", "~")) or (os.altsep and name.startswith(os.altsep)):
        return True
    parts = Path(name).parts
    if len(parts) > 1 and Path(parts[0]).exists():
        return True
    try:
        validate_repo_id(name)
    except HFValidationError:
        return True
    return False


def check_model_reference(name: str, flag: str = "--model") -> None:
    """Check, before any download, that `name` (a `flag` value) is a saved model folder or a Hub model id: a
    ValueError naming `flag` for a local path that does not exist or a folder without ``config.json``; for an id
    that is no local folder, one request to the Hub (no retries; skipped offline and for ids already in the local
    cache) and a ValueError saying that neither a folder nor a Hub model of that name was found."""
    path = Path(str(name)).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"{flag} {name!r} is a folder without config.json, not a saved model folder.")
        return
    if path.exists():
        raise ValueError(f"{flag} {name!r} is a file; give the saved model's folder.")
    if looks_like_local_path(str(name)):
        raise ValueError(f"{flag} {name!r}: the folder {os.path.expanduser(name)!r} does not exist.")
    if isinstance(huggingface_hub.try_to_load_from_cache(str(name), "config.json"), str):
        return  # transformers reads the local cache
    if _offline():
        raise ValueError(f"{flag} {name!r}: no such local folder, and the Hub is off ($HF_HUB_OFFLINE) with no "
                         "copy of a model of that id in the local cache.")  # fmt: skip
    try:
        HfApi().model_info(str(name), timeout=10)
    except (RepositoryNotFoundError, HFValidationError):
        raise ValueError(f"{flag} {name!r}: no such local folder, and no model of that id on the Hub.") from None
    except HfHubHTTPError as error:
        raise ValueError(f"{flag} {name!r}: no such local folder, and the Hub refused to show a model of that id "
                         f"({str(error).splitlines()[0]}).") from None  # fmt: skip
    except Exception as error:  # connection errors (httpx) without importing httpx here
        if not isinstance(error, OSError) and not type(error).__module__.startswith(("httpx", "httpcore")):
            raise
        raise ValueError(f"{flag} {name!r}: no such local folder, and the Hub could not be reached to look for a "
                         f"model of that id ({type(error).__name__}).") from None  # fmt: skip


def _offline() -> bool:
    return any(os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE") for v in ("HF_HUB_OFFLINE",
               "TRANSFORMERS_OFFLINE"))  # fmt: skip


def check_hub_token(token: str | None = None) -> str:
    """The Hub user `token` (default: $HF_TOKEN or the saved login) belongs to, checked before anything long runs;
    an OSError saying how to log in when there is no token or the Hub refuses it."""
    token = token or huggingface_hub.get_token()  # looked up here: tests replace it
    if not token:
        raise OSError(NO_TOKEN)
    try:
        return huggingface_hub.whoami(token=token)["name"]
    except HfHubHTTPError as error:
        raise OSError(f"the Hub refused the token ({str(error).splitlines()[0]}); {NO_TOKEN}") from None
    except Exception as error:  # connection errors (httpx) without importing httpx here
        if not isinstance(error, OSError) and not type(error).__module__.startswith(("httpx", "httpcore")):
            raise
        raise OSError(
            f"cannot reach the Hub to check the token ({type(error).__name__}); check the network or "
            "$HF_ENDPOINT, or train without --push_to_hub and run `hf-argen push` later."
        ) from None


def read_hub_training_info(repo_id: str) -> dict:
    """``training_info.json`` of the Hub model `repo_id`, or `{}` when it has none or the Hub cannot be reached."""
    try:
        path = huggingface_hub.hf_hub_download(repo_id, TRAINING_INFO)
    except (OSError, ValueError, HfHubHTTPError):
        return {}
    return json.loads(Path(path).read_text())


def files_to_upload(folder: str | Path, ignore_patterns: list[str] | None = None) -> list[str]:
    """The files of `folder` that :func:`push_to_hub` uploads (relative paths, sorted)."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ValueError(f"{folder} is not a saved model folder (no config.json).")
    paths = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    ignore = UPLOAD_IGNORE if ignore_patterns is None else ignore_patterns
    return list(filter_repo_objects(paths, ignore_patterns=ignore))


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
    if not repo_id:
        raise ValueError("`repo_id` (--hub_model_id) is required to push to the Hub.")
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ValueError(f"{folder} is not a saved model folder (no config.json).")
    if not token and not huggingface_hub.get_token():  # looked up here: tests replace it
        raise OSError(NO_TOKEN)
    api = HfApi(endpoint=endpoint, token=token)
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        info = api.upload_folder(
            repo_id=url.repo_id,
            folder_path=str(folder),
            commit_message=commit_message,
            ignore_patterns=UPLOAD_IGNORE if ignore_patterns is None else ignore_patterns,
            repo_type="model",
        )
    except LocalTokenNotFoundError as error:
        raise OSError(NO_TOKEN) from error
    except HfHubHTTPError as error:
        raise OSError(f"the Hub refused the upload to {repo_id}: {str(error).splitlines()[0]}") from error
    except (ConnectionError, TimeoutError) as error:
        raise OSError(f"cannot reach the Hub at {api.endpoint} ({type(error).__name__}); check the network "
                      "or $HF_ENDPOINT.") from error  # fmt: skip
    except Exception as error:  # httpx errors (huggingface_hub >= 1.0) without importing httpx here
        if type(error).__module__.startswith(("httpx", "httpcore")):
            raise OSError(f"cannot reach the Hub at {api.endpoint} ({type(error).__name__}); check the network "
                          "or $HF_ENDPOINT.") from error  # fmt: skip
        raise
    return str(info)


__all__ = [
    "CARD_TEMPLATE",
    "PLACEHOLDER_NAMESPACE",
    "TRAINING_INFO",
    "UPLOAD_IGNORE",
    "check_hub_token",
    "check_model_reference",
    "looks_like_local_path",
    "CardImage",
    "CardMetric",
    "CardSection",
    "dataset_reference",
    "files_to_upload",
    "machine_paths",
    "push_to_hub",
    "read_hub_training_info",
    "placeholder_note",
    "read_training_info",
    "retarget_card",
    "write_model_card",
]
