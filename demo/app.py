"""hf_argen demo: class-conditional sampling (rows appear as they are drawn), two-stage generation through VQ-VAE
codes, image completion from the top rows, the PixelCNN receptive field and its blind spot, image captioning, text
generation and text-to-image with classifier-free guidance.

    python demo/app.py                       # the shipped folders in model_cards/, on http://127.0.0.1:7860
    python demo/app.py --hub hf-argen        # the same models from the Hub (ids hf-argen/<name>)

Every handler has an `api_name`, so `gradio_client.Client(url).predict(..., api_name="/sample")` calls it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

# No phoning home: no Gradio analytics or update check, no Hub telemetry.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

HERE = Path(__file__).resolve().parent
if (HERE.parent / "hf_argen").is_dir() and str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))  # run from a clone of the repository: use its hf_argen
if (HERE / "hf_argen").is_dir() and str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # a Space: the package folder uploaded next to app.py

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import hf_argen  # noqa: E402  (registers hf_argen's configs, models and pipelines)
from hf_argen import PixelCNNImageProcessor  # noqa: E402
from hf_argen.receptive_field import (  # noqa: E402
    RECEPTIVE_FIELD_COLOURS,
    RECEPTIVE_FIELD_LEGEND,
    receptive_field_maps,
)

MAX_SEED = 2**32 - 1
RF_SIZE, RF_SCALE = 16, 20  # receptive-field explorer: a 16 x 16 image, 20 screen pixels per image pixel
EXAMPLES = HERE / "examples"
# Example prompts of a text-to-image model, by the dataset it was trained on (its training_info.json).
TEXT_TO_IMAGE_PROMPTS = {"mnist_scenes": "a 3 above a 7\na 1 to the left of a 5", "emoji": "grinning face\nred apple"}


class DemoError(gr.Error):
    """A readable message for the user (shown in the UI; raised by `gradio_client` as an `AppError`)."""


# ----------------------------------------------------------------------------------------------------------
# Models: every shipped folder of a kind, loaded on first use
# ----------------------------------------------------------------------------------------------------------
def front_matter_models(readme: Path = HERE / "README.md") -> list[str]:
    """The Hub ids listed under `models:` in the Space's README front matter."""
    from huggingface_hub.repocard import metadata_load

    return list((metadata_load(readme) or {}).get("models") or [])


class ModelStore:
    """Model names by kind, found in a folder of model folders (or the README's Hub ids), each loaded once."""

    KINDS = {"pixelcnn": "pixelcnn-", "prior": "vqvae-", "captioner": "captioner-", "text": "ar-",
             "text_to_image": "text-to-image-"}  # fmt: skip

    def __init__(self, model_dir: str | os.PathLike | None = None, hub: str | None = None):
        self.hub = hub
        self.model_dir = Path(model_dir) if model_dir else None
        if self.model_dir is not None and self.model_dir.is_dir():
            names = sorted(p.name for p in self.model_dir.iterdir() if (p / "config.json").is_file())
        elif hub:
            names = sorted(model_id.split("/")[-1] for model_id in front_matter_models())
        else:
            raise ValueError(f"`model_dir` {model_dir!r} is not a folder; pass a folder of model folders or `hub`.")
        self.names = {kind: [n for n in names if n.startswith(prefix) and self._is_kind(kind, n)]
                      for kind, prefix in self.KINDS.items()}  # fmt: skip
        self._models: dict[str, object] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _is_kind(kind: str, name: str) -> bool:
        return "prior" in name if kind == "prior" else True

    def source(self, name: str) -> str:
        if self.model_dir is not None and (self.model_dir / name).is_dir():
            return str(self.model_dir / name)
        return f"{self.hub}/{name}"

    def training_dataset(self, name: str) -> str | None:
        """The dataset a local model folder was trained on (its training_info.json), or None."""
        info = self.model_dir / name / "training_info.json" if self.model_dir is not None else None
        if info is None or not info.is_file():
            return None
        return json.loads(info.read_text()).get("dataset")

    def check(self, kind: str, name) -> str:
        if name not in self.names[kind]:
            allowed = ", ".join(self.names[kind]) or "none shipped"
            raise DemoError(f"Pick a model: {name!r} is not one of {allowed}.")
        return name

    @property
    def completers(self) -> list[str]:
        """Every model that completes images: the PixelCNNs, then the two-stage models."""
        return self.names["pixelcnn"] + self.names["prior"]

    def get_completer(self, name: str):
        if name not in self.completers:
            allowed = ", ".join(self.completers) or "none shipped"
            raise DemoError(f"Pick a model: {name!r} is not one of {allowed}.")
        return self.get("pixelcnn" if name in self.names["pixelcnn"] else "prior", name)

    def get(self, kind: str, name: str):
        self.check(kind, name)
        with self._lock:
            if name not in self._models:
                self._models[name] = self._load(kind, self.source(name))
            return self._models[name]

    @staticmethod
    def _load(kind: str, source: str):
        from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer, pipeline

        if kind == "captioner":
            return pipeline("image-captioning", model=source)
        if kind == "text":
            return AutoModelForCausalLM.from_pretrained(source).eval(), AutoTokenizer.from_pretrained(source)
        if kind == "text_to_image":
            return pipeline(hf_argen.TEXT_TO_IMAGE_TASK, model=source)
        return AutoModel.from_pretrained(source).eval()


# ----------------------------------------------------------------------------------------------------------
# Input checks (bad input -> a readable message)
# ----------------------------------------------------------------------------------------------------------
def is_number(value, integer: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:  # None, text, NaN
        return False
    return not integer or float(value).is_integer()


def check_seed(seed) -> int:
    if not is_number(seed, integer=True) or not 0 <= seed <= MAX_SEED:
        raise DemoError(f"The seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}.")
    return int(seed)


def check_number(name: str, value, low, high, integer: bool = False):
    if not is_number(value, integer) or not low <= value <= high:
        kind = "a whole number" if integer else "a number"
        raise DemoError(f"{name} must be {kind} from {low} to {high}, got {value!r}.")
    return int(value) if integer else float(value)


def check_classes(classes, model) -> list[str]:
    if isinstance(classes, str):
        classes = [classes]
    if not classes:
        raise DemoError("Pick at least one class.")
    names = class_names(model)
    unknown = [c for c in classes if c not in names]
    if unknown:
        raise DemoError(f"Unknown class(es) {unknown}; this model's classes are {', '.join(names)}.")
    return list(classes)


def class_names(model) -> list[str]:
    config = model.config
    num_classes = getattr(config, "num_classes", None) or 0
    return [str(config.id2label.get(i, i)) for i in range(num_classes)]


# ----------------------------------------------------------------------------------------------------------
# Pictures
# ----------------------------------------------------------------------------------------------------------
def levels_to_array(levels: torch.Tensor, num_levels: int) -> np.ndarray:
    """`(C, H, W)` integer levels -> uint8 `(H, W)` (one channel) or `(H, W, 3)`."""
    array = (levels.float() * (255.0 / (num_levels - 1))).round().clamp(0, 255).to(torch.uint8).numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)


def grid_image(images: list[np.ndarray], columns: int, scale: int, pad: int = 2) -> Image.Image:
    """uint8 images (all one size) -> one RGB grid, `columns` wide, each image upscaled `scale` times."""
    h, w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    canvas = np.full((rows * (h * scale + pad) + pad, columns * (w * scale + pad) + pad, 3), 255, np.uint8)
    for index, image in enumerate(images):
        image = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        top, left = pad + (index // columns) * (h * scale + pad), pad + (index % columns) * (w * scale + pad)
        canvas[top : top + h * scale, left : left + w * scale] = image
    return Image.fromarray(canvas)


def code_colours(codes: np.ndarray, codebook_size: int) -> np.ndarray:
    """Integer codes -> RGB uint8, one hue per code (golden-ratio spacing, so neighbouring codes differ)."""
    import colorsys

    hues = (codes * 0.6180339887) % 1.0
    values = 0.55 + 0.4 * ((codes * 7919) % max(codebook_size, 1)) / max(codebook_size - 1, 1)
    rgb = [colorsys.hsv_to_rgb(h, 0.65, v) for h, v in zip(hues.ravel(), values.ravel())]
    return (np.asarray(rgb).reshape(*codes.shape, 3) * 255).round().astype(np.uint8)


def code_map_image(codes: torch.Tensor, codebook_size: int, cell: int = 32) -> Image.Image:
    """A `(h, w)` code map as coloured cells, `cell` pixels each, with each code's number written in."""
    from PIL import ImageDraw

    codes = codes.cpu().numpy()
    colours = np.repeat(np.repeat(code_colours(codes, codebook_size), cell, axis=0), cell, axis=1)
    image = Image.fromarray(colours)
    draw = ImageDraw.Draw(image)
    for (row, col), code in np.ndenumerate(codes):
        draw.text((col * cell + 3, row * cell + 9), str(code), fill=(0, 0, 0))
    return image


def completion_rows(model) -> tuple[int, str]:
    """How many rows `model` completes an image from, and what a row is (pixel rows, or VQ-VAE code rows)."""
    if model.config.model_type == "vqvae_prior":
        vqvae = model.config.vqvae
        return vqvae.latent_size, f"code rows, {vqvae.downsample_factor} pixel rows each"
    return model.config.image_size, "rows"


def rows_slider_update(model):
    """The rows slider for `model`: 0 .. its rows, half of them kept."""
    total, unit = completion_rows(model)
    return gr.update(maximum=total, value=total // 2, label=f"Rows to keep (of {total} {unit})")


def class_guess(model, posterior: torch.Tensor) -> str:
    """The likeliest class of a `(1, num_classes)` log-posterior, as a sentence."""
    probabilities = posterior[0].exp()
    best = int(probabilities.argmax())
    share = 100 * float(probabilities[best])
    return f" Likeliest class given the kept rows: {class_names(model)[best]} ({share:.0f} %)."


def pixels_to_array(pixels: torch.Tensor) -> np.ndarray:
    """`(C, H, W)` floats in [-1, 1] -> uint8 `(H, W)` or `(H, W, 3)`."""
    return levels_to_array(((pixels.clamp(-1, 1) + 1) * 127.5).round().long(), 256)


# ----------------------------------------------------------------------------------------------------------
# Handlers
# ----------------------------------------------------------------------------------------------------------
class Handlers:
    def __init__(self, store: ModelStore):
        self.store = store

    def sample(self, model_name, classes, per_class, temperature, top_k, seed):
        """Class-conditional samples as a grid (one column per class), yielded after every sampled row."""
        model = self.store.get("pixelcnn", model_name)
        classes = check_classes(classes, model)
        per_class = check_number("Samples per class", per_class, 1, 8, integer=True)
        temperature = check_number("Temperature", temperature, 0.05, 5.0)
        top_k = check_number("Top-k", top_k, 0, model.config.num_levels, integer=True)
        seed = check_seed(seed)
        config = model.config
        labels = [c for _ in range(per_class) for c in classes]  # row-major grid: one column per class
        size, blank = config.image_size, config.num_levels // 2
        scale = max(1, 96 // size)
        start = time.perf_counter()
        rows = model.generate_rows(class_labels=labels, temperature=temperature, top_k=top_k or None, seed=seed)
        done = torch.full((len(labels), config.num_channels, size, size), blank, dtype=torch.long)
        for index, row in enumerate(rows):
            done[:, :, index] = row
            if index % max(1, size // 14) == 0 or index == size - 1:  # at most ~14 updates per grid
                grid = grid_image([levels_to_array(x, config.num_levels) for x in done], len(classes), scale)
                status = (f"Done: {len(labels)} images in {time.perf_counter() - start:.1f} s." if index == size - 1
                          else f"Row {index + 1} of {size}...")  # fmt: skip
                yield grid, status

    def two_stage(self, class_name, seed, temperature):
        """For every shipped prior: prior -> 7 x 7 code map (coloured) -> VQ-VAE decoder -> image."""
        seed = check_seed(seed)
        temperature = check_number("Temperature", temperature, 0.05, 5.0)
        outputs = []
        for name in self.store.names["prior"]:
            model = self.store.get("prior", name)
            (label,) = check_classes([class_name] if class_name else [], model)
            codes = model.generate(class_labels=[label], seed=seed, temperature=temperature, output_type="codes")
            picture = pixels_to_array(model.decode(codes)[0])
            size = picture.shape[0]
            outputs += [
                code_map_image(codes[0], model.config.vqvae.num_embeddings),
                grid_image([picture], 1, max(1, 224 // size), pad=0),
            ]
        return tuple(outputs) if len(outputs) != 1 else outputs[0]

    def complete(self, model_name, image, rows, num_completions, temperature, seed):
        """Complete `image` from its top `rows` rows, `num_completions` times: the kept rows (the rest grey) and a
        grid of completions, yielded as rows are drawn (a PixelCNN) or once (a two-stage model)."""
        model = self.store.get_completer(model_name)
        if image is None:
            raise DemoError("Upload an image or pick an example to complete.")
        total, unit = completion_rows(model)
        rows = check_number("Rows to keep", rows, 0, total, integer=True)
        count = check_number("Completions", num_completions, 1, 8, integer=True)
        temperature = check_number("Temperature", temperature, 0.05, 5.0)
        seed = check_seed(seed)
        image = Image.fromarray(image) if isinstance(image, np.ndarray) else image
        start = time.perf_counter()
        arguments = dict(num_given_rows=rows, temperature=temperature, seed=seed)
        if model.config.model_type == "vqvae_prior":
            yield self._complete_two_stage(model, image, count, arguments, start)
            return
        config = model.config
        levels = PixelCNNImageProcessor.from_model_config(config)(image.convert("RGB"))["pixel_values"]
        guess = class_guess(model, model.class_posterior(levels, num_given_rows=rows)) if config.num_classes else ""
        kept = levels.clone()
        kept[:, :, rows:] = config.num_levels // 2
        scale = max(1, 96 // config.image_size)
        kept_picture = grid_image([levels_to_array(kept[0], config.num_levels)], 1, scale)
        done = kept.repeat(count, 1, 1, 1)
        stream = model.generate_rows(pixel_values=levels.repeat(count, 1, 1, 1), **arguments)
        for index, row in enumerate(stream):
            done[:, :, index] = row
            if index >= rows and (index - rows) % max(1, config.image_size // 14) == 0 and index < total - 1:
                grid = grid_image([levels_to_array(x, config.num_levels) for x in done], min(count, 4), scale)
                yield kept_picture, grid, f"Row {index + 1} of {total}..."
        grid = grid_image([levels_to_array(x, config.num_levels) for x in done], min(count, 4), scale)
        yield kept_picture, grid, (f"Done: {count} completions of the top {rows} of {total} {unit} in "
                                   f"{time.perf_counter() - start:.1f} s.{guess}")  # fmt: skip

    @staticmethod
    def _complete_two_stage(model, image, count, arguments, start):
        """A two-stage model: encode, keep the top code rows, sample the rest with the prior, decode."""
        vqvae = model.config.vqvae
        pixels = model.from_pil(image)  # (1, C, H, W) in [-1, 1]
        rows, (total, unit) = arguments["num_given_rows"], completion_rows(model)
        posterior = model.class_posterior(model.encode(pixels), num_given_codes=rows * vqvae.latent_size)
        completed = model.generate(pixel_values=pixels.repeat(count, 1, 1, 1), **arguments)
        kept = pixels[0].clone()
        kept[:, rows * vqvae.downsample_factor :] = 0.0  # grey
        scale = max(1, 96 // vqvae.image_size)
        grid = grid_image([pixels_to_array(x) for x in completed], min(count, 4), scale)
        status = (f"Done: {count} completions of the top {rows} of {total} {unit} in "
                  f"{time.perf_counter() - start:.1f} s.{class_guess(model, posterior)}")  # fmt: skip
        return grid_image([pixels_to_array(kept)], 1, scale), grid, status

    @staticmethod
    def receptive_field(row, col, num_layers):
        """Receptive field of pixel (row, col) in a masked and a gated PixelCNN with `num_layers` layers."""
        row = check_number("Row", row, 0, RF_SIZE - 1, integer=True)
        col = check_number("Column", col, 0, RF_SIZE - 1, integer=True)
        num_layers = check_number("Layers", num_layers, 1, 12, integer=True)
        maps = receptive_field_maps(RF_SIZE, num_layers - 1, row, col)
        palette = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in RECEPTIVE_FIELD_COLOURS], np.uint8)
        pictures, lines = [], []
        for architecture in ("masked", "gated"):
            colours = maps[architecture].numpy()
            image = np.repeat(np.repeat(palette[colours], RF_SCALE, axis=0), RF_SCALE, axis=1)
            image[::RF_SCALE, :] = image[:, ::RF_SCALE] = 255  # grid lines
            pictures.append(Image.fromarray(image))
            lines.append(f"**{architecture}**: {int((colours == 1).sum())} pixels seen, "
                         f"{int((colours == 3).sum())} in the blind spot")  # fmt: skip
        summary = f"Pixel (row {row}, column {col}), {num_layers} layers. " + "; ".join(lines) + "."
        return pictures[0], pictures[1], summary

    @staticmethod
    def pick_pixel(evt: gr.SelectData):
        """A click on either receptive-field picture -> the (row, column) of the pixel clicked."""
        x, y = evt.index
        return min(int(y) // RF_SCALE, RF_SIZE - 1), min(int(x) // RF_SCALE, RF_SIZE - 1)

    def caption(self, image, model_name, num_beams):
        """Caption an image with a shipped captioner (beam search of width `num_beams`)."""
        if image is None:
            raise DemoError("Upload an image or pick an example first.")
        num_beams = check_number("Beam width", num_beams, 1, 8, integer=True)
        captioner = self.store.get("captioner", model_name)
        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        return captioner(image.convert("RGB"), num_beams=num_beams)[0]["generated_text"]

    def fortune(self, prompt, max_new_tokens, temperature, seed):
        """Continue `prompt` with the text model until EOS (or `max_new_tokens`)."""
        max_new_tokens = check_number("Max new tokens", max_new_tokens, 1, 256, integer=True)
        temperature = check_number("Temperature", temperature, 0.05, 5.0)
        seed = check_seed(seed)
        if not self.store.names["text"]:
            raise DemoError("No text model is shipped.")
        model, tokenizer = self.store.get("text", self.store.names["text"][0])
        inputs = tokenizer(prompt or "", return_tensors="pt")
        torch.manual_seed(seed)
        with torch.no_grad():
            output = model.generate(**inputs, do_sample=True, temperature=temperature,
                                    max_new_tokens=max_new_tokens)  # fmt: skip
        new = output[0, inputs["input_ids"].shape[1] :]
        text = tokenizer.decode(output[0], skip_special_tokens=True)
        ended = bool(len(new)) and int(new[-1]) == model.config.eos_token_id
        return text, "ended at EOS" if ended else f"stopped after {max_new_tokens} tokens, before EOS"

    def text_to_image_defaults(self, model_name):
        """`(example prompts, default guidance scale)` of a text-to-image model: prompts of the data it was trained on
        and its generation_config's guidance."""
        generator = self.store.get("text_to_image", model_name)
        dataset = self.store.training_dataset(model_name)
        prompts = TEXT_TO_IMAGE_PROMPTS.get(dataset, TEXT_TO_IMAGE_PROMPTS["mnist_scenes"])
        return prompts, generator.model.generation_config.guidance_scale or 1.0

    def text_to_image(self, model_name, prompts, guidance_scale, per_prompt, seed):
        """Images for each prompt (one per line) with classifier-free guidance: a grid, one column per prompt."""
        generator = self.store.get("text_to_image", model_name)
        prompts = [line.strip() for line in (prompts or "").splitlines() if line.strip()]
        if not prompts:
            raise DemoError("Write a prompt, e.g. 'a 3 above a 7'.")
        if len(prompts) > 8:
            raise DemoError(f"At most 8 prompts (one per line), got {len(prompts)}.")
        guidance_scale = check_number("Guidance scale", guidance_scale, 0.0, 10.0)
        per_prompt = check_number("Images per prompt", per_prompt, 1, 8, integer=True)
        seed = check_seed(seed)
        start = time.perf_counter()
        try:
            images = generator(prompts, num_images_per_prompt=per_prompt, guidance_scale=guidance_scale, seed=seed)
        except ValueError as error:  # a word the model does not know, a prompt too long
            raise DemoError(str(error)) from None
        ordered = [images[p * per_prompt + r] for r in range(per_prompt) for p in range(len(prompts))]
        arrays = [np.asarray(image) for image in ordered]
        grid = grid_image(arrays, len(prompts), max(1, 96 // arrays[0].shape[0]))
        return grid, f"Done: {len(images)} images in {time.perf_counter() - start:.1f} s (one column per prompt)."


# ----------------------------------------------------------------------------------------------------------
# The page
# ----------------------------------------------------------------------------------------------------------
def caption_examples(store: ModelStore) -> list[list]:
    """`[[image path, captioner name, true caption]]` for the shipped example images whose captioner is available."""
    listing = EXAMPLES / "examples.json"
    if not listing.is_file():
        return []
    entries = json.loads(listing.read_text(encoding="utf-8"))
    return [
        [str(EXAMPLES / e["file"]), e["model"], e["text"]]
        for e in entries
        if e["model"] in store.names["captioner"] and (EXAMPLES / e["file"]).is_file()
    ]


def completion_examples(store: ModelStore) -> list[list]:
    """`[[image path, model name]]` for the shipped example images meant for image completion whose model is there
    (the entries of `examples.json` that name a PixelCNN or a two-stage model)."""
    listing = EXAMPLES / "examples.json"
    if not listing.is_file():
        return []
    entries = json.loads(listing.read_text(encoding="utf-8"))
    return [[str(EXAMPLES / e["file"]), e["model"]] for e in entries
            if e["model"] in store.completers and (EXAMPLES / e["file"]).is_file()]  # fmt: skip


def legend_html() -> str:
    swatches = [f'<span style="display:inline-block;width:0.9em;height:0.9em;background:{colour};'
                f'border:1px solid #888;margin:0 0.3em 0 1em"></span>{name}'
                for colour, name in zip(RECEPTIVE_FIELD_COLOURS, RECEPTIVE_FIELD_LEGEND)]  # fmt: skip
    return "<div>" + "".join(swatches) + "</div>"


def completion_tab(store: ModelStore, handlers: Handlers) -> None:
    """Pick or upload an image, choose a model and how many rows to keep -> the kept rows and several completions."""
    completers = store.completers
    first = store.get_completer(completers[0]) if completers else None
    total, unit = completion_rows(first) if first is not None else (0, "rows")
    gr.Markdown(
        "Keep the top rows of an image and let a model draw the rest, several times. A PixelCNN keeps pixel rows; a "
        "two-stage model keeps rows of VQ-VAE codes and its prior samples the other codes. A class-conditional "
        "model is not told the class: it draws one for each completion from what the kept rows say."
    )
    with gr.Row():
        with gr.Column(scale=1):
            image = gr.Image(label="Image (upload or pick an example)", type="pil", elem_id="completion-input",
                             height=200)  # fmt: skip
            model = gr.Dropdown(completers, value=completers[0] if completers else None, label="Model",
                                elem_id="completion-model")  # fmt: skip
            rows = gr.Slider(0, total, value=total // 2, step=1, label=f"Rows to keep (of {total} {unit})",
                             elem_id="completion-rows")  # fmt: skip
            count = gr.Slider(1, 8, value=4, step=1, label="Completions")
            temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature")
            seed = gr.Number(0, precision=0, label=f"Seed (0 to {MAX_SEED})", elem_id="completion-seed")
            button = gr.Button("Complete", variant="primary", elem_id="completion-button")
        with gr.Column(scale=1):
            kept = gr.Image(label="Kept rows (the model sees nothing of the grey part)", type="pil", format="png",
                            elem_id="completion-kept", interactive=False, height=200)  # fmt: skip
            grid = gr.Image(label="Completions (rows appear as they are drawn)", type="pil", format="png",
                            elem_id="completion-output", interactive=False, height=200)  # fmt: skip
            status = gr.Markdown(elem_id="completion-status")
    model.change(lambda name: rows_slider_update(store.get_completer(name)), model, rows, api_name=False)
    examples = completion_examples(store)
    if examples:
        gr.Examples(examples, [image, model], label="Examples (MNIST test digits, an emoji)",
                    elem_id="completion-examples")  # fmt: skip
    button.click(handlers.complete, [model, image, rows, count, temperature, seed], [kept, grid, status],
                 api_name="complete")  # fmt: skip


def build_demo(store: ModelStore) -> gr.Blocks:
    handlers = Handlers(store)
    pixelcnns, priors = store.names["pixelcnn"], store.names["prior"]
    with gr.Blocks(title="hf_argen demo") as demo:
        gr.Markdown(
            "# hf_argen: autoregressive generative models\nPixelCNN sampling, VQ-VAE + prior, image "
            "completion, receptive fields, captioning, text and text-to-image; every model runs on the CPU."
        )
        with gr.Tabs():
            with gr.Tab("Class-conditional sampling", id="sampling"):
                first = store.get("pixelcnn", pixelcnns[0]) if pixelcnns else None
                with gr.Row():
                    with gr.Column(scale=1):
                        model = gr.Dropdown(pixelcnns, value=pixelcnns[0] if pixelcnns else None, label="Model")
                        choices = class_names(first) if first is not None else []
                        classes = gr.Dropdown(
                            choices, value=choices[:4], multiselect=True, label="Classes", elem_id="sample-classes"
                        )
                        per_class = gr.Slider(1, 8, value=2, step=1, label="Samples per class")
                        temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature")
                        top_k = gr.Slider(0, 64, value=0, step=1, label="Top-k (0: off)")
                        seed = gr.Number(0, precision=0, label=f"Seed (0 to {MAX_SEED})", elem_id="sample-seed")
                        button = gr.Button("Sample", variant="primary", elem_id="sample-button")
                    with gr.Column(scale=1):
                        grid = gr.Image(
                            label="Samples (one column per class; rows appear as they are drawn)",
                            type="pil",
                            format="png",
                            elem_id="sample-output",
                            interactive=False,
                        )
                        sample_status = gr.Markdown(elem_id="sample-status")
                model.change(lambda name: gr.update(choices=class_names(store.get("pixelcnn", name)),
                                                    value=class_names(store.get("pixelcnn", name))[:4]),
                             model, classes, api_name="model_classes")  # fmt: skip
                button.click(
                    handlers.sample,
                    [model, classes, per_class, temperature, top_k, seed],
                    [grid, sample_status],
                    api_name="sample",
                )
            with gr.Tab("Two-stage: prior → codes → image", id="two-stage"):
                labels = class_names(store.get("prior", priors[0])) if priors else []
                with gr.Row():
                    prior_class = gr.Dropdown(labels, value=labels[0] if labels else None, label="Class")
                    prior_seed = gr.Number(0, precision=0, label=f"Seed (0 to {MAX_SEED})")
                    prior_temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature")
                prior_button = gr.Button("Generate", variant="primary", elem_id="prior-button")
                prior_outputs = []
                for name in priors:
                    with gr.Row():
                        prior_outputs.append(
                            gr.Image(
                                label=f"{name}: 7 × 7 codes",
                                type="pil",
                                format="png",
                                elem_classes=["code-map"],
                                interactive=False,
                            )
                        )
                        prior_outputs.append(
                            gr.Image(
                                label=f"{name}: decoded",
                                type="pil",
                                format="png",
                                elem_classes=["decoded"],
                                interactive=False,
                            )
                        )
                prior_button.click(
                    handlers.two_stage,
                    [prior_class, prior_seed, prior_temperature],
                    prior_outputs,
                    api_name="two_stage",
                )
            with gr.Tab("Image completion", id="completion"):
                completion_tab(store, handlers)
            with gr.Tab("Receptive field", id="receptive-field"):
                gr.Markdown(
                    "Click a pixel of either picture: the pixels its prediction can depend on, in a masked "
                    "PixelCNN (left, with its blind spot) and a gated one (right), read off input gradients."
                )
                with gr.Row():
                    rf_row = gr.Number(10, precision=0, label="Row")
                    rf_col = gr.Number(8, precision=0, label="Column")
                    rf_layers = gr.Slider(1, 12, value=7, step=1, label="Layers", elem_id="rf-layers")
                gr.HTML(legend_html())
                with gr.Row():
                    masked = gr.Image(
                        label="masked PixelCNN", type="pil", format="png", elem_id="rf-masked", interactive=False
                    )
                    gated = gr.Image(
                        label="gated PixelCNN", type="pil", format="png", elem_id="rf-gated", interactive=False
                    )
                rf_summary = gr.Markdown(elem_id="rf-summary")
                rf_inputs, rf_outputs = [rf_row, rf_col, rf_layers], [masked, gated, rf_summary]
                for picture in (masked, gated):
                    picture.select(handlers.pick_pixel, None, [rf_row, rf_col], api_name="pick_pixel").then(
                        handlers.receptive_field, rf_inputs, rf_outputs, api_name=False
                    )
                rf_layers.release(handlers.receptive_field, rf_inputs, rf_outputs, api_name="receptive_field")
                rf_button = gr.Button("Show", elem_id="rf-button")
                rf_button.click(handlers.receptive_field, rf_inputs, rf_outputs, api_name=False)
                demo.load(handlers.receptive_field, rf_inputs, rf_outputs, api_name=False)
            with gr.Tab("Captioning", id="captioning"):
                captioners = store.names["captioner"]
                with gr.Row():
                    with gr.Column():
                        image = gr.Image(
                            label="Image (upload or pick an example)", type="pil", elem_id="caption-input", height=256
                        )
                        captioner = gr.Dropdown(
                            captioners, value=captioners[0] if captioners else None, label="Captioner"
                        )
                        beams = gr.Slider(1, 8, value=3, step=1, label="Beam width")
                        caption_button = gr.Button("Caption", variant="primary", elem_id="caption-button")
                    with gr.Column():
                        caption = gr.Textbox(label="Caption", elem_id="caption-output", interactive=False)
                        truth = gr.Textbox(
                            label="True caption (of an example)", elem_id="caption-truth", interactive=False
                        )
                image.upload(lambda: "", None, truth, api_name=False)
                examples = caption_examples(store)
                if examples:
                    gr.Examples(examples, [image, captioner, truth], label="Examples (held-out test images)")
                caption_button.click(handlers.caption, [image, captioner, beams], caption, api_name="caption")
            with gr.Tab("Text", id="text"):
                with gr.Row():
                    with gr.Column():
                        prompt = gr.Textbox("You will", label="Prompt", elem_id="text-prompt")
                        max_new_tokens = gr.Slider(1, 256, value=64, step=1, label="Max new tokens")
                        text_temperature = gr.Slider(0.1, 2.0, value=0.8, step=0.05, label="Temperature")
                        text_seed = gr.Number(0, precision=0, label=f"Seed (0 to {MAX_SEED})")
                        text_button = gr.Button("Write a fortune", variant="primary", elem_id="text-button")
                    with gr.Column():
                        fortune = gr.Textbox(label="Fortune", lines=4, elem_id="text-output", interactive=False)
                        stop = gr.Textbox(label="Stopped", elem_id="text-stop", interactive=False)
                text_button.click(
                    handlers.fortune,
                    [prompt, max_new_tokens, text_temperature, text_seed],
                    [fortune, stop],
                    api_name="fortune",
                )
            with gr.Tab("Text-to-image", id="text-to-image"):
                t2i_models = store.names["text_to_image"]
                with gr.Row():
                    with gr.Column():
                        t2i_model = gr.Dropdown(t2i_models, value=t2i_models[0] if t2i_models else None, label="Model")
                        examples, guidance = (handlers.text_to_image_defaults(t2i_models[0]) if t2i_models
                                              else (TEXT_TO_IMAGE_PROMPTS["mnist_scenes"], 3.0))  # fmt: skip
                        t2i_prompts = gr.Textbox(examples, lines=3, label="Prompts (one per line)",
                                                 elem_id="t2i-prompts")  # fmt: skip
                        t2i_guidance = gr.Slider(0.0, 8.0, value=guidance, step=0.5,
                                                 label="Guidance scale (1: none)", elem_id="t2i-guidance")  # fmt: skip
                        t2i_per_prompt = gr.Slider(1, 8, value=4, step=1, label="Images per prompt")
                        t2i_seed = gr.Number(0, precision=0, label=f"Seed (0 to {MAX_SEED})", elem_id="t2i-seed")
                        t2i_button = gr.Button("Generate", variant="primary", elem_id="t2i-button")
                    with gr.Column():
                        t2i_grid = gr.Image(label="Samples (one column per prompt)", type="pil", format="png",
                                            elem_id="t2i-output", interactive=False)  # fmt: skip
                        t2i_status = gr.Markdown(elem_id="t2i-status")
                t2i_model.change(handlers.text_to_image_defaults, [t2i_model], [t2i_prompts, t2i_guidance])
                t2i_button.click(
                    handlers.text_to_image,
                    [t2i_model, t2i_prompts, t2i_guidance, t2i_per_prompt, t2i_seed],
                    [t2i_grid, t2i_status],
                    api_name="text_to_image",
                )
    return demo


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dir = HERE.parent / "model_cards" if (HERE.parent / "model_cards").is_dir() else HERE / "model_cards"
    parser.add_argument("--model_dir", default=str(default_dir), help="folder of model folders")
    parser.add_argument(
        "--hub",
        nargs="?",
        const="hf-argen",
        default=os.environ.get("HF_ARGEN_DEMO_HUB"),
        help="load the models from the Hub, as <HUB>/<name> (default namespace: hf-argen)",
    )
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    store = ModelStore(None if args.hub else args.model_dir, hub=args.hub)
    build_demo(store).queue().launch(server_name=args.host, server_port=args.port)


if __name__ == "__main__":
    main()
