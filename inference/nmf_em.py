"""Monte-Carlo EM for the Gaussian-scale observation with an NMF variance part.

Model (:mod:`inference.gaussian_scale`): ``z_t ~ N(0, I)``, ``s_ft | z_t ~ N_c(0, v_ft(z_t))`` with
``v = exp(decoder(z))``, ``b_ft ~ N_c(0, (W H)_ft)``, ``x_ft = sqrt(g_t) s_ft + b_ft``. The decoder
is fixed (a trained prior); ``theta = (W, H, g)`` is estimated from ``x`` alone by EM
(Leglaive et al., 2018; Sadeghi et al., 2020):

* E-step: ``R`` samples ``z^(r)`` of ``p(z | x; theta_k)`` per frame from any E-step of
  :mod:`inference.esteps` / :mod:`inference.vem` run on the fused density
  :class:`~inference.gaussian_scale.GaussianScaleLogDensity`; ``v^(r) = exp(decoder(z^(r)))``.
* M-step: multiplicative updates of ``H``, ``W``, ``g`` (:func:`inference.nmf.nmf_step`).
* Objective: the sample-averaged IS divergence per bin
  (:func:`inference.nmf.expected_is_divergence`), i.e. ``-Q_k(theta_{k+1}) / (T F)`` up to
  data-only constants; with a prior on the NMF (:mod:`inference.nmf_priors`: ARD, smooth
  activations) the MAP objective ``(-Q - log p(W, H)) / (T F)``
  (:func:`inference.nmf_priors.map_objective`).

The estimate of the source is the posterior mean (a Wiener filter averaged over samples)::

    E[s_ft | x] = E_z[ E[s_ft | x, z] ]
                ~ (1/R) sum_r  g_t v^(r)_ft / (g_t v^(r)_ft + (WH)_ft) * x_ft / sqrt(g_t)

because ``s`` and ``x`` are jointly complex Gaussian given ``z``, with ``Cov(s, x) = sqrt(g) v`` and
``Var(x) = g v + WH``; the conditional variance is ``Var(s | x, z) = v (WH) / (g v + WH)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from inference.em import EMCallback, History, run_em
from inference.errors import InferenceError
from inference.esteps import EStep, EStepResult, EStepState
from inference.finite import all_finite
from inference.gaussian_scale import Decoder, GaussianScaleLogDensity
from inference.mh import LogDensityFn
from inference.nmf import (
    NMFParams,
    expected_is_divergence,
    init_nmf,
    nmf_step,
    nmf_variance,
    relative_floors,
)
from inference.nmf_priors import NMFPrior, map_objective
from inference.prior_terms import CorrectedDensity


@dataclass(frozen=True)
class NMFEMState:
    """State of the EM iterations.

    Attributes:
        params: ``W`` ``(F, K)``, ``H`` ``(K, T)``, ``gain`` ``(T,)``.
        sampler: the E-step's state (:class:`~inference.esteps.EStepState`: where the ``C``
            chains are, ``(C, T, D)``, the step size in use, the E-step's own carried state).
        source_variance: ``(R * C, T, F)`` decoded variances of the last E-step's samples.
        last_e_step: the last :class:`~inference.esteps.EStepResult`.
    """

    params: NMFParams
    sampler: EStepState
    source_variance: torch.Tensor | None = None
    last_e_step: EStepResult | None = None

    @property
    def position(self) -> torch.Tensor:
        """``(C, T, D)``: where the chains are."""
        return self.sampler.position


class GaussianScaleNMF:
    """E- and M-steps of MCEM for one observation, ready for :func:`inference.em.run_em`.

    Args:
        power: ``|x|^2``, frames-major ``(T, F)``.
        decoder: ``(..., T, D) -> (..., T, F)`` log-variances (frozen).
        e_step: any :class:`~inference.esteps.EStep` (:class:`~inference.esteps.MHEStep`,
            :class:`~inference.esteps.LangevinEStep`, :class:`~inference.vem.VariationalEStep`,
            or a user's own).
        prior_correction: ``z -> ||z||^2/2 + log p(z_t)`` ``(..., T)`` added to the fused
            density for a latent prior other than ``N(0, I)``
            (:mod:`inference.prior_terms`), or ``None``.
        exponent: NMF update exponent, 0.5 (MM) or 1 (heuristic).
        m_step_updates: multiplicative-update sweeps per M-step.
        update: blocks updated by the M-step (drop ``"gain"`` to keep ``g`` fixed).
        floor_epsilon: the M-step keeps ``W``, ``H`` and ``g`` above this fraction of each
            frame's power (:func:`inference.nmf.relative_floors`; ``None``: no floors).
        nmf_prior: a prior on ``W``, ``H`` (:class:`~inference.nmf_priors.ARDPrior`,
            :class:`~inference.nmf_priors.SmoothPrior`): the M-step is then a MAP step and the
            objective the MAP objective; ``None``: maximum likelihood.
    """

    def __init__(
        self,
        power: torch.Tensor,
        decoder: Decoder,
        e_step: EStep,
        *,
        prior_correction: LogDensityFn | None = None,
        exponent: float = 0.5,
        m_step_updates: int = 1,
        update: tuple[str, ...] = ("H", "W", "gain"),
        floor_epsilon: float | None = 1e-6,
        nmf_prior: NMFPrior | None = None,
    ) -> None:
        if power.ndim != 2 or power.is_complex():
            raise InferenceError("power must be a real frames-major (T, F) tensor |x|^2")
        self.power = power
        self.decoder = decoder
        self.default_e_step = e_step
        self.prior_correction = prior_correction
        self.exponent = exponent
        self.m_step_updates = m_step_updates
        self.update = update
        self.floor_epsilon = floor_epsilon
        self.nmf_prior = nmf_prior

    def init_state(
        self,
        rank: int,
        position: torch.Tensor,
        generator: torch.Generator | None = None,
        params: NMFParams | None = None,
    ) -> NMFEMState:
        """Random NMF (:func:`inference.nmf.init_nmf`) unless ``params``; chains at ``position``
        (``(C, T, D)`` or ``(T, D)``), the E-step's state from its ``init``."""
        if position.ndim == 2:
            position = position.unsqueeze(0)
        if position.shape[-2] != self.power.shape[0]:
            raise InferenceError(
                f"position must be (C, T, D) with T = {self.power.shape[0]}; "
                f"got {tuple(position.shape)}"
            )
        if params is None:
            params = init_nmf(self.power, rank, generator)
        return NMFEMState(params, self.default_e_step.init(position))

    def log_density(self, params: NMFParams) -> LogDensityFn:
        """The fused per-frame log joint at ``params`` (``W H`` computed once), with the prior
        correction when there is one."""
        base = GaussianScaleLogDensity(
            self.power, self.decoder, nmf_variance(params.W, params.H), params.gain
        )
        return (
            base if self.prior_correction is None else CorrectedDensity(base, self.prior_correction)
        )

    def e_step(
        self,
        state: NMFEMState,
        generator: torch.Generator | None = None,
        *,
        e_step: EStep | None = None,
    ) -> tuple[NMFEMState, float | None]:
        """Run ``e_step`` (default: the problem's) from ``state.sampler``; decode the samples."""
        runner = self.default_e_step if e_step is None else e_step
        sampler, result = runner.step(state.sampler, self.log_density(state.params), generator)
        samples = result.samples.reshape(-1, *result.samples.shape[-2:])
        with torch.no_grad():
            source_variance = self.decoder(samples).exp_()
        new_state = replace(
            state, sampler=sampler, source_variance=source_variance, last_e_step=result
        )
        return new_state, result.acceptance_rate

    def m_step(self, state: NMFEMState) -> tuple[NMFEMState, float]:
        params = state.params
        floor = None
        if self.floor_epsilon is not None:
            floor = relative_floors(
                self.power, params.W.shape[1], state.source_variance, self.floor_epsilon
            )
        for _ in range(self.m_step_updates):
            params = nmf_step(
                self.power,
                state.source_variance,
                params,
                exponent=self.exponent,
                update=self.update,
                floor=floor,
                prior=self.nmf_prior,
            )
        if self.nmf_prior is None:
            objective = float(expected_is_divergence(self.power, state.source_variance, params))
        else:
            objective = float(
                map_objective(self.power, state.source_variance, params, self.nmf_prior)
            )
        return replace(state, params=params), objective

    @staticmethod
    def nonfinite_quantity(state: NMFEMState) -> str | None:
        """The name of the first quantity of ``state`` that holds a NaN or infinity, or
        ``None`` (what :func:`inference.em.run_em` checks after every step)."""
        quantities = {
            "the chains' positions": state.sampler.position,
            "the NMF dictionary W": state.params.W,
            "the NMF activations H": state.params.H,
            "the frame gains g": state.params.gain,
            "the decoded source variances": state.source_variance,
        }
        for name, value in quantities.items():
            if value is not None and not all_finite(value):
                return name
        return None

    def run(
        self,
        state: NMFEMState,
        *,
        n_iter: int,
        tol: float | None = None,
        generator: torch.Generator | None = None,
        callbacks: Sequence[EMCallback] = (),
    ) -> tuple[NMFEMState, History]:
        """:func:`inference.em.run_em` with this problem's steps."""
        return run_em(
            self.e_step,
            self.m_step,
            state,
            n_iter=n_iter,
            tol=tol,
            generator=generator,
            callbacks=callbacks,
            check=self.nonfinite_quantity,
        )


def wiener_gains(
    source_variance: torch.Tensor, gain: torch.Tensor, noise_variance: torch.Tensor
) -> torch.Tensor:
    """``g v^(r) / (g v^(r) + N)`` for every sample, ``(R, T, F)``."""
    scaled = source_variance * gain.unsqueeze(-1)
    return scaled / (scaled + noise_variance)


def posterior_source_moments(
    x: torch.Tensor, source_variance: torch.Tensor, gain: torch.Tensor, noise_variance: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Monte-Carlo posterior mean ``E[s | x]`` (complex ``(T, F)``) and variance ``Var[s | x]``.

    ``E[s|x] = mean_r G^(r) x / sqrt(g)`` with ``G^(r) = g v^(r) / (g v^(r) + N)``;
    ``Var[s|x] = mean_r [v^(r) N / (g v^(r) + N)] + mean_r |m^(r)|^2 - |E[s|x]|^2`` (law of total
    variance over the samples, ``m^(r) = G^(r) x / sqrt(g)``).
    """
    gains = wiener_gains(source_variance, gain, noise_variance)
    scale = gain.rsqrt().unsqueeze(-1)
    mean_gain = gains.mean(0)
    mean = mean_gain * scale * x
    conditional = (
        source_variance * noise_variance / (source_variance * gain.unsqueeze(-1) + noise_variance)
    ).mean(0)
    spread = (gains.square().mean(0) - mean_gain.square()) * (scale.square() * x.abs().square())
    return mean, conditional + spread


def posterior_image_moments(
    x: torch.Tensor, source_variance: torch.Tensor, gain: torch.Tensor, noise_variance: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and variance of the speech *image* ``y = sqrt(g) s``, ``(T, F)``.

    ``E[y | x] = mean_r G^(r) x`` and ``Var[y | x] = mean_r [g v^(r) N / (g v^(r) + N)] +
    (mean_r G^(r)^2 - (mean_r G^(r))^2) |x|^2`` with ``G^(r) = g v^(r) / (g v^(r) + N)``: the
    moments of :func:`posterior_source_moments` times ``sqrt(g)`` and ``g``, written without
    dividing by ``g``, so they stay finite as ``g -> 0`` (a frame without speech) and in silent
    frames, wherever ``g v + N > 0``.
    """
    speech = source_variance * gain.unsqueeze(-1)  # g v^(r)
    total = speech + noise_variance
    gains = speech / total
    mean_gain = gains.mean(0)
    conditional = (speech * noise_variance / total).mean(0)
    spread = (gains.square().mean(0) - mean_gain.square()).clamp_min_(0.0)
    return mean_gain * x, conditional + spread * x.abs().square()


def speech_share(power: torch.Tensor, state: NMFEMState) -> float:
    """The share of the observed power that the posterior-mean speech image takes,
    ``sum_tf (mean_r G^(r)_tf)^2 P_tf / sum_tf P_tf`` (between 0 and 1).

    A reference-free sign of *collapse*: when the noise model absorbs the speech (the NMF can
    fit speech too, and a latent posterior that falls back to the prior lets the gains shrink,
    which in turn makes the likelihood blind to the latents), the share falls towards 0 while
    the IS divergence keeps improving.
    """
    params = state.params
    speech = state.source_variance * params.gain.unsqueeze(-1)
    gains = speech.div_(speech + nmf_variance(params.W, params.H)).mean(0)
    return float((gains.square_() * power).sum() / power.sum())


def posterior_mean_source(x: torch.Tensor, state: NMFEMState) -> torch.Tensor:
    """``E[s | x]`` from the final EM state (uses its last samples and parameters)."""
    if state.source_variance is None:
        raise InferenceError("run at least one E-step before asking for the posterior mean")
    params = state.params
    gains = wiener_gains(state.source_variance, params.gain, nmf_variance(params.W, params.H))
    return gains.mean(0) * params.gain.rsqrt().unsqueeze(-1) * x
