"""Recipes: what turns hf_argen's generic layers into the shipped models, on top of them (recipes -> training ->
models; nothing below imports this package).

* :mod:`.datasets` (named datasets: :func:`~.datasets.load_images`, :func:`~.datasets.load_captions`,
  :func:`~.datasets.load_texts`), :mod:`.mnist` (IDX files, scikit-learn digits, MNIST in digits format, two-digit
  scenes), :mod:`.emoji` (the emoji-datasource packages), :mod:`.sources` (where local copies are found);
* :mod:`.augmentation` (the captioner's image augmentations), :mod:`.classifier` (the MNIST CNN behind class
  consistency), :mod:`.cards` (per-model card parts and metrics, the end of a run: :func:`~.cards.publish_run`),
  :mod:`.captioner_evaluation` (the shipped captioners' figures), :mod:`.codes` (an image dataset's VQ-VAE code maps,
  encoded once and cached: :func:`~.codes.encode_dataset_codes`, for any recipe that trains on codes),
  :mod:`.completion` (image completion judged by the MNIST classifier);
* one module per model kind, each a run that reads build data -> build model -> train -> publish:
  :mod:`.pixelcnn`, :mod:`.pixel_lm` (causal LMs over sub-pixels), :mod:`.vqvae`, :mod:`.prior`, :mod:`.causal_lm`,
  :mod:`.captioning`, started by the thin `training/train_*.py` entry points.
"""
