"""Tests of the causal LMs (transformer and RNN) under `transformers`' `generate()`."""

import textwrap

import pytest
import torch
from huggingface_hub.errors import StrictDataclassFieldValidationError
from tiny_models import EOS, LM_KINDS, LM_VOCAB, PAD, make_model, no_eos, prompts
from transformers import AutoConfig, AutoModelForCausalLM, LogitsProcessor, LogitsProcessorList
from transformers.generation.streamers import BaseStreamer

from hf_argen import ARRNNConfig, ARTransformerConfig
from hf_argen.models import modeling_ar_transformer


# ---- generate(): greedy, cache, beams ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", LM_KINDS)
def test_cached_equals_uncached_greedy(kind):
    model = make_model(kind)
    x = prompts()
    cached = model.generate(x, max_new_tokens=20, do_sample=False, **no_eos(model))
    uncached = model.generate(x, max_new_tokens=20, do_sample=False, use_cache=False, **no_eos(model))
    assert cached.shape == (3, 25)
    assert torch.equal(cached, uncached)
    assert len(set(cached[:, 5:].flatten().tolist())) > 3  # non-degenerate decoding


@pytest.mark.parametrize("kind", LM_KINDS)
@pytest.mark.parametrize("with_mask", [False, True])
def test_continuing_from_inputs_embeds_with_a_cache_gives_the_same_tokens(kind, with_mask):
    """As `transformers`' `test_generate_continue_from_inputs_embeds`: 3 tokens from `inputs_embeds`, then 1 more
    from the longer embeddings and the returned cache == 4 tokens in one call (the cache holds every step)."""
    model = make_model(kind)
    embed = model.get_input_embeddings()
    x = prompts()
    embeds = embed(x).detach()
    kwargs = dict(do_sample=False, return_dict_in_generate=True, **no_eos(model))
    mask = {"attention_mask": torch.ones(x.shape, dtype=torch.long)} if with_mask else {}
    whole = model.generate(inputs_embeds=embeds, max_new_tokens=4, **mask, **kwargs)
    first = model.generate(inputs_embeds=embeds, max_new_tokens=3, **mask, **kwargs)
    longer = torch.cat([embeds, embed(first.sequences).detach()], dim=1)
    longer_mask = {"attention_mask": torch.ones(longer.shape[:2], dtype=torch.long)} if with_mask else {}
    more = model.generate(inputs_embeds=longer, max_new_tokens=1, past_key_values=first.past_key_values,
                          **longer_mask, **kwargs)  # fmt: skip
    assert torch.cat([first.sequences, more.sequences], dim=1).tolist() == whole.sequences.tolist()


@pytest.mark.parametrize("kind", LM_KINDS)
def test_greedy_matches_argmax_of_full_forward(kind):
    model = make_model(kind)
    out = model.generate(prompts(), max_new_tokens=8, do_sample=False, **no_eos(model))
    with torch.no_grad():
        logits = model(out).logits
    assert torch.equal(logits[:, 4:-1].argmax(-1), out[:, 5:])


@pytest.mark.parametrize("kind", LM_KINDS)
def test_beam_search_cache_reordering(kind):
    """Beam search reorders the KV cache / recurrent state: cached beams must equal recomputed beams."""
    model = make_model(kind)
    x = prompts(batch=2)
    kwargs = dict(max_new_tokens=10, num_beams=4, num_return_sequences=2, do_sample=False, **no_eos(model))
    cached = model.generate(x, output_scores=True, return_dict_in_generate=True, **kwargs)
    uncached = model.generate(x, use_cache=False, output_scores=True, return_dict_in_generate=True, **kwargs)
    assert cached.sequences.shape == (4, 15)
    assert torch.equal(cached.sequences, uncached.sequences)
    torch.testing.assert_close(cached.sequences_scores, uncached.sequences_scores)
    greedy = model.generate(x, max_new_tokens=10, do_sample=False, **no_eos(model))

    def sequence_log_prob(sequences):
        with torch.no_grad():
            log_probs = torch.log_softmax(model(sequences).logits[:, 4:-1], -1)
        return log_probs.gather(-1, sequences[:, 5:, None]).squeeze(-1).sum(1)

    # Beam scores are the sequences' log-probs / new tokens, and the best beam beats greedy.
    best = sequence_log_prob(cached.sequences)
    torch.testing.assert_close(cached.sequences_scores, best / 10, rtol=1e-4, atol=1e-4)
    assert (best[::2] >= sequence_log_prob(greedy) - 1e-4).all()


@pytest.mark.parametrize("kind", ["transformer-learned", "transformer-rotary", "lstm"])
def test_left_padded_batch_matches_unpadded(kind):
    model = make_model(kind)
    x = prompts(batch=2, length=6)
    padded, mask = x.clone(), torch.ones_like(x)
    padded[1, :3], mask[1, :3] = PAD, 0
    out = model.generate(padded, attention_mask=mask, max_new_tokens=8, do_sample=False, **no_eos(model))
    alone = model.generate(x[1:, 3:], max_new_tokens=8, do_sample=False, **no_eos(model))
    assert torch.equal(out[1, 6:], alone[0, 3:])
    first = model.generate(x[:1], max_new_tokens=8, do_sample=False, **no_eos(model))
    assert torch.equal(out[0], first[0])


# ---- sampling --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", LM_KINDS)
def test_sampling_reproducible_with_seed(kind):
    model = make_model(kind)
    x = prompts()
    kwargs = dict(max_new_tokens=15, do_sample=True, temperature=0.8, top_k=10, top_p=0.9, **no_eos(model))
    torch.manual_seed(123)
    a = model.generate(x, **kwargs)
    torch.manual_seed(123)
    b = model.generate(x, **kwargs)
    torch.manual_seed(7)
    c = model.generate(x, **kwargs)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # top_k=1 sampling is greedy decoding.
    greedy = model.generate(x, max_new_tokens=15, do_sample=False, **no_eos(model))
    assert torch.equal(model.generate(x, max_new_tokens=15, do_sample=True, top_k=1, **no_eos(model)), greedy)


@pytest.mark.parametrize("kind", ["transformer-learned", "gru"])
def test_top_k_restricts_samples(kind):
    model = make_model(kind)
    x = prompts(batch=1, length=4).expand(64, -1)
    torch.manual_seed(0)
    out = model.generate(x, max_new_tokens=1, do_sample=True, top_k=3, **no_eos(model))
    with torch.no_grad():
        top3 = model(x[:1]).logits[0, -1].topk(3).indices
    assert set(out[:, -1].tolist()) <= set(top3.tolist())
    assert len(set(out[:, -1].tolist())) > 1


# ---- lengths, EOS, padding ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", LM_KINDS)
def test_eos_terminates_and_pads_finished_rows(kind):
    model = make_model(kind)
    x = prompts(batch=4)
    free = model.generate(x, max_new_tokens=12, do_sample=False, **no_eos(model))
    eos = int(free[0, 7])  # row 0 emits this at its 3rd new token: use it as EOS
    out = model.generate(x, max_new_tokens=12, do_sample=False, eos_token_id=eos, pad_token_id=PAD)
    assert out.shape[1] <= 17
    for row in range(4):
        generated = out[row, 5:].tolist()
        if eos in generated:
            end = generated.index(eos)
            assert generated[: end + 1] == free[row, 5 : 5 + end + 1].tolist()
            assert all(token == PAD for token in generated[end + 1 :])
        else:
            assert generated == free[row, 5 : 5 + len(generated)].tolist()
    assert eos in out[0, 5:8].tolist() and out[0, 8:].eq(PAD).all()


@pytest.mark.parametrize("kind", ["transformer-rotary", "lstm"])
def test_min_and_max_new_tokens(kind):
    model = make_model(kind)
    x = prompts(batch=1)
    free = model.generate(x, max_new_tokens=12, do_sample=False, **no_eos(model))
    eos = int(free[0, 5])  # would stop at the first new token
    stopped = model.generate(x, max_new_tokens=12, do_sample=False, eos_token_id=eos, pad_token_id=PAD)
    assert stopped.shape[1] == 6
    held = model.generate(x, max_new_tokens=12, min_new_tokens=4, do_sample=False, eos_token_id=eos, pad_token_id=PAD)
    assert held.shape[1] >= 9 and eos not in held[0, 5:9].tolist()
    assert model.generate(x, max_new_tokens=7, do_sample=False, **no_eos(model)).shape[1] == 12


# ---- streamers and logits processors -------------------------------------------------------------------
class _Collect(BaseStreamer):
    def __init__(self):
        self.chunks, self.ended = [], False

    def put(self, value):
        self.chunks.append(value.clone())

    def end(self):
        self.ended = True


@pytest.mark.parametrize("kind", ["transformer-learned", "gru"])
def test_streamer_receives_every_token(kind):
    model = make_model(kind)
    x = prompts(batch=1)
    streamer = _Collect()
    out = model.generate(x, max_new_tokens=9, do_sample=False, streamer=streamer, **no_eos(model))
    assert streamer.ended
    streamed = torch.cat([chunk.reshape(-1) for chunk in streamer.chunks])
    assert torch.equal(streamed, out[0])  # prompt first, then one token per step


class _Ban(LogitsProcessor):
    def __init__(self, tokens):
        self.tokens = tokens

    def __call__(self, input_ids, scores):
        scores[:, self.tokens] = -float("inf")
        return scores


@pytest.mark.parametrize("kind", ["transformer-rotary", "lstm"])
def test_logits_processor_is_applied(kind):
    model = make_model(kind)
    x = prompts()
    free = model.generate(x, max_new_tokens=10, do_sample=False, **no_eos(model))
    banned = sorted(set(free[:, 5:].flatten().tolist()))[:3]
    out = model.generate(
        x,
        max_new_tokens=10,
        do_sample=False,
        logits_processor=LogitsProcessorList([_Ban(banned)]),
        **no_eos(model),
    )
    assert not set(banned) & set(out[:, 5:].flatten().tolist())


# ---- model properties --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", LM_KINDS)
def test_causality(kind):
    model = make_model(kind)
    x = prompts(batch=2, length=12)
    t = 6
    y = x.clone()
    y[:, t] = (y[:, t] + 5) % LM_VOCAB
    with torch.no_grad():
        a, b = model(x).logits, model(y).logits
    torch.testing.assert_close(a[:, :t], b[:, :t], rtol=0, atol=0)
    assert not torch.allclose(a[:, t], b[:, t])


@pytest.mark.parametrize("kind", LM_KINDS)
def test_incremental_likelihood_equals_full_forward(kind):
    """Sum of per-step log-probs fed one token at a time through the cache == full-forward log-likelihood."""
    model = make_model(kind)
    x = prompts(batch=2, length=16)
    with torch.no_grad():
        full = torch.log_softmax(model(x).logits.double(), -1)[:, :-1].gather(-1, x[:, 1:, None]).sum((1, 2))
        cache, incremental = None, torch.zeros(2, dtype=torch.double)
        for t in range(15):
            out = model(x[:, t : t + 1], cache=cache, use_cache=True)
            cache = out.cache
            incremental += torch.log_softmax(out.logits[:, -1].double(), -1).gather(-1, x[:, t + 1, None])[:, 0]
        loss = model(x, labels=x).loss
    torch.testing.assert_close(incremental, full, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(loss.double(), -full.sum() / (2 * 15), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["transformer-learned", "lstm"])
def test_generate_logits_equal_forward_logits(kind):
    model = make_model(kind)
    x = prompts(batch=2)
    out = model.generate(
        x,
        max_new_tokens=6,
        do_sample=False,
        output_logits=True,
        return_dict_in_generate=True,
        **no_eos(model),
    )
    with torch.no_grad():
        logits = model(out.sequences).logits[:, 4:-1]
    torch.testing.assert_close(torch.stack(out.logits, 1), logits, rtol=1e-4, atol=1e-4)


def test_weights_are_tied_and_untied_on_request():
    model = make_model("transformer-learned")
    assert model.lm_head.weight is model.model.embed_tokens.weight
    untied = make_model("lstm", tie_word_embeddings=False)
    assert untied.lm_head.weight is not untied.model.embed_tokens.weight


# ---- save / load ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["transformer-rotary", "gru"])
def test_save_load_round_trip(kind, tmp_path):
    model = make_model(kind)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    config = AutoConfig.from_pretrained(tmp_path)
    assert type(config) is type(model.config)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(loaded) is type(model)
    assert loaded.lm_head.weight is loaded.model.embed_tokens.weight
    x = prompts()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).logits, model(x).logits, rtol=0, atol=0)
    assert torch.equal(
        loaded.generate(x, max_new_tokens=5, do_sample=False, **no_eos(loaded)),
        model.generate(x, max_new_tokens=5, do_sample=False, **no_eos(model)),
    )


@pytest.mark.parametrize("kind", ["transformer-learned", "lstm"])
def test_remote_code_load_without_hf_argen(kind, tmp_path, run_without_hf_argen):
    model = make_model(kind)
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    assert (folder / "config.json").read_text().count("auto_map") == 1
    expected = model.generate(prompts(), max_new_tokens=6, do_sample=False, **no_eos(model))
    script = textwrap.dedent(f"""
        import torch
        from transformers import AutoModelForCausalLM
        model = AutoModelForCausalLM.from_pretrained({str(folder)!r}, trust_remote_code=True).eval()
        x = torch.tensor({prompts().tolist()})
        out = model.generate(x, max_new_tokens=6, do_sample=False, eos_token_id=None, pad_token_id=0)
        print(type(model).__module__, out.tolist())
    """)
    result = run_without_hf_argen(script, tmp_path, {"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    module, tokens = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert module.startswith("transformers_modules")
    assert tokens == str(expected.tolist())


# ---- bad input ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", LM_KINDS)
def test_token_ids_outside_vocabulary(kind):
    model = make_model(kind)
    for bad in (torch.tensor([[3, LM_VOCAB]]), torch.tensor([[-1, 3]])):
        with pytest.raises(ValueError, match="input_ids.*vocab_size"):
            model(bad)
        with pytest.raises(ValueError, match="input_ids.*vocab_size"):
            model.generate(bad, max_new_tokens=2, **no_eos(model))
    with pytest.raises(ValueError, match="input_ids"):
        model(torch.zeros(1, 3))


@pytest.mark.parametrize("kind", ["transformer-learned", "transformer-rotary"])
def test_positions_past_max_position_embeddings(kind):
    model = make_model(kind)  # max_position_embeddings=48
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(torch.full((1, 49), 3))
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model.generate(torch.full((1, 49), 3), max_new_tokens=1, **no_eos(model))
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model.generate(torch.full((1, 40), 3), max_new_tokens=9, **no_eos(model))
    assert model.generate(torch.full((1, 40), 3), max_new_tokens=8, **no_eos(model)).shape == (1, 48)
    out = model(torch.full((1, 47), 3), use_cache=True)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(torch.full((1, 2), 3), cache=out.cache)


TRANSFORMER_KINDS = ["transformer-learned", "transformer-rotary"]


@pytest.mark.parametrize("kind", TRANSFORMER_KINDS)
@pytest.mark.parametrize("with_positions", [False, True])
def test_decoding_fast_path_equals_the_full_forward(kind, with_positions):
    """A one-token step on a dynamic cache (the fast path of `forward`) gives bit for bit the logits and cache of the
    full path (taken here because hidden states are asked for), with implicit or explicit positions."""
    model = make_model(kind)
    x = prompts(batch=2, length=6)
    calls = []
    original = modeling_ar_transformer.ARTransformerModel.decode
    with torch.no_grad():
        caches = [model(x[:, :4], use_cache=True).cache for _ in range(2)]
        for t in range(4, 6):
            kwargs = {"position_ids": torch.full((2, 1), t)} if with_positions else {}
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(
                    modeling_ar_transformer.ARTransformerModel,
                    "decode",
                    lambda *args, **kw: calls.append(1) or original(*args, **kw),
                )
                fast = model(x[:, t : t + 1], cache=caches[0], **kwargs)
                full = model(x[:, t : t + 1], cache=caches[1], output_hidden_states=True, **kwargs)
            assert torch.equal(fast.logits, full.logits)
    assert len(calls) == 2  # the fast path ran for the plain steps only
    assert torch.equal(caches[0].layers[0].keys, caches[1].layers[0].keys)
    assert caches[0].get_seq_length() == 6


@pytest.mark.parametrize("kind", TRANSFORMER_KINDS)
def test_decoding_fast_path_still_checks_direct_calls(kind):
    """Bad token ids and positions in a one-token step called directly raise; `generate()` checks the prompt once
    per call, not every step, and refuses a pad token outside the vocabulary up front."""
    model = make_model(kind)  # max_position_embeddings=48
    with torch.no_grad():
        cache = model(prompts(batch=1), use_cache=True).cache
        for bad in (torch.tensor([[LM_VOCAB]]), torch.tensor([[-1]]), torch.tensor([[0.5]])):
            with pytest.raises(ValueError, match="input_ids"):
                model(bad, cache=cache)
        with pytest.raises(ValueError, match="max_position_embeddings"):
            model(torch.tensor([[3]]), cache=cache, position_ids=torch.tensor([[48]]))
        with pytest.raises(ValueError, match="position_ids"):
            model(torch.tensor([[3]]), cache=cache, position_ids=torch.tensor([[-1]]))
        full = model(torch.full((1, 47), 3), use_cache=True).cache
        model(torch.tensor([[3]]), cache=full)  # position 47: the last one
        with pytest.raises(ValueError, match="max_position_embeddings"):
            model(torch.tensor([[3]]), cache=full)
    checked = []
    original = modeling_ar_transformer.check_input_ids
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            modeling_ar_transformer, "check_input_ids", lambda *a, **k: checked.append(1) or original(*a, **k)
        )
        out = model.generate(prompts(), max_new_tokens=10, do_sample=False, **no_eos(model))
    assert out.shape == (3, 15) and len(checked) == 1
    with pytest.raises(ValueError, match="pad_token_id"):
        model.generate(prompts(), max_new_tokens=3, eos_token_id=EOS, pad_token_id=LM_VOCAB)


def test_rotary_table_equals_direct_computation():
    table = modeling_ar_transformer.RotaryTable(48, 8, 10000.0)
    positions = torch.tensor([[0, 5, 47], [3, 3, 1]])
    direct = modeling_ar_transformer.rotary_cos_sin(positions, 8, 10000.0, torch.float32)
    for got, want in zip(table.lookup(positions, torch.float32), direct):
        assert got.shape == want.shape == (2, 1, 3, 8)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_config_value_errors():
    with pytest.raises(ValueError, match="hidden_size.*num_attention_heads"):
        ARTransformerConfig(hidden_size=30, num_attention_heads=4)
    with pytest.raises(ValueError, match="position_embedding_type"):
        ARTransformerConfig(position_embedding_type="alibi")
    with pytest.raises(ValueError, match="cell_type"):
        ARRNNConfig(cell_type="transformer")
    with pytest.raises(ValueError, match="eos_token_id"):
        ARRNNConfig(vocab_size=10, eos_token_id=10)
    with pytest.raises(ValueError, match="vocab_size"):
        ARTransformerConfig(vocab_size=0)
    assert ARRNNConfig(num_hidden_layers=3).layer_types == ["linear_attention"] * 3


def test_growing_kv_layer_matches_dynamic_layer():
    from transformers.cache_utils import DynamicLayer

    growing, plain = modeling_ar_transformer.GrowingKVLayer(), DynamicLayer()
    generator = torch.Generator().manual_seed(0)

    def step(length):
        k, v = torch.randn(3, 2, length, 4, generator=generator), torch.randn(3, 2, length, 4, generator=generator)
        (gk, gv), (pk, pv) = growing.update(k, v), plain.update(k, v)
        assert torch.equal(gk, pk) and torch.equal(gv, pv)

    step(5)
    for _ in range(70):  # crosses the first capacity (64 + ...) several times
        step(1)
    growing.crop(-3), plain.crop(-3)
    step(2)
    beams = torch.tensor([2, 0, 0])
    growing.reorder_cache(beams), plain.reorder_cache(beams)
    step(1)
    growing.batch_select_indices(torch.tensor([0, 2])), plain.batch_select_indices(torch.tensor([0, 2]))
    k, v = torch.randn(2, 2, 1, 4), torch.randn(2, 2, 1, 4)
    assert torch.equal(growing.update(k, v)[0], plain.update(k, v)[0])
    assert growing.get_seq_length() == plain.get_seq_length() == 76


# ---- input_lags: the tokens `lag` positions back as extra inputs -------------------------------------------
LAGS = [3, 4]


def test_input_lags_feed_exactly_the_lagged_tokens_to_the_first_layer():
    """The first layer's input at position t is embed(x_t) + Σ_lag embed_lag(x_{t - lag}) (nothing before the
    start): changing token q changes that input at q and at q + lag only, and by the lag embeddings' difference."""
    model = make_model("lstm", input_lags=LAGS)
    x = prompts(batch=2, length=12)
    seen = []
    hook = model.model.layers[0].register_forward_hook(lambda module, args, output: seen.append(args[0]))
    q = 5
    y = x.clone()
    y[:, q] = (y[:, q] + 7) % LM_VOCAB
    with torch.no_grad():
        model(x), model(y)
    hook.remove()
    changed = (seen[0] - seen[1]).abs().amax(dim=(0, 2)).nonzero().flatten().tolist()
    assert changed == [q, *(q + lag for lag in LAGS)]
    embeddings = model.model.lag_embeddings
    for lag, embedding in zip(LAGS, embeddings):
        expected = embedding.weight[x[:, q]] - embedding.weight[y[:, q]]
        torch.testing.assert_close(seen[0][:, q + lag] - seen[1][:, q + lag], expected)
    with torch.no_grad():
        by_hand = (
            sum(e.weight[x[:, 7 - lag]] for lag, e in zip(LAGS, embeddings)) + model.model.embed_tokens.weight[x[:, 7]]
        )
    torch.testing.assert_close(seen[0][:, 7], by_hand)


def test_input_lags_cached_beams_and_sampling_equal_uncached():
    """`generate()` passes the whole sequence (`context_ids`) at every cached step and reorders it with the beams:
    greedy, beam search and the sampled tokens' logits equal their uncached recomputation."""
    model = make_model("lstm", input_lags=LAGS)
    x = prompts(batch=2)
    greedy = dict(max_new_tokens=12, do_sample=False, **no_eos(model))
    assert torch.equal(model.generate(x, **greedy), model.generate(x, use_cache=False, **greedy))
    beams = dict(max_new_tokens=10, num_beams=4, num_return_sequences=2, do_sample=False, output_scores=True,
                 return_dict_in_generate=True, **no_eos(model))  # fmt: skip
    cached, uncached = model.generate(x, **beams), model.generate(x, use_cache=False, **beams)
    assert torch.equal(cached.sequences, uncached.sequences)
    torch.testing.assert_close(cached.sequences_scores, uncached.sequences_scores)
    torch.manual_seed(0)
    sampled = model.generate(x, max_new_tokens=10, do_sample=True, top_k=0, output_logits=True,
                             return_dict_in_generate=True, **no_eos(model))  # fmt: skip
    with torch.no_grad():
        logits = model(sampled.sequences).logits[:, 4:-1]
    torch.testing.assert_close(torch.stack(sampled.logits, 1), logits, rtol=1e-5, atol=1e-5)


def test_input_lags_refuse_what_they_cannot_place():
    model = make_model("lstm", input_lags=LAGS)
    x = prompts(batch=2, length=8)
    with torch.no_grad():
        cache = model(x[:, :4], use_cache=True).cache
        with pytest.raises(ValueError, match="context_ids"):
            model(x[:, 4:5], cache=cache, use_cache=True)
        with pytest.raises(ValueError, match="context_ids"):
            model(x[:, 4:5], cache=cache, use_cache=True, context_ids=x[:, :4])  # one token short
        mask = torch.ones_like(x)
        mask[0, :2] = 0
        with pytest.raises(ValueError, match="input_lags"):
            model(x, attention_mask=mask)
    for lags, match in ([0], "input_lags"), ([2, 2], "repeat"):
        with pytest.raises(ValueError, match=match):
            ARRNNConfig(input_lags=lags)
    with pytest.raises(StrictDataclassFieldValidationError, match="input_lags"):  # the config's type check
        ARRNNConfig(input_lags=[1.5])
