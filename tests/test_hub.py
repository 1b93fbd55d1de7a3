"""Model cards and uploads, against a local Hub stand-in on 127.0.0.1 (no test reaches the internet)."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration, PixelCNNImageProcessor


class FakeHub:
    """Answers create-repo, preupload and commit; records every request and the files committed."""

    def __init__(self):
        self.requests, self.files, self.repos, self.validated = [], {}, [], []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, payload):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                hub.requests.append(("GET", self.path, dict(self.headers), b""))
                self._reply(404, {"error": "not found"})

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
                        {
                            "files": [
                                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                for f in files
                            ]
                        },
                    )
                if "/commit/" in path:
                    for line in body.splitlines():
                        item = json.loads(line)
                        if item["key"] == "file":
                            hub.files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    repo_id = path.split("/api/models/")[1].split("/commit/")[0]
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


def test_model_card_has_model_index_with_the_measured_figure(saved_model):
    from huggingface_hub import ModelCard

    from hf_argen.hub import write_pixelcnn_model_card

    path = write_pixelcnn_model_card(
        saved_model,
        "me/pixelcnn-digits",
        command="accelerate launch x.py",
        dataset="digits",
        split="test",
        metrics={"bits_per_dim": 1.23456, "nats_per_image": 54.7},
    )
    card = ModelCard.load(path)
    index = card.data.to_dict()["model-index"][0]
    metrics = {m["type"]: m["value"] for m in index["results"][0]["metrics"]}
    assert metrics["bits_per_dim"] == pytest.approx(1.2346)
    assert index["results"][0]["dataset"]["split"] == "test"
    assert "accelerate launch x.py" in card.text and "samples.png" in card.text
    with pytest.raises(ValueError, match="bits_per_dim"):
        write_pixelcnn_model_card(saved_model, "me/x", command="c", dataset="d", split="s", metrics={})


def test_push_to_hub_uploads_the_folder_to_a_local_server(saved_model, monkeypatch):
    from hf_argen.hub import push_to_hub, write_pixelcnn_model_card

    write_pixelcnn_model_card(
        saved_model,
        "me/pixelcnn-digits",
        command="c",
        dataset="digits",
        split="test",
        metrics={"bits_per_dim": 1.5},
    )
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
        r[2].get("authorization") == "Bearer hf_fake_token"
        or r[2].get("Authorization") == "Bearer hf_fake_token"
        for r in hub.requests
    )


def test_push_script_against_local_server(saved_model, tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
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
                str(root / "scripts" / "push_to_hub.py"),
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


def test_push_to_hub_needs_a_repo_id_and_a_model(tmp_path):
    from hf_argen.hub import push_to_hub

    with pytest.raises(ValueError, match="repo_id"):
        push_to_hub(tmp_path, "")
    with pytest.raises(ValueError, match="config.json"):
        push_to_hub(tmp_path, "me/x")
