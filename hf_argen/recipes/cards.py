"""Model cards of hf_argen's own model kinds (PixelCNN, VQ-VAE, two-stage VQ-VAE + prior, causal LM, captioner),
written with the generic :func:`hf_argen.hub.write_model_card`, and the end of a training run.

* :func:`write_card_for_folder` fills the card in for a saved hf_argen folder: description, conditioning and a usage
  snippet built from the folder's own ``config.json`` (its classes, channels, image size) and its Hub id; training
  commands and notes from ``training_info.json`` (written by the training recipes) unless given. The recipes call it
  at the end of a run (:func:`publish_run`) and the evaluation scripts (``--write_card``) after measuring;
  :func:`pixelcnn_card_metrics` & co turn a script's figures into :class:`~hf_argen.hub.CardMetric` rows.
* :func:`write_captioner_model_card`: the captioner's card (exact match and BLEU-4 rows).
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
from pathlib import Path

import torch
from huggingface_hub import ModelCard
from safetensors import safe_open
from transformers import AutoModel

from ..atomic import atomic_save_image, atomic_write_text
from ..hub import (
    PLACEHOLDER_NAMESPACE,
    TRAINING_INFO,
    CardImage,
    CardMetric,
    CardSection,
    placeholder_note,
    read_training_info,
    write_model_card,
)
from ..models import ClassConditionalImageGenerationPipeline, make_grid
from ..training.arguments import RunArguments

logger = logging.getLogger(__name__)

# Dataset names of the recipes' loaders -> (Hub id or public name, display name), for `write_model_card`.
DATASETS = {
    "mnist": ("ylecun/mnist", "MNIST"),
    "fashion_mnist": ("zalando-datasets/fashion_mnist", "Fashion-MNIST"),
    "digits": ("digits", "scikit-learn digits (8x8, 17 levels)"),
    "mnist_digits": ("ylecun/mnist", "MNIST in the digits format"),
    "fortunes": ("debian-fortunes", "Debian fortunes"),
    "cifar10": ("uoft-cs/cifar10", "CIFAR-10"),
}


CAUSAL_LM_TYPES = ("ar_transformer", "ar_rnn")


def model_kind(config: dict) -> str:
    """`"pixelcnn"`, `"vqvae"`, `"two_stage"`, `"pixel_lm"` or `"causal_lm"` from a `config.json` dict."""
    model_type = config.get("model_type")
    if model_type == "vqvae_prior":
        return "two_stage"
    if model_type in ("pixelcnn", "vqvae"):
        return model_type
    if config.get("pixel_lm"):  # a causal LM over sub-pixels (recipes.pixel_lm), ours or a `transformers` one
        return "pixel_lm"
    if model_type in CAUSAL_LM_TYPES:
        return "causal_lm"
    raise ValueError(f"no card recipe for model_type {model_type!r}; call `write_model_card` with your own parts.")


def class_names(config: dict) -> list[str]:
    """The class names of a class-conditional config (`id2label`, else the ids), in id order."""
    num_classes = config.get("num_classes") or (config.get("pixel_lm") or {}).get("num_classes") or 0
    id2label = {int(k): v for k, v in (config.get("id2label") or {}).items()}
    return [str(id2label.get(i, i)) for i in range(num_classes)]


def _conditioning(config: dict, kind: str) -> str:
    if kind == "causal_lm":
        return "a text prompt (the empty prompt writes a text from scratch)."
    if kind == "vqvae":
        return ("an input image: the VQ-VAE encodes it to a map of discrete codes and decodes a code map back to "
                "pixels (the first stage of a two-stage generator; it generates nothing on its own).")  # fmt: skip
    names = class_names(config)
    if kind == "pixel_lm":
        if not names:
            return "nothing: the model is unconditional (the prompt is BOS alone)."
        first = config["pixel_lm"]["num_levels"] + 1
        every_step = (
            " and `generate(class_labels=...)` adds a class bias at every step" if config.get("num_classes") else ""
        )
        return (
            f"a class label, one of {len(names)} classes: the prompt is BOS, then the class token ({first} + class id)"
            f"{every_step}."
        )
    if not names:
        return "nothing: the model is unconditional (`generate(num_images=...)`)."
    shown = ", ".join(f"{i} `{name}`" for i, name in enumerate(names[:20]))
    more = f", ... ({len(names) - 20} more)" if len(names) > 20 else ""
    return (f"a class label, one of {len(names)} classes given by id or by name ({shown}{more}); "
            "`generate(class_labels=[...])`.")  # fmt: skip


def _num_parameters(folder: Path, prefix: str = "") -> int | None:
    path = folder / "model.safetensors"
    if not path.is_file():
        return None
    total = 0
    with safe_open(str(path), framework="pt") as weights:
        for key in weights.keys():
            if key.startswith(prefix):
                total += math.prod(weights.get_slice(key).get_shape())
    return total


def _description(config: dict, kind: str, folder: Path) -> str:
    if kind == "pixelcnn":
        size = config.get("image_size")
        conditional = "class-conditional" if config.get("num_classes") else "unconditional"
        return (
            f"A {config.get('architecture', 'gated')} PixelCNN ({conditional}, {config.get('num_channels')}x{size}x"
            f"{size}, {config.get('num_levels')} levels per sub-pixel, hidden_size={config.get('hidden_size')}, "
            f"{config.get('num_hidden_layers')} gated layers, {_num_parameters(folder) or 0:,} parameters) from "
            "hf_argen: an autoregressive model with exact likelihoods, reported in bits per dimension (sub-pixel)."
        )
    if kind == "vqvae":
        size, side = config.get("image_size"), config.get("image_size") // config.get("downsample_factor", 4)
        return (
            "VQ-VAE (van den Oord et al., 2017) from hf_argen: a convolutional encoder maps a "
            f"{size}x{size}x{config.get('num_channels')} image in [-1, 1] to a {side}x{side} grid of codes from a "
            f"codebook of K={config.get('num_embeddings')} centroids (d={config.get('embedding_dim')}), kept as "
            "running (EMA) estimates of the encoder outputs assigned to them, with k-means initialisation and "
            "dead-code restarts; a convolutional decoder maps the codes back to pixels. The code maps are the "
            "discrete data an autoregressive prior models."
        )
    if kind == "pixel_lm":
        layout, architecture = config["pixel_lm"], (config.get("architectures") or [config.get("model_type")])[0]
        cell = f" ({config['cell_type'].upper()})" if config.get("cell_type") else ""
        size = layout["image_size"]
        lags, row, channels = config.get("input_lags"), layout["num_channels"] * size, layout["num_channels"]
        also = ""
        if lags:
            also = f" Each step also reads the sub-pixels {', '.join(map(str, lags))} positions back (`input_lags`)"
            if lags == [row - 1 - channels, row - 1, row - 1 + channels]:  # recipes.pixel_lm.row_above_lags
                also += ": above left, above and above right of the sub-pixel it predicts"
            also += "."
        return (
            f"A pixel LM: `{architecture}`{cell} (hidden_size={config.get('hidden_size')}, "
            f"{config.get('num_hidden_layers')} layers, {_num_parameters(folder) or 0:,} parameters) reading and "
            f"emitting one sub-pixel of a {layout['num_channels']}x{size}x{size} image at a time, "
            f"{layout['num_levels']}-way softmax, after a BOS token (and a class token): sub-pixels in the PixelCNN's "
            f"order (raster order, R, G, B within a pixel). Exact likelihoods, reported in bits per dimension.{also}"
        )
    if kind == "two_stage":
        vqvae, prior = config["vqvae"], config["prior"]
        side = vqvae["image_size"] // vqvae.get("downsample_factor", 4)
        prior_class = (prior.get("architectures") or [prior.get("model_type")])[0]
        return (
            "Two-stage class-conditional image generation in one `VQVAEPriorForImageGeneration` (hf_argen): a "
            f"{prior_class} prior (hidden_size={prior.get('hidden_size')}, {prior.get('num_hidden_layers')} layers, "
            f"{_num_parameters(folder, 'prior.') or 0:,} parameters) samples a {side}x{side} map of VQ-VAE codes "
            f"(K={vqvae['num_embeddings']}) in raster order after a class token, and the VQ-VAE decodes it to a "
            f"{vqvae['image_size']}x{vqvae['image_size']}x{vqvae.get('num_channels', 1)} image. The VQ-VAE "
            "(`model.vqvae`) and the prior (`model.prior`) are complete models of their own."
        )
    architecture = (config.get("architectures") or [config.get("model_type")])[0]
    return (
        f"A causal language model (`{architecture}` from hf_argen, hidden_size={config.get('hidden_size')}, "
        f"{config.get('num_hidden_layers')} layers, vocabulary {config.get('vocab_size')}, "
        f"{_num_parameters(folder) or 0:,} parameters) trained on whole texts ending with EOS, so the "
        "`text-generation` pipeline stops where a text ends."
    )


def usage_snippet(config: dict, repo_id: str, prompt: str = "The") -> tuple[str, str | None]:
    """`(python snippet, shell line or None)` that load `repo_id` and sample (or encode), built from `config`.

    The snippet needs only `transformers` (remote code: `trust_remote_code=True`) and runs as written.
    """
    kind = model_kind(config)
    if kind == "pixel_lm":
        return _pixel_lm_snippet(config, repo_id), None
    if kind == "causal_lm":
        return (
            "from transformers import pipeline\n\n"
            f'generator = pipeline("text-generation", model="{repo_id}", trust_remote_code=True)\n'
            'print(generator("")[0]["generated_text"])  # a text from scratch\n'
            f'print(generator({prompt!r})[0]["generated_text"])  # or one that starts with a prompt',
            f"hf-argen generate --model {repo_id} --prompt {json.dumps(prompt)} --num_images 3",
        )
    if kind == "vqvae":
        channels, size = config.get("num_channels", 1), config["image_size"]
        side, k = size // config.get("downsample_factor", 4), config["num_embeddings"]
        return (
            "import torch\n"
            "from transformers import AutoModel\n\n"
            f'model = AutoModel.from_pretrained("{repo_id}", trust_remote_code=True).eval()\n'
            f"pixel_values = torch.rand(4, {channels}, {size}, {size}) * 2 - 1  # images in [-1, 1]\n"
            f"codes = model.encode(pixel_values)  # (4, {side}, {side}) code ids in [0, {k})\n"
            f"reconstruction = model.decode(codes)  # (4, {channels}, {size}, {size}) in [-1, 1]",
            None,
        )
    if kind == "two_stage":
        vqvae = config["vqvae"]
        channels, size = vqvae.get("num_channels", 1), vqvae["image_size"]
        side, k = size // vqvae.get("downsample_factor", 4), vqvae["num_embeddings"]
    else:
        channels, size, k = config.get("num_channels", 1), config["image_size"], config.get("num_levels")
    names = class_names(config)
    lines = ["from transformers import AutoModel, pipeline", "",
             f'model = AutoModel.from_pretrained("{repo_id}", trust_remote_code=True)']  # fmt: skip
    if names:
        ids = list(range(min(len(names), 10)))
        n = len(ids)
        generate = f"model.generate(class_labels={ids}, seed=0)"
        called = f"generator(class_labels={json.dumps(names[:2])}, num_images=2, seed=0)"
        cli = (f"hf-argen generate --model {repo_id} --class_labels {' '.join(map(str, ids))} --seed 0 "
               "--output grid.png")  # fmt: skip
        total = 2 * len(names[:2])
    else:
        n = 4
        generate = "model.generate(num_images=4, seed=0)"
        called = "generator(num_images=4, seed=0)"
        cli = f"hf-argen generate --model {repo_id} --num_images 16 --seed 0 --output grid.png"
        total = 4
    if kind == "pixelcnn":
        lines.append(f"levels = {generate}  # ({n}, {channels}, {size}, {size}) integer levels in [0, {k})")
    else:
        lines.append(f"pixels = {generate}  # ({n}, {channels}, {size}, {size}) in [-1, 1]")
        codes_call = generate.replace("seed=0)", 'seed=0, output_type="codes")')
        lines.append(f"codes = {codes_call}  # ({n}, {side}, {side}) code ids in [0, {k})")
    lines += ["", f'generator = pipeline(model="{repo_id}", trust_remote_code=True)',
              f"images = {called}  # {total} PIL images, {size}x{size}"]  # fmt: skip
    return "\n".join(lines), cli


def _pixel_lm_snippet(config: dict, repo_id: str) -> str:
    """Plain `transformers` sampling from a pixel LM: prompt BOS (+ class token), exactly C*H*W new tokens, only level
    ids allowed, tokens reshaped in the PixelCNN's order."""
    layout = config["pixel_lm"]
    levels, classes, channels, size = (layout[k] for k in ("num_levels", "num_classes", "num_channels", "image_size"))
    prompt = f"[[{levels}, {levels + 1} + label] for label in range({classes})]" if classes else f"[[{levels}]] * 4"
    # A model that also takes the class at every step (an `ARRNNForCausalLM` with `num_classes`) gets the labels too.
    labels = f" class_labels=torch.arange({classes})," if config.get("num_classes") else ""
    return "\n".join([
        "import torch",
        "from transformers import AutoModelForCausalLM",
        "",
        f'model = AutoModelForCausalLM.from_pretrained("{repo_id}", trust_remote_code=True).eval()',
        f"# ids [0, {levels}) are levels, {levels} is BOS" + (f", {levels + 1} + c: class c" if classes else ""),
        f"prompt = torch.tensor({prompt})",
        f"length = {channels * size * size}  # sub-pixels per image",
        "torch.manual_seed(0)",
        "tokens = model.generate(prompt, do_sample=True, max_new_tokens=length, min_new_tokens=length,",
        f"                        suppress_tokens=list(range({levels}, model.config.vocab_size)), eos_token_id=None,",
        f"                        pad_token_id=model.config.pad_token_id,{labels}",
        "                        attention_mask=torch.ones_like(prompt))",
        f"levels = tokens[:, prompt.shape[1]:].reshape(-1, {size}, {size}, {channels}).permute(0, 3, 1, 2)"
        f"  # (N, {channels}, {size}, {size}) in [0, {levels})",
    ])  # fmt: skip


_KIND_PARTS = {  # tags and model-index task per kind
    "pixelcnn": (["pixelcnn", "autoregressive", "image-generation"], "image-generation",
                 "Image generation (likelihood)"),
    "vqvae": (["vq-vae", "image-to-image"], "image-to-image", "Image reconstruction"),
    "two_stage": (["vq-vae", "autoregressive", "image-generation", "two-stage"], "image-generation",
                  "Image generation (likelihood of the code maps)"),
    "causal_lm": (["causal-lm", "text-generation"], "text-generation", "Text generation (likelihood)"),
    "pixel_lm": (["pixel-lm", "autoregressive", "image-generation"], "image-generation",
                 "Image generation (likelihood)"),
}  # fmt: skip


def card_repo_id(folder: str | Path, hub_model_id: str | None = None) -> tuple[str, str | None]:
    """`(repo id, note or None)` that a card's snippet loads: `hub_model_id` when known, else a placeholder,
    ``your-name/<folder name>`` (:data:`~hf_argen.hub.PLACEHOLDER_NAMESPACE`), never a path of this machine; the note
    (a Python comment) says what it stands for and how the local folder loads. `hf-argen push` writes the id in
    (:func:`hf_argen.hub.retarget_card`)."""
    if hub_model_id:
        return hub_model_id, None
    name = re.sub(r"[^\w.-]+", "-", Path(folder).resolve().name).strip(".-") or "model"
    repo_id = f"{PLACEHOLDER_NAMESPACE}/{name}"
    return repo_id, placeholder_note(repo_id, name)


def write_card_for_folder(
    folder: str | Path,
    metrics: list[CardMetric] = (),
    dataset: str | None = None,
    repo_id: str | None = None,
    eval_command: str | None = None,
    metrics_note: str | None = None,
    train_commands: list[str] | None = None,
    training: str | None = None,
    description: str | None = None,
    images: list[CardImage] | None = None,
    sections: list[CardSection] | None = None,
    datasets: list[str] | None = None,
    extra_images: list[CardImage] = (),
    limitations: str | None = None,
) -> Path:
    """Write the card of a saved hf_argen folder with :func:`write_model_card`.

    Unset parts come from `folder/training_info.json` (``hub_model_id``, ``commands``/``command``,
    ``training``, ``description``, ``datasets``, ``sections``, ``dataset``, ``limitations``: so a card rewritten
    after a new evaluation keeps them) and then from the folder's
    ``config.json``: `repo_id` defaults to the Hub id, else the folder as given (the snippet loads it either way).
    `extra_images` come after the images (by default the folder's sample grid).
    """
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    kind = model_kind(config)
    info = read_training_info(folder)
    repo_id, note = card_repo_id(folder, repo_id or info.get("hub_model_id"))
    if train_commands is None:
        train_commands = info.get("commands") or ([info["command"]] if info.get("command") else [])
    if images is None:
        image_file = {"vqvae": "reconstructions.png"}.get(kind, "samples.png")
        caption = info.get("image_caption", "")
        images = [CardImage(image_file, image_file.split(".")[0], caption)] if (folder / image_file).is_file() else []
    images = [*images, *extra_images]
    if sections is None:
        sections = [CardSection(**s) for s in info.get("sections", [])]
    tags, task_type, task_name = _KIND_PARTS[kind]
    usage, cli = usage_snippet(config, repo_id, prompt=info.get("prompt", "The"))
    usage = f"{note}\n{usage}" if note else usage
    return write_model_card(
        folder,
        known_datasets=DATASETS,
        model_name=repo_id.rstrip("/").split("/")[-1] if repo_id else folder.name,
        description=description or info.get("description") or _description(config, kind, folder),
        conditioning=_conditioning(config, kind),
        usage=usage,
        cli=cli,
        metrics=list(metrics),
        dataset=dataset or info.get("dataset"),
        task_type=task_type,
        task_name=task_name,
        tags=tags,
        datasets=datasets or info.get("datasets"),
        pipeline_tag="text-generation" if kind == "causal_lm" else None,
        eval_command=eval_command,
        metrics_note=metrics_note,
        train_commands=train_commands,
        training=training or info.get("training"),
        images=images,
        sections=sections,
        limitations=limitations or info.get("limitations"),
    )


def pixelcnn_card_metrics(report: dict, split: str, class_prior: str | None = None) -> list[CardMetric]:
    """Rows for :func:`pixelcnn_likelihood_report`'s figures (conditional and, if there, marginal; with or
    without an ``eval_`` prefix as a training run reports them)."""

    def get(name):
        return report.get(name, report.get(f"eval_{name}"))

    bits, nats = get("bits_per_dim"), get("nats_per_image")
    if bits is None:
        raise ValueError("`report` must hold 'bits_per_dim' (or 'eval_bits_per_dim').")
    marginal = get("marginal_bits_per_dim")
    given = ", conditional -log p(x|y)" if marginal is not None else ""
    rows = [CardMetric("bits_per_dim", f"{split} bits/dim{given}", bits, split)]
    if nats is not None:
        rows.append(CardMetric("nll_nats_per_image", f"{split} NLL nats/image{given}", nats, split, fmt=".2f"))
    if marginal is not None:
        prior = {"train": "p(y) = training class frequencies", "uniform": "p(y) uniform"}.get(class_prior or "", "")
        suffix = f", marginal -log p(x){' (' + prior + ')' if prior else ''}"
        rows.append(CardMetric("marginal_bits_per_dim", f"{split} bits/dim{suffix}", marginal, split))
        marginal_nats = get("marginal_nats_per_image")
        if marginal_nats is not None:
            rows.append(CardMetric("marginal_nll_nats_per_image", f"{split} NLL nats/image{suffix}", marginal_nats,
                                   split, fmt=".2f"))  # fmt: skip
    return rows


# model-index metric types of `pixelcnn_card_metrics` -> the figures of `pixelcnn_likelihood_report`
LIKELIHOOD_METRICS = {
    "bits_per_dim": "bits_per_dim",
    "nll_nats_per_image": "nats_per_image",
    "marginal_bits_per_dim": "marginal_bits_per_dim",
    "marginal_nll_nats_per_image": "marginal_nats_per_image",
}


def likelihood_figures_from_card(folder: str | Path) -> dict:
    """The likelihood figures of a PixelCNN folder's current card, read back from its ``model-index`` (as
    :func:`pixelcnn_card_metrics` wrote them): ``dataset`` (the recipes' name), ``split``, ``bits_per_dim``,
    ``nats_per_image``, the ``marginal_*`` figures and ``class_prior`` (``"train"`` or ``"uniform"``) when there."""
    path = Path(folder) / "README.md"
    if not path.is_file():
        raise ValueError(f"{path} does not exist: there is no card to read the likelihood figures from.")
    results = [r for r in ModelCard.load(path).data.eval_results or [] if r.metric_type in LIKELIHOOD_METRICS]
    figures = {LIKELIHOOD_METRICS[result.metric_type]: result.metric_value for result in results}
    if "bits_per_dim" not in figures:
        raise ValueError(f"{path}: the card's model-index holds no bits_per_dim to keep.")
    names = {}
    for name, (hub_id, _) in DATASETS.items():
        names.setdefault(hub_id, name)
    figures["dataset"] = names.get(results[0].dataset_type, results[0].dataset_type)
    figures["split"] = results[0].dataset_split
    marginal = [result.metric_name for result in results if result.metric_type == "marginal_bits_per_dim"]
    if marginal:
        figures["class_prior"] = "uniform" if "p(y) uniform" in marginal[0] else "train"
    return figures


def vqvae_card_metrics(metrics: dict, split: str, num_embeddings: int) -> list[CardMetric]:
    """Rows for `evaluate_vqvae`'s figures."""
    return [
        CardMetric("psnr", f"{split} PSNR (dB)", metrics["psnr"], split, fmt=".2f"),
        CardMetric(
            "codebook_usage",
            f"{split} codebook usage (% of codes)",
            100.0 * metrics["codebook_usage"],
            split,
            fmt=".1f",
        ),  # fmt: skip
        CardMetric(
            "perplexity", f"{split} code perplexity (of K={num_embeddings})", metrics["perplexity"], split, fmt=".1f"
        ),  # fmt: skip
        CardMetric(
            "bits_per_image", "bits per image (code map, h*w*log2 K)", metrics["bits_per_image"], split, fmt=".0f"
        ),  # fmt: skip
        CardMetric("mse", f"{split} MSE on [-1, 1]", metrics["mse"], split, fmt=".5f"),
    ]


def prior_card_metrics(
    metrics: dict,
    split: str,
    num_codes: int,
    codes_per_image: int,
    consistency: dict | None = None,
    num_samples: int | None = None,
) -> list[CardMetric]:
    """Rows for `evaluate_prior`'s figures (NLL of the split's code maps; class consistency of samples)."""
    rows = [
        CardMetric("nll_per_code", f"{split} NLL (nats/code)", metrics["nll_per_code"], split),
        CardMetric(
            "bits_per_image", f"{split} NLL per image (bits/image)", metrics["bits_per_image"], split, fmt=".1f"
        ),  # fmt: skip
        CardMetric(
            "uniform_nll_per_code", "uniform over codes, reference (nats/code)", math.log(num_codes), split, index=False
        ),  # fmt: skip
        CardMetric(
            "uniform_bits_per_image",
            "uniform over codes, reference (bits/image)",
            codes_per_image * math.log2(num_codes),
            split,
            fmt=".1f",
            index=False,
        ),  # fmt: skip
    ]
    if consistency is not None:
        rows.append(class_consistency_card_metric(consistency, num_samples))
    return rows


def class_consistency_card_metric(consistency: dict, num_samples: int, detail: str = "") -> CardMetric:
    """The table row (not in the ``model-index``: a figure of samples, not of a split) of a class consistency
    (`consistency["consistency"]` in [0, 1], `consistency["classifier_accuracy"]` of the MNIST CNN); `detail`
    (e.g. the seed) is added to the row's name."""
    accuracy = 100 * consistency["classifier_accuracy"]
    return CardMetric(
        "class_consistency",
        f"class consistency of {num_samples} samples{detail} (MNIST CNN, {accuracy:.2f}% test accuracy)",
        100 * consistency["consistency"], "samples", fmt=".1f", index=False, unit=" %",
    )  # fmt: skip


def completion_card_metrics(figures: dict, image_size: int, unit: str = "rows") -> list[CardMetric]:
    """Table rows (not in the ``model-index``) of an image-completion run (:mod:`.completion`): how often the MNIST
    classifier gives a completion the original's class, and, for reference, the kept rows alone; `unit` names the
    rows kept (pixel ``rows``, or ``code rows`` of a two-stage model of `image_size` code rows)."""
    kept = f"the top {figures['completion_rows']} of {image_size} {unit}"
    judged = f"MNIST CNN, {100 * figures['classifier_accuracy']:.2f}% test accuracy"
    return [
        CardMetric(
            "completion_class_agreement",
            f"completions of {figures['completion_images']} test images from {kept} (class drawn from the posterior, "
            f"seed {figures['completion_seed']}) showing the original's class ({judged})",
            100 * figures["completion_agreement"], "test", fmt=".1f", index=False, unit=" %",
        ),
        CardMetric(
            "kept_rows_accuracy",
            f"reference: the same classifier on {kept} alone (the rest blank) / on the originals "
            f"({100 * figures['original_accuracy']:.1f} %)",
            100 * figures["kept_rows_accuracy"], "test", fmt=".1f", index=False, unit=" %",
        ),
    ]  # fmt: skip


def causal_lm_card_metrics(figures: dict, split: str = "validation") -> list[CardMetric]:
    """Rows for `evaluate_text_model`'s figures (held-out NLL and perplexity; EOS-terminated samples)."""
    rows = [
        CardMetric(
            "nll_per_token",
            f"{split} NLL (nats/token, {figures['validation_texts']} held-out texts)",
            figures["nll_per_token"],
            split,
            fmt=".3f",
        ),  # fmt: skip
        CardMetric("perplexity", f"{split} perplexity", figures["perplexity"], split, fmt=".1f"),
    ]
    if figures.get("num_samples"):
        share = figures["complete_samples"] / figures["num_samples"]
        rows += [
            CardMetric(
                "eos_terminated",
                f"samples that end with EOS ({figures['complete_samples']}/"
                f"{figures['num_samples']}, seed {figures.get('seed', 0)})",
                100 * share,
                "samples",
                fmt=".1f",
                index=False,
                unit=" %",
            ),  # fmt: skip
            CardMetric(
                "mean_length", "mean sample length (tokens)", figures["mean_length"], "samples", fmt=".1f", index=False
            ),  # fmt: skip
        ]
    return rows


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
    """Write `folder/README.md` for a captioner with :func:`write_model_card`: exact match and BLEU-4 per
    (dataset, split, subset, system) row of :func:`hf_argen.caption_evaluation.evaluate_captioner_on_dataset`
    (baselines in the table only, the captioner's rows also in the ``model-index``), the command that measured
    them, the training command (default: ``training_info.json``'s) and a pipeline usage snippet."""
    folder = Path(folder)
    repo_id, note = card_repo_id(folder, repo_id)
    if command is None:
        info = folder / "training_info.json"
        if info.is_file():
            recorded = json.loads(info.read_text())
            command = recorded.get("command") or (recorded.get("commands") or [None])[0]
    metrics = []
    for row in rows:
        own = row["system"] == "captioner"
        label = f"{row['split']}: {row['subset']}, {row['num_images']} images"
        label = label if own else f"{label} ({row['system']})"
        dataset = (dataset_types or {}).get(row["dataset"], row["dataset"])
        for metric, name, unit in (("exact_match", "exact match", " %"), ("bleu4", "BLEU-4 (sacrebleu)", "")):
            metrics.append(CardMetric(type=metric if own else f"{metric}_{row['system']}", name=f"{name}, {label}",
                                      value=round(float(row[metric]), 2), split=row["split"], dataset=dataset,
                                      fmt=".1f", index=own, unit=unit))  # fmt: skip
    usage = (
        (f"{note}\n" if note else "") + "from PIL import Image\n"
        "from transformers import pipeline\n\n"
        f'captioner = pipeline("image-to-text", model="{repo_id}", trust_remote_code=True)\n'
        'image = Image.new("RGB", (64, 64), "white")  # or a path, a numpy array, or a list of them\n'
        'print(captioner(image, num_beams=3))  # [{"generated_text": "..."}]'
    )
    return write_model_card(
        folder,
        known_datasets=DATASETS,
        model_name=repo_id.split("/")[-1],
        description=description or "An image captioner p(caption | image) trained with hf_argen.",
        conditioning="an image (any size, grey or RGB); the caption is decoded token by token until EOS.",
        usage=usage,
        metrics=metrics,
        task_type="image-to-text",
        task_name="Image captioning",
        tags=["image-captioning"],
        pipeline_tag="image-to-text",
        eval_command=eval_command,
        metrics_note=notes.strip() or None,
        train_commands=[command] if command else [],
    )


def text_to_image_card_metrics(rows: list[dict], dataset: str, default_scale: float | None = None) -> list[CardMetric]:
    """Card rows of :mod:`hf_argen.recipes.text_to_image_evaluation`: the caption round trip (and, for scenes, both
    digits right) per split and system; the model's rows at its default guidance scale also go into the
    ``model-index``."""
    metrics = []
    for row in rows:
        scale = row["guidance_scale"]
        system = row["system"] if scale is None else f"{row['system']}, guidance {scale:g}"
        own = row["system"] == "text-to-image" and scale == (default_scale or 1.0)
        label = f"{row['split']}, {system}, {row['num_images']} images"
        kind = "model" if row["system"] == "text-to-image" else row["system"].replace(" ", "_").replace("-", "")
        suffix = "" if scale is None else f"_g{scale:g}"
        figures = [("round_trip", "caption round trip (exact match)")]
        figures += [("digits", "both digits right (MNIST classifier)")] if row.get("digits") is not None else []
        for metric, name in figures:
            metrics.append(CardMetric(type=f"{metric}_{kind}{suffix}", name=f"{name}, {label}",
                                      value=round(float(row[metric]), 1), split=row["split"], dataset=dataset,
                                      fmt=".1f", index=own, unit=" %"))  # fmt: skip
    return metrics


def write_text_to_image_card(folder: str | Path, metrics: list[CardMetric], eval_command: str, description: str,
                             prompts: list[str], commands: list[str] | None = None, repo_id: str | None = None,
                             notes: str = "", images: list[CardImage] = ()) -> Path:  # fmt: skip
    """Write `folder/README.md` for a text-to-image model: the figures, the command that measured them, the training
    commands (default: ``training_info.json``'s), a pipeline usage snippet with `prompts`."""
    folder = Path(folder)
    repo_id = repo_id or folder.name
    if commands is None:
        info = read_training_info(folder)
        commands = info.get("commands") or ([info["command"]] if info.get("command") else [])
    usage = (
        "from transformers import pipeline\n\n"
        f'generator = pipeline("text-to-image", model="{repo_id}", trust_remote_code=True)\n'
        f"images = generator({json.dumps(prompts)}, num_images_per_prompt=2, seed=0)  # PIL images\n"
        "# guidance_scale=..., temperature=...: other than the folder's defaults (generation_config.json)"
    )
    cli = f"hf-argen generate --model {repo_id} --prompt " + " ".join(json.dumps(p) for p in prompts)
    return write_model_card(
        folder,
        known_datasets=DATASETS,
        model_name=repo_id,
        description=description,
        conditioning="a text prompt (lower-cased words the tokenizer knows); `guidance_scale` sets classifier-free "
        "guidance (1: none).",
        usage=usage,
        cli=cli + " --num_images 4 --seed 0 --output grid.png",
        metrics=metrics,
        task_type="text-to-image",
        task_name="Text-to-image generation",
        tags=["text-to-image", "vq-vae", "autoregressive", "classifier-free-guidance"],
        pipeline_tag="text-to-image",
        eval_command=eval_command,
        metrics_note=notes.strip() or None,
        train_commands=list(commands),
        images=list(images),
    )


def card_metrics(config: dict, figures: dict, class_prior: str | None = None) -> list[CardMetric]:
    """Card rows for the `--output_json` figures of the evaluation script of `config`'s model kind."""
    kind, split = model_kind(config), figures.get("split", "test")
    if kind in ("pixelcnn", "pixel_lm"):
        return pixelcnn_card_metrics(figures, split, class_prior or figures.get("class_prior"))
    if kind == "vqvae":
        return vqvae_card_metrics(figures, split, config["num_embeddings"])
    if kind == "two_stage":
        vqvae = config["vqvae"]
        side = vqvae["image_size"] // vqvae.get("downsample_factor", 4)
        consistency = figures if "consistency" in figures else None
        return prior_card_metrics(figures, split, vqvae["num_embeddings"], side * side, consistency,
                                  figures.get("num_samples"))  # fmt: skip
    return causal_lm_card_metrics(figures, split="validation")


def write_sample_grid(folder: str | Path, path: str | Path | None = None, class_labels=None, num_per_class: int = 4,
                      seed: int = 0, scale: int | None = None) -> Path:  # fmt: skip
    """Sample `num_per_class` images of each class (default: every class; an unconditional model: `num_per_class`
    rows of 10) from the image generator in `folder` and save them as one grid (default `folder/samples.png`)."""
    model = AutoModel.from_pretrained(folder).eval()
    num_classes = getattr(model.config, "num_classes", None)
    classes = list(class_labels) if class_labels else (list(range(num_classes)) if num_classes else None)
    generator = ClassConditionalImageGenerationPipeline(model=model)
    count = num_per_class if classes else 10 * num_per_class
    images = generator(class_labels=classes, num_images=count, generator=torch.Generator().manual_seed(seed))
    size = images[0].size[0]
    grid = make_grid(images, num_columns=len(classes) if classes else 10, scale=scale or max(1, 64 // size))
    path = Path(path) if path else Path(folder) / "samples.png"
    atomic_save_image(grid, path)
    return path


def publish_run(run: RunArguments, info: dict, metrics=(), dataset: str | None = None, images=None) -> None:
    """End of a run, main process only: `training_info.json` (with the Hub id), the model card written by
    :func:`write_card_for_folder` from the run's eval figures, then the push when `--push_to_hub`."""
    folder = Path(run.output_dir)
    if run.hub_model_id:
        info = {**info, "hub_model_id": run.hub_model_id}
    atomic_write_text(folder / TRAINING_INFO, json.dumps(info, indent=2))
    try:
        write_card_for_folder(folder, list(metrics), dataset=dataset, images=images)
    except (ValueError, KeyError, OSError) as error:  # the model is saved; a card is not worth losing the run
        logger.warning("no model card written: %s", error)
    logger.info("saved the model and its card (README.md) in %s", folder)
    run.push(folder)


def final_eval_figures(metrics: dict) -> dict:
    """Log a run's final `metrics`; its eval figures (``eval_*``) without the prefix, for the card."""
    logger.info("final metrics: %s", json.dumps(metrics))
    return {k[len("eval_") :]: v for k, v in metrics.items() if k.startswith("eval_")}


def keep_last_grid(output_dir, name: str) -> bool:
    """Copy the last sample grid of a run (`output_dir/samples/step-*.png`) to `output_dir/name`, where the model
    card expects it; False when the run wrote none."""
    grids = sorted(Path(output_dir, "samples").glob("step-*.png"))
    if grids:
        shutil.copyfile(grids[-1], Path(output_dir, name))
    return bool(grids)


__all__ = [
    "DATASETS",
    "card_metrics",
    "card_repo_id",
    "causal_lm_card_metrics",
    "class_consistency_card_metric",
    "completion_card_metrics",
    "final_eval_figures",
    "keep_last_grid",
    "likelihood_figures_from_card",
    "model_kind",
    "pixelcnn_card_metrics",
    "prior_card_metrics",
    "publish_run",
    "text_to_image_card_metrics",
    "usage_snippet",
    "vqvae_card_metrics",
    "write_captioner_model_card",
    "write_card_for_folder",
    "write_sample_grid",
    "write_text_to_image_card",
]
