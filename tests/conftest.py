import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Encoded-code caches of the tests go to a folder of this session, not the user's ~/.cache/hf_argen.
os.environ.setdefault("HF_ARGEN_CACHE", __import__("tempfile").mkdtemp(prefix="hf_argen_cache_"))

import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402

import pytest  # noqa: E402
import tiny_models  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def pytest_collection_modifyitems(config, items):
    """Tests marked `cuda` skip where no CUDA device is available (CI); they run on a GPU machine."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


BLOCK_HF_ARGEN = """
import sys
sys.modules["hf_argen"] = None  # make `import hf_argen` fail
try:
    import hf_argen
except ImportError:
    pass
else:
    raise SystemExit("hf_argen is importable")
"""


def _run_without_hf_argen(script: str, tmp_path, extra_env=None) -> subprocess.CompletedProcess:
    """Run `script` (dedented) in a fresh Python where `import hf_argen` fails, in `tmp_path`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_HOME"] = str(tmp_path / "hf_home")
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-c", BLOCK_HF_ARGEN + textwrap.dedent(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.fixture
def run_without_hf_argen():
    """`run_without_hf_argen(script, tmp_path, extra_env=None)`: a subprocess where `import hf_argen` fails (what a
    user of `trust_remote_code=True` without the package has); returns the `CompletedProcess`."""
    return _run_without_hf_argen


@pytest.fixture
def hf_argen_cli(capsys):
    """`hf_argen_cli("generate", "--model", ...)`: `hf-argen` run in this process (no interpreter start-up); returns
    `(exit status, stdout, stderr)`."""
    from hf_argen.cli.main import main

    def run(*argv):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(list(argv))
        out, err = capsys.readouterr()
        return exit_info.value.code, out, err

    return run


# ---- the default tiny models (factories for other sizes: tests/tiny_models.py) ---------------------------------
@pytest.fixture
def rgb_pixelcnn():
    """A 5x5 RGB class-conditional PixelCNN (4 levels, 3 classes) with random biases, in eval mode."""
    return tiny_models.tiny_rgb_pixelcnn()


@pytest.fixture
def scored_pixelcnn():
    """A 4x4 grey PixelCNN (5 levels, 3 classes) whose classes change the likelihood, in eval mode."""
    return tiny_models.tiny_scored_pixelcnn()


@pytest.fixture
def vqvae():
    """An 8x8 grey VQ-VAE with 16 codes on a 4x4 grid, in eval mode."""
    return tiny_models.tiny_vqvae().eval()


@pytest.fixture
def two_stage():
    """A 28x28 two-stage model (16 codes on 7x7, a one-layer transformer prior, 10 named classes)."""
    return tiny_models.tiny_two_stage()


@pytest.fixture
def captioner():
    """A 16x16 RGB captioner with the word tokenizer of `tiny_models.CAPTIONS`."""
    return tiny_models.tiny_captioner()
