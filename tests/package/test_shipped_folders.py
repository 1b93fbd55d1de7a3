"""Shipped model folders are build output: each one's code and config are what `save_pretrained` writes today
(`hf-argen export model_cards/*` rewrites them), and each loads as remote code where hf_argen cannot be imported."""

from pathlib import Path

import pytest

from hf_argen.export import code_drift, export_folder

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(folder for folder in (ROOT / "model_cards").iterdir() if (folder / "config.json").is_file())


@pytest.mark.parametrize("folder", SHIPPED, ids=[folder.name for folder in SHIPPED])
def test_shipped_code_is_what_save_pretrained_writes(folder):
    assert code_drift(folder) == [], f"run `hf-argen export model_cards/{folder.name}`"


def test_export_rewrites_stale_code_and_removes_unneeded_files(tmp_path):
    import shutil

    folder = tmp_path / "pixelcnn-digits"
    shutil.copytree(ROOT / "model_cards" / "pixelcnn-digits", folder)
    (folder / "modeling_pixelcnn.py").write_text("# stale\n")
    (folder / "modeling_unused.py").write_text("# not imported by the model\n")
    (folder / "sampling_utils.py").unlink()
    weights = (folder / "model.safetensors").read_bytes()
    assert code_drift(folder) == ["modeling_pixelcnn.py", "modeling_unused.py", "sampling_utils.py"]
    assert export_folder(folder) == ["modeling_pixelcnn.py", "modeling_unused.py", "sampling_utils.py"]
    assert code_drift(folder) == []
    assert not (folder / "modeling_unused.py").exists()
    assert (folder / "model.safetensors").read_bytes() == weights  # weights are an input, never rewritten
    assert (folder / "README.md").read_text() == (ROOT / "model_cards" / "pixelcnn-digits" / "README.md").read_text()


def test_a_shipped_composite_is_made_of_the_package_classes():
    from transformers import AutoModel

    import hf_argen

    model = AutoModel.from_pretrained(ROOT / "model_cards" / "vqvae-prior-mnist")
    assert isinstance(model, hf_argen.VQVAEPriorForImageGeneration)
    assert isinstance(model.vqvae, hf_argen.VQVAEModel)
    assert isinstance(model.prior, hf_argen.ARTransformerForCausalLM)
