"""Training side of hf_argen, generic: the shared Accelerate loop (:mod:`.loop`) and the shared command-line flags
(:mod:`.arguments`). Nothing model- or dataset-specific: the per-model runs are the recipes' (`hf_argen.recipes`).
Nothing used at inference imports this package.
"""

from .loop import *  # noqa: F403  (the package's names are the loop's public ones)
from .loop import __all__  # noqa: F401
