"""Text side of the causal LMs: tokenizer, packing, fortunes reader, training entry point, pipeline."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, pipeline

from hf_argen import ARRNNConfig, ARRNNForCausalLM, ARTransformerConfig, ARTransformerForCausalLM
from hf_argen.recipes.datasets import load_texts, read_fortunes
from hf_argen.text_data import collate_causal_lm, pack_examples, tokenize_dataset, train_tokenizer

TEXTS = ["the cat sat on the mat.", "a dog ran far away!"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(TEXTS * 20, vocab_size=300, min_frequency=1)


def test_tokenizer_specials_and_round_trip(tokenizer, tmp_path):
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id) == (0, 1, 2)
    ids = tokenizer(TEXTS[0])["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and tokenizer.eos_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == TEXTS[0]
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded(TEXTS[1])["input_ids"] == tokenizer(TEXTS[1])["input_ids"]
    assert loaded.padding_side == "left" and loaded.eos_token == "<eos>"
    with pytest.raises(ValueError, match="vocab_size"):
        train_tokenizer(TEXTS, vocab_size=100)


def test_tokenize_pack_and_collate(tokenizer):
    import datasets

    dataset = datasets.Dataset.from_dict({"text": TEXTS * 3 + ["word " * 40]})
    examples = list(tokenize_dataset(dataset, tokenizer, max_length=24))
    assert len(examples) == 6  # the long text is dropped
    assert all(e["input_ids"][0] == 1 and e["input_ids"][-1] == 2 for e in examples)
    rows = pack_examples(examples, max_length=24)
    assert all(len(r["input_ids"]) <= 24 and r["input_ids"][0] == 1 for r in rows)
    assert sum((r["input_ids"] for r in rows), []) == sum((e["input_ids"] for e in examples), [])
    assert len(rows) < len(examples)
    with pytest.raises(ValueError, match="max_length"):
        pack_examples(examples, max_length=5)
    batch = collate_causal_lm(rows, pad_token_id=0)
    lengths = torch.tensor([len(r["input_ids"]) for r in rows])
    assert torch.equal(batch["attention_mask"].sum(1), lengths)
    assert torch.equal(batch["labels"] == -100, batch["attention_mask"] == 0)


def test_read_fortunes_splits_on_percent_lines(tmp_path):
    (tmp_path / "jokes").write_text("first one\n%\nsecond\nhas two lines\n%\n")
    (tmp_path / "jokes.dat").write_bytes(b"\x00\x01")
    (tmp_path / "jokes.u8").write_text("ignored\n%\n")
    assert read_fortunes(str(tmp_path)) == ["first one", "second\nhas two lines"]
    with pytest.raises(FileNotFoundError, match="fortunes"):
        read_fortunes(str(tmp_path / "missing"))
    text_file = tmp_path / "lines.txt"
    text_file.write_text("a\nb\n")
    assert load_texts(str(text_file))["text"] == ["a", "b"]
    with pytest.raises(ValueError, match="text_column"):
        load_texts(str(text_file), text_column="body")


def _memorise(model, tokenizer, steps=120):
    examples = [{"input_ids": tokenizer(t)["input_ids"] + [tokenizer.eos_token_id]} for t in TEXTS]
    batch = collate_causal_lm(examples, tokenizer.pad_token_id)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = model(input_ids=batch["input_ids"], labels=batch["labels"]).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.mark.parametrize("kind", ["transformer", "rnn"])
def test_pipeline_generates_complete_eos_terminated_texts(kind, tokenizer, tmp_path):
    torch.manual_seed(0)
    special = dict(vocab_size=len(tokenizer), bos_token_id=1, eos_token_id=2, pad_token_id=0)
    if kind == "transformer":
        model = ARTransformerForCausalLM(
            ARTransformerConfig(
                hidden_size=32, num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=64, **special
            )
        )
    else:
        model = ARRNNForCausalLM(ARRNNConfig(hidden_size=48, num_hidden_layers=1, **special))
    model = _memorise(model, tokenizer)
    model.generation_config.update(
        do_sample=False, max_new_tokens=40, **{k: v for k, v in special.items() if k != "vocab_size"}
    )
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)

    generator = pipeline("text-generation", model=str(tmp_path))
    assert generator("the cat")[0]["generated_text"] == TEXTS[0]
    outputs = generator(["a dog", "the"])  # batched, left-padded prompts
    assert [o[0]["generated_text"] for o in outputs] == [TEXTS[1], TEXTS[0]]
    # Decoding stopped at EOS, well before max_new_tokens.
    ids = generator.tokenizer("a dog", return_tensors="pt")["input_ids"]
    out = generator.model.generate(ids)
    assert out[0, -1].item() == tokenizer.eos_token_id and out.shape[1] < ids.shape[1] + 40


def test_train_causal_lm_entry_point(tmp_path):
    spec = importlib.util.spec_from_file_location("train_causal_lm", ROOT / "training" / "train_causal_lm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = tmp_path / "texts.txt"
    data.write_text("\n".join(TEXTS * 20))
    out = tmp_path / "out"
    args = [
        "--dataset_name",
        str(data),
        "--output_dir",
        str(out),
        "--tokenizer_vocab_size",
        "300",
        "--hidden_size",
        "16",
        "--num_hidden_layers",
        "1",
        "--num_attention_heads",
        "2",
        "--max_length",
        "16",
        "--train_batch_size",
        "4",
        "--max_train_steps",
        "3",
        "--eval_steps",
        "3",
        "--checkpointing_steps",
        "2",
        "--validation_fraction",
        "0.1",
    ]
    module.main(args)
    info = json.loads((out / "training_info.json").read_text())
    assert info["train_texts"] == 36 and info["validation_texts"] == 4
    assert info["validation_nats_per_token"] > 0
    generator = pipeline("text-generation", model=str(out))
    assert isinstance(generator("the", max_new_tokens=3)[0]["generated_text"], str)
    assert (out / "checkpoint-2").exists()


SHIPPED = sorted((ROOT / "model_cards").glob("ar-*-fortunes"))


@pytest.mark.parametrize("folder", SHIPPED, ids=[folder.name for folder in SHIPPED])
def test_shipped_text_model(folder):
    assert (folder / "model.safetensors").stat().st_size < 10 * 2**20  # small
    generator = pipeline("text-generation", model=str(folder))
    assert generator.tokenizer.eos_token_id == generator.model.config.eos_token_id
    torch.manual_seed(0)
    ids = generator.tokenizer(["", ""], return_tensors="pt")["input_ids"]
    out = generator.model.generate(ids, max_new_tokens=128)
    assert (out == generator.tokenizer.eos_token_id).any(1).all()  # complete, EOS-terminated texts
    assert isinstance(generator("The")[0]["generated_text"], str)
