"""transformers' common model/generation/config suites for hf_argen's ARTransformer (learned and rotary).

A small model tester, written as transformers' own per-model test files are; every skip comes from the
suite's own capability flags or the model's declared capabilities.
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

MODEL_MAPPING_NAMES.setdefault("ar_transformer", "ARTransformerModel")
MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.setdefault("ar_transformer", "ARTransformerForCausalLM")

if is_torch_available():
    from hf_argen.models import ARTransformerConfig, ARTransformerForCausalLM, ARTransformerModel


class ARTransformerModelTester(CausalLMModelTester):
    if is_torch_available():
        config_class, base_model_class = ARTransformerConfig, ARTransformerModel
        causal_lm_class = ARTransformerForCausalLM
    defaults = {
        **CausalLMModelTester.defaults,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "max_position_embeddings": 512,
    }
    config_fields = (
        *CausalLMModelTester.config_fields,
        "num_attention_heads",
        "intermediate_size",
        "max_position_embeddings",
        "position_embedding_type",
    )
    position_embedding_type = "learned"


@require_torch
class ARTransformerLearnedModelTest(CausalLMTestsMixin, ModelTesterMixin, GenerationTesterMixin, unittest.TestCase):
    all_model_classes = (ARTransformerModel, ARTransformerForCausalLM) if is_torch_available() else ()
    model_tester_class = ARTransformerModelTester
    config_tester_fields = ("hidden_size", "num_attention_heads", "position_embedding_type")
    common_properties = ["hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size"]


class ARTransformerRotaryModelTester(ARTransformerModelTester):
    position_embedding_type = "rotary"


@require_torch
class ARTransformerRotaryModelTest(ARTransformerLearnedModelTest):
    model_tester_class = ARTransformerRotaryModelTester
