"""Dynamical VAE speech priors (temporal latent models) as Pyro models and guides.

* :mod:`~avgen.models.dvae.dkf` -- the deep Kalman filter (Bie et al., TASLP 2022; Pyro's deep
  Markov model shape): ``z_t | z_{t-1}`` gated transition, ``s_t | z_t`` the per-frame decoder,
  a backward-RNN guide;
* :mod:`~avgen.models.dvae.rvae` -- the recurrent VAE (Leglaive et al., ICASSP 2020): i.i.d.
  ``z_t``, ``s_t | z_{0:t}`` through a forward RNN over the latents, a BiRNN(x) + RNN(z) guide;
* :mod:`~avgen.models.dvae.train` -- ``fit_dkf`` (SVI, either model), ``save_dkf`` /
  ``load_dkf`` / ``load_rvae``;
* :mod:`~avgen.models.dvae.data` -- speech sequences of a kit and their segments.

The latent trajectory's posterior is sampled by the checkerboard MH kernel of
:mod:`inference.markov_mh` from :meth:`DeepKalmanFilter.markov_terms`-shaped per-frame terms.
Names are imported on first use.
"""

from __future__ import annotations

from avgen.lazy import lazy_exports

_EXPORTS = {
    "DKFConfig": "dkf",
    "DeepKalmanFilter": "dkf",
    "DKFTrainConfig": "train",
    "DKFTrainResult": "train",
    "dkf_elbo_per_frame": "train",
    "fit_dkf": "train",
    "load_dkf": "train",
    "load_rvae": "train",
    "RecurrentVAE": "rvae",
    "RVAEConfig": "rvae",
    "save_dkf": "train",
    "load_kit_sequences": "data",
    "segment_sequences": "data",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(
    __name__, {name: f"{__name__}.{module}" for name, module in _EXPORTS.items()}, globals()
)
