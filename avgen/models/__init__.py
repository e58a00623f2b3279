"""Speech priors: the VAE family (:mod:`avgen.models.vae`) and the diffusion prior
(:mod:`avgen.models.diffusion`).

One line loads a model: ``avgen.models.load_model("min-vae")`` (bundled weights) or
``load_model("path/to/checkpoint.pt")``; ``avgen.models.load_diffusion_prior()`` (the bundled
diffusion prior) or ``load_diffusion_prior("path/to/prior.pt")``. Names are imported on first
use.
"""

from __future__ import annotations

from avgen.lazy import lazy_exports
from avgen.models.vae.names import MODEL_NAMES

_EXPORTS = {
    "build_model": "avgen.models.vae.registry",
    "list_bundled": "avgen.models.vae.registry",
    "load_model": "avgen.models.vae.registry",
    "load_diffusion_prior": "avgen.models.diffusion.checkpoints",
}

__all__ = ["MODEL_NAMES", "build_model", "list_bundled", "load_diffusion_prior", "load_model"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
