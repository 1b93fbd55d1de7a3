"""Model cards and uploads, against a local Hub stand-in on 127.0.0.1 (no test reaches the internet)."""

import base64
import contextlib
import hashlib
import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration, PixelCNNImageProcessor

COMMIT = "a" * 40


class FakeHub:
    """Answers create-repo, preupload and commit (uploads), and model info and file HEAD/GET (downloads, with the
    headers `huggingface_hub.file_download` reads); records every request and the files committed, per repo."""

    def __init__(self):
        self.requests, self.files, self.repos, self.validated = [], {}, [], []
        self.stored = {}  # repo id -> {path: bytes}
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, payload, code=None):
                body = json.dumps(payload).encode()
                self.send_response(status)
                if code:
                    self.send_header("X-Error-Code", code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _file(self, send_body):
                path = self.path.split("?")[0]
                if path.startswith("/api/models/"):  # model info: /api/models/{repo}[/revision/{rev}]
                    repo_id = path[len("/api/models/") :].split("/revision/")[0]
                    if repo_id not in hub.stored:
                        return self._reply(404, {"error": "repo not found"}, code="RepoNotFound")
                    files = [{"rfilename": name, "size": len(data)} for name, data in hub.stored[repo_id].items()]
                    return self._reply(200, {"id": repo_id, "modelId": repo_id, "sha": COMMIT, "siblings": files,
                                             "private": False, "tags": [], "downloads": 0})  # fmt: skip
                if "/resolve/" not in path:
                    return self._reply(404, {"error": "not found"})
                repo_id, rest = path.lstrip("/").split("/resolve/", 1)
                name = rest.split("/", 1)[1] if "/" in rest else ""
                if repo_id not in hub.stored:
                    return self._reply(404, {"error": "repo not found"}, code="RepoNotFound")
                if name not in hub.stored[repo_id]:
                    return self._reply(404, {"error": "entry not found"}, code="EntryNotFound")
                data = hub.stored[repo_id][name]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
                self.send_header("X-Repo-Commit", COMMIT)
                self.end_headers()
                if send_body:
                    self.wfile.write(data)

            def do_HEAD(self):
                hub.requests.append(("HEAD", self.path, dict(self.headers), b""))
                self._file(send_body=False)

            def do_GET(self):
                hub.requests.append(("GET", self.path, dict(self.headers), b""))
                self._file(send_body=True)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hub.requests.append(("POST", self.path, dict(self.headers), body))
                path = self.path.split("?")[0]
                if path == "/api/repos/create":
                    payload = json.loads(body)
                    repo_id = f"{payload.get('organization') or 'user'}/{payload['name']}"
                    hub.repos.append(payload)
                    return self._reply(200, {"url": f"{hub.endpoint}/{repo_id}", "name": repo_id})
                if path == "/api/validate-yaml":  # the card's metadata, checked before the commit
                    hub.validated.append(json.loads(body)["content"])
                    return self._reply(200, {"errors": [], "warnings": []})
                if "/preupload/" in path:
                    files = json.loads(body)["files"]
                    return self._reply(
                        200,
                        {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]},
                    )
                if "/commit/" in path:
                    repo_id = path.split("/api/models/")[1].split("/commit/")[0]
                    for line in body.splitlines():
                        item = json.loads(line)
                        if item["key"] == "file":
                            data = base64.b64decode(item["value"]["content"])
                            hub.files[item["value"]["path"]] = data
                            hub.stored.setdefault(repo_id, {})[item["value"]["path"]] = data
                    return self._reply(
                        200,
                        {"commitUrl": f"{hub.endpoint}/{repo_id}/commit/{'a' * 40}", "commitOid": "a" * 40},
                    )
                return self._reply(404, {"error": "not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def saved_model(tmp_path):
    config = PixelCNNConfig(
        image_size=4,
        num_levels=17,
        num_classes=10,
        hidden_size=4,
        num_hidden_layers=1,
        output_hidden_size=4,
        first_kernel_size=3,
    )
    folder = tmp_path / "model"
    PixelCNNForImageGeneration(config).save_pretrained(folder)
    PixelCNNImageProcessor(num_levels=17, image_size=4).save_pretrained(folder)
    (folder / "checkpoint-10").mkdir()
    (folder / "checkpoint-10" / "optimizer.bin").write_bytes(b"x")
    return folder


def write_card(folder, repo_id="me/pixelcnn-digits", **kwargs):
    from hf_argen.recipes.cards import pixelcnn_card_metrics, write_card_for_folder

    report = {"bits_per_dim": 1.23456, "nats_per_image": 54.7, "marginal_bits_per_dim": 1.3,
              "marginal_nats_per_image": 57.1}  # fmt: skip
    return write_card_for_folder(folder, pixelcnn_card_metrics(report, "test", "train"), dataset="digits",
                                 repo_id=repo_id, train_commands=["accelerate launch x.py"], **kwargs)  # fmt: skip


def test_model_card_has_model_index_with_the_measured_figures(saved_model):
    from huggingface_hub import ModelCard

    from hf_argen.recipes.cards import pixelcnn_card_metrics

    card = ModelCard.load(write_card(saved_model))
    index = card.data.to_dict()["model-index"][0]
    metrics = {m["type"]: m for m in index["results"][0]["metrics"]}
    assert metrics["bits_per_dim"]["value"] == pytest.approx(1.2346)
    assert metrics["marginal_bits_per_dim"]["value"] == pytest.approx(1.3)
    assert all(m["name"].startswith("test ") for m in metrics.values())  # every metric names its split
    assert index["results"][0]["dataset"]["split"] == "test" and card.data.datasets == ["digits"]
    assert "accelerate launch x.py" in card.text and "**Conditioned on:** a class label, one of 10 classes" in card.text
    assert "-log p(x\\|y)" in card.text  # escaped in the table
    with pytest.raises(ValueError, match="bits_per_dim"):
        pixelcnn_card_metrics({}, "test")


def test_training_info_fills_the_card_and_datasets_are_never_paths(saved_model, tmp_path):
    from huggingface_hub import ModelCard

    from hf_argen.hub import dataset_reference, machine_paths
    from hf_argen.recipes.cards import DATASETS

    (saved_model / "training_info.json").write_text(json.dumps(
        {"hub_model_id": "org/from-info", "commands": ["accelerate launch a.py", "accelerate launch b.py"],
         "training": "Two runs."}))  # fmt: skip
    from hf_argen.recipes.cards import write_card_for_folder

    card = ModelCard.load(write_card_for_folder(saved_model, dataset="digits"))
    assert 'from_pretrained("org/from-info"' in card.text and "accelerate launch b.py" in card.text
    assert dataset_reference("mnist", DATASETS)[0] == "ylecun/mnist" and dataset_reference("mnist")[0] == "mnist"
    assert dataset_reference(str(tmp_path / "my_images"))[0] == "my_images"
    assert machine_paths("see /tmp/x and /work/runs/y, not model_cards/x") == ["/tmp/x", "/work/runs/y"]


def usage_block(text: str) -> str:
    return re.search(r"## Usage\n\n```python\n(.*?)```", text, re.S).group(1)


def run_snippet(readme: Path, repo_id: str, folder: Path) -> dict:
    snippet = usage_block(readme.read_text())
    assert repo_id in snippet
    namespace = {}
    exec(compile(snippet.replace(repo_id, str(folder)), str(readme), "exec"), namespace)
    return namespace


def test_usage_snippets_run_as_written_for_tiny_models_of_every_kind(tmp_path):
    from tiny_models import save_with_pipeline, tiny_pixelcnn, tiny_two_stage

    from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration
    from hf_argen.recipes.cards import write_card_for_folder

    conditional = save_with_pipeline(tiny_pixelcnn(), tmp_path / "pixelcnn")
    write_card_for_folder(conditional, repo_id="org/tiny-pixelcnn")
    names = run_snippet(conditional / "README.md", "org/tiny-pixelcnn", conditional)
    assert names["levels"].shape == (3, 1, 4, 4) and len(names["images"]) == 4
    config = PixelCNNConfig(image_size=4, num_levels=5, hidden_size=4, num_hidden_layers=1, output_hidden_size=4,
                            first_kernel_size=3)  # fmt: skip
    unconditional = save_with_pipeline(PixelCNNForImageGeneration(config).eval(), tmp_path / "unconditional")
    write_card_for_folder(unconditional, repo_id="org/tiny-unconditional")
    assert "nothing: the model is unconditional" in (unconditional / "README.md").read_text()
    names = run_snippet(unconditional / "README.md", "org/tiny-unconditional", unconditional)
    assert names["levels"].shape == (4, 1, 4, 4) and len(names["images"]) == 4
    two_stage = save_with_pipeline(tiny_two_stage(), tmp_path / "two_stage")
    write_card_for_folder(two_stage, repo_id="org/tiny-two-stage")
    text = (two_stage / "README.md").read_text()
    assert "1 `one`" in text  # the classes and their names
    names = run_snippet(two_stage / "README.md", "org/tiny-two-stage", two_stage)
    assert names["pixels"].shape == (10, 1, 28, 28) and names["codes"].shape == (10, 7, 7)
    two_stage_model = tiny_two_stage()
    two_stage_model.vqvae.save_pretrained(tmp_path / "vqvae")
    write_card_for_folder(tmp_path / "vqvae", repo_id="org/tiny-vqvae")
    names = run_snippet(tmp_path / "vqvae" / "README.md", "org/tiny-vqvae", tmp_path / "vqvae")
    assert names["reconstruction"].shape == (4, 1, 28, 28)
    from hf_argen import PixelVocabulary
    from hf_argen.recipes.pixel_lm import build_pixel_lm, set_image_layout

    for classes in (3, 0):  # a pixel LM, class-conditional and not: plain transformers sampling, levels out
        vocabulary = PixelVocabulary(num_levels=5, num_classes=classes)
        pixel_lm = build_pixel_lm("rnn", vocabulary, 2 + 12, hidden_size=8, num_hidden_layers=1)
        set_image_layout(pixel_lm.config, vocabulary, num_channels=3, image_size=2)
        pixel_lm.save_pretrained(tmp_path / f"pixel_lm{classes}")
        write_card_for_folder(tmp_path / f"pixel_lm{classes}", repo_id="org/tiny-pixel-lm")
        names = run_snippet(tmp_path / f"pixel_lm{classes}" / "README.md", "org/tiny-pixel-lm",
                            tmp_path / f"pixel_lm{classes}")  # fmt: skip
        assert names["levels"].shape == (classes or 4, 3, 2, 2) and names["levels"].max() < 5
        # The class-conditional RNN takes the class at every step too: its snippet passes the labels to generate().
        assert ("class_labels=" in (tmp_path / f"pixel_lm{classes}" / "README.md").read_text()) == bool(classes)


ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p for p in (ROOT / "model_cards").iterdir() if (p / "README.md").is_file())


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_cards(folder):
    from huggingface_hub import ModelCard

    from hf_argen.hub import machine_paths

    text = (folder / "README.md").read_text()
    assert not machine_paths(text) and "PYTHONPATH" not in text
    card = ModelCard.load(folder / "README.md")
    assert card.data.eval_results and all(r.dataset_split for r in card.data.eval_results)
    assert "**Conditioned on:**" in text and card.data.datasets
    repo_id = f"hf-argen/{folder.name}"
    with contextlib.redirect_stdout(io.StringIO()) as printed:  # ran as written, the Hub id replaced by the folder
        names = run_snippet(folder / "README.md", repo_id, folder)
    config = json.loads((folder / "config.json").read_text())
    kind = config["model_type"]
    if kind == "pixelcnn":  # integer levels of the configured image shape, and their PIL images
        size = (config["num_channels"], config["image_size"], config["image_size"])
        levels = names["levels"]
        assert levels.shape[1:] == size and 0 <= levels.min() and levels.max() < config["num_levels"]
        assert len(names["images"]) >= 1 and names["images"][0].size == (config["image_size"],) * 2
    elif kind == "vqvae":  # a reconstruction of the input's shape through codes of the codebook
        assert names["reconstruction"].shape == names["pixel_values"].shape
        assert names["codes"].max() < config["num_embeddings"]
    elif "pixel_lm" in config:  # a pixel LM: integer levels of its image layout
        layout = config["pixel_lm"]
        levels = names["levels"]
        assert levels.shape[1:] == (layout["num_channels"], layout["image_size"], layout["image_size"])
        assert 0 <= levels.min() and levels.max() < layout["num_levels"]
    elif kind == "vqvae_prior":  # decoded pixels in [-1, 1] from code maps of the codebook
        assert names["pixels"].shape[0] == names["codes"].shape[0] and names["pixels"].abs().max() <= 1
        assert names["codes"].max() < config["vqvae"]["num_embeddings"]
    elif kind == "vqvae_text_to_image":  # PIL images of the VQ-VAE's size, for the prompts
        vqvae = config["vqvae"]
        assert names["images"] and all(image.size == (vqvae["image_size"],) * 2 for image in names["images"])
    else:  # captioners and text models print what they generate
        assert [line for line in printed.getvalue().splitlines() if line.strip()], printed.getvalue()


def test_push_to_hub_uploads_the_folder_to_a_local_server(saved_model, monkeypatch):
    from hf_argen.hub import push_to_hub

    write_card(saved_model)
    import huggingface_hub.constants

    # The suite runs with HF_HUB_OFFLINE=1; this test talks to the loopback stand-in only (explicit endpoint).
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with FakeHub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        url = push_to_hub(saved_model, "me/pixelcnn-digits", token="hf_fake_token", endpoint=hub.endpoint)
    assert hub.validated and "model-index" in hub.validated[0]
    assert url.startswith(hub.endpoint) and "me/pixelcnn-digits" in url
    assert hub.repos and hub.repos[0]["name"] == "pixelcnn-digits"
    top_level = {p.name for p in saved_model.iterdir() if p.is_file()}
    assert {"README.md", "config.json", "model.safetensors", "preprocessor_config.json"} <= top_level
    assert set(hub.files) == top_level  # the whole folder, and no checkpoint-*
    assert hub.files["model.safetensors"] == (saved_model / "model.safetensors").read_bytes()
    assert all(
        r[2].get("authorization") == "Bearer hf_fake_token" or r[2].get("Authorization") == "Bearer hf_fake_token"
        for r in hub.requests
    )


def test_hub_round_trip_push_then_load_by_id_without_hf_argen(tmp_path, monkeypatch, run_without_hf_argen):
    """push_to_hub a tiny PixelCNN and a tiny two-stage model, then load both by Hub id from the same endpoint
    in a process where `import hf_argen` fails, and generate."""
    import huggingface_hub.constants
    import torch
    from tiny_models import save_with_pipeline, tiny_pixelcnn, tiny_two_stage

    from hf_argen.hub import push_to_hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    models = {"org/tiny-pixelcnn": tiny_pixelcnn(), "org/tiny-two-stage": tiny_two_stage()}
    expected = {}
    with FakeHub() as hub:
        for repo_id, model in models.items():
            folder = save_with_pipeline(model, tmp_path / repo_id.split("/")[1])
            push_to_hub(folder, repo_id, token="hf_fake_token", endpoint=hub.endpoint)
            kwargs = {} if "pixelcnn" in repo_id else {"output_type": "codes"}
            expected[repo_id] = model.generate(class_labels=[0, 1], seed=3, **kwargs)
        assert {"config.json", "model.safetensors", "modeling_vqvae_prior.py"} <= set(hub.stored["org/tiny-two-stage"])
        torch.save(expected, tmp_path / "expected.pt")
        env = {"HF_ENDPOINT": hub.endpoint, "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0", "HF_TOKEN": ""}
        result = run_without_hf_argen(
            """
            import torch
            from transformers import AutoModel
            expected = torch.load("expected.pt")
            for repo_id, samples in expected.items():
                model = AutoModel.from_pretrained(repo_id, trust_remote_code=True)
                assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
                kwargs = {} if "pixelcnn" in repo_id else {"output_type": "codes"}
                assert torch.equal(model.generate(class_labels=[0, 1], seed=3, **kwargs), samples), repo_id
            print("ROUND_TRIP_OK")
        """,
            tmp_path,
            env,
        )
    assert "ROUND_TRIP_OK" in result.stdout, result.stderr[-3000:]
    assert any(method == "HEAD" and "/resolve/" in path for method, path, *_ in hub.requests)


def test_a_card_without_a_hub_id_names_a_placeholder_never_a_local_path(saved_model, tmp_path):
    """A trained folder's card (no --hub_model_id): the snippet loads `your-name/<folder>` with a note on the local
    form, no path of this machine; `retarget_card` (what `hf-argen push` does) writes a Hub id in."""
    from hf_argen.hub import machine_paths, retarget_card

    write_card(saved_model.resolve(), repo_id=None)
    usage = usage_block((saved_model / "README.md").read_text())
    assert 'from_pretrained("your-name/model"' in usage and 'from_pretrained("path/to/model"' in usage
    assert str(saved_model) not in usage and not machine_paths(usage)
    compile(usage, "README.md", "exec")  # the note is a comment: the snippet stays Python
    assert retarget_card(saved_model, "me/digits") and not retarget_card(saved_model, "me/digits")
    text = (saved_model / "README.md").read_text()
    assert "your-name" not in text and "path/to/" not in text and 'from_pretrained("me/digits"' in text
    assert "--model me/digits " in text


def test_push_script_against_local_server(saved_model, tmp_path):
    import subprocess
    import sys

    write_card(saved_model, repo_id=None)  # as training writes it without --hub_model_id
    root = Path(__file__).resolve().parents[2]
    with FakeHub() as hub:
        env = {
            "HF_ENDPOINT": hub.endpoint,
            "HF_TOKEN": "hf_fake",
            "PYTHONPATH": str(root),
            "PATH": "/usr/bin:/bin",
            "HF_HOME": str(tmp_path / "hf_home"),
        }
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "hf_argen.cli",
                "push",
                "--model",
                str(saved_model),
                "--hub_model_id",
                "me/tiny",
                "--private",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    repo = hub.repos[0]
    assert (repo.get("visibility") == "private" or repo.get("private") is True) and "config.json" in hub.files
    card = hub.files["README.md"].decode()  # the card names the id it was pushed under
    assert 'from_pretrained("me/tiny"' in card and "your-name" not in card


def test_push_to_hub_needs_a_repo_id_and_a_model(tmp_path):
    from hf_argen.hub import push_to_hub

    with pytest.raises(ValueError, match="repo_id"):
        push_to_hub(tmp_path, "")
    with pytest.raises(ValueError, match="config.json"):
        push_to_hub(tmp_path, "me/x")


def test_push_without_a_token_is_one_clear_error(saved_model, monkeypatch):
    import huggingface_hub

    from hf_argen.hub import push_to_hub

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(OSError, match="no Hub token"):
        push_to_hub(saved_model, "me/x", endpoint="http://127.0.0.1:9")


def test_limitations_from_training_info_survive_a_rewrite_of_the_card(saved_model):
    """A card's `limitations` (training_info.json, e.g. "samples are not recognisable emoji") is said under the images
    and kept by every later rewrite (a new evaluation); a card without any has no Limitations line."""
    assert "Limitations" not in write_card(saved_model).read_text()
    sentence = "Its samples are coloured fragments, not recognisable emoji."
    (saved_model / "training_info.json").write_text(json.dumps({"limitations": sentence}))
    for _ in range(2):  # written, then rewritten as `hf-argen evaluate --write_card` does
        text = write_card(saved_model).read_text()
        assert f"**Limitations:** {sentence}" in text
        assert text.index("**Limitations:**") < text.index("## Usage")
    other = "Trained on 20 images only."
    assert f"**Limitations:** {other}" in write_card(saved_model, limitations=other).read_text()  # a flag wins


def test_the_shipped_emoji_card_says_its_samples_are_not_recognisable():
    root = Path(__file__).resolve().parents[2] / "model_cards" / "pixelcnn-emoji"
    info = json.loads((root / "training_info.json").read_text())
    assert "not recognisable emoji" in info["limitations"]
    assert f"**Limitations:** {info['limitations']}" in (root / "README.md").read_text()
