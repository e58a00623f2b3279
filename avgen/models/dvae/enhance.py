"""Unsupervised enhancement with the DKF prior: MCEM with the checkerboard MH E-step.

Noisy model (as the per-frame priors', :mod:`inference.nmf_em`), with the DKF's Markov prior:

    z_t | z_{t-1} ~ N(mu(z_{t-1}), diag sigma^2(z_{t-1})),
    x_ft | z_t ~ N_c(0, g_t v_f(z_t) + (W H)_ft).

The E-step samples the latent trajectory by the checkerboard kernel
(:mod:`inference.markov_mh`) from the per-frame terms

    emission_t   = -sum_f [log V_ft + P_ft / V_ft],   V = g v(z) + W H   (Exponential convention)
    transition_t = log p(z_t | z_{t-1})

(:class:`DKFNoisyTerms`); the M-step (multiplicative NMF updates of ``W, H, g``) and the
posterior-mean Wiener estimate of the speech image are those of
:class:`~inference.nmf_em.GaussianScaleNMF`, whose density is swapped by a subclass
(:class:`MarkovGaussianScaleNMF`): nothing else changes. The chains start at the guide's mean
trajectory on the noisy power (Bie et al. 2022 start from their encoder too).

Behind ``avgen enhance --model dkf`` (and ``enhance(noisy, "dkf")``) through the VAE-NMF pipeline
(:mod:`avgen.pipelines.vae_nmf`), with three hooks there: the model builds its own EM problem
(:meth:`DeepKalmanFilter.noisy_problem` -> :class:`MarkovGaussianScaleNMF`), the chains start from
the guide's mean path (``start_distribution``), and ``mcem-mh`` resolves to
``ChainEStep(CHECKERBOARD_RWM, ...)`` for a Markov prior (``markov_prior``; ``vem`` fine-tunes the
guide, :meth:`DeepKalmanFilter.guide_rsample`; the other named schemes are refused).
:func:`enhance_dkf` below is the same MCEM without the pipeline's reports, guards and segments (the
papers' rank 10 by default; the pipeline's default is 4).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from avgen.audio import VAE_STFT, istft, stft
from avgen.models.dvae.dkf import DeepKalmanFilter
from inference.esteps import ChainEStep
from inference.gaussian_scale import GaussianScaleLogDensity
from inference.markov_mh import CHECKERBOARD_RWM, MarkovTerms
from inference.nmf import NMFParams, nmf_variance
from inference.nmf_em import GaussianScaleNMF, posterior_image_moments

POWER_FLOOR = 1e-10


class DKFNoisyTerms:
    """``z -> MarkovTerms`` of the noisy observation at fixed NMF parameters (one decoder call
    and one transition-network call per evaluation)."""

    def __init__(self, model: DeepKalmanFilter, power: torch.Tensor, params: NMFParams) -> None:
        self.model = model
        self.base = GaussianScaleLogDensity(
            power, model.decoder, nmf_variance(params.W, params.H), params.gain
        )

    def __call__(self, z: torch.Tensor) -> MarkovTerms:
        # the fused density carries a N(0, I) prior term -||z||^2/2: take it back out
        emission = self.base(z) + z.square().sum(-1).mul(0.5)
        return MarkovTerms(emission, self.model.transition_log_density(z))


class MarkovGaussianScaleNMF(GaussianScaleNMF):
    """:class:`~inference.nmf_em.GaussianScaleNMF` with the DKF's Markov prior: its E-step
    receives :class:`DKFNoisyTerms` instead of a per-frame log density."""

    def __init__(self, power: torch.Tensor, model: DeepKalmanFilter, e_step, **kwargs) -> None:
        super().__init__(power, model.decoder, e_step, **kwargs)
        self.dkf = model

    def log_density(self, params: NMFParams) -> DKFNoisyTerms:  # type: ignore[override]
        return DKFNoisyTerms(self.dkf, self.power, params)


@dataclass
class DKFEnhancement:
    """Estimate (waveform), its spectrum ``(F, T)``, the EM objective history, the mean
    acceptance of the final E-step, and the seconds spent."""

    estimate: torch.Tensor
    spectrum: torch.Tensor
    objective: list[float]
    acceptance: float | None
    seconds: float


def enhance_dkf(
    noisy: torch.Tensor,
    model: DeepKalmanFilter,
    *,
    rank: int = 10,
    n_iter: int = 100,
    n_steps: int = 40,
    burn_in: int = 30,
    step_size: float = 0.1,
    chains: int = 1,
    seed: int = 0,
) -> DKFEnhancement:
    """Enhance a mono 16 kHz waveform with the DKF prior and NMF noise (MCEM, the papers'
    schedule by default: K = 10, 100 iterations of 40 checkerboard sweeps, 30 burn-in, proposal
    standard deviation 0.1, then a final E-step of the same length for the estimate)."""
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    x = stft(noisy.to(torch.float32), VAE_STFT).T.contiguous()  # (T, F) complex
    power = x.abs().square().clamp_min_(POWER_FLOOR)
    e_step = ChainEStep(CHECKERBOARD_RWM, n_steps=n_steps, burn_in=burn_in, step_size=step_size)
    with torch.no_grad():
        model.eval()
        em = MarkovGaussianScaleNMF(power, model, e_step)
        start = model.encode_mean(power).unsqueeze(0).expand(chains, -1, -1).contiguous()
        state = em.init_state(rank, start, generator)
        state, history = em.run(state, n_iter=n_iter, generator=generator)
        state, acceptance = em.e_step(state, generator)
        params = state.params
        image, _ = posterior_image_moments(
            x, state.source_variance, params.gain, nmf_variance(params.W, params.H)
        )
    spectrum = image.T.contiguous()
    estimate = istft(spectrum, VAE_STFT, length=noisy.numel()).to(torch.float32)
    return DKFEnhancement(
        estimate, spectrum, list(history.objective), acceptance, time.perf_counter() - started
    )
