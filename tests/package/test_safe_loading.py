"""Broken model folders: every model kind refuses each breakage with an error naming the file at fault."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from reliability_models import BUILDERS, captioner
from safetensors.torch import load_file, save_file

WEIGHTS, CONFIG = "model.safetensors", "config.json"


def _edit_config(folder, change):
    config = json.loads((folder / CONFIG).read_text())
    change(config)
    (folder / CONFIG).write_text(json.dumps(config))


def _edit_weights(folder, change):
    weights = load_file(str(folder / WEIGHTS))
    change(weights)
    save_file(weights, str(folder / WEIGHTS), metadata={"format": "pt"})


def _corrupt(folder):
    data = bytearray((folder / WEIGHTS).read_bytes())
    data[10:30] = b"x" * 20
    (folder / WEIGHTS).write_bytes(bytes(data))


def _pickle_only(folder):
    torch.save(load_file(str(folder / WEIGHTS)), folder / "pytorch_model.bin")
    (folder / WEIGHTS).unlink()


def _drop_one(weights):
    weights.pop(sorted(weights)[0])


def _reshape_one(weights):
    key = sorted(key for key in weights if weights[key].dim() > 0)[-1]
    weights[key] = torch.zeros(3, 3, dtype=weights[key].dtype)


BREAKAGES = {  # name: (change to a saved folder, exception, fragment naming the file)
    "truncated-weights": (lambda f: (f / WEIGHTS).write_bytes((f / WEIGHTS).read_bytes()[:200]), OSError, WEIGHTS),
    "corrupt-weights": (_corrupt, OSError, WEIGHTS),
    "wrong-model_type": (lambda f: _edit_config(f, lambda c: c.update(model_type="bert")), ValueError, CONFIG),
    "no-model_type": (lambda f: _edit_config(f, lambda c: c.pop("model_type")), ValueError, CONFIG),
    "no-weights": (lambda f: (f / WEIGHTS).unlink(), OSError, WEIGHTS),
    "pickle-only": (_pickle_only, OSError, "pytorch_model.bin"),
    "missing-tensor": (lambda f: _edit_weights(f, _drop_one), OSError, WEIGHTS),
    "wrong-shape": (lambda f: _edit_weights(f, _reshape_one), OSError, WEIGHTS),
    "bad-json": (lambda f: (f / CONFIG).write_text("{ not json"), OSError, CONFIG),
    "no-config": (lambda f: (f / CONFIG).unlink(), OSError, CONFIG),
}
KINDS = {**BUILDERS, "captioner": captioner}
_SAVED: dict = {}


def _saved(kind, root):
    if kind not in _SAVED:
        model = KINDS[kind]()
        folder = root / f"saved-{kind}"
        model.save_pretrained(folder)
        _SAVED[kind] = (type(model), folder)
    return _SAVED[kind]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("folders")


@pytest.mark.parametrize("breakage", list(BREAKAGES))
@pytest.mark.parametrize("kind", list(KINDS))
def test_broken_folder_is_refused_naming_the_file(kind, breakage, root):
    model_class, saved = _saved(kind, root)
    folder = root / f"{kind}-{breakage}"
    shutil.copytree(saved, folder)
    change, error, fragment = BREAKAGES[breakage]
    change(folder)
    with pytest.raises(error) as caught:
        model_class.from_pretrained(folder)
    assert fragment in str(caught.value), str(caught.value)


@pytest.mark.parametrize("kind", list(KINDS))
def test_intact_folder_loads(kind, root):
    """The checks refuse nothing that is whole: the loaded model has the saved class, config and weights."""
    model_class, saved = _saved(kind, root)
    loaded = model_class.from_pretrained(saved)
    assert type(loaded) is model_class
    assert loaded.config.model_type == json.loads((saved / CONFIG).read_text())["model_type"]
    saved_weights = load_file(str(saved / WEIGHTS))
    state = loaded.state_dict()
    assert saved_weights and all(torch.equal(state[name], tensor) for name, tensor in saved_weights.items())


@pytest.mark.parametrize("kind", list(KINDS))
def test_missing_tensor_is_reported_when_loading_info_is_asked_for(kind, root):
    """`output_loading_info=True` (transformers' way to inspect a partial load) returns the missing keys instead of
    raising; without it the same folder is refused (above)."""
    model_class, saved = _saved(kind, root)
    folder = root / f"{kind}-info"
    shutil.copytree(saved, folder)
    dropped = sorted(load_file(str(folder / WEIGHTS)))[0]
    _edit_weights(folder, _drop_one)
    _, info = model_class.from_pretrained(folder, output_loading_info=True)
    assert dropped in info["missing_keys"]
