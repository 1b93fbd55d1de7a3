"""transformers' common model/generation/config suites for hf_argen's ARRNN (LSTM and GRU).

A small model tester, written as transformers' own per-model test files are (Mamba's is the model for
a recurrent LM); every skip comes from the suite's own capability flags or the model's declared
capabilities.
"""

import unittest

from transformers import is_torch_available

# A model of the library is listed in `transformers.models.auto.modeling_auto`'s name mappings; the common
# suite reads them (e.g. which classes get `labels`, which are base models). List this out-of-tree model
# there the same way (what `AutoModel.register` does for the Auto classes, but for the names).
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, MODEL_MAPPING_NAMES
from transformers.testing_utils import require_torch

from ...generation.test_utils import GenerationTesterMixin
from ...test_modeling_common import ModelTesterMixin
from ..hf_argen_testers import CausalLMModelTester, CausalLMTestsMixin

MODEL_MAPPING_NAMES.setdefault("ar_rnn", "ARRNNModel")
MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.setdefault("ar_rnn", "ARRNNForCausalLM")

if is_torch_available():
    from hf_argen.models import ARRNNConfig, ARRNNForCausalLM, ARRNNModel


class ARRNNModelTester(CausalLMModelTester):
    if is_torch_available():
        config_class, base_model_class, causal_lm_class = ARRNNConfig, ARRNNModel, ARRNNForCausalLM
    config_fields = (*CausalLMModelTester.config_fields, "cell_type")
    cell_type = "lstm"


@require_torch
class ARRNNLSTMModelTest(CausalLMTestsMixin, ModelTesterMixin, GenerationTesterMixin, unittest.TestCase):
    all_model_classes = (ARRNNModel, ARRNNForCausalLM) if is_torch_available() else ()
    model_tester_class = ARRNNModelTester
    config_tester_fields = ("hidden_size", "cell_type")
    has_attentions = False  # a recurrent network has no attention weights (as for Mamba)

    def _check_past_key_values_for_generate(self, batch_size, past_key_values, seq_length, config):
        # The model's own cache format (as Mamba's, Lfm2's, ... tests declare theirs): one linear-attention layer
        # per recurrent layer, no conv state, the recurrent state batch-first as (batch, num_states, hidden).
        from transformers.cache_utils import LinearAttentionLayer

        self.assertEqual(len(past_key_values), config.num_hidden_layers)
        for layer in past_key_values.layers:
            self.assertIs(type(layer), LinearAttentionLayer)
            self.assertTrue(layer.is_recurrent_states_initialized[0])
            self.assertEqual(
                tuple(layer.recurrent_states[0].shape), (batch_size, config.num_states, config.hidden_size)
            )


class ARRNNGRUModelTester(ARRNNModelTester):
    cell_type = "gru"


@require_torch
class ARRNNGRUModelTest(ARRNNLSTMModelTest):
    model_tester_class = ARRNNGRUModelTester
