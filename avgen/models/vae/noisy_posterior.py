"""A VAE speech prior's enhancement posterior at fixed NMF parameters, for any sampler.

``noisy_posterior(model, x, lips, noise)`` binds one utterance to
:class:`inference.noisy_posterior.NoisyPosterior`: the decoder with the lips' features bound
(:meth:`~avgen.models.vae.models.SpeechVAE.visual_context`), the latent prior as a distribution
(:meth:`~avgen.models.vae.models.SpeechVAE.latent_distribution`: ``N(0, I)``, the AV-CVAE's
``N(mu(v_t), diag sigma2(v_t))``, the MIN-VAE's mixture) and its fast correction
(:meth:`~avgen.models.vae.models.SpeechVAE.prior_correction`). Every model answers for itself;
nothing here switches on a model's name or class. The result gives a Pyro model of the noisy
observation (``posterior.model``), the per-frame density for ``run_chain``/``PerFrameKernel``
(``posterior.log_density``) and a potential for ``pyro.infer.NUTS``/``HMC``
(``posterior.potential_fn()``)::

    posterior = noisy_posterior(model, x, lips, result.noise, frames=slice(100, 108))
    nuts = NUTS(potential_fn=posterior.potential_fn())
    MCMC(nuts, 200, warmup_steps=200, initial_params={"z": posterior.initial_position}).run()
"""

from __future__ import annotations

import torch
from torch import nn

from avgen.models.vae.models import SpeechVAE
from inference.nmf import NMFParams, nmf_variance
from inference.noisy_posterior import NoisyPosterior

FrameIndex = slice | torch.Tensor | None


class BoundDecoder:
    """``z -> decoder(z, context)``: a decoder with one utterance's visual features bound."""

    def __init__(self, decoder: nn.Module, context: torch.Tensor) -> None:
        self.decoder, self.context = decoder, context

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z, self.context)


class SpeechPosterior(NoisyPosterior):
    """:class:`~inference.noisy_posterior.NoisyPosterior` plus where the chains start:
    ``initial_position`` ``(T, L)``, the mean of the model's start distribution."""

    initial_position: torch.Tensor


@torch.no_grad()
def noisy_posterior(
    model: SpeechVAE,
    x: torch.Tensor,
    lips: torch.Tensor | None,
    noise: NMFParams,
    *,
    frames: FrameIndex = None,
    init: str | None = None,
) -> SpeechPosterior:
    """``p(z | x; W, H, g)`` of ``model`` for the frames-major observation ``x`` ``(T, F)``.

    Args:
        model: a VAE speech prior (its weights are used as they are; put it in ``eval`` mode
            and the dtype you want, e.g. ``model.double()`` for tests).
        x: complex STFT ``(T, F)`` (exact complex likelihood) or its power ``|x|^2`` (the
            Exponential likelihood; the same posterior).
        lips: ``(T, lip_dim)`` at the STFT frames for audio-visual models, else ``None``.
        noise: the NMF parameters ``W (F, K)``, ``H (K, T)``, ``gain (T,)`` (e.g.
            ``result.noise`` of an enhancement).
        frames: a subset of frames (slice or index tensor); frames are independent, so the
            posterior of a subset is the subset of the posterior.
        init: where ``initial_position`` comes from (default: ``model.default_init``).
    """
    n_frames = x.shape[0]
    lips = model.check_lips(lips, n_frames)
    start = model.start_distribution(
        x.abs().square() if x.is_complex() else x, lips, init or model.default_init
    )[0]
    fixed, gain = nmf_variance(noise.W, noise.H), noise.gain
    if frames is not None:
        x, fixed, gain, start = x[frames], fixed[frames], gain[frames], start[frames]
        lips = None if lips is None else lips[frames]
    context = model.visual_context(lips)
    decoder = model.decoder if context is None else BoundDecoder(model.decoder, context)
    real = x.real.dtype if x.is_complex() else x.dtype
    posterior = SpeechPosterior(
        x,
        decoder,
        fixed.to(real),
        model.latent_distribution(x.shape[0], visual_context=context),
        gain.to(real),
        model.prior_correction(context),
    )
    posterior.initial_position = start.to(real).clone()
    return posterior
