"""VAE speech priors as Pyro models and guides: A-VAE, V-VAE, AV-VAE, AV-CVAE, MIN-VAE.

* :mod:`~avgen.models.vae.models` -- the shared generative model, the single-Gaussian guides;
* :mod:`~avgen.models.vae.min_vae` -- the mixture of inference networks (enumerated alpha);
* :mod:`~avgen.models.vae.networks` -- encoders, decoder, visual networks;
* :mod:`~avgen.models.vae.likelihood` -- complex Gaussian / Exponential log densities;
* :mod:`~avgen.models.vae.corruption` -- corrupting the audio input during training;
* :mod:`~avgen.models.vae.train` -- ``fit``: SVI, warm-up, validation, early stopping, resume;
* :mod:`~avgen.models.vae.registry` -- names, ``build_model``, ``load_model``, bundled weights;
* :mod:`~avgen.models.vae.synthetic` -- frames with a known low-dimensional structure.

The names below are imported on first use (so that ``avgen --help`` does not load torch).
See ``docs/models-vae.md`` for the equations.
"""

from __future__ import annotations

from avgen.lazy import lazy_exports
from avgen.models.vae.names import MODEL_NAMES, SIZES

_EXPORTS = {
    "MinVAEConfig": "min_vae",
    "MixtureInferenceVAE": "min_vae",
    "AudioVAE": "models",
    "AudioVisualCVAE": "models",
    "AudioVisualVAE": "models",
    "SpeechVAE": "models",
    "VAEConfig": "models",
    "VisualVAE": "models",
    "build_model": "registry",
    "list_bundled": "registry",
    "load_model": "registry",
    "EpochRecord": "train",
    "FrameTensors": "frames",
    "TrainConfig": "train",
    "TrainResult": "train",
    "evaluate_elbo": "elbo",
    "fit": "train",
}

__all__ = ["MODEL_NAMES", "SIZES", *sorted(_EXPORTS)]

__getattr__, __dir__ = lazy_exports(
    __name__, {name: f"{__name__}.{module}" for name, module in _EXPORTS.items()}, globals()
)
