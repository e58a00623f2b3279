"""Speech priors: the VAE family (:mod:`avgen.models.vae`).

One line loads a model: ``avgen.models.load_model("min-vae")`` (bundled weights) or
``load_model("path/to/checkpoint.pt")``.
"""

from avgen.models.vae.registry import MODEL_NAMES, build_model, list_bundled, load_model

__all__ = ["MODEL_NAMES", "build_model", "list_bundled", "load_model"]
