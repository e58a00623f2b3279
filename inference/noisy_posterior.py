"""The enhancement posterior ``p(z | x)`` at fixed NMF parameters, for any sampler.

For a latent prior ``p(z_t)`` (any distribution with batch shape ``(T,)`` and event shape
``(D,)``: a standard normal, a conditional Gaussian, a Gaussian mixture), a decoder of source
log-variances and a fixed noise variance ``c = W H`` (Leglaive et al. 2018; Sadeghi et al. 2020;
Sadeghi & Alameda-Pineda 2021), per frame

    z_t ~ p(z_t),   s_ft | z_t ~ N_c(0, v_ft(z_t)),   b_ft ~ N_c(0, c_ft),
    x_ft = sqrt(g_t) s_ft + b_ft,   so   x_ft | z_t ~ N_c(0, g_t v_ft(z_t) + c_ft)

(``s`` integrated out: it is Gaussian given ``z``, and keeping it would add ``2F`` dimensions per
frame to the sampler's state). :func:`noisy_observation_model` is this model in Pyro
(:func:`~inference.gaussian_scale.gaussian_scale_model` with its ``latent_prior``), the
specification; :class:`NoisyPosterior` holds it next to the fused density that the per-frame
kernels use,

    log_density(z)_t = -sum_f [log V_ft + |x_ft|^2 / V_ft] - ||z_t||^2 / 2 + correction(z_t)
                     = log p(x_t, z_t) + F log(pi) [+ (D/2) log(2 pi) when correction is None]

(:class:`~inference.gaussian_scale.GaussianScaleLogDensity` plus a prior correction
``||z||^2/2 + log p(z_t)`` from :mod:`inference.prior_terms`), and :func:`potential_fn`, the
negative joint log density summed over frames, which is what ``pyro.infer.HMC`` and ``NUTS``
take as ``potential_fn``. A test proves ``log_density - trace`` constant (values and gradients,
float64) for every speech prior of avgen.

Why not ``NUTS(model)`` on a VAE's own Pyro model: see ``docs/inference.md``, "NUTS on the
enhancement posterior". In short, the training models score the *clean* power (the wrong
posterior for enhancement), and the MIN-VAE's discrete ``alpha_t`` would have to be enumerated;
its mixture is summed out in closed form here (``MixtureSameFamily``), so the potential is a
smooth function of ``z`` alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
from torch.distributions import Distribution

from inference.errors import InferenceError
from inference.gaussian_scale import Decoder, GaussianScaleLogDensity, gaussian_scale_model
from inference.mh import LogDensityFn
from inference.prior_terms import CorrectedDensity


def noisy_observation_model(
    x: torch.Tensor,
    decoder: Decoder,
    fixed_variance: torch.Tensor,
    latent_prior: Distribution,
    gain: torch.Tensor | None = None,
    likelihood: str = "complex_normal",
) -> None:
    """Pyro model of ``x = sqrt(g) s + b`` given ``z ~ latent_prior`` (sites ``"z"``, ``"x"`` in
    the plate ``"frames"`` at ``dim=-1``); ``latent_prior`` has batch shape ``(T,)`` and event
    shape ``(D,)``. ``x`` complex ``(T, F)`` (or the power ``|x|^2`` with
    ``likelihood="exponential"``)."""
    gaussian_scale_model(
        x,
        decoder,
        fixed_variance,
        latent_prior.event_shape[-1],
        gain,
        likelihood=likelihood,
        latent_prior=latent_prior,
    )


def potential_fn(
    log_density_fn: LogDensityFn, site: str = "z", shape: tuple[int, ...] | None = None
) -> Callable[[Mapping[str, torch.Tensor]], torch.Tensor]:
    """``params -> -sum_t log_density_fn(z)_t`` for ``pyro.infer.HMC/NUTS(potential_fn=...)``.

    ``params[site]`` is ``z`` of shape ``(T, D)``, or flat ``(T * D,)`` when ``shape=(T, D)`` is
    given (e.g. for a sampler working on one vector). Frames are independent, so the sum is the
    joint log density of all frames; NUTS then moves all of them with one step size and one
    trajectory length (a per-frame kernel adapts one per frame).
    """

    def potential(params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        if site not in params:
            raise InferenceError(f"potential_fn expects params[{site!r}]; got {sorted(params)}")
        z = params[site]
        if shape is not None:
            z = z.reshape(shape)
        return -log_density_fn(z).sum()

    return potential


class NoisyPosterior:
    """One utterance's enhancement posterior at fixed NMF parameters, three ways.

    Args:
        x: the complex observation ``(T, F)`` (frames-major) or its power ``|x|^2``.
        decoder: ``(..., T, D) -> (..., T, F)`` source log-variances (lips bound if any).
        fixed_variance: ``c = W H``, ``(T, F)``.
        latent_prior: ``p(z_t)``, batch ``(T,)``, event ``(D,)``.
        gain: ``g``, ``(T,)``, or ``None`` (1).
        prior_correction: ``z -> ||z||^2/2 + log p(z_t)`` (fast), or ``None`` when ``p`` is
            ``N(0, I)``; it must agree with ``latent_prior`` (the tests check the speech priors).

    Attributes:
        log_density: the fused per-frame density for the per-frame kernels (``(..., T)``).
        constant_offset: ``log_density(z) - log p(x, z)`` per frame (for the complex
            likelihood; ``F log pi`` less with the power, whose Exponential density has no
            ``pi``).
    """

    def __init__(
        self,
        x: torch.Tensor,
        decoder: Decoder,
        fixed_variance: torch.Tensor,
        latent_prior: Distribution,
        gain: torch.Tensor | None = None,
        prior_correction: LogDensityFn | None = None,
    ) -> None:
        if latent_prior.batch_shape != x.shape[:1] or len(latent_prior.event_shape) != 1:
            raise InferenceError(
                f"latent_prior must have batch shape (T,) = {tuple(x.shape[:1])} and one event "
                f"dimension; got {tuple(latent_prior.batch_shape)} and "
                f"{tuple(latent_prior.event_shape)}"
            )
        self.x = x
        self.power = x.abs().square() if x.is_complex() else x
        self.decoder = decoder
        self.fixed_variance = fixed_variance
        self.latent_prior = latent_prior
        self.gain = gain
        self.latent_dim = latent_prior.event_shape[0]
        base = GaussianScaleLogDensity(self.power, decoder, fixed_variance, gain)
        self.log_density: LogDensityFn = (
            base if prior_correction is None else CorrectedDensity(base, prior_correction)
        )
        offset = self.power.shape[-1] * math.log(math.pi) if x.is_complex() else 0.0
        if prior_correction is None:
            offset += 0.5 * self.latent_dim * math.log(2 * math.pi)
        self.constant_offset = offset

    @property
    def likelihood(self) -> str:
        return "complex_normal" if self.x.is_complex() else "exponential"

    def model(self) -> None:
        """The Pyro specification (no arguments: the observation is bound)."""
        noisy_observation_model(
            self.x,
            self.decoder,
            self.fixed_variance,
            self.latent_prior,
            self.gain,
            likelihood=self.likelihood,
        )

    def potential_fn(
        self, flat: bool = False
    ) -> Callable[[Mapping[str, torch.Tensor]], torch.Tensor]:
        """:func:`potential_fn` of :attr:`log_density` on ``params["z"]`` (``(T, D)``, or
        ``(T * D,)`` when ``flat``)."""
        shape = (self.power.shape[0], self.latent_dim) if flat else None
        return potential_fn(self.log_density, "z", shape)
