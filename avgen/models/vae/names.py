"""Names of the VAE speech priors and size presets (no torch import: the CLI reads them)."""

from __future__ import annotations

#: the models, in the order the papers introduce them
MODEL_NAMES: tuple[str, ...] = ("a-vae", "v-vae", "av-vae", "av-cvae", "min-vae")

#: the temporal (dynamical VAE) priors of :mod:`avgen.models.dvae`, loaded by the same
#: ``load_model`` and run by the same enhancement pipeline
TEMPORAL_MODEL_NAMES: tuple[str, ...] = ("dkf", "rvae")

#: every prior ``avgen enhance --model`` takes by name
PRIOR_NAMES: tuple[str, ...] = MODEL_NAMES + TEMPORAL_MODEL_NAMES

#: size presets: options of :class:`~avgen.models.vae.models.VAEConfig`
SIZES: dict[str, dict[str, int]] = {
    "paper": {"latent_dim": 32, "hidden_dim": 128, "visual_hidden_dim": 512},
    "small": {"latent_dim": 16, "hidden_dim": 64, "visual_hidden_dim": 128},
}
