"""The flags `hf-argen evaluate` shares over every model kind (each kind adds its own in `hf_argen.cli.eval_*`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .arguments import positive

EVALUATION_KINDS = ("pixelcnn", "pixel_lm", "vqvae", "prior", "captioner", "text", "text_to_image")


@dataclass
class EvaluateArguments:
    """What every evaluation takes: the data, the batch size, samples, the card."""

    kind: str | None = field(
        default=None,
        metadata={"help": "what --model is (default: read from its config.json)", "choices": EVALUATION_KINDS},
    )
    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "digits, mnist, fashion_mnist, emoji, mnist_scenes, fortunes, a folder or Hub id "
            "(default: pixelcnn digits, vqvae/prior mnist, captioner mnist_scenes, text fortunes)"
        },
    )
    split: list[str] | None = field(
        default=None,
        metadata={"help": "split(s) to evaluate (default: test; captioner: see above; pixelcnn 'none': no likelihood)"},
    )
    data_dir: str | None = field(
        default=None, metadata={"help": "folder with MNIST IDX files or the emoji packages (else $HF_ARGEN_DATA_DIR)"}
    )
    batch_size: int | None = field(
        default=None,
        metadata={
            "help": "examples per forward pass (default: pixelcnn 16 on the CPU and 256 on an accelerator, "
            "vqvae/prior 500, captioner 128, text 64)"
        },
    )
    max_eval_samples: int | None = field(default=None, metadata={"help": "evaluate the first N examples only"})
    num_per_class: int | None = field(
        default=None, metadata={"help": "samples per class (default: prior 100; pixelcnn 0 = no class consistency)"}
    )
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature (pixelcnn, prior)"})
    classifier_path: str | None = field(
        default=None,
        metadata={
            "help": "MNIST classifier measuring class consistency and completions, trained there on first use "
            "(default: .cache/mnist_classifier.pt; prior: none, no class consistency of samples)"
        },
    )
    completion_rows: int | None = field(
        default=None,
        metadata={
            "help": "complete MNIST test images from their top N rows (pixelcnn: pixel rows; prior: code rows) and "
            "report how often the MNIST classifier (--classifier_path) gives a completion the original's class; "
            "the class is not given, it is drawn from the model's posterior given the kept rows"
        },
    )
    completion_images: int = field(default=500, metadata={"help": "test images completed (the first N)"})
    grid: str | None = field(default=None, metadata={"help": "save a sample / reconstruction grid PNG here"})
    write_card: bool = field(default=False, metadata={"help": "write the figures into --model's README.md"})
    hub_model_id: str | None = field(default=None, metadata={"help": "Hub id the card's usage snippet loads"})
    train_command: list[str] | None = field(
        default=None, metadata={"help": "training command(s) for the card (default: the folder's training_info.json)"}
    )

    def check(self) -> None:
        """`ValueError` naming the flag for a count below 1."""
        positive("batch_size", self.batch_size)
        positive("max_eval_samples", self.max_eval_samples)
        positive("completion_images", self.completion_images)
        if self.completion_rows is not None and self.completion_rows < 0:
            raise ValueError(f"--completion_rows must be >= 0, got {self.completion_rows}.")
        if self.num_per_class is not None and self.num_per_class < 0:
            raise ValueError(f"--num_per_class must be >= 0, got {self.num_per_class}.")

    def one_split(self, default: str = "test") -> str:
        """The single `--split` of a kind that evaluates one split."""
        if not self.split:
            return default
        if len(self.split) != 1:
            raise ValueError(f"--split takes one split for this model, got {self.split}.")
        return self.split[0]


__all__ = ["EVALUATION_KINDS", "EvaluateArguments"]
