"""VAE speech priors as Pyro models and guides: A-VAE, V-VAE, AV-VAE, AV-CVAE, MIN-VAE.

* :mod:`~avgen.models.vae.models` -- the shared generative model, the single-Gaussian guides;
* :mod:`~avgen.models.vae.min_vae` -- the mixture of inference networks (enumerated alpha);
* :mod:`~avgen.models.vae.networks` -- encoders, decoder, visual networks;
* :mod:`~avgen.models.vae.likelihood` -- complex Gaussian / Exponential log densities;
* :mod:`~avgen.models.vae.corruption` -- corrupting the audio input during training;
* :mod:`~avgen.models.vae.train` -- ``fit``: SVI, warm-up, validation, early stopping, resume;
* :mod:`~avgen.models.vae.registry` -- names, ``build_model``, ``load_model``, bundled weights.

See ``docs/models-vae.md`` for the equations.
"""

from avgen.models.vae.min_vae import MinVAEConfig, MixtureInferenceVAE
from avgen.models.vae.models import (
    AudioVAE,
    AudioVisualCVAE,
    AudioVisualVAE,
    SpeechVAE,
    VAEConfig,
    VisualVAE,
)
from avgen.models.vae.registry import (
    MODEL_NAMES,
    SIZES,
    build_model,
    list_bundled,
    load_model,
)
from avgen.models.vae.train import (
    EpochRecord,
    FrameTensors,
    TrainConfig,
    TrainResult,
    evaluate_elbo,
    fit,
)

__all__ = [
    "MODEL_NAMES",
    "SIZES",
    "AudioVAE",
    "AudioVisualCVAE",
    "AudioVisualVAE",
    "EpochRecord",
    "FrameTensors",
    "MinVAEConfig",
    "MixtureInferenceVAE",
    "SpeechVAE",
    "TrainConfig",
    "TrainResult",
    "VAEConfig",
    "VisualVAE",
    "build_model",
    "evaluate_elbo",
    "fit",
    "list_bundled",
    "load_model",
]
