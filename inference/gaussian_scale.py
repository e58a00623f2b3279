"""Gaussian-scale observation with a decoded variance and a fixed variance part.

The model, per frame ``t`` (independent frames, frequency ``f`` as the event dimension)::

    z_t            ~ N(0, I_D)
    v_t            = exp(decoder(z_t))                       (F positive variances)
    x_ft | z_t     ~ N_c(0, g_t v_ft + c_ft)

It is the marginal of ``x = sqrt(g) s + b`` with ``s_ft | z_t ~ N_c(0, v_ft)`` and an independent
``b_ft ~ N_c(0, c_ft)``, the VAE-NMF observation model of Leglaive et al. (2018) and Sadeghi et
al. (2020), where ``c = W H`` is an NMF variance. Nothing here knows what ``x`` is.

Two views of the same density:

* :func:`gaussian_scale_model` is the Pyro model, the *specification*. With the exact complex
  Gaussian likelihood (``Normal(0, sqrt(V/2))`` on ``view_as_real(x)``) its per-frame log joint is
  ``-sum_f [log(pi V_ft) + |x_ft|^2 / V_ft] - ||z_t||^2/2 - (D/2) log(2 pi)`` with
  ``V = g v + c``; with ``likelihood="exponential"`` (``Exponential(1/V)`` on ``|x|^2``) the
  ``log pi`` terms disappear.
* :class:`GaussianScaleLogDensity` is the fused per-frame density used in hot loops::

      log p(z_t, x_t) + const = -sum_f [log V_ft + |x_ft|^2 / V_ft] - ||z_t||^2 / 2

  i.e. the complex-Normal trace plus ``F log(pi) + (D/2) log(2 pi)`` (see
  :meth:`GaussianScaleLogDensity.constant_offset`). ``c`` is fixed for a whole E-step, the layout is
  frames-major ``(T, F)``, and without gradients the ``(T, F)`` work is done in place on the
  decoder's output, one decoder call per evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pyro
import pyro.distributions as dist
import torch

from inference.errors import InferenceError

Decoder = Callable[[torch.Tensor], torch.Tensor]
"""``decoder(z)``: ``(..., T, D) -> (..., T, F)`` log-variances; must return a fresh tensor."""

LIKELIHOODS = ("complex_normal", "exponential")


def _check_observation(
    power: torch.Tensor, gain: torch.Tensor | None, fixed_variance: torch.Tensor
) -> tuple[int, int]:
    if power.ndim != 2:
        raise InferenceError(
            f"observation must be frames-major (T, F); got shape "
            f"{tuple(power.shape)}: transpose an (F, T) spectrogram first"
        )
    n_frames, n_bins = power.shape
    if fixed_variance.shape[-2:] != (n_frames, n_bins):
        raise InferenceError(
            f"fixed_variance must have shape (T, F) = {(n_frames, n_bins)}; "
            f"got {tuple(fixed_variance.shape)}"
        )
    if gain is not None and gain.shape != (n_frames,):
        raise InferenceError(f"gain must have shape (T,) = ({n_frames},); got {tuple(gain.shape)}")
    return n_frames, n_bins


def gaussian_scale_model(
    x: torch.Tensor,
    decoder: Decoder,
    fixed_variance: torch.Tensor,
    latent_dim: int,
    gain: torch.Tensor | None = None,
    likelihood: str = "complex_normal",
    latent_prior: dist.Distribution | None = None,
) -> None:
    """Pyro model of ``x_ft | z_t ~ N_c(0, g_t exp(decoder(z_t))_f + c_ft)``, ``z_t ~ N(0, I)``
    (or ``z_t ~ latent_prior``).

    Args:
        x: complex observation, frames-major ``(T, F)`` (for ``likelihood="exponential"`` a real
            non-negative power ``|x|^2`` is also accepted).
        decoder: ``(..., T, D) -> (..., T, F)`` log-variances.
        fixed_variance: ``c``, positive ``(T, F)``.
        latent_dim: ``D``.
        gain: ``g``, positive ``(T,)``; ``None`` means 1.
        likelihood: ``"complex_normal"`` (exact, the test oracle) or ``"exponential"`` (the same
            density of ``|x|^2`` up to ``log pi`` per bin, about half the cost).
        latent_prior: ``p(z_t)`` with batch shape ``(T,)`` and event shape ``(D,)`` (e.g. a
            conditional Gaussian or a ``MixtureSameFamily``); ``None``: ``N(0, I_D)``. See
            :mod:`inference.noisy_posterior`.

    Sample sites: ``"z"`` (latent, ``(T, D)``, event dim 1) and ``"x"`` (observed) inside the plate
    ``"frames"`` at ``dim=-1``. Chains broadcast on the left of a conditioned ``z``.
    """
    if likelihood not in LIKELIHOODS:
        raise InferenceError(f"likelihood must be one of {LIKELIHOODS}; got {likelihood!r}")
    power_like = x if not x.is_complex() else x.real
    _check_observation(power_like, gain, fixed_variance)
    n_frames = x.shape[-2]
    real_dtype = power_like.dtype
    with pyro.plate("frames", n_frames, dim=-1):
        if latent_prior is None:
            loc = torch.zeros(latent_dim, dtype=real_dtype, device=x.device)
            latent_prior = dist.Normal(loc, 1.0).to_event(1)
        elif latent_prior.event_shape != (latent_dim,):
            raise InferenceError(
                f"latent_prior must have event shape ({latent_dim},); got "
                f"{tuple(latent_prior.event_shape)}"
            )
        z = pyro.sample("z", latent_prior)
        variance = decoder(z).exp()
        if gain is not None:
            variance = variance * gain.unsqueeze(-1)
        variance = variance + fixed_variance
        if likelihood == "complex_normal":
            if not x.is_complex():
                raise InferenceError("likelihood='complex_normal' needs the complex observation x")
            scale = (variance / 2).sqrt().unsqueeze(-1)
            pyro.sample("x", dist.Normal(0.0, scale).to_event(2), obs=torch.view_as_real(x))
        else:
            power = x.abs().square() if x.is_complex() else x
            pyro.sample("x", dist.Exponential(variance.reciprocal()).to_event(1), obs=power)


class GaussianScaleLogDensity:
    """Fused per-frame log density ``-sum_f [log V + P / V] - ||z||^2/2``, ``V = g v(z) + c``.

    Args:
        power: ``P = |x|^2``, frames-major ``(T, F)``.
        decoder: ``(..., T, D) -> (..., T, F)`` log-variances (e.g. an ``nn.Module``).
        fixed_variance: ``c``, positive ``(T, F)`` (kept, not copied: update it between E-steps
            by building a new density, it is cheap).
        gain: ``g``, positive ``(T,)``; ``None`` means 1.

    Calling it on ``z`` of shape ``(..., T, D)`` returns ``(..., T)``. When autograd is off (or
    ``z`` does not require grad) the ``(T, F)`` arithmetic runs in place on the decoder output;
    otherwise an out-of-place path keeps the graph for gradients (MALA, Langevin, VEM).
    Gradients are meant for ``z``: when ``z`` does not require grad the evaluation runs under
    ``torch.no_grad()`` (to learn the decoder's weights, use :func:`gaussian_scale_model`).
    """

    def __init__(
        self,
        power: torch.Tensor,
        decoder: Decoder,
        fixed_variance: torch.Tensor,
        gain: torch.Tensor | None = None,
    ) -> None:
        _check_observation(power, gain, fixed_variance)
        if power.is_complex():
            raise InferenceError("power must be real |x|^2; pass x.abs().square()")
        self.power = power
        self.decoder = decoder
        self.fixed_variance = fixed_variance
        self.gain = None if gain is None else gain.unsqueeze(-1)
        # V = g (v + c/g): log V + P/V = log g + log(v + c/g) + (P/g) / (v + c/g), so the
        # per-call work is exp, add, log, addcdiv, sum (P/g, c/g and F log g once per E-step)
        if gain is None:
            self._power, self._fixed, self._log_gain = power, fixed_variance, None
        else:
            self._power = power / self.gain
            self._fixed = fixed_variance / self.gain
            self._log_gain = gain.log().mul(power.shape[-1])

    @property
    def n_bins(self) -> int:
        return self.power.shape[-1]

    def constant_offset(self, latent_dim: int) -> float:
        """``F log(pi) + (D/2) log(2 pi)``: this density minus the complex-Normal trace's."""
        return self.n_bins * math.log(math.pi) + 0.5 * latent_dim * math.log(2 * math.pi)

    def source_variance(self, z: torch.Tensor) -> torch.Tensor:
        """``v = exp(decoder(z))``, ``(..., T, F)``."""
        return self.decoder(z).exp()

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        log_prior = z.square().sum(-1).mul(-0.5)
        if torch.is_grad_enabled() and z.requires_grad:  # out of place, for autograd
            scaled = self.decoder(z).exp() + self._fixed  # V / g
            log_joint = log_prior - (scaled.log() + self._power / scaled).sum(-1)
            return log_joint if self._log_gain is None else log_joint - self._log_gain
        with torch.no_grad():  # the same, in place
            scaled = self.decoder(z).exp_().add_(self._fixed)
            terms = scaled.log().addcdiv_(self._power, scaled)  # log(V/g) + P/V
            log_prior.sub_(terms.sum(-1))
            return log_prior if self._log_gain is None else log_prior.sub_(self._log_gain)
