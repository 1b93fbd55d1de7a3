"""The causal LMs behave as `transformers`' own models do, each property tested on every variant
where it applies: static cache, the library's loss kwargs, old cache names, `return_dict=False`, attention
implementations, hidden states / attentions, gradient checkpointing, compiled decoding, the stateful RNN's
refusals and its padded fast path.
"""

import warnings

import pytest
import torch
from tiny_models import LM_KINDS, PAD, make_model, no_eos, prompts
from transformers import StaticCache

from hf_argen.models import modeling_ar_rnn

TRANSFORMERS = ["transformer-learned", "transformer-rotary"]
RNNS = ["lstm", "gru"]


def make_eval_model(kind, attn_implementation=None, **overrides):
    model = make_model(kind, **overrides)
    if attn_implementation is not None:
        model.set_attn_implementation(attn_implementation)
    return model.eval()


# ---- static cache ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", TRANSFORMERS)
def test_static_cache_equals_dynamic_cache(kind):
    """Tokens and every step's logits, unpadded and left-padded: the one-token decode steps read a mask."""
    model = make_eval_model(kind)
    x = prompts(batch=2, length=6)
    mask = torch.ones_like(x)
    mask[1, :2] = 0
    for attention_mask in (None, mask):
        kwargs = dict(max_new_tokens=10, do_sample=False, output_logits=True, return_dict_in_generate=True)
        kwargs.update(no_eos(model), attention_mask=attention_mask)
        dynamic = model.generate(x, **kwargs)
        static = model.generate(x, cache_implementation="static", **kwargs)
        assert torch.equal(dynamic.sequences, static.sequences)
        for a, b in zip(dynamic.logits, static.logits):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", TRANSFORMERS)
def test_static_cache_forward_decode_matches_full_forward(kind):
    model = make_eval_model(kind)
    x = prompts(batch=2, length=8)
    with torch.no_grad():
        full = model(x).logits
        cache = StaticCache(config=model.config, max_cache_len=16)
        steps = [model(x[:, :5], cache=cache).logits]
        for t in range(5, 8):
            steps.append(model(x[:, t : t + 1], cache=cache).logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


# ---- loss: the library's loss kwargs ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", LM_KINDS)
def test_loss_with_num_items_in_batch_under_accumulation_equals_full_batch(kind):
    """`Trainer` passes `num_items_in_batch` and sums micro-batch losses: that must equal one big batch."""
    model = make_model(kind, initializer_range=0.1).train()
    x = prompts(batch=8, length=7, seed=3)
    labels = x.clone()
    labels[::3, :2] = -100  # uneven numbers of target tokens per micro-batch
    model.zero_grad()
    full = model(x, labels=labels).loss
    full.backward()
    full_grads = [p.grad.clone() for p in model.parameters()]
    num_items = int((labels[:, 1:] != -100).sum())
    model.zero_grad()
    accumulated = 0.0
    for rows in torch.arange(8).chunk(4):
        loss = model(x[rows], labels=labels[rows], num_items_in_batch=num_items).loss
        loss.backward()
        accumulated = accumulated + loss.detach()
    torch.testing.assert_close(accumulated, full.detach(), atol=1e-5, rtol=1e-5)
    for a, p in zip(full_grads, model.parameters()):
        torch.testing.assert_close(p.grad, a, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", ["transformer-rotary", "gru"])
def test_shift_labels_equals_labels(kind):
    model = make_eval_model(kind)
    x = prompts(batch=3, length=6)
    shifted = torch.cat([x[:, 1:], torch.full_like(x[:, :1], -100)], dim=1)
    with torch.no_grad():
        a = model(x, labels=x).loss
        b = model(x, labels=torch.zeros_like(x), shift_labels=shifted).loss  # shift_labels wins
        c = model(x, labels=x, ignore_index=-100).loss
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)


# ---- the old cache names ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", LM_KINDS)
def test_old_cache_name_still_works_with_a_deprecation_warning(kind):
    model = make_eval_model(kind)
    x = prompts(batch=2, length=6)
    old_names = ["past_key_values"] + (["cache_params"] if kind in RNNS else [])
    with torch.no_grad():
        prefix = model(x[:, :4])
        reference = model(x[:, 4:], cache=prefix.cache)
        for old_name in old_names:
            prefix = model(x[:, :4])
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                out = model(x[:, 4:], **{old_name: prefix.cache})
            assert any(f"`{old_name}` is deprecated" in str(w.message) for w in caught), old_name
            torch.testing.assert_close(out.logits, reference.logits)
            assert out.cache is prefix.cache
            # The base model takes the old name too.
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                base = model.model(x[:, 4:], **{old_name: model.model(x[:, :4]).cache})
            expected = model.model(x[:, 4:], cache=model.model(x[:, :4]).cache)
            torch.testing.assert_close(base.last_hidden_state, expected.last_hidden_state)


# ---- return_dict=False -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", LM_KINDS)
def test_return_dict_false_returns_tuples(kind):
    model = make_eval_model(kind)
    x = prompts(batch=2, length=5)
    with torch.no_grad():
        base = model.model(x, return_dict=False)
        base_dict = model.model(x)
        lm = model(x, labels=x, return_dict=False)
        lm_dict = model(x, labels=x)
    assert isinstance(base, tuple) and isinstance(lm, tuple)
    torch.testing.assert_close(base[0], base_dict.last_hidden_state)
    torch.testing.assert_close(lm[0], lm_dict.loss)
    torch.testing.assert_close(lm[1], lm_dict.logits)
    model.config.return_dict = False  # the config default is honoured too
    with torch.no_grad():
        assert isinstance(model.model(x), tuple) and isinstance(model(x), tuple)


# ---- attention implementations, hidden states, attentions ------------------------------------------------
@pytest.mark.parametrize("kind", TRANSFORMERS)
def test_eager_equals_sdpa_logits(kind):
    sdpa = make_eval_model(kind, attn_implementation="sdpa")
    eager = make_eval_model(kind, attn_implementation="eager")
    assert sdpa.config._attn_implementation == "sdpa" and eager.config._attn_implementation == "eager"
    x = prompts(batch=2, length=7)
    mask = torch.ones_like(x)
    mask[0, :3] = 0
    with torch.no_grad():
        for attention_mask in (None, mask):
            a = sdpa(x, attention_mask=attention_mask).logits
            b = eager(x, attention_mask=attention_mask).logits
            keep = torch.ones_like(x, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
            torch.testing.assert_close(a[keep], b[keep], atol=1e-4, rtol=1e-4)
    # Eager attention really runs: its weights come back; cached decoding agrees too.
    gen = dict(max_new_tokens=6, do_sample=False, **no_eos(sdpa))
    assert torch.equal(sdpa.generate(x, **gen), eager.generate(x, **gen))


@pytest.mark.parametrize("kind", TRANSFORMERS)
def test_hidden_states_and_attentions_shapes(kind):
    model = make_eval_model(kind, attn_implementation="eager")
    batch, length = 2, 6
    x = prompts(batch=batch, length=length)
    with torch.no_grad():
        out = model(x, output_hidden_states=True, output_attentions=True)
    layers, heads, hidden = model.config.num_hidden_layers, model.config.num_attention_heads, 32
    assert len(out.hidden_states) == layers + 1
    assert all(h.shape == (batch, length, hidden) for h in out.hidden_states)
    assert len(out.attentions) == layers
    assert all(a.shape == (batch, heads, length, length) for a in out.attentions)
    # Rows are distributions over keys and causal (nothing above the diagonal).
    for a in out.attentions:
        torch.testing.assert_close(a.sum(-1), torch.ones(batch, heads, length))
        assert not a.triu(diagonal=1).any()
    # The last hidden state is the final (normed) output, as in transformers' models.
    torch.testing.assert_close(out.hidden_states[-1], model.model(x).last_hidden_state)


@pytest.mark.parametrize("kind", RNNS)
def test_rnn_hidden_states_shapes(kind):
    model = make_eval_model(kind)
    x = prompts(batch=2, length=6)
    with torch.no_grad():
        out = model(x, output_hidden_states=True)
    assert len(out.hidden_states) == model.config.num_hidden_layers + 1
    assert all(h.shape == (2, 6, 32) for h in out.hidden_states)
    torch.testing.assert_close(out.hidden_states[0], model.model.embed_tokens(x))


# ---- gradient checkpointing ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", LM_KINDS)
def test_gradient_checkpointing_gives_the_same_gradients(kind):
    model = make_model(kind, initializer_range=0.1).train()
    x = prompts(batch=3, length=7)
    mask = torch.ones_like(x)
    mask[1, -2:] = 0

    def grads():
        model.zero_grad()
        model(x, attention_mask=mask, labels=x).loss.backward()
        return [p.grad.clone() for p in model.parameters()]

    plain = grads()
    model.gradient_checkpointing_enable()
    assert model.is_gradient_checkpointing
    checkpointed = grads()
    model.gradient_checkpointing_disable()
    for a, b in zip(plain, checkpointed):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


# ---- compiled decoding -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", TRANSFORMERS)
def test_compiled_decode_step_equals_eager_decode(kind):
    """`torch.compile(fullgraph=True)` of a one-token decode step (static cache): no graph break (no host sync),
    same tokens and logits. Inductor for one variant; dynamo's graph capture alone (backend "eager", seconds)
    for the other, which is what fails on a graph break."""
    model = make_eval_model(kind)
    x = prompts(batch=2, length=5)
    max_len = 9

    def decode(step_fn):
        cache = StaticCache(config=model.config, max_cache_len=max_len)
        with torch.no_grad():
            logits = model(x, cache=cache).logits[:, -1:]
            tokens = [logits.argmax(-1)]
            out = [logits]
            for t in range(x.shape[1], max_len - 1):
                position_ids = torch.full((x.shape[0], 1), t)
                logits = step_fn(tokens[-1], position_ids, cache)
                tokens.append(logits.argmax(-1))
                out.append(logits)
        return torch.cat(tokens, dim=1), torch.cat(out, dim=1)

    def step(input_ids, position_ids, cache):
        return model(input_ids=input_ids, position_ids=position_ids, cache=cache).logits

    torch._dynamo.reset()
    eager_tokens, eager_logits = decode(step)
    backend = "inductor" if kind == "transformer-rotary" else "eager"
    compiled_tokens, compiled_logits = decode(torch.compile(step, fullgraph=True, dynamic=False, backend=backend))
    assert torch.equal(eager_tokens, compiled_tokens)
    torch.testing.assert_close(compiled_logits, eager_logits, atol=1e-4, rtol=1e-4)


# ---- the stateful RNN ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", RNNS)
def test_rnn_refuses_assisted_and_prompt_lookup_decoding_up_front(kind):
    model = make_eval_model(kind)
    assert model._is_stateful
    x = prompts(batch=1, length=5)
    with pytest.raises(ValueError, match="stateful"):
        model.generate(x, assistant_model=make_eval_model(kind, seed=1), max_new_tokens=4, **no_eos(model))
    with pytest.raises(ValueError, match="stateful"):
        model.generate(x, prompt_lookup_num_tokens=2, max_new_tokens=4, **no_eos(model))


def _count_recurrence_paths(monkeypatch):
    calls = {"packed": 0, "stepped": 0}
    packed = modeling_ar_rnn.ARRNNLayer._recur_packed

    def spy_packed(self, *args):
        calls["packed"] += 1
        return packed(self, *args)

    def spy_rnn(module, args, output):
        if not isinstance(args[0], torch.nn.utils.rnn.PackedSequence) and args[0].shape[1] == 1:
            calls["stepped"] += 1

    monkeypatch.setattr(modeling_ar_rnn.ARRNNLayer, "_recur_packed", spy_packed)
    return calls, spy_rnn


@pytest.mark.parametrize("kind", RNNS)
@pytest.mark.parametrize("side", ["right", "left"])
def test_padded_rnn_batch_equals_unpadded_rows_on_the_fast_path(kind, side, monkeypatch):
    """Right (and left) padding run packed, in one call per layer; valid positions and final states equal the
    unpadded rows'; the Python loop over time steps is not used."""
    model = make_eval_model(kind)
    lengths = [7, 4, 6]
    rows = [prompts(batch=1, length=n, seed=10 + i)[0] for i, n in enumerate(lengths)]
    x = torch.full((3, 7), PAD)
    mask = torch.zeros_like(x)
    for i, row in enumerate(rows):
        span = slice(0, len(row)) if side == "right" else slice(7 - len(row), 7)
        x[i, span], mask[i, span] = row, 1
    calls, spy_rnn = _count_recurrence_paths(monkeypatch)
    hooks = [layer.rnn.register_forward_hook(spy_rnn) for layer in model.model.layers]
    with torch.no_grad():
        padded = model(x, attention_mask=mask)
    for hook in hooks:
        hook.remove()
    assert calls == {"packed": model.config.num_hidden_layers, "stepped": 0}
    with torch.no_grad():
        for i, row in enumerate(rows):
            alone = model(row[None])
            keep = mask[i].bool()
            torch.testing.assert_close(padded.logits[i, keep], alone.logits[0], atol=1e-5, rtol=1e-5)
            for layer in range(model.config.num_hidden_layers):
                torch.testing.assert_close(
                    padded.cache.layers[layer].recurrent_states[0][i],
                    alone.cache.layers[layer].recurrent_states[0][0],
                    atol=1e-5,
                    rtol=1e-5,
                )


@pytest.mark.parametrize("kind", RNNS)
def test_rnn_mask_with_holes_takes_the_stepped_path_with_the_same_result(kind):
    """A mask with holes inside a row is stepped through time; the packed path agrees where both apply."""
    model = make_eval_model(kind)
    x = prompts(batch=2, length=6)
    holes = torch.ones_like(x)
    holes[0, 2] = 0
    with torch.no_grad():
        out = model(x, attention_mask=holes)
        skipped = model(torch.cat([x[:1, :2], x[:1, 3:]], dim=1))
    torch.testing.assert_close(out.logits[0, holes[0].bool()], skipped.logits[0], atol=1e-5, rtol=1e-5)
    # Layer-level: packed and stepped recurrences give the same valid outputs and states.
    layer = model.model.layers[0]
    h = model.model.embed_tokens(x)
    right = torch.ones_like(x)
    right[1, 4:] = 0
    with torch.no_grad():
        packed_out, packed_state = layer._recur(h, None, right)
        assert modeling_ar_rnn.contiguous_runs(right) is not None
        assert modeling_ar_rnn.contiguous_runs(holes) is None
        stepped_out = []
        state = None
        for t in range(6):  # the reference: one step at a time, holding the state at padding
            o, s = layer._recur(h[:, t : t + 1], state, None)
            state = s if state is None else torch.where(right[:, t, None, None].bool(), s, state)
            stepped_out.append(o)
    torch.testing.assert_close(packed_state, state, atol=1e-5, rtol=1e-5)
    valid = right.bool()
    torch.testing.assert_close(packed_out[valid], torch.cat(stepped_out, dim=1)[valid], atol=1e-5, rtol=1e-5)
