"""What hf_argen's three model testers share, written as `transformers`' per-model testers are.

`scripts/run_transformers_suites.py` puts this module at `tests/models/hf_argen_testers.py` of the scratch tree, next
to the per-model folders, so a tester imports it as `from ..hf_argen_testers import ...`.
"""

from transformers.testing_utils import torch_device

from ..test_configuration_common import ConfigTester
from ..test_modeling_common import ids_tensor, random_attention_mask


class SizedModelTester:
    """Sizes and special ids as attributes (`defaults`, overridable by keyword, as `transformers`' testers take
    them), and a config of `config_class` built from the attributes named in `config_fields`."""

    config_class = None
    config_fields: tuple[str, ...] = ()
    defaults = {
        "batch_size": 13,
        "seq_length": 7,
        "is_training": True,
        "use_input_mask": True,
        "use_labels": True,
        "vocab_size": 99,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "pad_token_id": 0,
        "bos_token_id": 1,
        "eos_token_id": 2,
    }

    def __init__(self, parent, **sizes):
        self.parent = parent
        for name, value in {**self.defaults, **sizes}.items():
            setattr(self, name, list(value) if isinstance(value, list) else value)  # no list shared by testers

    def get_config(self):
        return self.config_class(**{name: getattr(self, name) for name in self.config_fields})


class CausalLMModelTester(SizedModelTester):
    """A decoder-only LM: `base_model_class` returns hidden states, `causal_lm_class` logits and a loss."""

    base_model_class = None
    causal_lm_class = None
    config_fields = ("vocab_size", "hidden_size", "num_hidden_layers", "pad_token_id", "bos_token_id", "eos_token_id")

    def prepare_config_and_inputs(self):
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size)
        input_mask = random_attention_mask([self.batch_size, self.seq_length]) if self.use_input_mask else None
        token_labels = ids_tensor([self.batch_size, self.seq_length], self.vocab_size) if self.use_labels else None
        return self.get_config(), input_ids, input_mask, token_labels

    def prepare_config_and_inputs_for_common(self):
        config, input_ids, input_mask, _ = self.prepare_config_and_inputs()
        return config, {"input_ids": input_ids, "attention_mask": input_mask}

    def create_and_check_model(self, config, input_ids, input_mask, token_labels):
        model = self.base_model_class(config).to(torch_device).eval()
        result = model(input_ids, attention_mask=input_mask)
        self.parent.assertEqual(result.last_hidden_state.shape, (self.batch_size, self.seq_length, self.hidden_size))

    def create_and_check_causal_lm(self, config, input_ids, input_mask, token_labels):
        model = self.causal_lm_class(config).to(torch_device).eval()
        result = model(input_ids, attention_mask=input_mask, labels=token_labels)
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.seq_length, self.vocab_size))
        self.parent.assertEqual(result.loss.dim(), 0)


class ConfigAndModelTestsMixin:
    """`setUp` with a `ConfigTester` of the tester's config (`config_tester_fields`: the tester attributes the config
    tester checks; `common_properties`: the config attributes every config must have), and the tests that run the
    tester's own checks."""

    config_tester_fields: tuple[str, ...] = ("hidden_size",)
    common_properties = ["hidden_size", "num_hidden_layers", "vocab_size"]

    def setUp(self):
        self.model_tester = self.model_tester_class(self)
        tester = self.model_tester_class
        fields = {name: getattr(self.model_tester, name) for name in self.config_tester_fields}
        self.config_tester = ConfigTester(
            self, config_class=tester.config_class, common_properties=self.common_properties, **fields
        )

    def test_config(self):
        self.config_tester.run_common_tests()

    def test_model(self):
        self.model_tester.create_and_check_model(*self.model_tester.prepare_config_and_inputs())


class CausalLMTestsMixin(ConfigAndModelTestsMixin):
    """The config and model tests, and the causal-LM head's."""

    def test_causal_lm(self):
        self.model_tester.create_and_check_causal_lm(*self.model_tester.prepare_config_and_inputs())
