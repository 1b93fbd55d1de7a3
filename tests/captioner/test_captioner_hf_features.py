"""The captioner behaves as `transformers`' own encoder-decoder models do: what the library's common model and
generation suites check, brought here as direct properties on a tiny model — the old cache name, continuing
from a returned cache, attention implementations set at run time, output_hidden_states / output_attentions
shapes (forward and generate), gradient checkpointing, resize_token_embeddings, logits_to_keep, assisted
decoding and batching.
"""

import warnings

import pytest
import torch
from tiny_models import random_pixels, tiny_captioner
from transformers.modeling_layers import GradientCheckpointingLayer

ENCODERS = ["conv", "patch"]
NO_EOS = {"eos_token_id": None, "forced_eos_token_id": None}


def captions(model, batch=3, length=6, seed=0):
    """Random decoder inputs starting with the decoder start token (as the processor encodes captions)."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, model.config.vocab_size, (batch, length), generator=generator)
    ids[:, 0] = model.config.decoder_start_token_id
    return ids


def right_padded_mask(batch, length, lengths):
    return (torch.arange(length)[None] < torch.tensor(lengths)[:, None]).long()


# ---- the cache: the old name, prefix + rest, continuing generation ------------------------------------------
def test_old_cache_name_past_key_values_still_works_with_a_deprecation_warning(captioner):
    """It used to land in `**kwargs` and be ignored: the rest of the caption was decoded without its prefix."""
    pixels, ids = random_pixels(), captions(tiny_captioner())
    with torch.no_grad():
        prefix = captioner(pixel_values=pixels, decoder_input_ids=ids[:, :3])
        features = (prefix.encoder_last_hidden_state,)
        reference = captioner(encoder_outputs=features, decoder_input_ids=ids[:, 3:], cache=prefix.cache).logits
        prefix = captioner(pixel_values=pixels, decoder_input_ids=ids[:, :3])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            old = captioner(encoder_outputs=features, decoder_input_ids=ids[:, 3:], past_key_values=prefix.cache)
    assert any("`past_key_values` is deprecated" in str(w.message) for w in caught)
    torch.testing.assert_close(old.logits, reference)
    assert old.cache is prefix.cache


@pytest.mark.parametrize("encoder_type", ENCODERS)
def test_prefix_with_cache_then_rest_equals_one_full_pass_with_padding(encoder_type):
    model = tiny_captioner(encoder_type=encoder_type)
    pixels, ids = random_pixels(), captions(model, length=8)
    mask = right_padded_mask(3, 8, [8, 5, 2])
    with torch.no_grad():
        full = model(pixel_values=pixels, decoder_input_ids=ids, decoder_attention_mask=mask).logits
        prefix = model(pixel_values=pixels, decoder_input_ids=ids[:, :4], decoder_attention_mask=mask[:, :4])
        steps = [prefix.logits]
        for t in range(4, 8):  # one token at a time, the mask covering cached and new tokens
            out = model(
                encoder_outputs=(prefix.encoder_last_hidden_state,),
                decoder_input_ids=ids[:, t : t + 1],
                decoder_attention_mask=mask[:, : t + 1],
                cache=prefix.cache,
            )
            steps.append(out.logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


def test_generate_continues_from_a_returned_cache(captioner):
    """3 tokens, then 2 more from the returned cache == 5 in one call (tokens, scores and the cache)."""
    pixels = random_pixels(2)
    kwargs = dict(return_dict_in_generate=True, output_scores=True, do_sample=False, **NO_EOS)
    whole = captioner.generate(pixel_values=pixels, max_new_tokens=5, **kwargs)
    first = captioner.generate(pixel_values=pixels, max_new_tokens=3, **kwargs)
    # The full caption so far plus a mask of the same length: `generate` feeds only the uncached tokens (the
    # library's rule for restarting from a cache; without the mask it takes every given token as new).
    rest = captioner.generate(
        pixel_values=pixels,
        decoder_input_ids=first.sequences,
        cache=first.past_key_values,
        decoder_attention_mask=torch.ones_like(first.sequences),
        max_new_tokens=2,
        **kwargs,
    )
    assert torch.equal(whole.sequences, rest.sequences)
    for a, b in zip(whole.scores, first.scores + rest.scores):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    whole_cache, rest_cache = whole.past_key_values, rest.past_key_values
    for a, b in zip(whole_cache.self_attention_cache.layers, rest_cache.self_attention_cache.layers):
        torch.testing.assert_close(a.keys, b.keys, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(a.values, b.values, atol=1e-5, rtol=1e-5)


# ---- attention implementations -------------------------------------------------------------------------
@pytest.mark.parametrize("encoder_type", ENCODERS)
def test_attention_implementation_set_at_run_time_gives_the_same_logits(encoder_type):
    model = tiny_captioner(encoder_type=encoder_type, num_encoder_layers=1)
    pixels, ids = random_pixels(), captions(model)
    mask = right_padded_mask(3, 6, [6, 4, 1])
    with torch.no_grad():
        assert model.config._attn_implementation == "sdpa"
        sdpa = model(pixel_values=pixels, decoder_input_ids=ids, decoder_attention_mask=mask).logits
        model.set_attn_implementation("eager")
        assert model.config._attn_implementation == "eager"
        eager = model(pixel_values=pixels, decoder_input_ids=ids, decoder_attention_mask=mask).logits
        model.set_attn_implementation("sdpa")
        again = model(pixel_values=pixels, decoder_input_ids=ids, decoder_attention_mask=mask).logits
    torch.testing.assert_close(eager, sdpa, atol=1e-5, rtol=1e-5)
    assert torch.equal(again, sdpa)
    greedy = {}
    for implementation in ("eager", "sdpa"):
        model.set_attn_implementation(implementation)
        greedy[implementation] = model.generate(pixel_values=pixels, max_new_tokens=6, num_beams=2, **NO_EOS)
    assert torch.equal(greedy["eager"], greedy["sdpa"])


def test_unsupported_attention_implementation_is_refused():
    with pytest.raises(ValueError):
        tiny_captioner().set_attn_implementation("flash_attention_2")


# ---- output_hidden_states / output_attentions ------------------------------------------------------------
@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_hidden_states_and_attentions_shapes(attn_implementation):
    model = tiny_captioner(num_encoder_layers=2, num_hidden_layers=3)
    model.set_attn_implementation(attn_implementation)
    config, grid = model.config, model.config.grid_size**2
    pixels, ids = random_pixels(), captions(model, length=5)
    with torch.no_grad():
        out = model(pixel_values=pixels, decoder_input_ids=ids, output_hidden_states=True, output_attentions=True)
        plain = model(pixel_values=pixels, decoder_input_ids=ids)
    heads, width = config.num_attention_heads, config.hidden_size
    assert [h.shape for h in out.encoder_hidden_states] == [(3, grid, width)] * 3  # input of each layer + last
    assert [a.shape for a in out.encoder_attentions] == [(3, heads, grid, grid)] * 2
    assert [h.shape for h in out.decoder_hidden_states] == [(3, 5, width)] * 4
    assert [a.shape for a in out.decoder_attentions] == [(3, heads, 5, 5)] * 3
    assert [a.shape for a in out.cross_attentions] == [(3, heads, 5, grid)] * 3
    for weights in out.decoder_attentions:  # causal, rows sum to one
        assert torch.all(weights.triu(1) == 0)
        torch.testing.assert_close(weights.sum(-1), torch.ones(3, heads, 5))
    torch.testing.assert_close(out.logits, plain.logits, atol=1e-5, rtol=1e-5)
    assert plain.decoder_attentions is None and plain.encoder_hidden_states is None


def test_generate_returns_hidden_states_and_attentions_per_step():
    model = tiny_captioner(num_encoder_layers=1)
    config, grid = model.config, model.config.grid_size**2
    out = model.generate(
        pixel_values=random_pixels(2),
        max_new_tokens=4,
        return_dict_in_generate=True,
        output_hidden_states=True,
        output_attentions=True,
        **NO_EOS,
    )
    heads = config.num_attention_heads
    assert [a.shape for a in out.encoder_attentions] == [(2, heads, grid, grid)]
    assert len(out.decoder_attentions) == len(out.cross_attentions) == len(out.decoder_hidden_states) == 4
    for step, (self_w, cross_w) in enumerate(zip(out.decoder_attentions, out.cross_attentions)):
        assert [a.shape for a in self_w] == [(2, heads, 1, step + 1)] * config.num_hidden_layers  # one new query
        assert [a.shape for a in cross_w] == [(2, heads, 1, grid)] * config.num_hidden_layers


# ---- gradient checkpointing ------------------------------------------------------------------------------
def test_gradient_checkpointing_gives_the_same_gradients_through_encoder_and_decoder():
    model = tiny_captioner(num_encoder_layers=1, initializer_range=0.2).train()
    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    assert len(layers) == model.config.num_encoder_layers + model.config.num_hidden_layers
    pixels, ids = random_pixels(), captions(model)
    grads = []
    for checkpointing in (False, True):
        if checkpointing:
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": True})
            assert all(layer.gradient_checkpointing for layer in layers)
        model.zero_grad()
        model(pixel_values=pixels, labels=ids).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() == {n for n, _ in model.named_parameters()}
    for name in grads[0]:  # the stem and the encoder layers get gradients through the checkpointed decoder too
        torch.testing.assert_close(grads[1][name], grads[0][name], atol=1e-6, rtol=1e-5, msg=name)


# ---- embeddings and logits -------------------------------------------------------------------------------
@pytest.mark.parametrize("tie_word_embeddings", [True, False])
def test_resize_token_embeddings_grows_and_shrinks_the_vocabulary(tie_word_embeddings):
    model = tiny_captioner(tie_word_embeddings=tie_word_embeddings)
    vocab_size = model.config.vocab_size
    original = model.get_input_embeddings().weight.detach().clone()
    pixels = random_pixels()
    for new_size in (vocab_size + 5, vocab_size - 2):
        embeddings = model.resize_token_embeddings(new_size)
        head = model.get_output_embeddings()
        assert model.config.vocab_size == embeddings.num_embeddings == head.out_features == new_size
        assert (head.weight.data_ptr() == embeddings.weight.data_ptr()) == tie_word_embeddings
        kept = min(vocab_size, new_size)
        assert torch.equal(embeddings.weight[:kept], original[:kept])
        ids = captions(model).clamp(max=new_size - 1)
        ids[:, -1] = new_size - 1
        with torch.no_grad():
            assert model(pixel_values=pixels, decoder_input_ids=ids).logits.shape == (3, 6, new_size)
        assert model.generate(pixel_values=pixels, max_new_tokens=2, **NO_EOS).max() < new_size


def test_logits_to_keep_returns_the_last_positions(captioner):
    pixels, ids = random_pixels(), captions(captioner)
    with torch.no_grad():
        every = captioner(pixel_values=pixels, decoder_input_ids=ids).logits
        last = captioner(pixel_values=pixels, decoder_input_ids=ids, logits_to_keep=1).logits
    assert last.shape == (3, 1, captioner.config.vocab_size)
    torch.testing.assert_close(last, every[:, -1:], atol=1e-5, rtol=1e-5)


# ---- decoding strategies ---------------------------------------------------------------------------------
def test_assisted_decoding_equals_greedy_whatever_the_assistant(captioner):
    pixels = random_pixels(1)
    greedy = captioner.generate(pixel_values=pixels, max_new_tokens=8, **NO_EOS)
    assisted = captioner.generate(pixel_values=pixels, max_new_tokens=8, assistant_model=tiny_captioner(), **NO_EOS)
    assert torch.equal(assisted, greedy)


def test_batched_generation_equals_one_image_at_a_time(captioner):
    pixels = random_pixels(4)
    for kwargs in ({}, {"num_beams": 3}, {"num_beams": 3, "num_return_sequences": 2}):
        batched = captioner.generate(pixel_values=pixels, max_new_tokens=6, **kwargs, **NO_EOS)
        single = torch.cat(
            [captioner.generate(pixel_values=p[None], max_new_tokens=6, **kwargs, **NO_EOS) for p in pixels]
        )
        assert torch.equal(batched, single)
