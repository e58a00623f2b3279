r"""Unsupervised speech enhancement with a diffusion prior and NMF noise (UDiffSE).

Model (Nortier, Sadeghi & Serizel, 2024, "Unsupervised speech enhancement with diffusion-based
generative models"; Ayilo et al., 2025), in the prior's compressed complex STFT domain:

.. math::
    Y = X_0 + N,\qquad N_{ft} \sim \mathcal N_c\big(0, (WH)_{ft}\big),

with ``X_0`` distributed as the diffusion prior and a rank-``K`` NMF variance ``W H`` for the
noise (each real and imaginary part has variance ``(WH)_{ft} / 2``). The reverse process uses
UDiffSE's likelihood step (:class:`inference.diffusion.PseudoLikelihood`,
``p(Y | x; sigma) ~ N(Y; x, sigma^2 + v)``) inside the predictor-corrector sampler, and an
**M-step after every reverse step** re-estimates the noise variance from the current clean
estimate: one multiplicative IS-NMF update (:func:`inference.nmf.nmf_step`, the monotone MM
exponent 1/2) of ``W`` and ``H`` on the residual power ``P = |Y - x0_hat|^2`` (averaged over the
chains) -- EM inside the reverse process, as UDiffSE does. The step's objective is the
Itakura-Saito divergence per bin of ``P`` to ``W H`` after the update,

.. math::
    \frac{1}{TF}\sum_{ft} \frac{P_{ft}}{(WH)_{ft}} - \log\frac{P_{ft}}{(WH)_{ft}} - 1 .

Layouts: the network and the likelihood work bins-major (``(B, 2, F, T')``, ``T'`` padded
frames); :mod:`inference.nmf` works frames-major (``P`` ``(T, F)``, ``nmf_variance(W, H) =
(W H)^T``). :class:`NMFNoiseStep` converts at its two boundaries only: the residual power in
(:meth:`NMFNoiseStep.residual_power`, a transposed view), the likelihood's variance out
(:func:`avgen.audio.bins_major`). ``W`` ``(F, K)`` and ``H`` ``(K, T)`` are the same in both.

The estimate is the mean of the final samples' waveforms; with ``n_samples > 1`` the spread of
the samples gives a posterior variance per time-frequency bin (:mod:`.common`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from avgen.audio import DIFFUSION_STFT, bins_major
from avgen.errors import ConfigError
from avgen.pipelines.common import mono_input
from avgen.pipelines.diffusion.common import (
    PRIOR_LEVEL_DB,
    SigmaSchedule,
    choose_sampler,
    prepare,
    result,
    run_posterior,
)
from avgen.pipelines.result import PipelineResult
from avgen.seeding import derive_seed, torch_generator
from inference.diffusion import PseudoLikelihood, StepEvent
from inference.nmf import NMFParams, expected_is_divergence, init_nmf, nmf_step, nmf_variance

_POWER_FLOOR = 1e-8
"""Relative floor of powers and variances (IS-NMF needs them positive)."""

SAMPLER_DEFAULTS: dict[str, dict[str, Any]] = {"pc": {"snr": 0.5}, "ddim": {"eta": 1.0}}
"""UDiffSE's settings of the stochastic samplers (overridden by ``sampler_options``)."""


class NMFFit(NamedTuple):
    """What the last M-step measured: ``objective`` the IS divergence per bin of the residual
    power to ``W H`` after the update, ``residual_power`` the mean ``|Y - x0_hat|^2``,
    ``noise_power`` the mean ``W H``."""

    objective: float
    residual_power: float
    noise_power: float


class UDiffSERecord(NamedTuple):
    """One reverse step of :func:`enhance_diffusion`: its index, its noise level ``sigma``, and
    the M-step's :class:`NMFFit` after it (``objective`` is the IS divergence per bin)."""

    step: int
    sigma: float
    objective: float
    noise_power: float
    residual_power: float


class NMFNoiseStep:
    """The M-step of UDiffSE: IS-NMF multiplicative updates of the noise variance ``W H`` on the
    residual power ``|Y - x0_hat|^2`` of the real frames; the padded frames get a variance
    ``pad_variance`` (large: the prior alone decides there).

    The sampler's ``params`` hold ``"nmf"``, an :class:`inference.nmf.NMFParams` (``W``
    ``(F, K)``, ``H`` ``(K, T)``, unit ``gain`` ``(T,)``), and ``"noise_var"`` ``(F, T')``, the
    per-component variance ``(W H) / 2`` the likelihood reads. After each call :attr:`last`
    holds the :class:`NMFFit` of that update.
    """

    def __init__(
        self, y: torch.Tensor, frames: int, pad_variance: float, n_updates: int = 1
    ) -> None:
        self.y = y[..., :frames]
        self.frames = frames
        self.total_frames = y.shape[-1]
        self.pad_variance = float(pad_variance)
        self.n_updates = int(n_updates)
        self.floor = _POWER_FLOOR * float(self.y.square().sum(-3).mean())
        self.last: NMFFit | None = None

    def residual_power(self, x0_hat: torch.Tensor) -> torch.Tensor:
        """``(T, F)`` mean over chains of ``|Y - x0_hat|^2`` (frames-major, for IS-NMF).

        The layout changes here by a transposed *view*, not :func:`avgen.audio.frames_major`'s
        contiguous copy: the reductions of :mod:`inference.nmf` (``init_nmf``'s mean power)
        then sum in the same order as before the refactoring, so a seed gives the same
        numbers to the bit."""
        r = self.y - x0_hat[..., : self.frames]
        return r.square().sum(-3).mean(0).mT.clamp_min(self.floor)

    def variance(self, nmf: NMFParams) -> torch.Tensor:
        """``(F, T')`` per-component variance ``(W H) / 2`` (bins-major, for the likelihood),
        the padded frames set to ``pad_variance``."""
        v = bins_major(nmf_variance(nmf.W, nmf.H)).clamp_min(self.floor) / 2.0
        return torch.nn.functional.pad(
            v, (0, self.total_frames - self.frames), value=self.pad_variance
        )

    def initial_params(self, rank: int, generator: torch.Generator) -> dict[str, Any]:
        """Random positive factors scaled to the power of ``Y`` (:func:`inference.nmf.init_nmf`)."""
        nmf = init_nmf(self.residual_power(torch.zeros_like(self.y)), rank, generator=generator)
        return {"nmf": nmf, "noise_var": self.variance(nmf)}

    def __call__(
        self, x0_hat: torch.Tensor, params: dict[str, Any], event: StepEvent
    ) -> dict[str, Any]:
        power = self.residual_power(x0_hat)
        nmf = params["nmf"]
        for _ in range(self.n_updates):
            nmf = nmf_step(power, None, nmf, update=("H", "W"))
        self.last = NMFFit(
            float(expected_is_divergence(power, None, nmf)),
            float(power.mean()),
            float(nmf_variance(nmf.W, nmf.H).mean()),
        )
        return {**params, "nmf": nmf, "noise_var": self.variance(nmf)}


def enhance_diffusion(
    noisy: torch.Tensor,
    *,
    prior: Any = None,
    sampler: str = "pc",
    steps: int = 30,
    sampler_options: dict[str, Any] | None = None,
    nmf_rank: int = 4,
    likelihood_weight: float = 1.0,
    n_samples: int = 1,
    schedule: SigmaSchedule | None = None,
    level_db: float = PRIOR_LEVEL_DB,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
) -> PipelineResult:
    """Enhance ``noisy`` ``(N,)`` (16 kHz) with a diffusion prior of clean speech and NMF noise
    estimated during the reverse process (see the module docstring).

    Args:
        prior: ``None`` (the bundled prior), a checkpoint path, or a denoiser module with
            ``sigma_data``.
        sampler: a name of :data:`inference.diffusion.SAMPLERS`; UDiffSE's likelihood step needs
            a stochastic one (``"pc"``, the default, with ``snr=0.5`` as UDiffSE; ``"ddim"`` with
            ``eta=1``; ``"heun"`` with churn). ``sampler_options`` override its options.
        steps: reverse steps (``"pc"`` evaluates the prior twice per step).
        nmf_rank: ``K``, the number of NMF components of the noise.
        likelihood_weight: UDiffSE's ``lambda``.
        n_samples: posterior samples drawn in one batch (``> 1`` gives ``uncertainty``).
        schedule: noise levels (default :class:`~.common.SigmaSchedule` with ``steps``).
        level_db: the prior's operating level (dBFS RMS).
        seed: seeds the sampler's noise and the NMF initialisation.
        device: ``"cpu"``, ``"cuda"``, ...
        progress: draw a progress bar (``None``: when stderr is a terminal).

    Returns:
        A :class:`~avgen.pipelines.result.PipelineResult`: ``estimate`` at the input's level;
        ``spectrum``, ``uncertainty`` (posterior variance, ``n_samples > 1``),
        ``observation_power`` and ``noise`` (the fitted :class:`~inference.nmf.NMFParams`) in
        the compressed STFT at the prior's level; ``history`` one :class:`UDiffSERecord` per
        reverse step; ``info`` the settings, ``n_evals``, ``input_gain``, timings.

    Raises:
        AudioError: for input that is not usable mono audio.
        ConfigError: for bad settings (an unknown sampler or option included), before sampling.
    """
    wav = mono_input(noisy, name="noisy", min_samples=DIFFUSION_STFT.n_fft)
    if nmf_rank < 1 or n_samples < 1 or likelihood_weight < 0:
        raise ConfigError("need nmf_rank >= 1, n_samples >= 1 and likelihood_weight >= 0")
    schedule = schedule or SigmaSchedule(steps=steps)
    schedule.check()
    choice = choose_sampler(
        sampler, sampler_options, n_steps=schedule.steps, defaults=SAMPLER_DEFAULTS
    )
    problem = prepare(wav, prior=prior, schedule=schedule, level_db=level_db, device=device)
    sigma_data = float(problem.denoiser.sigma_data)
    m_step = NMFNoiseStep(
        problem.y, problem.frames, pad_variance=(schedule.max_factor * sigma_data) ** 2
    )
    params = m_step.initial_params(
        nmf_rank, torch_generator(derive_seed(seed, "nmf"), problem.device)
    )

    def record(event: StepEvent) -> UDiffSERecord:
        fit = m_step.last
        assert fit is not None  # the M-step runs before the record
        return UDiffSERecord(
            step=event.index,
            sigma=event.sigma,
            objective=fit.objective,
            noise_power=fit.noise_power,
            residual_power=fit.residual_power,
        )

    run = run_posterior(
        problem,
        PseudoLikelihood(problem.y, "noise_var", weight=likelihood_weight),
        choice,
        params=params,
        m_steps=[m_step],
        record=record,
        n_samples=n_samples,
        seed=seed,
        desc="enhance",
        progress=progress,
        postfix=lambda r: {"IS": f"{r.objective:.4f}"},
    )
    nmf = run.params["nmf"]
    return result(
        problem,
        run,
        choice,
        pipeline="udiffse",
        seed=seed,
        noise=NMFParams(*(t.detach().cpu() for t in nmf)),
        nmf_rank=nmf_rank,
        likelihood_weight=likelihood_weight,
        objective="IS divergence per bin of |Y - x0_hat|^2 to W H after each M-step",
    )
