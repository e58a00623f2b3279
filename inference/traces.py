"""Per-frame log joint densities from any Pyro model (the specification path).

For a model whose latents ``z_t`` sit in a plate ``"frames"`` (independent frames), the joint
factorises as ``p(x, z) = prod_t p(x_t, z_t)``, so the per-frame log joint

    log p(x_t, z_t) = sum over sample sites s inside the frames plate of log p_s(value_t | parents)

is what a per-frame Metropolis-Hastings step needs: one value per frame, computed in one
batched model evaluation. We obtain it with Pyro's effect handlers instead of re-deriving
densities by hand: ``condition`` the model on the latent values, ``trace`` it,
``compute_log_prob``, and sum each site's log density over every plate except ``"frames"``.

Chains broadcast on the left: conditioning ``z`` of shape ``(C, T, D)`` on a site of batch
shape ``(T,)`` gives per-frame log joints of shape ``(C, T)``.

Sites outside the frames plate do not enter the result: in a model that factorises over frames
they do not depend on the per-frame latents, so they only shift the log density by a constant.
Every sample site must be observed or conditioned (an unconditioned latent would be drawn at
random and make the density random); a latent missing from ``latents`` raises
:class:`~inference.errors.InferenceError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pyro.poutine as poutine
import torch
from pyro.poutine.util import site_is_subsample

from inference.errors import InferenceError

FRAMES = "frames"


def _frames_dim(site: dict, frames: str) -> int | None:
    for frame in site["cond_indep_stack"]:
        if frame.name == frames:
            if frame.dim is None:
                raise InferenceError(f"plate {frames!r} must have an explicit dim (e.g. dim=-1)")
            return frame.dim
    return None


def per_frame_log_joint(
    model: Callable[..., Any],
    latents: Mapping[str, torch.Tensor],
    *args: Any,
    frames: str = FRAMES,
    **kwargs: Any,
) -> torch.Tensor:
    """``log p(x_t, z_t)`` for every frame: the model traced with ``latents`` conditioned.

    Args:
        model: a Pyro model with a plate named ``frames`` (explicit ``dim``).
        latents: values of the latent sites, each with the site's shape, optionally with extra
            chain dimensions on the left.
        *args, **kwargs: the model's arguments.
        frames: the name of the frame plate.

    Returns:
        ``(..., T)``: chain dimensions followed by frames. Differentiable in ``latents``.
    """
    conditioned = poutine.condition(model, data=dict(latents))
    trace = poutine.trace(conditioned).get_trace(*args, **kwargs)
    trace.compute_log_prob()
    sites = [s for s in trace.nodes.values() if s["type"] == "sample" and not site_is_subsample(s)]
    max_nesting = max(
        (
            -f.dim
            for s in sites
            for f in s["cond_indep_stack"]
            if f.vectorized and f.dim is not None
        ),
        default=0,
    )
    total: torch.Tensor | None = None
    n_frames = None
    for site in sites:
        if not site["is_observed"] and site["name"] not in latents:
            raise InferenceError(
                f"sample site {site['name']!r} is neither observed nor in "
                f"latents: pass its value in latents"
            )
        frames_dim = _frames_dim(site, frames)
        if frames_dim is None:
            if site["name"] in latents:
                raise InferenceError(
                    f"latent site {site['name']!r} is outside the plate "
                    f"{frames!r}: per-frame inference needs per-frame latents"
                )
            continue
        log_prob = site["log_prob"]
        for frame in site["cond_indep_stack"]:
            if frame.vectorized and frame.name != frames and log_prob.dim() >= -frame.dim:
                log_prob = log_prob.sum(frame.dim, keepdim=True)
        while log_prob.dim() < max_nesting:
            log_prob = log_prob.unsqueeze(0)
        log_prob = log_prob.movedim(frames_dim, -1)
        plate_shape = log_prob.shape[log_prob.dim() - max_nesting :]
        if any(size != 1 for size in plate_shape[:-1]):
            raise InferenceError(
                f"site {site['name']!r} has batch shape "
                f"{tuple(site['log_prob'].shape)} not explained by its plates; "
                f"declare its dimensions with plates or .to_event()"
            )
        n_frames = plate_shape[-1]
        log_prob = log_prob.reshape((*log_prob.shape[: log_prob.dim() - max_nesting], n_frames))
        total = log_prob if total is None else total + log_prob
    if total is None:
        raise InferenceError(f"the model has no sample site inside a plate named {frames!r}")
    return total


def per_frame_log_density(
    model: Callable[..., Any], site: str, *args: Any, frames: str = FRAMES, **kwargs: Any
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``z -> log p(x_t, z_t)`` for the single latent site ``site``; ``(..., T, D) -> (..., T)``.

    The generic (and default) log density for the kernels of :mod:`inference.mh`: any Pyro
    model, one trace per evaluation. See :class:`inference.gaussian_scale.GaussianScaleLogDensity`
    for a fused equivalent of one specific model.
    """

    def log_density(z: torch.Tensor) -> torch.Tensor:
        return per_frame_log_joint(model, {site: z}, *args, frames=frames, **kwargs)

    return log_density
