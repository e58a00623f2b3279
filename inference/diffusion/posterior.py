"""Posterior sampling with a diffusion prior: likelihood hooks and M-steps.

The posterior of ``x0`` given an observation ``y`` diffuses like the prior; its noisy score is

    grad_x log p_sigma(x | y) = grad_x log p_sigma(x) + grad_x log p(y | x; sigma),

with the intractable ``p(y | x; sigma) = int p(y | x0) p(x0 | x) dx0``. A likelihood hook
(:class:`~.loop.LikelihoodHook`) supplies an approximation of it to any sampler, either as a
*posterior denoiser* ``D(x, s) + s^2 grad_x log p(y | x; s)`` (``guide``) or as a correction of the
step (``correct``). Provided here:

* :class:`GaussianLikelihood` -- ``y = A x0 + n``, ``n ~ N(0, diag(v))``, ``A`` linear, with
  ``p(x0 | x)`` replaced by a Gaussian of mean ``D(x, s)`` and covariance ``C``:
  ``p(y | x; s) ~ N(y; A D, A C A^T + diag(v))``, whose score (holding ``C`` fixed) is
  ``J_D^T A^T (A C A^T + diag v)^{-1} (y - A D)``. ``covariance="tweedie"`` takes Tweedie's
  second moment ``C = s^2 J_D`` (TMPD, Boys et al., 2023), *exact when the prior is Gaussian*;
  ``"isotropic"`` takes ``C = r^2 I`` with ``r^2 = s^2 sd^2 / (s^2 + sd^2)`` (Pi-GDM, Song et
  al., 2023); ``"none"`` takes ``C = 0`` (the score form of DPS). Linear systems are solved by
  conjugate gradients with vector-Jacobian products.
* :class:`PseudoLikelihood` -- UDiffSE's noise-perturbed pseudo-likelihood for ``y = x0 + n``
  (Nortier, Sadeghi & Serizel, 2024; Ayilo et al., 2025): ``p(y | x; s) ~ N(y; x, s^2 + v)``,
  score ``(y - x) / (s^2 + v)`` scaled by a weight ``lambda``; no network Jacobian.
  (UDiffSE applies it as a separate update ``lambda g^2 dt * score`` after each reverse-SDE
  step, which equals adding it to the prior score inside the Euler-Maruyama predictor.)
* :class:`DPS` -- diffusion posterior sampling (Chung et al., 2023): after each prior step,
  ``x' <- x' - zeta grad_x ||W (y - A D(x))||`` ("gradient normalisation": Chung et al.'s
  ``zeta_i = zeta' / ||y - A x0_hat||`` on the squared norm), or ``zeta grad_x (-log p(y | D(x)))``
  without normalisation; any differentiable forward model and noise model.

M-steps (``m_step(x0_hat, params, event) -> params``, see :func:`~.loop.run_sampler`) update the
likelihood's parameters between reverse steps: EM inside the reverse process as UDiffSE does with
NMF noise, or :class:`ParameterGradientStep`, gradient steps on operator parameters
(BUDDy, Moliner et al., 2024).
(A little over 300 lines of code: the likelihood hooks and the M-steps share one protocol and
are kept side by side.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..errors import InferenceError
from .loop import Callback, MStep, SampleResult, StepEvent, StepInfo, run_sampler
from .protocol import Denoiser, Params, batch_dot, batch_view
from .samplers import get_sampler

Forward = Callable[[torch.Tensor, Params], torch.Tensor]
"""A forward operator ``A(x, params)`` mapping a batch ``(B, ...)`` to observations."""

LogLikelihood = Callable[[torch.Tensor, Params], torch.Tensor]
"""``log p(y | x0 = x, params)`` per sample, shape ``(B,)``."""

NoiseVariance = float | torch.Tensor | str | Callable[[Params], torch.Tensor]
"""Observation-noise variance: a number, a tensor broadcastable to ``y``, the name of an entry of
``params`` (so that M-steps can update it), or a function of ``params``."""


def resolve_noise_variance(noise_var: NoiseVariance, params: Params) -> torch.Tensor | float:
    """The variance ``noise_var`` stands for, given the current ``params``."""
    if isinstance(noise_var, str):
        if noise_var not in params:
            raise InferenceError(
                f"noise variance refers to params[{noise_var!r}], which is missing; "
                f"params has {sorted(params)}"
            )
        return params[noise_var]
    if callable(noise_var):
        return noise_var(params)
    return noise_var


def _apply(forward: Forward | None, x: torch.Tensor, params: Params) -> torch.Tensor:
    return x if forward is None else forward(x, params)


def _like(
    value: torch.Tensor | float, ref: torch.Tensor, *, real: bool = False
) -> torch.Tensor | float:
    """``value`` on ``ref``'s device and in its dtype (its real dtype when ``real``), so that an
    observation kept in float64 does not promote a float32 computation."""
    if not isinstance(value, torch.Tensor):
        return value
    dtype = ref.real.dtype if (real and ref.is_complex()) else ref.dtype
    if value.is_complex() and not dtype.is_complex:
        return value.to(device=ref.device)
    return value.to(device=ref.device, dtype=dtype)


def gaussian_log_likelihood(
    y: torch.Tensor, forward: Forward | None = None, noise_var: NoiseVariance = 1.0
) -> LogLikelihood:
    """``log p(y | x) = -1/2 sum |y - A x|^2 / v`` per sample, *without* the normalising constant
    (zero at a perfect fit, as :class:`DPS` with normalisation requires)."""

    def log_likelihood(x: torch.Tensor, params: Params) -> torch.Tensor:
        ax = _apply(forward, x, params)
        r = _like(y, ax) - ax
        v = _like(resolve_noise_variance(noise_var, params), r, real=True)
        if r.is_complex():
            r = torch.view_as_real(r)
            if isinstance(v, torch.Tensor):
                v = v.unsqueeze(-1)
        return -0.5 * (r.square() / v).flatten(1).sum(1)

    return log_likelihood


def conjugate_gradient(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor,
    *,
    max_iter: int = 50,
    tol: float = 1e-6,
) -> torch.Tensor:
    """Solve ``S u = b`` for a symmetric positive-definite ``S`` given by ``matvec``,
    independently for each sample of the batch ``b`` ``(B, ...)`` (Hestenes & Stiefel, 1952).
    Stops when every sample's residual norm is below ``tol * ||b||``."""
    u = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rs = batch_dot(r, r)
    target = (tol**2) * rs
    for _ in range(max_iter):
        active = rs > target
        if not bool(active.any()):
            break
        sp = matvec(p)
        curvature = batch_dot(p, sp)
        alpha = torch.where(active, rs / torch.where(active, curvature, 1.0), 0.0)
        u = u + batch_view(alpha, b) * p
        r = r - batch_view(alpha, b) * sp
        rs_new = batch_dot(r, r)
        beta = torch.where(active, rs_new / torch.where(active, rs, 1.0), 0.0)
        p = r + batch_view(beta, b) * p
        rs = torch.where(active, rs_new, rs)
    return u


class Likelihood:
    """Base likelihood hook: leaves the prior denoiser and the step unchanged."""

    requires_grad: bool = False

    def guide(self, denoiser: Denoiser, params: Params) -> Denoiser:
        return denoiser

    def correct(
        self,
        x: torch.Tensor,
        x_next: torch.Tensor,
        info: StepInfo,
        sigma: float,
        sigma_next: float,
        params: Params,
    ) -> torch.Tensor:
        return x_next


class GaussianLikelihood(Likelihood):
    """Score guidance for ``y = A x0 + n``, ``n ~ N(0, diag(v))`` with a linear ``A``.

    ``forward`` is ``A(x, params)`` (``None``: the identity), ``noise_var`` the variance ``v``
    (see :data:`NoiseVariance`), ``covariance`` one of ``"tweedie"`` (exact for a Gaussian prior;
    ``max_iter`` conjugate-gradient iterations, each one vector-Jacobian product through the
    denoiser), ``"isotropic"`` (Pi-GDM; needs ``sigma_data``; closed form when ``A`` is the
    identity) or ``"none"`` (DPS's ``p(y | D(x))``). ``weight`` scales the likelihood score
    (1 for the posterior; UDiffSE's ``lambda`` otherwise). ``y`` broadcasts against ``A x``, so
    one observation may serve a batch of chains.

    Uses ``J_D^T`` for ``J_D`` (one backward pass instead of a forward-mode product): exact for
    a true Tweedie denoiser, whose Jacobian ``Cov[x0 | x] / s^2`` is symmetric.
    """

    def __init__(
        self,
        y: torch.Tensor,
        forward: Forward | None = None,
        noise_var: NoiseVariance = 1.0,
        *,
        covariance: str = "tweedie",
        sigma_data: float | None = None,
        weight: float = 1.0,
        max_iter: int = 50,
        tol: float = 1e-6,
    ) -> None:
        if covariance not in ("tweedie", "isotropic", "none"):
            raise InferenceError(
                f"covariance must be 'tweedie', 'isotropic' or 'none', got {covariance!r}"
            )
        if covariance == "isotropic" and (sigma_data is None or sigma_data <= 0):
            raise InferenceError(
                "covariance='isotropic' needs the data standard deviation sigma_data"
            )
        self.y = y
        self.forward = forward
        self.noise_var = noise_var
        self.covariance = covariance
        self.sigma_data = sigma_data
        self.weight = float(weight)
        self.max_iter = int(max_iter)
        self.tol = float(tol)

    def _adjoint(self, w: torch.Tensor, at: torch.Tensor, params: Params) -> torch.Tensor:
        """``A^T w`` by a vector-Jacobian product of the linear ``A``."""
        if self.forward is None:
            return w
        with torch.enable_grad():
            z = at.detach().requires_grad_(True)
            (out,) = torch.autograd.grad(self.forward(z, params), z, grad_outputs=w)
        return out

    def residual_solve(
        self,
        r: torch.Tensor,
        sigma: torch.Tensor,
        v: torch.Tensor | float,
        jacobian_vjp: Callable[[torch.Tensor], torch.Tensor],
        x0_hat: torch.Tensor,
        params: Params,
    ) -> torch.Tensor:
        """``u = (A C A^T + diag v)^{-1} r`` for the chosen covariance model."""
        if self.covariance == "none":
            return r / v
        s2 = batch_view(sigma.square(), r)
        if self.covariance == "isotropic":
            sd2 = self.sigma_data**2
            c = s2 * sd2 / (s2 + sd2)
            if self.forward is None:
                return r / (v + c)

            def matvec(w: torch.Tensor) -> torch.Tensor:
                at_w = self._adjoint(w, x0_hat, params)
                with torch.no_grad():
                    return v * w + c * self.forward(at_w, params)
        else:

            def matvec(w: torch.Tensor) -> torch.Tensor:
                jw = jacobian_vjp(w)
                with torch.no_grad():
                    return v * w + s2 * _apply(self.forward, jw, params)

        return conjugate_gradient(matvec, r, max_iter=self.max_iter, tol=self.tol)

    def guide(self, denoiser: Denoiser, params: Params) -> Denoiser:
        def posterior_denoiser(
            x: torch.Tensor, sigma: torch.Tensor, cond: Any = None
        ) -> torch.Tensor:
            with torch.enable_grad():
                xr = x.detach().requires_grad_(True)
                x0_hat = denoiser(xr, sigma, cond)
                ax0 = _apply(self.forward, x0_hat, params)
                r = (_like(self.y, ax0) - ax0).detach()
                v = _like(resolve_noise_variance(self.noise_var, params), r, real=True)

                def jacobian_vjp(w: torch.Tensor) -> torch.Tensor:
                    # J_D^T A^T w in one backward pass through A and the denoiser.
                    (g,) = torch.autograd.grad(ax0, xr, grad_outputs=w, retain_graph=True)
                    return g

                u = self.residual_solve(r, sigma, v, jacobian_vjp, x0_hat, params)
                score = jacobian_vjp(u)
            s2 = batch_view(sigma.square(), x)
            return (x0_hat + self.weight * s2 * score).detach()

        return posterior_denoiser


class PseudoLikelihood(Likelihood):
    """UDiffSE's likelihood step for ``y = x0 + n``, ``n ~ N(0, diag(v))``: the posterior
    denoiser ``D(x, s) + lambda s^2 (y - x) / (s^2 + v)``. Cheap (no Jacobian) and approximate:
    it treats ``x`` as an unbiased noisy copy of ``x0``, ignoring the prior."""

    def __init__(self, y: torch.Tensor, noise_var: NoiseVariance, *, weight: float = 1.0) -> None:
        self.y = y
        self.noise_var = noise_var
        self.weight = float(weight)

    def guide(self, denoiser: Denoiser, params: Params) -> Denoiser:
        def posterior_denoiser(
            x: torch.Tensor, sigma: torch.Tensor, cond: Any = None
        ) -> torch.Tensor:
            v = _like(resolve_noise_variance(self.noise_var, params), x, real=True)
            s2 = batch_view(sigma.square(), x)
            y = _like(self.y, x)
            return denoiser(x, sigma, cond) + self.weight * s2 * (y - x) / (s2 + v)

        return posterior_denoiser

    def prior_estimate(
        self, x0_hat: torch.Tensor, x: torch.Tensor, sigma: float, params: Params
    ) -> torch.Tensor:
        """The prior's Tweedie estimate ``D(x, s)`` recovered from the posterior denoiser's
        output ``x0_hat`` at ``x`` and ``sigma`` (the ``params`` it was evaluated with):
        ``D = x0_hat - lambda s^2 (y - x) / (s^2 + v)``, exact, without another network call.

        Fast UDiffSE (Ayilo et al., 2025) fits the noise variance to ``|y - D(x, s)|^2``, the
        prior's estimate: fitting it to the posterior's, which the likelihood pulls towards
        ``y`` by ``s^2 / (s^2 + v)``, lets ``v`` shrink with ``s`` and ``x0_hat`` collapse
        onto ``y``."""
        v = _like(resolve_noise_variance(self.noise_var, params), x, real=True)
        s2 = float(sigma) ** 2
        return x0_hat - self.weight * s2 * (_like(self.y, x) - x) / (s2 + v)


class DPS(Likelihood):
    """Diffusion posterior sampling (Chung et al., 2023) for any differentiable likelihood.

    After each prior step ``x -> x'`` with Tweedie estimate ``x0_hat = D(x)``:

    * ``normalise=True``: ``x' <- x' - zeta grad_x sqrt(-2 log p(y | x0_hat))``; for a Gaussian
      likelihood from :func:`gaussian_log_likelihood` that is ``zeta grad_x ||W (y - A x0_hat)||``,
      Chung et al.'s step ``zeta' grad ||y - A x0_hat||^2 / ||y - A x0_hat||`` with
      ``zeta' = zeta / (2 sqrt(v))`` for a scalar variance ``v``. ``log_likelihood`` must then be
      <= 0 with 0 at a perfect fit.
    * ``normalise=False``: ``x' <- x' + zeta grad_x log p(y | x0_hat)``.

    The gradient is taken per sample, through the denoiser.
    """

    requires_grad = True

    def __init__(
        self, log_likelihood: LogLikelihood, zeta: float, *, normalise: bool = True
    ) -> None:
        if zeta < 0:
            raise InferenceError(f"zeta must be >= 0, got {zeta}")
        self.log_likelihood = log_likelihood
        self.zeta = float(zeta)
        self.normalise = normalise

    def correct(
        self,
        x: torch.Tensor,
        x_next: torch.Tensor,
        info: StepInfo,
        sigma: float,
        sigma_next: float,
        params: Params,
    ) -> torch.Tensor:
        log_lik = self.log_likelihood(info.x0_hat, params)
        if self.normalise:
            tiny = torch.finfo(log_lik.dtype).tiny
            objective = (-2.0 * log_lik).clamp_min(tiny).sqrt()
        else:
            objective = -log_lik
        (grad,) = torch.autograd.grad(objective.sum(), x)
        return x_next - self.zeta * grad


class ParameterGradientStep:
    """M-step by gradient ascent on ``log p(y | x0_hat, params)`` over ``params[names]``, the
    clean estimate held fixed: BUDDy's joint estimation of operator parameters between reverse
    steps (Moliner et al., 2024). The objective is averaged over the batch of chains; the
    optimiser ("adam" or "sgd") keeps its state across the steps of one run and restarts when a
    run starts (``event.index == 0``).
    """

    def __init__(
        self,
        log_likelihood: LogLikelihood,
        names: Sequence[str],
        *,
        lr: float = 1e-2,
        n_iter: int = 1,
        optimizer: str = "adam",
    ) -> None:
        if optimizer not in ("adam", "sgd"):
            raise InferenceError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
        if not names:
            raise InferenceError("ParameterGradientStep needs at least one parameter name")
        self.log_likelihood = log_likelihood
        self.names = tuple(names)
        self.lr = float(lr)
        self.n_iter = int(n_iter)
        self.optimizer = optimizer
        self._leaves: dict[str, torch.Tensor] | None = None
        self._opt: torch.optim.Optimizer | None = None

    def _start(self, params: Params) -> None:
        missing = [k for k in self.names if k not in params]
        if missing:
            raise InferenceError(f"params lacks the estimated entries {missing}")
        self._leaves = {
            k: torch.as_tensor(params[k]).detach().clone().requires_grad_(True) for k in self.names
        }
        cls = torch.optim.Adam if self.optimizer == "adam" else torch.optim.SGD
        self._opt = cls(list(self._leaves.values()), lr=self.lr)

    def __call__(self, x0_hat: torch.Tensor, params: Params, event: StepEvent) -> Params:
        if self._leaves is None or event.index == 0:
            self._start(params)
        assert self._leaves is not None and self._opt is not None
        with torch.no_grad():
            for k, leaf in self._leaves.items():
                leaf.copy_(torch.as_tensor(params[k]))
        x0 = x0_hat.detach()
        with torch.enable_grad():
            for _ in range(self.n_iter):
                self._opt.zero_grad()
                loss = -self.log_likelihood(x0, {**params, **self._leaves}).mean()
                loss.backward()
                self._opt.step()
        return {**params, **{k: v.detach().clone() for k, v in self._leaves.items()}}


def posterior_sample(
    denoiser: Denoiser,
    x_T: torch.Tensor,
    sigmas: Any,
    likelihood: Likelihood,
    *,
    sampler: str = "heun",
    sampler_options: dict[str, Any] | None = None,
    params: Params | None = None,
    m_steps: Sequence[MStep] = (),
    generator: torch.Generator | None = None,
    cond: Any = None,
    callback: Callback | None = None,
    autocast: bool | torch.dtype = False,
) -> SampleResult:
    """Sample ``p(x0 | y)`` with the registered ``sampler`` and a likelihood hook, optionally
    updating the likelihood's ``params`` by ``m_steps`` between reverse steps."""
    spec = get_sampler(sampler)
    n_steps = len(sigmas) - 1
    options = spec.step_options(n_steps, **(sampler_options or {}))
    return run_sampler(
        spec.step,
        denoiser,
        x_T,
        sigmas,
        generator=generator,
        cond=cond,
        likelihood=likelihood,
        params=params,
        m_steps=m_steps,
        callback=callback,
        autocast=autocast,
        options=options,
    )


__all__ = [
    "DPS",
    "Forward",
    "GaussianLikelihood",
    "Likelihood",
    "LogLikelihood",
    "NoiseVariance",
    "ParameterGradientStep",
    "PseudoLikelihood",
    "conjugate_gradient",
    "gaussian_log_likelihood",
    "posterior_sample",
    "resolve_noise_variance",
]
