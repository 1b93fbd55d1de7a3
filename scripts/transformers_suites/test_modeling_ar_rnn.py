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
from transformers.testing_utils import require_torch, torch_device

from ...generation.test_utils import GenerationTesterMixin
from ...test_configuration_common import ConfigTester
from ...test_modeling_common import ModelTesterMixin, ids_tensor, random_attention_mask

MODEL_MAPPING_NAMES.setdefault("ar_rnn", "ARRNNModel")
MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.setdefault("ar_rnn", "ARRNNForCausalLM")

if is_torch_available():
    from hf_argen.models import ARRNNConfig, ARRNNForCausalLM, ARRNNModel


class ARRNNModelTester:
    cell_type = "lstm"

    def __init__(
        self,
        parent,
        batch_size=13,
        seq_length=7,
        is_training=True,
        use_input_mask=True,
        use_labels=True,
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    ):
        self.parent = parent
        self.batch_size = batch_size
        self.seq_length = seq_length
        self.is_training = is_training
        self.use_input_mask = use_input_mask
        self.use_labels = use_labels
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.pad_token_id = pad_token_id
        self.bos_token_id = bos_token_id
        self.eos_token_id = eos_token_id

    def get_config(self):
        return ARRNNConfig(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            cell_type=self.cell_type,
            pad_token_id=self.pad_token_id,
            bos_token_id=self.bos_token_id,
            eos_token_id=self.eos_token_id,
        )

    def prepare_config_and_inputs(self):
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size)
        input_mask = None
        if self.use_input_mask:
            input_mask = random_attention_mask([self.batch_size, self.seq_length])
        token_labels = None
        if self.use_labels:
            token_labels = ids_tensor([self.batch_size, self.seq_length], self.vocab_size)
        return self.get_config(), input_ids, input_mask, token_labels

    def prepare_config_and_inputs_for_common(self):
        config, input_ids, input_mask, _ = self.prepare_config_and_inputs()
        return config, {"input_ids": input_ids, "attention_mask": input_mask}

    def create_and_check_model(self, config, input_ids, input_mask, token_labels):
        model = ARRNNModel(config).to(torch_device).eval()
        result = model(input_ids, attention_mask=input_mask)
        self.parent.assertEqual(result.last_hidden_state.shape, (self.batch_size, self.seq_length, self.hidden_size))

    def create_and_check_causal_lm(self, config, input_ids, input_mask, token_labels):
        model = ARRNNForCausalLM(config).to(torch_device).eval()
        result = model(input_ids, attention_mask=input_mask, labels=token_labels)
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.seq_length, self.vocab_size))
        self.parent.assertEqual(result.loss.dim(), 0)


@require_torch
class ARRNNLSTMModelTest(ModelTesterMixin, GenerationTesterMixin, unittest.TestCase):
    all_model_classes = (ARRNNModel, ARRNNForCausalLM) if is_torch_available() else ()
    model_tester_class = ARRNNModelTester
    has_attentions = False  # a recurrent network has no attention weights (as for Mamba)

    def setUp(self):
        self.model_tester = self.model_tester_class(self)
        self.config_tester = ConfigTester(
            self,
            config_class=ARRNNConfig,
            hidden_size=32,
            cell_type=self.model_tester_class.cell_type,
            common_properties=["hidden_size", "num_hidden_layers", "vocab_size"],
        )

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

    def test_config(self):
        self.config_tester.run_common_tests()

    def test_model(self):
        self.model_tester.create_and_check_model(*self.model_tester.prepare_config_and_inputs())

    def test_causal_lm(self):
        self.model_tester.create_and_check_causal_lm(*self.model_tester.prepare_config_and_inputs())


class ARRNNGRUModelTester(ARRNNModelTester):
    cell_type = "gru"


@require_torch
class ARRNNGRUModelTest(ARRNNLSTMModelTest):
    model_tester_class = ARRNNGRUModelTester
