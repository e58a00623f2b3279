"""What a VAE speech prior brings to the VAE-NMF posterior of one utterance.

At test time the observation model is (Leglaive et al. 2018; Sadeghi et al. 2020, 2021)

    z_t ~ p(z_t [| v_t]),   s_ft | z_t ~ N_c(0, sigma2_f(z_t [, v_t])),
    x_ft = sqrt(g_t) s_ft + b_ft,   b_ft ~ N_c(0, (W H)_ft),

so the per-frame target of the E-step is
``log p(x_t, z_t) = log N_c(x_t; 0, g_t sigma2(z_t) + (WH)_t) + log p(z_t)``.
:mod:`inference.gaussian_scale` fuses the likelihood with a standard-normal prior; a model whose
prior differs (the AV-CVAE's ``N(mu(v_t), diag sigma2(v_t))``, the MIN-VAE's mixture) returns a
correction from :meth:`~avgen.models.vae.models.SpeechVAE.prior_correction`
(:mod:`inference.prior_terms`). Everything model-specific is a method of the model (``inits``,
``default_init``, ``check_lips``, ``visual_context``, ``start_distribution``,
``prior_correction``, ``visual_weight``): this module only binds one utterance's lips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from avgen.errors import ConfigError
from avgen.models.vae.models import SpeechVAE

LogPrior = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class PriorTarget:
    """One utterance's view of a prior.

    Attributes:
        decoder: ``z (..., T, L) -> log sigma2 (..., T, F)`` with the lips' features bound.
        prior_correction: ``z -> ||z||^2/2 + log p(z_t [| v_t])`` ``(..., T)``, or ``None``
            for ``N(0, I)``.
        latent_dim: ``L``.
    """

    decoder: Callable[[torch.Tensor], torch.Tensor]
    prior_correction: LogPrior | None
    latent_dim: int


@torch.no_grad()
def prior_target(model: SpeechVAE, lips: torch.Tensor | None, n_frames: int) -> PriorTarget:
    """The decoder and latent prior of ``model`` for an utterance of ``n_frames`` frames (the
    lips' features computed once, not in the sampler's loop)."""
    lips = model.check_lips(lips, n_frames)
    context = model.visual_context(lips)
    decoder = model.decoder if context is None else _BoundDecoder(model.decoder, context)
    return PriorTarget(decoder, model.prior_correction(context), model.config.latent_dim)


class _BoundDecoder:
    """``z -> decoder(z, context)`` (a class, not a lambda, so that it pickles and prints)."""

    def __init__(self, decoder: nn.Module, context: torch.Tensor) -> None:
        self.decoder, self.context = decoder, context

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z, self.context)


@torch.no_grad()
def initial_latents(
    model: SpeechVAE, power: torch.Tensor, lips: torch.Tensor | None, init: str
) -> torch.Tensor:
    """Where the chains start, ``(T, L)``: the mean of the model's
    :meth:`~avgen.models.vae.models.SpeechVAE.start_distribution` for ``init``."""
    lips = model.check_lips(lips, power.shape[0])
    return model.start_distribution(power, lips, init)[0].clone()


class EncoderForVEM(nn.Module):
    """The Gaussian of ``init`` as ``power -> (mean, log variance)`` for
    :class:`inference.vem.VariationalEStep`, which fine-tunes its weights functionally (the
    model itself never changes). The MIN-VAE's visual weight of the ``"mixture"`` start is
    computed once, on the noisy power, and held fixed."""

    def __init__(
        self, model: SpeechVAE, power: torch.Tensor, lips: torch.Tensor | None, init: str
    ) -> None:
        super().__init__()
        if init in ("prior", "switch"):
            raise ConfigError(
                "variational EM fine-tunes an encoder: use --init audio, visual or mixture, "
                f"not {init}"
            )
        self.model = model
        self.lips = model.check_lips(lips, power.shape[0])
        self.init = init
        self.weight = model.visual_weight(power, self.lips) if init == "mixture" else None

    def forward(self, power: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loc, scale = self.model.start_distribution(
            power, self.lips, self.init, visual_weight=self.weight
        )
        return loc, 2 * scale.log()
