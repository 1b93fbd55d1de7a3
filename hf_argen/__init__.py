"""hf_argen: Hugging Face-native autoregressive generative models.

Importing the package registers every config, model, processor and pipeline with `transformers` (`auto.py`); its
public names are those of the flat `hf_argen.models` folder (configs, models, processors, pipelines).
"""

from . import auto  # noqa: F401  (registration side effect)
from .models import *  # noqa: F403
from .models import __all__  # noqa: F401

__version__ = "0.1.0"
