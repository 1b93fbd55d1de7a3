"""The Gradio demo (demo/app.py): its handlers, its API through `gradio_client`, and its page in headless Chromium.

The browser test drives Debian's `chromium` through Playwright (no browser download). It skips when chromium is
missing, unless the environment variable `CI` is set, where a missing chromium is a failure. Screenshots of each tab
go to a temporary folder, or to `HF_ARGEN_DEMO_SCREENSHOTS` when set (how docs/screenshots/ is made).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip

gr = pytest.importorskip("gradio", reason="the demo tests need gradio (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def app():
    spec = importlib.util.spec_from_file_location("hf_argen_demo_app", DEMO / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def store(app):
    return app.ModelStore(ROOT / "model_cards")


@pytest.fixture(scope="module")
def handlers(app, store):
    return app.Handlers(store)


def expected_grid_size(image_size: int, columns: int, rows: int, pad: int = 2) -> tuple[int, int]:
    scale = max(1, 96 // image_size)
    return columns * (image_size * scale + pad) + pad, rows * (image_size * scale + pad) + pad


# ----------------------------------------------------------------------------------------------------------
# Handlers, called directly
# ----------------------------------------------------------------------------------------------------------
def test_model_list_is_every_shipped_folder_of_a_kind(app, store, tmp_path):
    shipped = sorted(p.name for p in (ROOT / "model_cards").glob("pixelcnn-*") if (p / "config.json").is_file())
    assert store.names["pixelcnn"] == shipped and {"pixelcnn-digits", "pixelcnn-mnist"} <= set(shipped)
    assert store.names["prior"] == ["vqvae-pixelcnn-prior-mnist", "vqvae-prior-mnist"]
    assert store.names["captioner"] == ["captioner-emoji", "captioner-mnist-scenes"]
    assert store.names["text"] == ["ar-transformer-fortunes"]
    assert store.names["text_to_image"] == ["text-to-image-emoji", "text-to-image-mnist-scenes"]
    # A new pixelcnn-* folder shows up without code changes (config.json is what makes a folder a model).
    for name in ("pixelcnn-digits", "pixelcnn-emoji", "vqvae-mnist", "notes"):
        (tmp_path / name).mkdir()
        if name != "notes":
            shutil.copy(ROOT / "model_cards" / "pixelcnn-digits" / "config.json", tmp_path / name)
    names = app.ModelStore(tmp_path).names
    assert names["pixelcnn"] == ["pixelcnn-digits", "pixelcnn-emoji"] and names["prior"] == []


def test_front_matter_lists_the_hub_ids_of_the_shipped_models(app):
    ids = app.front_matter_models()
    shipped = {p.name for p in (ROOT / "model_cards").iterdir() if (p / "config.json").is_file()}
    assert {i.split("/")[-1] for i in ids} <= shipped and all(i.startswith("hf-argen/") for i in ids)
    assert {"pixelcnn-digits", "vqvae-prior-mnist", "captioner-emoji", "ar-transformer-fortunes"} <= {
        i.split("/")[-1] for i in ids
    }


def test_hub_mode_loads_the_front_matter_ids(app, monkeypatch):
    store = app.ModelStore(None, hub="someone")
    assert store.names["pixelcnn"][0] == "pixelcnn-digits"
    assert store.source("captioner-emoji") == "someone/captioner-emoji"
    monkeypatch.delenv("HF_ARGEN_DEMO_HUB", raising=False)
    assert app.parse_args([]).hub is None and app.parse_args(["--hub"]).hub == "hf-argen"
    assert app.parse_args(["--hub", "me"]).hub == "me" and app.parse_args([]).host == "127.0.0.1"


def test_an_rgb_pixelcnn_with_named_classes_samples_in_colour(app, tmp_path):
    """As a `pixelcnn-emoji` folder will: RGB, classes named by category."""
    from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration

    names = {0: "Smileys & Emotion", 1: "Animals & Nature", 2: "Flags"}
    config = PixelCNNConfig(image_size=6, num_channels=3, num_levels=8, num_classes=3, hidden_size=8,
                            num_hidden_layers=1, output_hidden_size=8, id2label=names)  # fmt: skip
    PixelCNNForImageGeneration(config).save_pretrained(tmp_path / "pixelcnn-emoji")
    handlers = app.Handlers(app.ModelStore(tmp_path))
    frames = [frame for frame, _ in handlers.sample("pixelcnn-emoji", ["Flags", "Smileys & Emotion"], 2, 1.0, 4, 1)]
    assert len(frames) == 6 and frames[-1].mode == "RGB" and frames[-1].size == expected_grid_size(6, 2, 2)
    grid = np.array(frames[-1])
    assert (grid[..., 0] != grid[..., 1]).any()  # colour, not grey


def test_sampling_yields_the_grid_row_by_row(handlers):
    frames, statuses = zip(*handlers.sample("pixelcnn-digits", ["3", "7"], 1, 1.0, 0, 0))
    assert len(frames) == 8  # one frame per row of the 8x8 digits
    assert statuses[0] == "Row 1 of 8..." and statuses[-1].startswith("Done: 2 images in")
    assert all(frame.size == expected_grid_size(8, 2, 1) for frame in frames)
    pixels = [torch.from_numpy(np.array(frame)) for frame in frames]
    assert all(not torch.equal(a, b) for a, b in zip(pixels, pixels[1:]))  # every frame adds a row
    again = list(handlers.sample("pixelcnn-digits", ["3", "7"], 1, 1.0, 0, 0))[-1][0]
    assert np.array_equal(np.asarray(again), np.asarray(frames[-1]))  # same seed, same grid


@pytest.mark.parametrize(
    "args, message",
    [
        (("pixelcnn-digits", [], 1, 1.0, 0, 0), "Pick at least one class"),
        (("pixelcnn-digits", ["3"], 1, 1.0, 0, -1), "seed must be a whole number from 0 to"),
        (("pixelcnn-digits", ["3"], 1, 1.0, 0, 2**40), "seed must be a whole number from 0 to"),
        (("pixelcnn-digits", ["3"], 1, 1.0, 0, 1.5), "seed must be a whole number"),
        (("pixelcnn-digits", ["3"], 1, 1.0, 0, None), "seed must be a whole number"),
        (("pixelcnn-digits", ["eleven"], 1, 1.0, 0, 0), "Unknown class"),
        (("pixelcnn-digits", ["3"], 1, 0.0, 0, 0), "Temperature must be a number from"),
        (("pixelcnn-digits", ["3"], 0, 1.0, 0, 0), "Samples per class must be a whole number"),
        (("vqvae-mnist", ["3"], 1, 1.0, 0, 0), "Pick a model"),
        ((None, ["3"], 1, 1.0, 0, 0), "Pick a model"),
    ],
)
def test_bad_sampling_input_is_a_readable_message(app, handlers, args, message):
    with pytest.raises(app.DemoError, match=message):
        list(handlers.sample(*args))


def test_bad_input_of_the_other_tabs(app, handlers):
    with pytest.raises(app.DemoError, match="Upload an image or pick an example first"):
        handlers.caption(None, "captioner-emoji", 3)
    with pytest.raises(app.DemoError, match="Beam width"):
        handlers.caption(torch.zeros(8, 8, 3, dtype=torch.uint8).numpy(), "captioner-emoji", 0)
    with pytest.raises(app.DemoError, match="seed"):
        handlers.two_stage("3", -3, 1.0)
    with pytest.raises(app.DemoError, match="Pick at least one class"):
        handlers.two_stage(None, 0, 1.0)
    with pytest.raises(app.DemoError, match="Row must be a whole number from 0 to 15"):
        handlers.receptive_field(16, 0, 3)
    with pytest.raises(app.DemoError, match="seed"):
        handlers.fortune("You", 8, 1.0, "x")


def test_two_stage_gives_a_code_map_and_an_image_per_prior(handlers, store):
    outputs = handlers.two_stage("7", 0, 1.0)
    assert len(outputs) == 2 * len(store.names["prior"])
    for code_map, image in zip(outputs[::2], outputs[1::2]):
        assert code_map.size == (7 * 32, 7 * 32) and code_map.mode == "RGB"
        assert image.size == (224, 224)


def cell(grid: np.ndarray, index: int, size: int, scale: int, pad: int = 2) -> np.ndarray:
    """Image `index` of a one-row `grid_image` grid, at screen scale."""
    left = pad + index * (size * scale + pad)
    return grid[pad : pad + size * scale, left : left + size * scale]


def test_completion_keeps_the_rows_and_streams_the_rest(handlers):
    from PIL import Image

    with Image.open(DEMO / "examples" / "digit_7.png") as digit:
        frames = list(handlers.complete("pixelcnn-digits", digit.copy(), 4, 3, 1.0, 0))
    statuses = [status for _, _, status in frames]
    assert statuses[0] == "Row 5 of 8..." and statuses[-1].startswith("Done: 3 completions of the top 4 of 8 rows in")
    assert "Likeliest class given the kept rows:" in statuses[-1]
    kept, grid = np.array(frames[-1][0]), np.array(frames[-1][1])
    scale = 96 // 8
    assert grid.shape[:2] == expected_grid_size(8, 3, 1)[::-1] and kept.shape[:2] == expected_grid_size(8, 1, 1)[::-1]
    top = 4 * scale
    for index in range(3):  # each completion starts with the kept rows, and its other rows are drawn
        completion = cell(grid, index, 8, scale)
        assert np.array_equal(completion[:top], cell(kept, 0, 8, scale)[:top])
        assert not np.array_equal(completion[top:], cell(kept, 0, 8, scale)[top:])
    again = list(handlers.complete("pixelcnn-digits", Image.open(DEMO / "examples" / "digit_7.png"), 4, 3, 1.0, 0))
    assert np.array_equal(np.asarray(again[-1][1]), grid)  # same seed, same completions


def test_completion_with_a_two_stage_model_keeps_code_rows(handlers, app, store):
    from PIL import Image

    with Image.open(DEMO / "examples" / "digit_9.png") as digit:
        frames = list(handlers.complete("vqvae-prior-mnist", digit.copy(), 3, 2, 1.0, 1))
    ((kept, grid, status),) = frames
    assert status.startswith("Done: 2 completions of the top 3 of 7 code rows, 4 pixel rows each in")
    assert grid.size == expected_grid_size(28, 2, 1) and kept.size == expected_grid_size(28, 1, 1)
    kept = np.array(kept)
    assert (cell(kept, 0, 28, 3)[12 * 3 :] == 128).all() and (cell(kept, 0, 28, 3)[: 12 * 3] != 128).any()
    update = app.rows_slider_update(store.get_completer("vqvae-prior-mnist"))
    assert update["maximum"] == 7 and update["value"] == 3 and "code rows" in update["label"]
    assert app.rows_slider_update(store.get_completer("pixelcnn-mnist"))["maximum"] == 28


def test_completion_examples_name_shipped_models(app, store):
    examples = app.completion_examples(store)
    assert {model for _, model in examples} == {"pixelcnn-mnist", "vqvae-prior-mnist", "pixelcnn-emoji"}
    assert all(Path(path).is_file() for path, _ in examples)
    assert all(model.startswith("captioner-") for _, model, _ in app.caption_examples(store))


def test_bad_completion_input(app, handlers):
    from PIL import Image

    digit = Image.new("L", (28, 28))
    for args, message in (
        (("pixelcnn-digits", None, 4, 2, 1.0, 0), "Upload an image or pick an example to complete"),
        (("pixelcnn-digits", digit, 9, 2, 1.0, 0), "Rows to keep must be a whole number from 0 to 8"),
        (("vqvae-prior-mnist", digit, 8, 2, 1.0, 0), "Rows to keep must be a whole number from 0 to 7"),
        (("pixelcnn-digits", digit, 4, 0, 1.0, 0), "Completions must be a whole number from 1 to 8"),
        (("pixelcnn-digits", digit, 4, 2, 1.0, -1), "seed must be a whole number"),
        (("captioner-emoji", digit, 4, 2, 1.0, 0), "Pick a model"),
    ):
        with pytest.raises(app.DemoError, match=message):
            list(handlers.complete(*args))


def test_code_colours_are_distinct_for_neighbouring_codes(app):
    colours = app.code_colours(torch.arange(512).numpy(), 512)
    assert colours.shape == (512, 3) and len({tuple(c) for c in colours}) == 512


def test_receptive_field_shows_the_blind_spot_of_the_masked_model_only(handlers, app):
    masked, gated, summary = handlers.receptive_field(10, 8, 7)
    assert masked.size == gated.size == (16 * app.RF_SCALE, 16 * app.RF_SCALE)
    assert "masked**: 91 pixels seen, 21 in the blind spot" in summary
    assert "gated**: 112 pixels seen, 0 in the blind spot" in summary


def test_receptive_field_maps_properties():
    from hf_argen.receptive_field import receptive_field_maps

    for layers, row, col in ((0, 3, 3), (2, 5, 1), (4, 7, 6)):
        maps = receptive_field_maps(8, layers, row, col)
        order = torch.arange(64).view(8, 8)
        for colours in maps.values():
            assert colours[row, col] == 4 and int((colours == 4).sum()) == 1
            assert not ((colours == 1) & (order > row * 8 + col)).any()  # causal: nothing later is seen
        assert not (maps["gated"] == 3).any()  # no blind spot
    assert (receptive_field_maps(8, 3, 6, 2)["masked"] == 3).any()


def test_pick_pixel_maps_a_click_to_row_and_column(app):
    event = type("Select", (), {"index": [5 * app.RF_SCALE + 3, 12 * app.RF_SCALE + 19]})()
    assert app.Handlers.pick_pixel(event) == (12, 5)


def test_captioning_and_text(handlers):
    from PIL import Image

    examples = json.loads((DEMO / "examples" / "examples.json").read_text())
    scene = next(e for e in examples if e["model"] == "captioner-mnist-scenes")
    with Image.open(DEMO / "examples" / scene["file"]) as image:
        assert handlers.caption(image, scene["model"], 3) == scene["text"]
    text, stop = handlers.fortune("You will", 64, 0.8, 0)
    assert text.startswith("You will") and len(text) > len("You will") and stop == "ended at EOS"
    _, stop = handlers.fortune("You will", 2, 0.8, 0)
    assert stop == "stopped after 2 tokens, before EOS"


def test_text_to_image_defaults_follow_the_model(handlers):
    prompts, guidance = handlers.text_to_image_defaults("text-to-image-emoji")
    assert prompts.splitlines() == ["grinning face", "red apple"] and guidance == 1.0
    prompts, guidance = handlers.text_to_image_defaults("text-to-image-mnist-scenes")
    assert prompts.splitlines()[0] == "a 3 above a 7" and guidance == 3.0
    grid, status = handlers.text_to_image("text-to-image-emoji", "grinning face\nred apple", 1.0, 1, 0)
    assert status.startswith("Done: 2 images") and grid.mode == "RGB"


def test_text_to_image_tab(handlers):
    grid, status = handlers.text_to_image("text-to-image-mnist-scenes", "a 3 above a 7\na 2 to the left of a 9",
                                          3.0, 2, 0)  # fmt: skip
    assert status.startswith("Done: 4 images") and grid.size == expected_grid_size(32, 2, 2)
    again, _ = handlers.text_to_image("text-to-image-mnist-scenes", "a 3 above a 7\na 2 to the left of a 9", 3.0, 2, 0)
    assert np.array_equal(np.asarray(grid), np.asarray(again))  # the seed makes it reproducible
    for prompts, message in (("a 3 beside a 7", "beside"), ("", "Write a prompt"), ("\n".join(["a 1 above a 2"] * 9),
                             "At most 8 prompts")):  # fmt: skip
        with pytest.raises(gr.Error, match=message):
            handlers.text_to_image("text-to-image-mnist-scenes", prompts, 3.0, 1, 0)
    with pytest.raises(gr.Error, match="Guidance scale"):
        handlers.text_to_image("text-to-image-mnist-scenes", "a 3 above a 7", 50, 1, 0)


# ----------------------------------------------------------------------------------------------------------
# The running app: its API and its page
# ----------------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(app, store):
    demo = app.build_demo(store).queue()
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield demo.local_url
    finally:
        demo.close()


def test_python_demo_app_py_serves_on_localhost(tmp_path):
    """`python demo/app.py --port P` (what the README says) serves the page on 127.0.0.1."""
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy for 127.0.0.1
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("GRADIO_SERVER_NAME", None)
    with open(tmp_path / "app.log", "wb") as log:
        process = subprocess.Popen([sys.executable, str(DEMO / "app.py"), "--port", str(port)], cwd=tmp_path,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, (tmp_path / "app.log").read_text()
                try:
                    with opener.open(f"http://127.0.0.1:{port}/", timeout=5) as response:
                        assert response.status == 200 and b"gradio" in response.read().lower()
                        break
                except OSError:
                    assert time.monotonic() < deadline, "the app did not answer within 120 s"
                    time.sleep(0.5)
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_every_endpoint_through_gradio_client(server, store):
    from gradio_client import Client, handle_file

    client = Client(server, verbose=False)
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/sample", "/two_stage", "/complete", "/receptive_field", "/caption", "/fortune", "/model_classes",
            "/text_to_image"} <= endpoints  # fmt: skip
    job = client.submit("pixelcnn-digits", ["1", "2"], 1, 1.0, 0, 3, api_name="/sample")
    last = job.result()  # waits for the end
    frames = job.outputs()
    assert frames[-1] == last
    assert len(frames) > 1  # streamed: partial grids, then the whole
    from PIL import Image

    assert last[1].startswith("Done: 2 images")
    with Image.open(last[0]) as grid:
        assert grid.size == expected_grid_size(8, 2, 1)
    outputs = client.predict("3", 1, 1.0, api_name="/two_stage")
    assert len(outputs) == 2 * len(store.names["prior"]) and all(Path(p).is_file() for p in outputs)
    masked, gated, summary = client.predict(4, 9, 3, api_name="/receptive_field")
    assert Path(masked).is_file() and "row 4, column 9" in summary
    scene = DEMO / "examples" / "scene_3_above_8.png"
    assert client.predict(handle_file(str(scene)), "captioner-mnist-scenes", 2, api_name="/caption") == (
        "a 3 above a 8"
    )
    digit = handle_file(str(DEMO / "examples" / "digit_2.png"))
    job = client.submit("pixelcnn-digits", digit, 3, 2, 1.0, 0, api_name="/complete")
    kept, grid, status = job.result()
    assert len(job.outputs()) > 1 and status.startswith("Done: 2 completions of the top 3 of 8 rows")
    with Image.open(grid) as picture:
        assert picture.size == expected_grid_size(8, 2, 1)
    text, stop = client.predict("You will", 48, 0.8, 1, api_name="/fortune")
    assert text.startswith("You will") and stop
    assert client.predict("pixelcnn-mnist", api_name="/model_classes")
    grid, status = client.predict("text-to-image-mnist-scenes", "a 0 above a 7", 3.0, 2, 0, api_name="/text_to_image")
    with Image.open(grid) as image:
        assert image.size == expected_grid_size(32, 1, 2) and status.startswith("Done: 2 images")
    with pytest.raises(Exception, match="Pick at least one class"):
        client.predict("pixelcnn-digits", [], 1, 1.0, 0, 0, api_name="/sample")


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing (CI must install Debian's `chromium`; see .ci/run).")
        pytest.skip("chromium is not installed (apt-get install chromium); the browser test needs it.")
    return path


@pytest.fixture
def screenshots(tmp_path):
    folder = Path(os.environ.get("HF_ARGEN_DEMO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> None:
        from PIL import Image

        path = folder / f"{name}.png"
        page.screenshot(path=str(path))
        with Image.open(path) as shot:  # 256 colours: small files for the docs
            shot.convert("RGB").quantize(256).save(path, optimize=True)

    return save


def natural_size(page, selector: str) -> tuple[int, int]:
    return tuple(page.eval_on_selector(selector, "e => [e.naturalWidth, e.naturalHeight]"))


def test_the_page_in_headless_chromium(server, store, screenshots):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
    executable = chromium_path()
    timeout = 60_000
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 820})
            page.set_default_timeout(timeout)
            external = []  # the page must work offline: nothing but the app's own server is asked for anything
            page.on("request", lambda request: None if request.url.startswith(server) else external.append(request.url))
            page.goto(server)
            expect = sync_api.expect

            # Sampling: an image grid of the right size appears.
            page.get_by_role("tab", name="Class-conditional sampling").click()
            page.click("#sample-button")
            expect(page.locator("#sample-status")).to_contain_text("Done: 8 images in", timeout=timeout)
            page.wait_for_function(
                "([w, h]) => { const e = document.querySelector('#sample-output img');"
                " return e && e.complete && e.naturalWidth === w && e.naturalHeight === h; }",
                arg=list(expected_grid_size(8, 4, 2)),
                timeout=timeout,
            )
            screenshots(page, "sampling")

            # Two-stage: a code map and a decoded image per prior.
            page.get_by_role("tab", name="Two-stage").click()
            page.click("#prior-button")
            code_maps = page.locator(".code-map img")
            expect(code_maps).to_have_count(len(store.names["prior"]), timeout=timeout)
            expect(page.locator(".decoded img")).to_have_count(len(store.names["prior"]), timeout=timeout)
            page.wait_for_function(
                "() => [...document.querySelectorAll('.code-map img')].every(e => e.naturalWidth === 224)"
            )
            screenshots(page, "two_stage")

            # Image completion: an example (an MNIST digit for the two-stage model) -> its kept rows and completions.
            page.get_by_role("tab", name="Image completion").click()
            page.locator("#completion-examples").get_by_text("vqvae-prior-mnist").first.click()
            expect(page.locator("#completion-input img")).to_have_count(1, timeout=timeout)
            expect(page.locator("#completion-rows")).to_contain_text("of 7 code rows", timeout=timeout)
            page.click("#completion-button")
            expect(page.locator("#completion-status")).to_contain_text(
                "Done: 4 completions of the top 3 of 7 code rows", timeout=timeout
            )
            page.wait_for_function(
                "([w, h]) => { const e = document.querySelector('#completion-output img');"
                " return e && e.complete && e.naturalWidth === w && e.naturalHeight === h; }",
                arg=list(expected_grid_size(28, 4, 1)),
                timeout=timeout,
            )
            assert natural_size(page, "#completion-kept img") == expected_grid_size(28, 1, 1)
            page.evaluate("window.scrollTo(0, 0)")  # the example click scrolled down to the examples
            screenshots(page, "completion")

            # Receptive field: click a pixel, both maps follow it.
            page.get_by_role("tab", name="Receptive field").click()
            picture = page.locator("#rf-masked img")
            expect(picture).to_have_count(1, timeout=timeout)
            box = picture.bounding_box()
            picture.click(position={"x": box["width"] * 12.5 / 16, "y": box["height"] * 5.5 / 16})
            expect(page.locator("#rf-summary")).to_contain_text("row 5, column 12", timeout=timeout)
            expect(page.locator("#rf-summary")).to_contain_text("0 in the blind spot")
            screenshots(page, "receptive_field")

            # Captioning: an upload -> a caption; an example -> its (right) caption.
            page.get_by_role("tab", name="Captioning").click()
            page.set_input_files("#caption-input input[type=file]", str(DEMO / "examples" / "emoji_cat_face.png"))
            expect(page.locator("#caption-input img")).to_have_count(1, timeout=timeout)
            page.click("#caption-button")
            expect(page.locator("#caption-output textarea")).not_to_have_value("", timeout=timeout)
            page.get_by_text("captioner-mnist-scenes").first.click()  # the first example row
            expect(page.locator("#caption-truth textarea")).to_have_value("a 3 above a 8", timeout=timeout)
            page.click("#caption-button")
            expect(page.locator("#caption-output textarea")).to_have_value("a 3 above a 8", timeout=timeout)
            screenshots(page, "captioning")

            # Text: a fortune that ends at EOS.
            page.get_by_role("tab", name="Text", exact=True).click()
            page.click("#text-button")
            expect(page.locator("#text-stop textarea")).to_have_value("ended at EOS", timeout=timeout)
            assert page.locator("#text-output textarea").input_value().startswith("You will")
            screenshots(page, "text")

            # Text-to-image: the default prompts (two) give a grid of four images each.
            page.get_by_role("tab", name="Text-to-image").click()
            page.click("#t2i-button")
            expect(page.locator("#t2i-status")).to_contain_text("Done: 8 images", timeout=timeout)
            page.wait_for_function(
                "([w, h]) => { const e = document.querySelector('#t2i-output img');"
                " return e && e.complete && e.naturalWidth === w && e.naturalHeight === h; }",
                arg=list(expected_grid_size(32, 2, 4)),
                timeout=timeout,
            )
            screenshots(page, "text_to_image")

            # Bad input, on a fresh page: a readable message, not a stack trace.
            page.reload()
            page.get_by_role("tab", name="Captioning").click()
            page.click("#caption-button")
            expect(page.get_by_text("Upload an image or pick an example first").first).to_be_visible()
            page.get_by_role("tab", name="Image completion").click()
            page.click("#completion-button")
            expect(page.get_by_text("Upload an image or pick an example to complete").first).to_be_visible()
            page.get_by_role("tab", name="Class-conditional sampling").click()
            seed = page.locator("#sample-seed input")
            seed.fill("-5")
            page.click("#sample-button")
            expect(page.get_by_text("The seed must be a whole number from 0 to").first).to_be_visible()
            seed.fill("0")
            classes = page.locator("#sample-classes input")
            classes.click()
            for _ in range(4):
                classes.press("Backspace")
            classes.press("Escape")  # close the option list
            expect(page.locator("#sample-classes [role=option]")).to_have_count(0)
            page.click("#sample-button")
            expect(page.get_by_text("Pick at least one class").first).to_be_visible()
            assert "Traceback" not in page.content()
            screenshots(page, "bad_input")
            assert external == []
        finally:
            browser.close()
