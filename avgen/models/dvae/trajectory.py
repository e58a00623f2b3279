"""An E-step that moves a whole latent trajectory at once, for priors whose frames are coupled
through every later frame (the RVAE).

For the RVAE (:mod:`avgen.models.dvae.rvae`) ``z_t`` enters the variance of every frame
``t' >= t`` through the decoder's RNN, so the full conditional of ``z_t`` involves all later
frames: neither the per-frame kernels of :mod:`inference.mh` (which accept or reject each frame
on its own term) nor the checkerboard kernel of :mod:`inference.markov_mh` (which needs a
first-order Markov blanket) leave ``p(z | x)`` invariant. Any kernel of :mod:`inference.chain`
does, however, when it sees the trajectory as ONE frame: :class:`TrajectoryEStep` views the
chains' positions ``(C, T, L)`` as ``(C, 1, T L)`` and the per-frame log joint ``(C, T)`` as its
sum ``(C, 1)`` (for a prior of i.i.d. ``N(0, I)`` latents the fused per-frame terms of
:class:`inference.gaussian_scale.GaussianScaleLogDensity` sum to ``log p(x, z)`` exactly), runs
the wrapped E-step on that view (e.g. MALA, whose gradient step moves all frames coherently,
with its step adapted by dual averaging), and hands the samples back as ``(R, C, T, L)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from inference.esteps import ChainEStep, EStepResult, EStepState

LogDensityFn = Callable[[torch.Tensor], torch.Tensor]


class _JointDensity:
    """``(..., 1, T L) -> (..., 1)``: the per-frame log density summed over the trajectory."""

    def __init__(self, per_frame: LogDensityFn, n_frames: int, latent_dim: int) -> None:
        self.per_frame, self.n_frames, self.latent_dim = per_frame, n_frames, latent_dim

    def __call__(self, flat: torch.Tensor) -> torch.Tensor:
        z = flat.reshape(*flat.shape[:-2], self.n_frames, self.latent_dim)
        return self.per_frame(z).sum(-1, keepdim=True)


class TrajectoryEStep:
    """``inner`` (a :class:`~inference.esteps.ChainEStep`) run on the whole trajectory as one
    block: one accept/reject per chain and step (module docstring)."""

    def __init__(self, inner: ChainEStep) -> None:
        self.inner = inner
        self.name = f"{inner.name}-trajectory"

    def init(self, position: torch.Tensor) -> EStepState:
        return self.inner.init(position)

    def step(
        self,
        state: EStepState,
        log_density_fn: LogDensityFn,
        generator: torch.Generator | None = None,
    ) -> tuple[EStepState, EStepResult]:
        position = state.position
        *lead, n_frames, latent_dim = position.shape
        flat = position.reshape(*lead, 1, n_frames * latent_dim)
        joint = _JointDensity(log_density_fn, n_frames, latent_dim)
        inner_state, result = self.inner.step(
            EStepState(flat, state.step_size, state.extra), joint, generator
        )
        samples = result.samples.reshape(*result.samples.shape[:-2], n_frames, latent_dim)
        new_position = inner_state.position.reshape(*lead, n_frames, latent_dim)
        frames = result.frame_acceptance
        if frames is not None:  # one decision per trajectory, reported at every frame
            frames = frames.expand(*frames.shape[:-1], n_frames)
        out = EStepResult(samples, new_position, result.acceptance_rate, frames, result.info)
        return EStepState(new_position, inner_state.step_size, inner_state.extra), out

    def describe(self) -> str:
        return self.inner.describe().replace(" per frame", " on the whole trajectory", 1)
