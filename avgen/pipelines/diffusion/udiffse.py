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
chains; by default its expected value instead, see below) -- EM inside the reverse process, as
UDiffSE does. The step's objective is the Itakura-Saito divergence per bin of ``P`` to ``W H``
after the update,

.. math::
    \frac{1}{TF}\sum_{ft} \frac{P_{ft}}{(WH)_{ft}} - \log\frac{P_{ft}}{(WH)_{ft}} - 1 .

Layouts: the network and the likelihood work bins-major (``(B, 2, F, T')``, ``T'`` padded
frames); :mod:`inference.nmf` works frames-major (``P`` ``(T, F)``, ``nmf_variance(W, H) =
(W H)^T``). :class:`NMFNoiseStep` converts at its two boundaries only: the residual power in
(:meth:`NMFNoiseStep.residual_power`, a transposed view), the likelihood's variance out
(:func:`avgen.audio.bins_major`). ``W`` ``(F, K)`` and ``H`` ``(K, T)`` are the same in both.

**Which residual the M-step fits** (``noise_from``, issue 16). Fitting ``W H`` to the plug-in
``|Y - x0_hat|^2`` of the *posterior* denoiser (``"posterior"``, as first written here) has a
degenerate fixed point: at high ``sigma`` the residual is the diffusion noise itself, ``W H``
follows ``sigma^2`` down, the likelihood keeps pulling ``x0_hat`` towards ``Y`` and the sample
ends on ``Y`` (measured on real ambience at 0 dB: ``W H`` 12-15 dB below the true noise power,
``|Y - x0_hat|^2`` 13 dB below it; the output 0.7 dB quieter than the input). ``"prior"`` fits
it to the prior's Tweedie estimate ``D(x, s)`` (fast UDiffSE, Ayilo et al., 2025;
:meth:`inference.diffusion.PseudoLikelihood.prior_estimate`). ``"expected"`` (the default) fits
it to the *expected* residual power ``E[|Y - X_0|^2 | x_s, Y]`` under a Gaussian approximation
of ``X_0 | x_s`` (:meth:`NMFNoiseStep.expected_residual_power`), the EM M-step proper: it keeps
the posterior variance that the plug-in drops, so that the true noise variance is a fixed point.
Below ``noise_until * sigma_data`` the noise model is frozen (default 2.5): there the prior
starts to explain the ambience as speech and the residual shrinks again.

**The estimate** (``estimate``): ``"wiener"`` (the default) filters ``Y`` with the gain
``P / (P + W H)``, ``P`` the samples' mean power (:func:`wiener_estimate`); ``"sample"`` is the
mean of the final samples' waveforms. With ``n_samples > 1`` the spread of the samples gives a
posterior variance per time-frequency bin (:mod:`.common`). ``warm_start`` starts the reverse
process from ``Y + sigma_0 eps`` at ``sigma_0 = warm_start * sigma_data`` (as UDiffSE's code
does, from the noisy spectrogram) instead of from noise at the schedule's ``sigma_max``.
"""

from __future__ import annotations

from dataclasses import replace
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

NOISE_FROM = ("posterior", "prior", "expected")
"""What the M-step fits ``W H`` to: ``|Y - x0_hat|^2`` of the posterior denoiser (UDiffSE as
first written here), of the prior's Tweedie estimate (fast UDiffSE, Ayilo et al., 2025), or the
expected residual power given the prior's estimate (:meth:`NMFNoiseStep.expected_residual_power`,
the default)."""

ESTIMATES = ("sample", "wiener")
"""The returned estimate: the mean of the samples, or the Wiener filter of ``Y`` built from the
samples' power and the fitted ``W H`` (:func:`wiener_estimate`)."""

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
    ``pad_variance`` (large: the prior alone decides there). With ``prior_of`` (the run's
    likelihood) it fits the prior's estimate ``D(x, s)`` instead of the posterior's ``x0_hat``;
    with ``sigma_data`` the expected residual power (:meth:`expected_residual_power`) instead of
    the plug-in one; below ``min_sigma`` it leaves ``W`` and ``H`` as they are.

    The sampler's ``params`` hold ``"nmf"``, an :class:`inference.nmf.NMFParams` (``W``
    ``(F, K)``, ``H`` ``(K, T)``, unit ``gain`` ``(T,)``), and ``"noise_var"`` ``(F, T')``, the
    per-component variance ``(W H) / 2`` the likelihood reads. After each call :attr:`last`
    holds the :class:`NMFFit` of that update.
    """

    def __init__(
        self,
        y: torch.Tensor,
        frames: int,
        pad_variance: float,
        n_updates: int = 1,
        prior_of: PseudoLikelihood | None = None,
        sigma_data: float | None = None,
        min_sigma: float = 0.0,
    ) -> None:
        self.min_sigma = float(min_sigma)
        self.prior_of = prior_of
        self.sigma_data = sigma_data
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

    def expected_residual_power(
        self, prior_x0: torch.Tensor, noise_var: torch.Tensor, sigma: float
    ) -> torch.Tensor:
        r"""``(T, F)`` ``E[|Y - X_0|^2 | x_s, Y]`` under the Gaussian approximation
        ``X_0 | x_s ~ N(D(x_s), c I)``, ``c = s^2 sigma_d^2 / (s^2 + sigma_d^2)`` (the isotropic
        Tweedie covariance of Pi-GDM, Song et al., 2023), and ``Y | X_0 ~ N(X_0, v)``:

        .. math::
            E|Y - X_0|^2 = \Big(\frac{v}{c + v}\Big)^2 |Y - D|^2 + 2\,\frac{c\,v}{c + v}

        per complex bin (``v``, ``c`` per real component), averaged over the chains. Unlike the
        plug-in ``|Y - x0_hat|^2`` it keeps the posterior variance, so that ``v`` = the true
        noise variance is a fixed point of the M-step (for Gaussians: ``E|Y - D|^2 = v + c``
        gives back ``v``) instead of shrinking towards 0 with ``s``."""
        assert self.sigma_data is not None
        c = sigma**2 * self.sigma_data**2 / (sigma**2 + self.sigma_data**2)
        v = noise_var[..., : self.frames]
        keep = v / (c + v)
        r = (self.y - prior_x0[..., : self.frames]).square().sum(-3)
        power = keep.square() * r + 2.0 * c * keep
        return power.mean(0).mT.clamp_min(self.floor)

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
        if self.prior_of is not None:
            x0_hat = self.prior_of.prior_estimate(
                x0_hat, event.info.x_eval, event.info.sigma_eval, params
            )
        if self.sigma_data is None:
            power = self.residual_power(x0_hat)
        else:
            power = self.expected_residual_power(x0_hat, params["noise_var"], event.info.sigma_eval)
        nmf = params["nmf"]
        frozen = event.info.sigma_eval < self.min_sigma
        for _ in range(0 if frozen else self.n_updates):
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
    noise_from: str = "expected",
    warm_start: float | None = None,
    nmf_updates: int = 1,
    noise_until: float = 2.5,
    estimate: str = "wiener",
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
        noise_from: what the M-step fits ``W H`` to (:data:`NOISE_FROM`, module docstring).
        warm_start: ``None`` (start from noise), or start from ``Y`` plus noise at
            ``warm_start * sigma_data`` (the schedule's ``max_factor`` is replaced by it).
        nmf_updates: multiplicative IS-NMF updates per M-step.
        noise_until: the noise model is frozen once ``sigma < noise_until * sigma_data``.
        estimate: ``"wiener"`` or ``"sample"`` (:data:`ESTIMATES`).
        schedule: noise levels (default :class:`~.common.SigmaSchedule` with ``steps``).
        level_db: the prior's operating level (dBFS RMS).
        seed: seeds the sampler's noise and the NMF initialisation.
        device: ``"cpu"``, ``"cuda"``, ...
        progress: draw a progress bar (``None``: when stderr is a terminal).

    Returns:
        A :class:`~avgen.pipelines.result.PipelineResult`: ``estimate`` at the input's level;
        ``spectrum``, ``uncertainty`` (the spread of the posterior samples, ``n_samples > 1``;
        with ``estimate="wiener"`` the estimate is the Wiener-type filter of those samples'
        power, not their mean, so this is the samples' variance, not the estimate's error),
        ``observation_power`` and ``noise`` (the fitted :class:`~inference.nmf.NMFParams`) in
        the compressed STFT at the prior's level; ``history`` one :class:`UDiffSERecord` per
        reverse step; ``info`` the settings, ``n_evals``, ``input_gain``, timings.

    Raises:
        AudioError: for input that is not usable mono audio.
        ConfigError: for bad settings (an unknown sampler or option included), before sampling.
    """
    wav = mono_input(noisy, name="noisy", min_samples=DIFFUSION_STFT.n_fft)
    if nmf_rank < 1 or n_samples < 1 or nmf_updates < 1 or likelihood_weight < 0:
        raise ConfigError(
            "need nmf_rank >= 1, n_samples >= 1, nmf_updates >= 1 and likelihood_weight >= 0"
        )
    if noise_from not in NOISE_FROM:
        raise ConfigError(f"noise_from must be one of {', '.join(NOISE_FROM)}, got {noise_from!r}")
    if estimate not in ESTIMATES:
        raise ConfigError(f"estimate must be one of {', '.join(ESTIMATES)}, got {estimate!r}")
    schedule = schedule or SigmaSchedule(steps=steps)
    if warm_start is not None:
        if not warm_start > schedule.min_factor:
            raise ConfigError(
                f"warm_start must exceed the schedule's min_factor {schedule.min_factor}, "
                f"got {warm_start}"
            )
        schedule = replace(schedule, max_factor=float(warm_start))
    schedule.check()
    choice = choose_sampler(
        sampler, sampler_options, n_steps=schedule.steps, defaults=SAMPLER_DEFAULTS
    )
    problem = prepare(wav, prior=prior, schedule=schedule, level_db=level_db, device=device)
    sigma_data = float(problem.denoiser.sigma_data)
    likelihood = PseudoLikelihood(problem.y, "noise_var", weight=likelihood_weight)
    m_step = NMFNoiseStep(
        problem.y,
        problem.frames,
        pad_variance=(schedule.max_factor * sigma_data) ** 2,
        n_updates=nmf_updates,
        prior_of=likelihood if noise_from in ("prior", "expected") else None,
        sigma_data=sigma_data if noise_from == "expected" else None,
        min_sigma=noise_until * sigma_data,
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
        likelihood,
        choice,
        params=params,
        m_steps=[m_step],
        record=record,
        n_samples=n_samples,
        seed=seed,
        start=None if warm_start is None else problem.y,
        desc="enhance",
        progress=progress,
        postfix=lambda r: {"IS": f"{r.objective:.4f}"},
    )
    nmf = run.params["nmf"]
    wiener = None
    if estimate == "wiener":
        wiener = wiener_estimate(problem.y, run.x, run.params["noise_var"], m_step.floor)
    return result(
        problem,
        run,
        choice,
        pipeline="udiffse",
        seed=seed,
        noise=NMFParams(*(t.detach().cpu() for t in nmf)),
        estimate=wiener,
        nmf_rank=nmf_rank,
        likelihood_weight=likelihood_weight,
        noise_from=noise_from,
        warm_start=warm_start,
        nmf_updates=nmf_updates,
        noise_until=noise_until,
        estimate_kind=estimate,
        objective=(
            "IS divergence per bin of the residual power the M-step fits ("
            + {
                "expected": "E|Y - X0|^2 under the prior's estimate and its variance",
                "prior": "|Y - D|^2 of the prior's estimate",
                "posterior": "|Y - x0_hat|^2 of the posterior estimate",
            }[noise_from]
            + ") to W H; below noise_until the noise model is frozen"
        ),
    )


def wiener_estimate(
    y: torch.Tensor, samples: torch.Tensor, noise_var: torch.Tensor, floor: float
) -> torch.Tensor:
    r"""The Wiener-type estimate ``(1, 2, F, T')`` of the clean compressed STFT from the
    posterior samples ``X^(r)`` ``(R, 2, F, T')`` and the fitted noise variance:

    .. math::
        \hat X_{ft} = \frac{P_{ft}}{P_{ft} + (WH)_{ft}}\, Y_{ft},\qquad
        P_{ft} = \frac1R \sum_r |X^{(r)}_{ft}|^2,

    the posterior-mean filter of ``Y = X + N`` when ``X`` and ``N`` are independent zero-mean
    Gaussians of variances ``P`` and ``W H`` (as the VAE-NMF family estimates its output,
    Leglaive et al., 2018). ``noise_var`` is the likelihood's per-component ``(W H) / 2``
    ``(F, T')``; powers are floored at ``floor``. The gain is real and in ``[0, 1]``: the
    estimate keeps the phase of ``Y`` and never exceeds it in magnitude."""
    power = samples.square().sum(-3).mean(0)
    gain = power / (power + 2.0 * noise_var).clamp_min(floor)
    return y * gain
