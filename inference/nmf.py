"""Multiplicative IS-NMF updates with a fixed variance part averaged over posterior samples.

Observation power ``P_tf = |x_tf|^2`` (frames-major ``(T, F)``), ``R`` posterior samples of a
decoded source variance ``v^(r)_tf``, per-frame gains ``g_t``, and an NMF variance
``(W H)_ft`` with ``W`` ``(F, K)`` and ``H`` ``(K, T)`` (the usual NMF shapes; we use its
transpose ``N_tf = (W H)_ft`` in the frames-major layout). With

    V^(r)_tf = g_t v^(r)_tf + N_tf

the M-step of Monte-Carlo EM (Leglaive et al., 2018; Sadeghi et al., 2020) minimises the
Itakura-Saito divergence averaged over samples,

    C(W, H, g) = (1/R) sum_r sum_tf d_IS(P_tf | V^(r)_tf),   d_IS(p | v) = p/v - log(p/v) - 1,

which is ``-Q(theta)`` (the Monte-Carlo expected complete-data log-likelihood) up to terms that do
not depend on ``theta``. With ``A = sum_r (V^(r))^-1`` and ``B = P * sum_r (V^(r))^-2`` (both
``(T, F)``) the multiplicative updates are

    H_kt <- H_kt [ sum_f W_fk B_tf / sum_f W_fk A_tf ]^eta
    W_fk <- W_fk [ sum_t H_kt B_tf / sum_t H_kt A_tf ]^eta
    g_t  <- g_t  [ sum_{r,f} P_tf v^(r)_tf (V^(r)_tf)^-2 / sum_{r,f} v^(r)_tf (V^(r)_tf)^-1 ]^eta

``eta = 1/2`` is a majorise-minimise (MM) algorithm (Fevotte & Idier, 2011): ``p/v`` is convex in
the parameters and is majorised by Jensen's inequality over the additive components of ``V``
(the fixed part ``g v`` or ``N`` included as one more component); ``log v`` is concave and is
majorised by its tangent. Minimising the sum of the two majorisers in closed form gives the
update above with the square root, so each block update never increases ``C`` (the property
test in ``tests/inference/test_nmf.py``). Averaging over samples keeps this: a sum of
majorisers majorises the sum. ``eta = 1`` is the common heuristic (faster, no guarantee).

Column normalisation ``w_k <- w_k / sum_f w_fk``, ``h_k <- h_k * sum_f w_fk`` leaves ``W H`` and
hence ``C`` unchanged and removes the scale ambiguity.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from inference.errors import InferenceError

_TINY = 1e-30


class NMFParams(NamedTuple):
    """``W`` ``(F, K)``, ``H`` ``(K, T)``, ``gain`` ``(T,)``."""

    W: torch.Tensor
    H: torch.Tensor
    gain: torch.Tensor


def nmf_variance(W: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    """``(W H)^T``: the NMF variance frames-major, ``(T, F)``."""
    return H.mT @ W.mT


def init_nmf(power: torch.Tensor, rank: int, generator: torch.Generator | None = None) -> NMFParams:
    """Random positive ``W``, ``H`` scaled to the mean power, unit gains.

    ``W`` and ``H`` are drawn uniform on ``[0.5, 1.5)`` (strictly positive: a zero entry stays
    zero under multiplicative updates), scaled so that ``mean(W H) = mean(P)``.
    """
    n_frames, n_bins = power.shape
    if rank < 1:
        raise InferenceError(f"NMF rank must be >= 1; got {rank}")
    opts = {"dtype": power.dtype, "device": power.device}
    W = torch.rand(n_bins, rank, generator=generator, **opts).add_(0.5)
    H = torch.rand(rank, n_frames, generator=generator, **opts).add_(0.5)
    scale = power.mean() / nmf_variance(W, H).mean()
    H.mul_(scale.clamp_min(_TINY))
    return NMFParams(W, H, torch.ones(n_frames, **opts))


def total_variance(
    source_variance: torch.Tensor | None, gain: torch.Tensor, noise_variance: torch.Tensor
) -> torch.Tensor:
    """``V^(r) = g v^(r) + N``: ``(R, T, F)`` (or ``(1, T, F)`` when there is no fixed part)."""
    if source_variance is None:
        return noise_variance.unsqueeze(0)
    return torch.addcmul(noise_variance, source_variance, gain.unsqueeze(-1))


def _check(power: torch.Tensor, source_variance: torch.Tensor | None, params: NMFParams) -> None:
    n_frames, n_bins = power.shape
    if (
        params.W.shape[0] != n_bins
        or params.H.shape[1] != n_frames
        or params.W.shape[1] != params.H.shape[0]
        or params.gain.shape != (n_frames,)
    ):
        raise InferenceError(
            f"NMF shapes do not match power (T, F) = {(n_frames, n_bins)}: "
            f"W {tuple(params.W.shape)}, H {tuple(params.H.shape)}, "
            f"gain {tuple(params.gain.shape)}"
        )
    if source_variance is not None and source_variance.shape[-2:] != power.shape:
        raise InferenceError(
            f"source_variance must be (R, T, F) with (T, F) = "
            f"{tuple(power.shape)}; got {tuple(source_variance.shape)}"
        )


def expected_is_divergence(
    power: torch.Tensor, source_variance: torch.Tensor | None, params: NMFParams
) -> torch.Tensor:
    """``C / (T F)``: the sample-averaged IS divergence per time-frequency bin (a scalar)."""
    _check(power, source_variance, params)
    variance = total_variance(source_variance, params.gain, nmf_variance(params.W, params.H))
    # mean(P/V - log(P/V) - 1) = mean(log V + P/V) - mean(log P) - 1: two passes over the
    # (R, T, F) samples instead of five; log P is per bin, R times cheaper
    terms = variance.log().addcdiv_(power, variance)
    return terms.mean() - power.log().mean() - 1.0


def _sums(power: torch.Tensor, variance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    inverse = variance.reciprocal_()  # ``variance`` is a fresh temporary
    a = inverse.sum(0)
    b = inverse.square_().sum(0).mul_(power)
    return a, b


def update_H(
    power: torch.Tensor,
    source_variance: torch.Tensor | None,
    params: NMFParams,
    exponent: float = 0.5,
) -> NMFParams:
    """One multiplicative update of ``H`` (MM for ``exponent=0.5``)."""
    W, H, gain = params
    a, b = _sums(power, total_variance(source_variance, gain, nmf_variance(W, H)))
    ratio = (b @ W).mT / (a @ W).mT.clamp_min(_TINY)
    return NMFParams(W, H * ratio.pow_(exponent), gain)


def update_W(
    power: torch.Tensor,
    source_variance: torch.Tensor | None,
    params: NMFParams,
    exponent: float = 0.5,
) -> NMFParams:
    """One multiplicative update of ``W`` (MM for ``exponent=0.5``)."""
    W, H, gain = params
    a, b = _sums(power, total_variance(source_variance, gain, nmf_variance(W, H)))
    ratio = (H @ b).mT / (H @ a).mT.clamp_min(_TINY)
    return NMFParams(W * ratio.pow_(exponent), H, gain)


def update_gain(
    power: torch.Tensor, source_variance: torch.Tensor, params: NMFParams, exponent: float = 0.5
) -> NMFParams:
    """One multiplicative update of the per-frame gains ``g`` (MM for ``exponent=0.5``)."""
    W, H, gain = params
    inverse = total_variance(source_variance, gain, nmf_variance(W, H)).reciprocal_()
    weighted = source_variance * inverse
    denominator = weighted.sum((0, 2))
    numerator = weighted.mul_(inverse).mul_(power).sum((0, 2))
    ratio = numerator / denominator.clamp_min(_TINY)
    return NMFParams(W, H, gain * ratio.pow_(exponent))


def normalize_columns(params: NMFParams) -> NMFParams:
    """``w_k /= sum_f w_fk``, ``h_k *= sum_f w_fk``: same ``W H``, no scale ambiguity."""
    W, H, gain = params
    norms = W.sum(0).clamp_min(_TINY)
    return NMFParams(W / norms, H * norms.unsqueeze(-1), gain)


def nmf_step(
    power: torch.Tensor,
    source_variance: torch.Tensor | None,
    params: NMFParams,
    *,
    exponent: float = 0.5,
    update: tuple[str, ...] = ("H", "W", "gain"),
    normalize: bool = True,
    floor: NMFParams | None = None,
    prior: Any = None,
) -> NMFParams:
    """Update the blocks named in ``update`` in that order, then normalise ``W``'s columns.

    Args:
        power: ``P = |x|^2``, ``(T, F)``.
        source_variance: ``v^(r)``, ``(R, T, F)``; ``None`` for plain IS-NMF (no fixed part;
            ``"gain"`` is then skipped).
        params: current ``W``, ``H``, ``gain``.
        exponent: ``0.5`` (MM, monotone) or ``1.0`` (heuristic).
        floor: lower bounds of ``W``, ``H`` and ``gain`` (broadcastable tensors or numbers)
            applied after the updates and the normalisation, or ``None``. A multiplicative
            update keeps a zero at zero and lets a factor decay geometrically towards it (in
            float32 it underflows after a few hundred iterations); a floor far below anything
            audible keeps every variance positive (:func:`relative_floors`).
        prior: ``None`` (maximum likelihood) or a prior of :mod:`inference.nmf_priors`
            (:class:`~inference.nmf_priors.ARDPrior`, :class:`~inference.nmf_priors.SmoothPrior`):
            its own MM updates of ``H`` and ``W`` (their exponents are fixed by the MM
            derivation; ``exponent`` then applies to the gains only) and, where it has one,
            its ``rescale`` instead of the column normalisation, with the floors applied to
            the column-normalised factors and the prior's scale restored.
    """
    if exponent <= 0:
        raise InferenceError(f"exponent must be positive (0.5 or 1); got {exponent}")
    _check(power, source_variance, params)
    for name in update:
        if name == "H":
            if prior is None:
                params = update_H(power, source_variance, params, exponent)
            else:
                params = prior.update_H(power, source_variance, params)
        elif name == "W":
            if prior is None:
                params = update_W(power, source_variance, params, exponent)
            else:
                params = prior.update_W(power, source_variance, params)
        elif name == "gain":
            if source_variance is not None:
                params = update_gain(power, source_variance, params, exponent)
        else:
            raise InferenceError(f"unknown NMF block {name!r}; use 'H', 'W' or 'gain'")
    rescale = getattr(prior, "rescale", None)
    if rescale is not None:
        params = rescale(params) if normalize else params
        return params if floor is None else _floor_scaled(params, floor)
    params = normalize_columns(params) if normalize else params
    if floor is None:
        return params
    return NMFParams(
        params.W.clamp_min(floor.W), params.H.clamp_min(floor.H), params.gain.clamp_min(floor.gain)
    )


def _floor_scaled(params: NMFParams, floor: NMFParams) -> NMFParams:
    """The floors of column-normalised factors applied to unnormalised ones: with
    ``s_k = sum_f w_fk``, ``W / s >= floor.W`` and ``H s >= floor.H``, the scale ``s`` kept."""
    W, H, gain = params
    s = W.sum(0).clamp_min(_TINY)
    W = (W / s).clamp_min(floor.W) * s
    H = (H * s.unsqueeze(-1)).clamp_min(floor.H) / s.unsqueeze(-1)
    return NMFParams(W, H, gain.clamp_min(floor.gain))


def relative_floors(
    power: torch.Tensor,
    rank: int,
    source_variance: torch.Tensor | None = None,
    epsilon: float = 1e-6,
) -> NMFParams:
    """Floors of ``W``, ``H`` and ``g`` at ``epsilon`` relative to each frame's power.

    With ``E_t = mean_f P_tf`` the frame's mean power and ``W``'s columns summing to one,

    * ``H_kt >= epsilon F E_t / K``, so the noise variance per bin is at least ``epsilon E_t``
      on average over the frame (``mean_f (WH)_ft = sum_k H_kt / F``);
    * ``W_fk >= epsilon / F``, ``epsilon`` times a flat spectrum;
    * ``g_t >= epsilon E_t / mean_f vbar_tf`` with ``vbar`` the mean decoded source variance
      over the samples, so the speech variance ``g_t v`` is at least ``epsilon`` times the
      frame's power on average (only with ``source_variance``; otherwise no gain floor).

    ``epsilon = 1e-6`` is -60 dB: a component that weak contributes nothing audible to the
    Wiener estimate, and every variance stays far above float32's smallest normal number
    (``1.2e-38``) even in digital silence (whose power the pipelines floor at ``1e-12``).
    """
    n_bins = power.shape[-1]
    frame_power = power.mean(-1)  # (T,)
    W = torch.as_tensor(epsilon / n_bins, dtype=power.dtype, device=power.device)
    H = (epsilon * n_bins / rank) * frame_power  # broadcasts over (K, T)
    if source_variance is None:
        gain = torch.zeros_like(frame_power)
    else:
        mean_variance = source_variance.mean(dim=(0, -1))  # (T,)
        gain = epsilon * frame_power / mean_variance.clamp_min(torch.finfo(power.dtype).tiny)
    return NMFParams(W, H, gain)
