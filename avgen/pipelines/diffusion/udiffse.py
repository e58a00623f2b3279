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
exponent 1/2) of ``W`` and ``H`` on the residual power ``|Y - x0_hat|^2`` (averaged over the
chains) -- EM inside the reverse process, as UDiffSE does.

The estimate is the mean of the final samples' waveforms; with ``n_samples > 1`` the spread of
the samples gives a posterior standard deviation per time-frequency bin.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from avgen.audio import SAMPLE_RATE
from avgen.errors import ConfigError
from avgen.pipelines.diffusion.common import (
    PRIOR_LEVEL_DB,
    SigmaSchedule,
    check_input,
    downsampling_factor,
    level_gain,
    resolve_device,
    resolve_prior,
    to_network,
    to_waveform,
)
from avgen.progress import progress_bar
from avgen.seeding import derive_seed, torch_generator

_POWER_FLOOR = 1e-8
"""Relative floor of powers and variances (IS-NMF needs them positive)."""


@dataclass(frozen=True)
class DiffusionEnhancement:
    """What :func:`enhance_diffusion` returns.

    Attributes:
        estimate: ``(N,)`` enhanced waveform at the level of the input.
        posterior_std: ``(F, T)`` standard deviation over the posterior samples of the
            compressed complex STFT (``sqrt(mean |X - mean X|^2)``) at the prior's operating
            level, or ``None`` with one sample.
        history: one dict per reverse step: ``step``, ``sigma``, ``is_divergence`` (IS
            divergence per bin of the residual power to ``W H``), ``noise_power`` (mean of ``W
            H``), ``residual_power`` (mean ``|Y - x0_hat|^2``).
        info: settings and summary (``n_evals``, ``seconds``, ``real_time_factor``,
            ``input_gain``, ``noise_variance`` ``(F, T)`` final ``W H`` at the prior's level).
    """

    estimate: torch.Tensor
    posterior_std: torch.Tensor | None
    history: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


class NMFNoiseStep:
    """The M-step of UDiffSE: IS-NMF multiplicative updates of the noise variance ``W H`` on the
    residual power ``|Y - x0_hat|^2`` of the real frames; the padded frames get a variance
    ``pad_variance`` (large: the prior alone decides there).

    ``params`` holds ``W`` ``(F, K)``, ``H`` ``(K, T)`` and ``noise_var`` ``(F, T')``, the
    per-component variance ``(W H) / 2`` the likelihood reads (``T' >= T`` padded frames).
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

    def variance(self, W: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
        """``(F, T')`` per-component variance ``(W H) / 2``, padded frames set aside."""
        v = (W @ H).clamp_min(self.floor) / 2.0
        return torch.nn.functional.pad(
            v, (0, self.total_frames - self.frames), value=self.pad_variance
        )

    def residual_power(self, x0_hat: torch.Tensor) -> torch.Tensor:
        """``(T, F)`` mean over chains of ``|Y - x0_hat|^2`` (frames-major, for IS-NMF)."""
        r = self.y - x0_hat[..., : self.frames]
        return r.square().sum(-3).mean(0).mT.clamp_min(self.floor)

    def __call__(self, x0_hat: torch.Tensor, params: dict[str, Any], event: Any) -> dict:
        from inference.nmf import NMFParams, nmf_step

        power = self.residual_power(x0_hat)
        nmf = NMFParams(params["W"], params["H"], torch.ones_like(power[:, 0]))
        for _ in range(self.n_updates):
            nmf = nmf_step(power, None, nmf, update=("H", "W"))
        return {
            **params,
            "W": nmf.W,
            "H": nmf.H,
            "noise_var": self.variance(nmf.W, nmf.H),
            "_power": power,
        }


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
) -> DiffusionEnhancement:
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
        n_samples: posterior samples drawn in one batch (``> 1`` gives ``posterior_std``).
        schedule: noise levels (default :class:`~.common.SigmaSchedule` with ``steps``).
        level_db: the prior's operating level (dBFS RMS).
        seed: seeds the sampler's noise and the NMF initialisation.
        device: ``"cpu"``, ``"cuda"``, ...
        progress: draw a progress bar (``None``: when stderr is a terminal).

    Raises:
        AudioError: for input that is not usable mono audio.
        ConfigError: for bad settings.
    """
    from inference.diffusion import PseudoLikelihood, posterior_sample
    from inference.nmf import init_nmf

    wav = check_input(noisy, "noisy")
    if nmf_rank < 1 or n_samples < 1 or likelihood_weight < 0:
        raise ConfigError("need nmf_rank >= 1, n_samples >= 1 and likelihood_weight >= 0")
    dev = resolve_device(device)
    denoiser = resolve_prior(prior, dev)
    sigma_data = float(denoiser.sigma_data)
    schedule = schedule or SigmaSchedule(steps=steps)
    sigmas = schedule.sigmas(sigma_data, dev)
    default_options = {"pc": {"snr": 0.5}, "ddim": {"eta": 1.0}}.get(sampler, {})
    options = {**default_options, **(sampler_options or {})}

    gain_in = level_gain(wav, level_db)
    y, frames = to_network(wav.to(dev) * gain_in, downsampling_factor(denoiser))
    m_step = NMFNoiseStep(y, frames, pad_variance=(schedule.max_factor * sigma_data) ** 2)
    generator = torch_generator(seed, dev)
    nmf = init_nmf(
        m_step.residual_power(torch.zeros_like(y)),
        nmf_rank,
        generator=torch_generator(derive_seed(seed, "nmf"), dev),
    )
    params = {"W": nmf.W, "H": nmf.H, "noise_var": m_step.variance(nmf.W, nmf.H)}
    likelihood = PseudoLikelihood(y, "noise_var", weight=likelihood_weight)

    x_T = float(sigmas[0]) * torch.randn((n_samples, *y.shape[1:]), generator=generator, device=dev)
    history: list[dict[str, Any]] = []
    bar = progress_bar(schedule.steps, "enhance", enabled=progress)

    def callback(event: Any) -> None:
        from inference.nmf import NMFParams, expected_is_divergence

        power = event.params["_power"]
        W, H = event.params["W"], event.params["H"]
        div = expected_is_divergence(power, None, NMFParams(W, H, torch.ones_like(power[:, 0])))
        history.append(
            {
                "step": event.index,
                "sigma": event.sigma,
                "is_divergence": float(div),
                "noise_power": float((W @ H).mean()),
                "residual_power": float(power.mean()),
            }
        )
        bar.update(1)

    t0 = time.perf_counter()
    try:
        result = posterior_sample(
            denoiser,
            x_T,
            sigmas,
            likelihood,
            sampler=sampler,
            sampler_options=options,
            params=params,
            m_steps=[m_step],
            generator=generator,
            callback=callback,
        )
    except ValueError as exc:  # an unknown sampler or option
        raise ConfigError(str(exc)) from None
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0

    estimate = to_waveform(result.x, frames, wav.shape[-1]).mean(0) / gain_in
    posterior_std = None
    if n_samples > 1:
        x = result.x[..., :frames]
        posterior_std = (x - x.mean(0)).square().sum(-3).mean(0).sqrt().cpu()
    W, H = result.params["W"], result.params["H"]
    info: dict[str, Any] = {
        "n_evals": result.n_evals,
        "seconds": elapsed,
        "real_time_factor": elapsed / (wav.shape[-1] / SAMPLE_RATE),
        "input_gain": gain_in,
        "sampler": sampler,
        "sampler_options": options,
        "steps": schedule.steps,
        "nmf_rank": nmf_rank,
        "likelihood_weight": likelihood_weight,
        "n_samples": n_samples,
        "sigma_max": float(sigmas[0]),
        "seed": seed,
        "noise_variance": (W @ H).detach().cpu(),
    }
    return DiffusionEnhancement(estimate.detach().cpu(), posterior_std, history, info)
