"""Diffusion toolkit: schedules, denoiser preconditioning, samplers, posterior sampling.

Model-agnostic (never imports avgen). Convention (Karras et al., 2022, "EDM"): data ``x0``,
noisy ``x = x0 + sigma * eps``; a *denoiser* ``D(x, sigma, cond) ~ E[x0 | x]`` takes ``sigma`` of
shape ``(B,)`` and returns a tensor shaped like ``x``; the score is
``(D(x, sigma) - x) / sigma**2``. See ``docs/diffusion-samplers.md`` for the maths.

Modules: :mod:`.protocol` (the denoiser contract), :mod:`.schedules`, :mod:`.precond`,
:mod:`.samplers` (steps, ``sample_*``, registry), :mod:`.loop` (``run_sampler`` and its hooks),
:mod:`.guidance` (classifier-free guidance), :mod:`.posterior` (likelihood hooks, M-steps),
:mod:`.gaussian` (closed-form Gaussian oracles).
"""

from .gaussian import GaussianDenoiser, linear_gaussian_posterior, random_gaussian
from .guidance import classifier_free_guidance
from .loop import (
    LikelihoodHook,
    SampleResult,
    StepEvent,
    StepInfo,
    autocast_denoiser,
    run_sampler,
)
from .posterior import (
    DPS,
    GaussianLikelihood,
    Likelihood,
    ParameterGradientStep,
    PseudoLikelihood,
    conjugate_gradient,
    gaussian_log_likelihood,
    posterior_sample,
)
from .precond import EDMDenoiser, edm_coefficients, edm_loss
from .protocol import Denoiser, Params, score_from_denoiser
from .samplers import (
    SAMPLERS,
    Sampler,
    ddim_step,
    dpmpp_2m_step,
    euler_step,
    get_sampler,
    heun_step,
    pc_step,
    sample_ddim,
    sample_dpmpp_2m,
    sample_euler,
    sample_heun,
    sample_pc,
)
from .schedules import (
    OUVE,
    check_sigmas,
    karras_sigmas,
    ouve_sigmas,
    ve_sigma,
    ve_sigmas,
    ve_time,
    vp_scale,
    vp_sigma,
    vp_sigmas,
    vp_time,
)

__all__ = [
    "DPS",
    "OUVE",
    "SAMPLERS",
    "Denoiser",
    "EDMDenoiser",
    "GaussianDenoiser",
    "GaussianLikelihood",
    "Likelihood",
    "LikelihoodHook",
    "ParameterGradientStep",
    "Params",
    "PseudoLikelihood",
    "SampleResult",
    "Sampler",
    "StepEvent",
    "StepInfo",
    "autocast_denoiser",
    "check_sigmas",
    "classifier_free_guidance",
    "conjugate_gradient",
    "ddim_step",
    "dpmpp_2m_step",
    "edm_coefficients",
    "edm_loss",
    "euler_step",
    "gaussian_log_likelihood",
    "get_sampler",
    "heun_step",
    "karras_sigmas",
    "linear_gaussian_posterior",
    "ouve_sigmas",
    "pc_step",
    "posterior_sample",
    "random_gaussian",
    "run_sampler",
    "sample_ddim",
    "sample_dpmpp_2m",
    "sample_euler",
    "sample_heun",
    "sample_pc",
    "score_from_denoiser",
    "ve_sigma",
    "ve_sigmas",
    "ve_time",
    "vp_scale",
    "vp_sigma",
    "vp_sigmas",
    "vp_time",
]
