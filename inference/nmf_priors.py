"""Priors on the NMF noise model and their majorise-minimise (MM) updates: ARD and smoothness.

The M-step of :mod:`inference.nmf` minimises the sample-averaged Itakura-Saito divergence

    D(W, H, g) = (1/R) sum_r sum_tf d_IS(P_tf | V^(r)_tf),   V^(r) = g v^(r) + (W H)^T,

which is ``-log p(x | theta)`` averaged over the E-step's samples up to a constant (complex
Gaussian observations: the IS divergence's dispersion is ``phi = 1``). A prior turns it into
the MAP objective ``D + Pen``. With ``A = sum_r (V^(r))^-1`` and ``B = P * sum_r (V^(r))^-2``
(sums over the ``R`` samples, :func:`inference.nmf._sums`) the IS-NMF auxiliary function of
Févotte & Idier (2011) for one activation ``h = H_kt`` at the current ``h~`` is

    G(h | h~) = (1/R) [ p h~^2 / h + q h ] + const,   p = (W^T B)_kt,  q = (W^T A)_kt,

(Jensen on the convex ``P/V``, tangent on the concave ``log V``); it majorises ``D`` in ``h``
and touches it at ``h~``; likewise for ``W`` with ``p = (B^T H^T)``, ``q = (A^T H^T)``. Each
update below minimises ``G`` plus the prior's terms (or a majoriser of them) in closed form,
so it never increases ``D + Pen`` (``tests/inference/test_nmf_priors.py``). With the prior's
``weight`` at 0 each update is the plain MM update of :mod:`inference.nmf`.

:class:`ARDPrior` -- automatic relevance determination (Tan & Févotte, "Automatic relevance
determination in nonnegative matrix factorization with the beta-divergence", IEEE TPAMI 35(7),
2013). Component ``k`` has a relevance ``lambda_k ~ IG(a, b)``; given it, the entries of
``w_k`` and ``h_k`` are exponential with mean ``lambda_k`` (``l1``) or half-normal with
variance ``lambda_k`` (``l2``). Up to constants the MAP objective is

    D + weight * sum_k [ (f(w_k) + f(h_k) + b) / lambda_k + c log lambda_k ],
    f = ||.||_1, c = F + T + a + 1 (l1);    f = ||.||_2^2 / 2, c = (F + T)/2 + a + 1 (l2).

``lambda_k`` is minimised in closed form, ``lambda_k = (f(w_k) + f(h_k) + b) / c``; profiled out
the penalty is ``weight * c * sum_k log(f(w_k) + f(h_k) + b)`` + const, which pushes
components whose fit does not pay for their norms to zero: start from a generous rank and the
unneeded ones are pruned. The updates (the paper's, ``beta = 0``), with ``lambda`` refreshed
before each:

    l1:  H <- H [ W^T B / (W^T A + R weight / lambda_k) ]^(1/2)
    l2:  H <- H [ W^T B / (W^T A + R weight H / lambda_k) ]^(1/3)

and the same for ``W``. ``l1``: the penalty is linear and joins the tangent term of ``G``.
``l2``: the quadratic penalty has no closed-form joint minimiser with ``G``; the tangent term
``q h`` is majorised once more, ``h <= h^2 / (2 h~) + h~ / 2``, leaving ``p h~^2/h + (q/h~ +
R weight/lambda) h^2 / 2`` whose minimiser is the cube-root update. Scale: ``w_k / s``,
``s h_k`` leaves ``W H`` unchanged, and the ``s`` that minimises ``f(w_k/s) + f(s h_k)``
(``s = sqrt(|w_k|_1 / |h_k|_1)``, ``l1``; ``s^2 = |w_k|_2 / |h_k|_2``, ``l2``) lowers the
penalty: :meth:`ARDPrior.rescale` replaces the column normalisation. The default ``b`` is the
paper's moment match ``E[(W H)_ft] = mean(P)``: ``b = sqrt((a-1)(a-2) mean(P) / K)`` (l1),
``b = (pi/2)(a-1) mean(P) / K`` (l2).

:class:`SmoothPrior` -- temporal continuity of the activations (Févotte, Bertin & Durrieu,
"Nonnegative matrix factorization with the Itakura-Saito divergence: with application to music
analysis", Neural Computation 21(3), 2009, section 5): each row of ``H`` is an inverse-gamma
Markov chain, ``h_kt | h_k(t-1) ~ IG(alpha, (alpha+1) h_k(t-1))`` (mode ``h_k(t-1)``), ``h_k1``
flat. Its negative log density, up to constants, is

    L(H) = sum_k sum_{t>=2} [ (alpha+1) log h_kt + (alpha+1) h_k(t-1) / h_kt - alpha log h_k(t-1) ].

The prior is on ``H`` only and is not scale-free: ``L(s h_k) = L(h_k) + (T-1) log s``, so the
columns of ``W`` must be pinned (the paper normalises them). We write that constraint as an
improper scale prior on ``W``, ``(T-1) log |w_k|_1``, which makes the objective

    D + weight * [ L(H) + (T-1) sum_k log |w_k|_1 ]

invariant under ``w_k / s``, ``s h_k``: minimising it is minimising ``D + weight L`` over
unit-sum columns, and the column normalisation costs nothing. Update of ``h = h_kt`` with its
neighbours fixed: ``G`` plus the prior's terms in ``h`` (exact, not majorised) is
``c0 / h + c2 h + l log h`` with

    c0 = p h~^2 + R weight (alpha+1) h_k(t-1)       [t >= 2]
    c2 = q      + R weight (alpha+1) / h_k(t+1)     [t <= T-1]
    l  = R weight ((alpha+1) [t >= 2] - alpha [t <= T-1]),

whose unique minimiser over ``h > 0`` is the positive root of ``c2 h^2 + l h - c0 = 0`` (the
paper's Table 3 at ``beta = 0``). The prior couples only neighbouring frames, so all even
frames are updated at once given the odd ones, then all odd frames given the new even ones (a
red-black order: two exact block MM steps; the data term separates over frames, so ``p``,
``q`` are computed once). The ``W`` update minimises ``G`` plus the tangent of the concave
``(T-1) log |w_k|_1``: ``W <- W [ B^T H^T / (A^T H^T + R weight (T-1) / |w~_k|_1) ]^(1/2)``.

A caveat the paper shares (its ``h_k1`` is flat or Jeffreys): the prior's density grows like
``s^-(T-1)`` as a whole row shrinks, ``h_k -> s h_k`` with ``s -> 0``, so the MAP objective is
unbounded below along a vanishing component; a component that does not pay for itself in the
data term is driven to zero (a pruning force like ARD's, weak against a useful component's
``F`` bins per frame). :func:`inference.nmf.relative_floors` stops it at -60 dB. The MAP of
``log H`` under the same chain (``SmoothPrior(log_domain=True)``: the density in ``u = log h``
is the density in ``h`` times ``h``, so each ``(alpha+1) log h_kt`` becomes ``alpha log
h_kt``) is scale-free: no pull, no scale prior on ``W`` (its update is the plain one), and the
same H update with ``l = R weight alpha ([t >= 2] - [t <= T-1])``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from inference.errors import InferenceError
from inference.nmf import NMFParams, _sums, expected_is_divergence, nmf_variance, total_variance

_TINY = 1e-30


def _n_samples(source_variance: torch.Tensor | None) -> int:
    return 1 if source_variance is None else source_variance.shape[0]


def _data_terms(
    power: torch.Tensor, source_variance: torch.Tensor | None, params: NMFParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """``A``, ``B`` (both ``(T, F)``, summed over the samples) at ``params``."""
    W, H, gain = params
    return _sums(power, total_variance(source_variance, gain, nmf_variance(W, H)))


@dataclass(frozen=True)
class ARDPrior:
    """Automatic relevance determination of the NMF components (Tan & Févotte 2013).

    Attributes:
        penalty: ``"l1"`` (exponential priors on ``W`` and ``H``) or ``"l2"`` (half-normal).
        shape: ``a`` of the inverse-gamma prior on the relevances (``> 2`` for ``l1``'s default
            scale, ``> 1`` for ``l2``'s).
        scale: ``b``; ``None``: the paper's moment match to the mean power.
        weight: multiplies the penalty (1: the MAP objective; 0: plain IS-NMF).
    """

    penalty: str = "l1"
    shape: float = 5.0
    scale: float | None = None
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.penalty not in ("l1", "l2"):
            raise InferenceError(f"ARD penalty must be 'l1' or 'l2'; got {self.penalty!r}")
        need = 2.0 if self.penalty == "l1" else 1.0
        if not self.shape > need and self.scale is None:
            raise InferenceError(
                f"ARD shape must be > {need:g} for the default {self.penalty} scale"
            )
        if self.scale is not None and not self.scale > 0:
            raise InferenceError(f"ARD scale must be positive; got {self.scale}")
        if not self.weight >= 0:
            raise InferenceError(f"ARD weight must be >= 0; got {self.weight}")

    def _b(self, power: torch.Tensor, rank: int) -> float:
        if self.scale is not None:
            return self.scale
        mean = float(power.mean())
        a = self.shape
        if self.penalty == "l1":
            return math.sqrt((a - 1) * (a - 2) * mean / rank)
        return 0.5 * math.pi * (a - 1) * mean / rank

    def _c(self, n_bins: int, n_frames: int) -> float:
        size = n_bins + n_frames
        return (size if self.penalty == "l1" else size / 2) + self.shape + 1

    def _norms(self, params: NMFParams) -> torch.Tensor:
        """``f(w_k) + f(h_k)``, ``(K,)``."""
        if self.penalty == "l1":
            return params.W.sum(0) + params.H.sum(1)
        return 0.5 * (params.W.square().sum(0) + params.H.square().sum(1))

    def relevance(self, power: torch.Tensor, params: NMFParams) -> torch.Tensor:
        """``lambda_k = (f(w_k) + f(h_k) + b) / c``, ``(K,)``: the minimiser given ``W, H``."""
        b = self._b(power, params.W.shape[1])
        return (self._norms(params) + b) / self._c(*params.W.shape[:1], params.H.shape[1])

    def penalty_value(self, power: torch.Tensor, params: NMFParams) -> torch.Tensor:
        """``weight * sum_k [(f + b)/lambda_k + c log lambda_k]`` at the optimal ``lambda``
        (``= weight * c * sum_k (1 + log lambda_k)``), a scalar."""
        c = self._c(params.W.shape[0], params.H.shape[1])
        return self.weight * c * (1.0 + self.relevance(power, params).log()).sum()

    def _update(self, factor: torch.Tensor, p: torch.Tensor, q: torch.Tensor, inv_lambda):
        """MM update of ``factor`` (``H`` ``(K, T)`` with ``inv_lambda`` ``(K, 1)``, or ``W``
        ``(F, K)`` with ``(1, K)``); ``inv_lambda`` already times ``R weight``."""
        if self.penalty == "l1":
            return factor * (p / (q + inv_lambda).clamp_min(_TINY)).sqrt()
        return factor * (p / (q + inv_lambda * factor).clamp_min(_TINY)).pow(1.0 / 3.0)

    def update_H(
        self, power: torch.Tensor, source_variance: torch.Tensor | None, params: NMFParams
    ) -> NMFParams:
        """One MM update of ``H`` under the ARD MAP objective (``lambda`` refreshed first)."""
        a, b = _data_terms(power, source_variance, params)
        W = params.W
        scale = _n_samples(source_variance) * self.weight
        inv_lambda = (scale / self.relevance(power, params)).unsqueeze(-1)
        H = self._update(params.H, (b @ W).mT, (a @ W).mT, inv_lambda)
        return NMFParams(W, H, params.gain)

    def update_W(
        self, power: torch.Tensor, source_variance: torch.Tensor | None, params: NMFParams
    ) -> NMFParams:
        """One MM update of ``W`` under the ARD MAP objective (``lambda`` refreshed first)."""
        a, b = _data_terms(power, source_variance, params)
        H = params.H
        scale = _n_samples(source_variance) * self.weight
        inv_lambda = (scale / self.relevance(power, params)).unsqueeze(0)
        W = self._update(params.W, (H @ b).mT, (H @ a).mT, inv_lambda)
        return NMFParams(W, H, params.gain)

    def rescale(self, params: NMFParams) -> NMFParams:
        """``w_k / s_k``, ``s_k h_k`` with the ``s_k`` that minimises ``f(w_k) + f(h_k)``
        (same ``W H``; the penalty does not increase)."""
        W, H, gain = params
        if self.penalty == "l1":
            s = (W.sum(0) / H.sum(1).clamp_min(_TINY)).sqrt()
        else:
            s = (W.norm(dim=0) / H.norm(dim=1).clamp_min(_TINY)).sqrt()
        s = s.clamp_min(_TINY)
        return NMFParams(W / s, H * s.unsqueeze(-1), gain)

    def active(self, params: NMFParams, threshold: float = 1e-3) -> int:
        """Components whose share of ``sum(W H)`` is above ``threshold`` (those not pruned)."""
        energy = params.W.sum(0) * params.H.sum(1)
        return int((energy > threshold * energy.sum()).sum())


@dataclass(frozen=True)
class SmoothPrior:
    """Inverse-gamma Markov chains on the rows of ``H`` (Févotte, Bertin & Durrieu 2009).

    Attributes:
        shape: ``alpha``: the larger, the smoother (the conditional's relative spread is about
            ``1 / sqrt(alpha)``).
        weight: multiplies the prior's negative log density (1: the MAP objective; 0: plain
            IS-NMF).
        log_domain: ``False``: the paper's MAP of ``H`` (the chain's density in ``h``);
            ``True``: the MAP of ``log H`` (the same chain as a density in ``u = log h``,
            which multiplies it by ``h_kt``: ``(alpha+1) log h_kt`` becomes ``alpha log h_kt``).
            That chain is scale-free, ``L(s h_k) = L(h_k)``, so it exerts no pull towards zero
            and needs no scale prior on ``W``.
    """

    shape: float = 50.0
    weight: float = 1.0
    log_domain: bool = False

    @property
    def _jacobian(self) -> float:
        """1 for the density in ``h`` (its ``(T-1) log s`` pull), 0 in ``log h``."""
        return 0.0 if self.log_domain else 1.0

    def __post_init__(self) -> None:
        if not self.shape > 0:
            raise InferenceError(f"smoothness shape alpha must be positive; got {self.shape}")
        if not self.weight >= 0:
            raise InferenceError(f"smoothness weight must be >= 0; got {self.weight}")

    def penalty_value(self, power: torch.Tensor, params: NMFParams) -> torch.Tensor:
        """``weight * [L(H) + (T-1) sum_k log |w_k|_1]``, a scalar."""
        del power
        H = params.H
        alpha = self.shape
        previous, current = H[:, :-1], H[:, 1:]
        chain = (
            (alpha + self._jacobian) * current.log()
            + (alpha + 1) * previous / current
            - alpha * previous.log()
        ).sum()
        scale = self._jacobian * (H.shape[1] - 1) * params.W.sum(0).log().sum()
        return self.weight * (chain + scale)

    def update_H(
        self, power: torch.Tensor, source_variance: torch.Tensor | None, params: NMFParams
    ) -> NMFParams:
        """Two exact block MM steps: the even frames given the odd ones, then the odd ones."""
        a, b = _data_terms(power, source_variance, params)
        W = params.W
        H = params.H.clone()
        p = (b @ W).mT * H.square()  # p h~^2, fixed: the data term separates over frames
        q = (a @ W).mT
        prior = _n_samples(source_variance) * self.weight * (self.shape + 1)
        n_frames = H.shape[1]
        tiny = torch.finfo(H.dtype).tiny
        frames = torch.arange(n_frames, device=H.device)
        has_prev = (frames >= 1).to(H.dtype)
        has_next = (frames <= n_frames - 2).to(H.dtype)
        log_coef = (
            _n_samples(source_variance)
            * self.weight
            * ((self.shape + self._jacobian) * has_prev - self.shape * has_next)
        )
        for parity in (0, 1):
            idx = frames[parity::2]
            prev = H[:, (idx - 1).clamp_min(0)]
            nxt = H[:, (idx + 1).clamp_max(n_frames - 1)]
            c0 = p[:, idx] + prior * has_prev[idx] * prev
            c2 = q[:, idx] + prior * has_next[idx] / nxt.clamp_min(tiny)
            H[:, idx] = _positive_root(c2, log_coef[idx].expand_as(c2), c0)
        return NMFParams(W, H, params.gain)

    def update_W(
        self, power: torch.Tensor, source_variance: torch.Tensor | None, params: NMFParams
    ) -> NMFParams:
        """MM update of ``W`` with the tangent of the scale prior ``(T-1) log |w_k|_1``."""
        a, b = _data_terms(power, source_variance, params)
        W, H = params.W, params.H
        tangent = (
            _n_samples(source_variance) * self.weight * self._jacobian * (H.shape[1] - 1) / W.sum(0)
        )
        ratio = (H @ b).mT / ((H @ a).mT + tangent).clamp_min(_TINY)
        return NMFParams(W * ratio.sqrt(), H, params.gain)


def _positive_root(c2: torch.Tensor, l: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:
    """The positive root of ``c2 h^2 + l h - c0 = 0`` (``c2, c0 > 0``), without cancellation:
    ``2 c0 / (l + sqrt(l^2 + 4 c2 c0))`` for ``l >= 0``, ``(-l + sqrt(.)) / (2 c2)`` else."""
    tiny = torch.finfo(c2.dtype).tiny
    c2 = c2.clamp_min(tiny)
    root = (l.square() + 4 * c2 * c0).sqrt()
    return torch.where(l >= 0, 2 * c0 / (l + root).clamp_min(tiny), (root - l) / (2 * c2))


NMFPrior = ARDPrior | SmoothPrior


def map_objective(
    power: torch.Tensor,
    source_variance: torch.Tensor | None,
    params: NMFParams,
    prior: NMFPrior | None,
) -> torch.Tensor:
    """``(D + Pen) / (T F)``: the MAP objective per bin (``D / (T F)`` is
    :func:`inference.nmf.expected_is_divergence`; ``Pen`` is 0 without a prior)."""
    value = expected_is_divergence(power, source_variance, params)
    if prior is None:
        return value
    return value + prior.penalty_value(power, params) / power.numel()
