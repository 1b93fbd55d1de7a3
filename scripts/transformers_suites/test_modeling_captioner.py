"""transformers' common model/generation/config suites for hf_argen's image captioner (conv and patch encoders).

A small model tester, written as transformers' own image-to-text testers are (Pix2Struct, BLIP,
VisionEncoderDecoder): an encoder-decoder whose encoder input is `pixel_values` and whose encoder sequence
length is the image feature grid, not the prompt. Skips are declared the transformers way, with reasons.
"""

import copy
import unittest

from transformers import is_torch_available

# A model of the library is listed in `transformers.models.auto.modeling_auto`'s name mappings; the common
# suite reads them (e.g. which classes get `labels`). List this out-of-tree model there the same way.
from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES
from transformers.testing_utils import require_torch, torch_device

from ...generation.test_utils import GenerationTesterMixin
from ...test_modeling_common import ModelTesterMixin, floats_tensor, ids_tensor, random_attention_mask
from ..hf_argen_testers import ConfigAndModelTestsMixin, SizedModelTester

MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES.setdefault("captioner", "CaptionerForConditionalGeneration")

if is_torch_available():
    import torch

    from hf_argen.models import CaptionerConfig, CaptionerForConditionalGeneration


class CaptionerModelTester(SizedModelTester):
    if is_torch_available():
        config_class = CaptionerConfig
    encoder_type = "conv"
    defaults = {
        **SizedModelTester.defaults,
        "image_size": 8,
        "num_channels": 3,
        "encoder_channels": [8, 16],
        "patch_size": 2,
        "num_encoder_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "max_position_embeddings": 64,
    }
    config_fields = (
        "image_size",
        "num_channels",
        "encoder_type",
        "encoder_channels",
        "patch_size",
        "num_encoder_layers",
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "max_position_embeddings",
        "pad_token_id",
        "bos_token_id",
        "eos_token_id",
    )

    def __init__(self, parent, **sizes):
        super().__init__(parent, **sizes)
        # the encoder sequence: the image feature grid
        if self.encoder_type == "conv":
            grid = self.image_size // 2 ** len(self.encoder_channels)
        else:
            grid = self.image_size // self.patch_size
        self.encoder_seq_length = grid**2
        self.key_length = self.encoder_seq_length

    def prepare_config_and_inputs(self):
        pixel_values = floats_tensor([self.batch_size, self.num_channels, self.image_size, self.image_size]) * 2 - 1
        # Captions start with the decoder start token (bos), as the processor encodes them; `generate` then
        # continues them as they are instead of prepending one (which would shift a given decoder mask).
        decoder_input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size)
        decoder_input_ids[:, 0] = self.bos_token_id
        decoder_attention_mask = random_attention_mask([self.batch_size, self.seq_length])
        decoder_attention_mask[:, 0] = 1
        labels = ids_tensor([self.batch_size, self.seq_length], self.vocab_size) if self.use_labels else None
        return self.get_config(), pixel_values, decoder_input_ids, decoder_attention_mask, labels

    def prepare_config_and_inputs_for_common(self):
        config, pixel_values, decoder_input_ids, decoder_attention_mask, _ = self.prepare_config_and_inputs()
        return config, {
            "pixel_values": pixel_values,
            "decoder_input_ids": decoder_input_ids,
            "decoder_attention_mask": decoder_attention_mask,
        }

    def create_and_check_model(self, config, pixel_values, decoder_input_ids, decoder_attention_mask, labels):
        model = CaptionerForConditionalGeneration(config).to(torch_device).eval()
        result = model(
            pixel_values=pixel_values,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            labels=labels,
        )
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.seq_length, self.vocab_size))
        self.parent.assertEqual(
            result.encoder_last_hidden_state.shape, (self.batch_size, self.encoder_seq_length, self.hidden_size)
        )
        self.parent.assertEqual(result.loss.dim(), 0)

    def create_and_check_decoder_cache(self, config, pixel_values, decoder_input_ids, decoder_attention_mask, labels):
        """Prefix with the cache, then the remaining tokens, equals one pass over the whole caption."""
        model = CaptionerForConditionalGeneration(config).to(torch_device).eval()
        with torch.no_grad():
            full = model(pixel_values=pixel_values, decoder_input_ids=decoder_input_ids).logits
            prefix = model(pixel_values=pixel_values, decoder_input_ids=decoder_input_ids[:, :4], use_cache=True)
            rest = model(
                encoder_outputs=(prefix.encoder_last_hidden_state,),
                decoder_input_ids=decoder_input_ids[:, 4:],
                past_key_values=prefix.past_key_values,
            ).logits
        torch.testing.assert_close(torch.cat([prefix.logits, rest], dim=1), full, atol=1e-4, rtol=1e-4)


@require_torch
class CaptionerConvModelTest(ConfigAndModelTestsMixin, ModelTesterMixin, GenerationTesterMixin, unittest.TestCase):
    all_model_classes = (CaptionerForConditionalGeneration,) if is_torch_available() else ()
    model_tester_class = CaptionerModelTester
    is_encoder_decoder = True
    config_tester_fields = ("hidden_size", "num_attention_heads", "encoder_type")
    common_properties = ["hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size"]

    def test_decoder_cache(self):
        self.model_tester.create_and_check_decoder_cache(*self.model_tester.prepare_config_and_inputs())

    # ---- declared differences ------------------------------------------------------------------------------
    @unittest.skip(reason="A captioner needs an image: `generate()` without `pixel_values` has nothing to caption")
    def test_generate_without_input_ids(self):
        pass

    @unittest.skip(
        reason="No base model: the image encoder and text decoder are the generation model's own children "
        "(as in Pix2Struct)"
    )
    def test_model_base_model_prefix(self):
        pass

    @unittest.skip(
        reason="The captioner's `labels` follow the causal-LM convention (aligned with `decoder_input_ids`, shifted "
        "inside the loss, as BLIP's and GIT's captioners do), documented in its `forward`; decoder inputs built "
        "as `shift_right(labels)` are not its convention"
    )
    def test_encoder_decoder_loss_no_double_shift(self):
        pass

    # ---- the common tests that read `input_ids`, written for the decoder's `decoder_input_ids` -------------
    def test_forward_with_logits_to_keep(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        batch_size, sequence_length = inputs["decoder_input_ids"].shape
        model = CaptionerForConditionalGeneration(config).to(torch_device).eval()
        with torch.no_grad():
            all_logits = model(**inputs, logits_to_keep=0).logits
            last_token_logits = model(**inputs, logits_to_keep=1).logits
        self.assertEqual(tuple(all_logits.shape), (batch_size, sequence_length, config.vocab_size))
        self.assertEqual(tuple(last_token_logits.shape), (batch_size, 1, config.vocab_size))
        torch.testing.assert_close(all_logits[:, -1:, :], last_token_logits, rtol=1e-5, atol=1e-5)

    def _check_resize(self, tie_word_embeddings):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        config.tie_word_embeddings = tie_word_embeddings
        vocab_size = config.vocab_size
        model = CaptionerForConditionalGeneration(copy.deepcopy(config)).to(torch_device).eval()
        original = model.get_input_embeddings().weight.detach().clone()
        for new_size in (vocab_size + 10, vocab_size - 15):
            embeddings = model.resize_token_embeddings(new_size)
            self.assertEqual(model.config.vocab_size, new_size)
            self.assertEqual(embeddings.weight.shape[0], new_size)
            self.assertEqual(model.get_output_embeddings().weight.shape[0], new_size)
            tied = model.get_output_embeddings().weight.data_ptr() == embeddings.weight.data_ptr()
            self.assertEqual(tied, tie_word_embeddings)
            kept = min(vocab_size, new_size)
            torch.testing.assert_close(embeddings.weight[:kept], original[:kept])
            if new_size > vocab_size:  # new rows drawn around the old mean
                torch.testing.assert_close(embeddings.weight[-10:].mean(0), original.mean(0), rtol=1e-3, atol=1e-3)
            decoder_input_ids = inputs["decoder_input_ids"].clamp(max=new_size - 1)
            decoder_input_ids[:, -2] = new_size - 1  # the highest new id is accepted
            logits = model(**{**inputs, "decoder_input_ids": decoder_input_ids}).logits
            self.assertEqual(logits.shape[-1], new_size)

    def test_resize_tokens_embeddings(self):
        self._check_resize(tie_word_embeddings=True)

    def test_resize_embeddings_untied(self):
        self._check_resize(tie_word_embeddings=False)

    # The encoder's sequence is the image feature grid, not the prompt (as in Pix2Struct's / BLIP's testers).
    def _check_encoder_attention_for_generate(self, attentions, batch_size, config, prompt_length):
        length = self.model_tester.encoder_seq_length
        expected = (batch_size, config.num_attention_heads, length, length)
        self.assertIsInstance(attentions, tuple)
        self.assertListEqual([a.shape for a in attentions], [expected] * len(attentions))

    def _check_encoder_hidden_states_for_generate(self, hidden_states, batch_size, config, prompt_length):
        expected = (batch_size, self.model_tester.encoder_seq_length, config.hidden_size)
        self.assertIsInstance(hidden_states, tuple)
        self.assertListEqual([h.shape for h in hidden_states], [expected] * len(hidden_states))


class CaptionerPatchModelTester(CaptionerModelTester):
    encoder_type = "patch"


@require_torch
class CaptionerPatchModelTest(CaptionerConvModelTest):
    model_tester_class = CaptionerPatchModelTester
