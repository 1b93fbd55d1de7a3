"""`python -m hf_argen.cli ...` is `hf-argen ...`."""

from .main import main

main()
