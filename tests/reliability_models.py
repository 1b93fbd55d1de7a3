"""Tiny instances of every model kind, shared by the reliability tests (fast on one CPU core)."""

from __future__ import annotations

import torch

from hf_argen import (
    ARRNNConfig,
    ARRNNForCausalLM,
    ARTransformerConfig,
    ARTransformerForCausalLM,
    PixelCNNConfig,
    PixelCNNForImageGeneration,
    VQVAEConfig,
    VQVAEModel,
    VQVAEPriorConfig,
    VQVAEPriorForImageGeneration,
)

NUM_CODES = 16
VQVAE = dict(image_size=8, num_embeddings=NUM_CODES, embedding_dim=4, hidden_size=8, residual_hidden_size=4,
             num_residual_layers=1, kmeans_init=False)  # fmt: skip
PRIOR = dict(model_type="ar_transformer", vocab_size=NUM_CODES + 4, pad_token_id=NUM_CODES + 3, bos_token_id=None,
             eos_token_id=None, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
             max_position_embeddings=20)  # fmt: skip
LM = dict(vocab_size=12, hidden_size=16, num_hidden_layers=1, pad_token_id=0, bos_token_id=1, eos_token_id=2)


def pixelcnn(**overrides) -> PixelCNNForImageGeneration:
    values = dict(image_size=5, num_channels=3, num_levels=4, num_classes=3, hidden_size=6, num_hidden_layers=2,
                  kernel_size=3, first_kernel_size=3, output_hidden_size=6)  # fmt: skip
    torch.manual_seed(0)
    return PixelCNNForImageGeneration(PixelCNNConfig(**{**values, **overrides})).eval()


def vqvae(**overrides) -> VQVAEModel:
    torch.manual_seed(0)
    return VQVAEModel(VQVAEConfig(**{**VQVAE, **overrides})).eval()


def transformer(**overrides) -> ARTransformerForCausalLM:
    torch.manual_seed(0)
    config = ARTransformerConfig(**{**LM, "num_attention_heads": 2, "max_position_embeddings": 32, **overrides})
    return ARTransformerForCausalLM(config).eval()


def rnn(**overrides) -> ARRNNForCausalLM:
    torch.manual_seed(0)
    return ARRNNForCausalLM(ARRNNConfig(**{**LM, **overrides})).eval()


def two_stage() -> VQVAEPriorForImageGeneration:
    torch.manual_seed(0)
    config = VQVAEPriorConfig(vqvae=VQVAEConfig(**VQVAE), prior=dict(PRIOR), num_classes=3)
    return VQVAEPriorForImageGeneration(config).eval()


BUILDERS = {"pixelcnn": pixelcnn, "vqvae": vqvae, "transformer": transformer, "rnn": rnn, "two_stage": two_stage}

CAPTIONS = ["a red square", "a blue circle", "a green bar", "white"]


def caption_tokenizer():
    from hf_argen.models import train_caption_tokenizer

    return train_caption_tokenizer(CAPTIONS)


def captioner(tokenizer=None, **overrides):
    """A tiny captioner (8x8 RGB images, one conv stage, one decoder layer) for `caption_tokenizer()`."""
    from hf_argen.models import CaptionerConfig, CaptionerForConditionalGeneration

    tokenizer = tokenizer or caption_tokenizer()
    values = dict(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                  pad_token_id=tokenizer.pad_token_id, image_size=8, encoder_channels=[4], hidden_size=16,
                  num_attention_heads=2, num_hidden_layers=1, max_position_embeddings=8)  # fmt: skip
    torch.manual_seed(0)
    return CaptionerForConditionalGeneration(CaptionerConfig(**{**values, **overrides})).eval()


# ---- a tiny training run for the kill-and-resume tests --------------------------------------------------------
def train_tiny(output_dir: str, resume: bool, steps: int = 60, every: int = 5, step_sleep: float = 0.01) -> None:
    """A tiny PixelCNN run through the shared loop (EMA, cosine schedule, accumulation, dropout) on 48 fixed
    random images; each step sleeps `step_sleep` seconds so that a kill lands mid-run. Runs in one process, or in
    each process of `accelerate launch` (then the 48 images are sharded, 8 per process per micro-batch)."""
    import time

    from hf_argen.training import LoopArguments, TensorDictDataset, TrainingLoop

    torch.set_num_threads(1)
    model = pixelcnn(dropout=0.1)
    generator = torch.Generator().manual_seed(1)
    data = TensorDictDataset(pixel_values=torch.randint(0, 4, (48, 3, 5, 5), generator=generator),
                             class_labels=torch.randint(0, 3, (48,), generator=generator))  # fmt: skip
    args = LoopArguments(output_dir=output_dir, train_batch_size=8, max_train_steps=steps, checkpointing_steps=every,
                         checkpoints_total_limit=2, gradient_accumulation_steps=2, lr_scheduler="cosine",
                         learning_rate=3e-3, ema_decay=0.9, seed=5, logging_steps=1000, device="cpu",
                         resume_from_checkpoint="latest" if resume else None)  # fmt: skip

    def loss(model, batch):
        time.sleep(step_sleep)
        return model(**batch, labels=batch["pixel_values"]).loss

    TrainingLoop(model, args, train_dataset=data, compute_loss=loss).train()


def launch_two_ranks(output_dir: str, resume: bool, port: int, steps: int, every: int, step_sleep: float) -> None:
    """Start as a new process (a `forkserver` child): become a process-group leader, fork 2 ranks of `train_tiny`
    under the `accelerate launch`/torchrun contract (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR/PORT in the
    environment; Accelerate reads them) and exit with 0 when both do. `os.killpg(pid, SIGKILL)` kills all three."""
    import contextlib
    import os
    import signal
    import sys

    os.setsid()
    ranks = []
    for rank in range(2):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                                  MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))  # fmt: skip
                train_tiny(output_dir, resume, steps=steps, every=every, step_sleep=step_sleep)
                code = 0
            finally:
                os._exit(code)
        ranks.append(pid)
    codes = []
    for _ in ranks:
        _, status = os.wait()
        codes.append(os.waitstatus_to_exitcode(status))
        if codes[-1] != 0:  # a rank failed: the other would wait for it in a collective forever
            for pid in ranks:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    sys.exit(0 if codes == [0, 0] else 1)


if __name__ == "__main__":  # `accelerate launch tests/reliability_models.py OUTPUT_DIR [--resume] [--steps N] ...`
    import argparse

    parser = argparse.ArgumentParser(description="A tiny training run for the kill-and-resume tests.")
    parser.add_argument("output_dir")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--step_sleep", type=float, default=0.01)
    cli = parser.parse_args()
    train_tiny(cli.output_dir, cli.resume, cli.steps, cli.every, cli.step_sleep)
