"""Noise schedules: descending noise levels ``sigma_0 > ... > sigma_{N-1} > sigma_N = 0``.

Every sampler in this package integrates the variance-exploding process of EDM
(Karras et al., 2022), ``x = x0 + sigma eps``; a schedule is only the list of ``sigma`` at which
the solver stops. Processes written with a scale ``s(t)`` and noise ``std(t)``,
``x_t = s(t) x0 + std(t) eps`` (VP, OUVE), are the same process up to the change of variables
``x = x_t / s(t)`` with ``sigma(t) = std(t) / s(t)`` (Karras et al., 2022, Sec. 4 and App. B),
so their schedules are given here as the ``sigma`` of that equivalent VE process, and the maps
``t <-> sigma`` and ``x_t <-> x`` are provided where a model was trained in ``t``.

* :func:`karras_sigmas` -- EDM, Eq. (5):
  ``(smax^(1/rho) + i/(N-1) (smin^(1/rho) - smax^(1/rho)))^rho``.
* :func:`ve_sigmas` -- Song et al. (2021) VE SDE, ``sigma(t) = smin (smax/smin)^t``, ``t`` uniform.
* :func:`vp_sigmas` -- Song et al. (2021) VP SDE with linear ``beta(t)``,
  ``alpha_bar(t) = exp(-beta_min t - (beta_max - beta_min) t^2 / 2)``,
  ``sigma(t) = sqrt(1 / alpha_bar(t) - 1)``, ``s(t) = sqrt(alpha_bar(t))``.
* :class:`OUVE` / :func:`ouve_sigmas` -- the Ornstein-Uhlenbeck variance-exploding SDE of
  SGMSE+ (Richter et al., 2023).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import InferenceError

Tensorish = float | torch.Tensor


def _append_zero(sigmas: torch.Tensor) -> torch.Tensor:
    return torch.cat([sigmas, sigmas.new_zeros(1)])


def _check_count(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InferenceError(f"the number of steps must be a positive integer, got {n!r}")


def _check_range(sigma_min: float, sigma_max: float) -> None:
    if not (0.0 < sigma_min < sigma_max < math.inf):
        raise InferenceError(
            f"need 0 < sigma_min < sigma_max < inf, got sigma_min={sigma_min}, "
            f"sigma_max={sigma_max}"
        )


def _unit_ramp(n: int, dtype: torch.dtype, device: Any) -> torch.Tensor:
    """``i / (N - 1)`` for ``i = 0..N-1`` (``[0]`` when ``N = 1``)."""
    if n == 1:
        return torch.zeros(1, dtype=dtype, device=device)
    return torch.linspace(0.0, 1.0, n, dtype=dtype, device=device)


def karras_sigmas(
    n: int,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
    *,
    dtype: torch.dtype = torch.float64,
    device: Any = None,
) -> torch.Tensor:
    """EDM schedule (Karras et al., 2022, Eq. 5): ``N`` levels from ``sigma_max`` to
    ``sigma_min``, equally spaced in ``sigma^(1/rho)``, then a final 0 (``N + 1`` values)."""
    _check_count(n)
    _check_range(sigma_min, sigma_max)
    if rho <= 0:
        raise InferenceError(f"rho must be positive, got {rho}")
    ramp = _unit_ramp(n, dtype, device)
    lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
    return _append_zero((hi + ramp * (lo - hi)) ** rho)


def ve_sigma(t: Tensorish, sigma_min: float = 0.01, sigma_max: float = 50.0) -> torch.Tensor:
    """VE SDE noise level ``sigma(t) = sigma_min (sigma_max / sigma_min)^t``."""
    t = torch.as_tensor(t, dtype=torch.float64)
    return sigma_min * (sigma_max / sigma_min) ** t


def ve_time(sigma: Tensorish, sigma_min: float = 0.01, sigma_max: float = 50.0) -> torch.Tensor:
    """Inverse of :func:`ve_sigma`."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    return torch.log(sigma / sigma_min) / math.log(sigma_max / sigma_min)


def ve_sigmas(
    n: int,
    sigma_min: float = 0.01,
    sigma_max: float = 50.0,
    *,
    dtype: torch.dtype = torch.float64,
    device: Any = None,
) -> torch.Tensor:
    """VE schedule (Song et al., 2021): ``sigma(t)`` at ``t`` uniform from 1 to 0, i.e. ``N``
    geometrically spaced levels from ``sigma_max`` to ``sigma_min``, then 0."""
    _check_count(n)
    _check_range(sigma_min, sigma_max)
    ramp = _unit_ramp(n, dtype, device)
    return _append_zero(sigma_max * (sigma_min / sigma_max) ** ramp)


def vp_sigma(t: Tensorish, beta_min: float = 0.1, beta_max: float = 20.0) -> torch.Tensor:
    """VE-equivalent noise level of the VP SDE: ``sqrt(exp(beta_min t + beta_d t^2 / 2) - 1)``."""
    t = torch.as_tensor(t, dtype=torch.float64)
    return torch.expm1(beta_min * t + 0.5 * (beta_max - beta_min) * t.square()).sqrt()


def vp_time(sigma: Tensorish, beta_min: float = 0.1, beta_max: float = 20.0) -> torch.Tensor:
    """Inverse of :func:`vp_sigma`: the positive root of
    ``beta_d t^2 / 2 + beta_min t = log(1 + sigma^2)``."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    beta_d = beta_max - beta_min
    log_var = torch.log1p(sigma.square())
    if beta_d == 0:
        return log_var / beta_min
    return ((beta_min**2 + 2.0 * beta_d * log_var).sqrt() - beta_min) / beta_d


def vp_scale(sigma: Tensorish) -> torch.Tensor:
    """``s = sqrt(alpha_bar) = 1 / sqrt(1 + sigma^2)``: ``x_vp = s * x`` for the VE state ``x``."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    return torch.rsqrt(1.0 + sigma.square())


def vp_sigmas(
    n: int,
    beta_min: float = 0.1,
    beta_max: float = 20.0,
    t_min: float = 1e-3,
    *,
    dtype: torch.dtype = torch.float64,
    device: Any = None,
) -> torch.Tensor:
    """VP schedule (Song et al., 2021) as VE-equivalent sigmas: :func:`vp_sigma` at ``N`` times
    uniform from 1 down to ``t_min``, then 0."""
    _check_count(n)
    if not (0.0 < t_min < 1.0) or beta_min <= 0 or beta_max < beta_min:
        raise InferenceError(
            f"need 0 < t_min < 1 and 0 < beta_min <= beta_max, got t_min={t_min}, "
            f"beta_min={beta_min}, beta_max={beta_max}"
        )
    t = 1.0 + _unit_ramp(n, torch.float64, device) * (t_min - 1.0)
    return _append_zero(vp_sigma(t, beta_min, beta_max).to(dtype))


@dataclass(frozen=True)
class OUVE:
    """Ornstein-Uhlenbeck variance-exploding SDE of SGMSE+ (Richter et al., 2023)::

        dx_t = gamma (y - x_t) dt + g(t) dw,
        g(t) = sigma_min (sigma_max / sigma_min)^t sqrt(2 log(sigma_max / sigma_min)).

    With ``L = log(sigma_max / sigma_min)`` its marginal is Gaussian with

        mean  = s(t) x0 + (1 - s(t)) y,     s(t) = exp(-gamma t),
        std^2 = sigma_min^2 L / (gamma + L) (exp(2 L t) - exp(-2 gamma t)).

    Hence ``x = (x_t - y) / s(t) + y = x0 + sigma(t) eps`` is the EDM variance-exploding process
    centred on ``y``, with ``sigma(t) = std(t) / s(t)``, which inverts in closed form:
    ``sigma^2 = sigma_min^2 L / (gamma + L) (exp(2 (gamma + L) t) - 1)``. The mean-reverting
    drift is thereby absorbed in the change of variables (:meth:`to_edm`, :meth:`from_edm`) and
    every sampler of this package runs on OUVE models unchanged. For an unconditional prior take
    ``y = 0`` (or the data mean).
    """

    gamma: float = 1.5
    sigma_min: float = 0.05
    sigma_max: float = 0.5

    def __post_init__(self) -> None:
        _check_range(self.sigma_min, self.sigma_max)
        if self.gamma < 0:
            raise InferenceError(f"gamma must be >= 0, got {self.gamma}")

    @property
    def _log_ratio(self) -> float:
        return math.log(self.sigma_max / self.sigma_min)

    def mean_scale(self, t: Tensorish) -> torch.Tensor:
        """``s(t) = exp(-gamma t)``, the weight of ``x0`` in the mean."""
        return torch.exp(-self.gamma * torch.as_tensor(t, dtype=torch.float64))

    def std(self, t: Tensorish) -> torch.Tensor:
        """Marginal standard deviation of ``x_t`` given ``x0``."""
        t = torch.as_tensor(t, dtype=torch.float64)
        lr = self._log_ratio
        var = (torch.exp(2 * lr * t) - torch.exp(-2 * self.gamma * t)) * lr / (self.gamma + lr)
        return self.sigma_min * var.sqrt()

    def sigma(self, t: Tensorish) -> torch.Tensor:
        """EDM noise level of the equivalent VE process, ``std(t) / s(t)``."""
        t = torch.as_tensor(t, dtype=torch.float64)
        lr = self._log_ratio
        rate = 2.0 * (self.gamma + lr)
        return self.sigma_min * (torch.expm1(rate * t) * lr / (self.gamma + lr)).sqrt()

    def time(self, sigma: Tensorish) -> torch.Tensor:
        """Inverse of :meth:`sigma`."""
        sigma = torch.as_tensor(sigma, dtype=torch.float64)
        lr = self._log_ratio
        rate = 2.0 * (self.gamma + lr)
        return torch.log1p((sigma / self.sigma_min).square() * (self.gamma + lr) / lr) / rate

    def drift(self, x: torch.Tensor, y: torch.Tensor | float, t: Tensorish) -> torch.Tensor:
        """Forward drift ``gamma (y - x)``."""
        del t
        return self.gamma * (y - x)

    def diffusion(self, t: Tensorish) -> torch.Tensor:
        """Forward diffusion coefficient ``g(t)``."""
        t = torch.as_tensor(t, dtype=torch.float64)
        lr = self._log_ratio
        return self.sigma_min * torch.exp(lr * t) * math.sqrt(2.0 * lr)

    def to_edm(
        self, x_t: torch.Tensor, t: Tensorish, y: torch.Tensor | float = 0.0
    ) -> torch.Tensor:
        """``x = (x_t - y) / s(t) + y``: an OUVE state as a state of the EDM VE process."""
        s = self.mean_scale(t).to(dtype=_real(x_t), device=x_t.device)
        return (x_t - y) / s + y

    def from_edm(
        self, x: torch.Tensor, t: Tensorish, y: torch.Tensor | float = 0.0
    ) -> torch.Tensor:
        """Inverse of :meth:`to_edm`: ``x_t = s(t) (x - y) + y``."""
        s = self.mean_scale(t).to(dtype=_real(x), device=x.device)
        return s * (x - y) + y

    def sigmas(
        self, n: int, t_min: float = 0.03, *, dtype: torch.dtype = torch.float64, device: Any = None
    ) -> torch.Tensor:
        """``sigma(t)`` at ``N`` times uniform from 1 down to ``t_min`` (SGMSE+ uses 0.03),
        then 0."""
        _check_count(n)
        if not 0.0 < t_min < 1.0:
            raise InferenceError(f"need 0 < t_min < 1, got {t_min}")
        t = 1.0 + _unit_ramp(n, torch.float64, device) * (t_min - 1.0)
        return _append_zero(self.sigma(t).to(dtype))


def _real(x: torch.Tensor) -> torch.dtype:
    return x.real.dtype if x.is_complex() else x.dtype


def ouve_sigmas(
    n: int,
    gamma: float = 1.5,
    sigma_min: float = 0.05,
    sigma_max: float = 0.5,
    t_min: float = 0.03,
    *,
    dtype: torch.dtype = torch.float64,
    device: Any = None,
) -> torch.Tensor:
    """EDM-equivalent sigmas of the OUVE SDE (SGMSE+ defaults); see :class:`OUVE`."""
    return OUVE(gamma, sigma_min, sigma_max).sigmas(n, t_min, dtype=dtype, device=device)


def check_sigmas(sigmas: torch.Tensor | list[float]) -> list[float]:
    """Validate a schedule and return it as Python floats.

    A schedule is a 1-D sequence of at least two finite levels, strictly decreasing and
    non-negative; 0 may only appear last (the clean-data end).
    """
    t = torch.as_tensor(sigmas, dtype=torch.float64)
    if t.ndim != 1 or t.numel() < 2:
        raise InferenceError(
            f"sigmas must be a 1-D schedule with at least 2 levels, got shape {tuple(t.shape)}"
        )
    if not torch.isfinite(t).all() or (t < 0).any():
        raise InferenceError("sigmas must be finite and non-negative")
    if not (t[1:] < t[:-1]).all():
        raise InferenceError("sigmas must be strictly decreasing (noisiest level first)")
    return [float(s) for s in t.cpu()]
