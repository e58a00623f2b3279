"""The switching start of the MIN-VAE's chains: each frame starts at the audio or the visual
encoder's mean, chosen by that candidate's posterior responsibility under the current noise model.

Sadeghi & Alameda-Pineda ("Mixture of inference networks for VAE-based audio-visual speech
enhancement", IEEE TSP 2021) treat the per-frame switch ``alpha_t`` of the MIN-VAE as a latent
variable whose test-time posterior weighs the two inference networks by how well each explains
the *noisy* frame under the current noise model. The chains of the MCEM E-step move little from
where they start (random walk, proposal variance 0.01), so a start that is right per frame
matters. With the two candidates ``c_t^a = mu_a(x_t)`` (audio encoder on the noisy power) and
``c_t^v = mu_v(v_t)`` (visual encoder on the lips), and the E-step's per-frame log joint at the
current parameters ``theta = (W, H, g)``

    l_t(z) = log p(x_t, z_t = z; theta)
           = log N_c(x_t; 0, g_t sigma2(z) + (W H)_t) + log sum_k pi_k N(z; m_k, s2_k I),

the audio responsibility is the posterior probability of the audio candidate when the posterior
of ``z_t`` is approximated by point masses at the two candidates:

    rho_t = e^{l_t(c^a)} / (e^{l_t(c^a)} + e^{l_t(c^v)}) = sigmoid(l_t(c^a) - l_t(c^v)),

and each chain ``c`` starts frame ``t`` at ``c_t^a`` if ``u_{ct} < rho_t`` else at ``c_t^v``,
``u_{ct} ~ U[0, 1)`` from the run's generator (so ``rho = 1`` is exactly the audio start and
``rho = 0`` exactly the visual one; the choice is made independently per chain and frame).

When: the noise model must be fitted before ``l_t`` means anything, so the E-step runs its first
``at`` iterations from the audio encoder's start (the A-VAE's start, which fits a sensible noise
model), then re-draws every frame's start by ``rho_t`` at the parameters of iteration ``at`` and
continues; ``at = 0`` uses the random initial NMF. :class:`SwitchingStartEStep` wraps any
chain E-step (its state's ``extra`` carries the iteration count and the responsibilities); the
final run of the estimate switches too if EM stopped before ``at``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from avgen.errors import ConfigError
from inference.esteps import EStep, EStepResult, EStepState
from inference.mh import LogDensityFn


def audio_responsibility(log_joint: LogDensityFn, candidates: torch.Tensor) -> torch.Tensor:
    """``rho_t = sigmoid(l_t(c^a) - l_t(c^v))``, ``(T,)``.

    Args:
        log_joint: ``z (..., T, L) -> log p(x_t, z_t; theta)`` ``(..., T)``.
        candidates: ``(2, T, L)``: row 0 the audio encoder's means, row 1 the visual ones.
    """
    if candidates.ndim != 3 or candidates.shape[0] != 2:
        raise ConfigError(f"candidates must be (2, T, L); got {tuple(candidates.shape)}")
    with torch.no_grad():
        scores = log_joint(candidates)
        return torch.sigmoid(scores[0] - scores[1])


def switch_start(
    candidates: torch.Tensor,
    audio_weight: torch.Tensor,
    n_chains: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``(C, T, L)``: chain ``c`` at frame ``t`` starts at ``candidates[0, t]`` (audio) when
    ``u_ct < audio_weight[t]``, at ``candidates[1, t]`` (visual) otherwise, ``u ~ U[0, 1)``
    from ``generator`` (one draw per chain and frame, always, so the stream does not depend on
    the weights)."""
    if candidates.ndim != 3 or candidates.shape[0] != 2:
        raise ConfigError(f"candidates must be (2, T, L); got {tuple(candidates.shape)}")
    n_frames = candidates.shape[1]
    if audio_weight.shape != (n_frames,):
        raise ConfigError(
            f"audio_weight must be (T,) = ({n_frames},); got {tuple(audio_weight.shape)}"
        )
    u = torch.rand(
        (n_chains, n_frames), generator=generator, device=candidates.device, dtype=candidates.dtype
    )
    audio = (u < audio_weight.to(candidates.dtype)).unsqueeze(-1)
    return torch.where(audio, candidates[0], candidates[1])


class SwitchExtra(NamedTuple):
    """What :class:`SwitchingStartEStep` carries in ``EStepState.extra``."""

    count: int  # E-steps run so far
    inner: Any  # the wrapped E-step's own extra
    audio_weight: torch.Tensor | None  # rho_t once the switch happened, (T,)


class SwitchingStartEStep:
    """``inner`` with its chains re-started by :func:`switch_start` at its ``at``-th call (or
    the first call after it, if EM stopped early), the responsibilities computed from that
    call's ``log_density_fn`` (the current noise model)."""

    def __init__(self, inner: EStep, candidates: torch.Tensor, at: int) -> None:
        if at < 0:
            raise ConfigError(f"the switch iteration must be >= 0; got {at}")
        self.inner, self.candidates, self.at = inner, candidates, at
        self.name = inner.name

    def init(self, position: torch.Tensor) -> EStepState:
        state = self.inner.init(position)
        return EStepState(state.position, state.step_size, SwitchExtra(0, state.extra, None))

    def step(
        self,
        state: EStepState,
        log_density_fn: LogDensityFn,
        generator: torch.Generator | None = None,
    ) -> tuple[EStepState, EStepResult]:
        extra: SwitchExtra = state.extra
        position, weight = state.position, extra.audio_weight
        if weight is None and extra.count >= self.at:
            weight = audio_responsibility(log_density_fn, self.candidates)
            start = switch_start(self.candidates, weight, position.shape[0], generator)
            position = start.reshape(position.shape)
        inner_state, result = self.inner.step(
            EStepState(position, state.step_size, extra.inner), log_density_fn, generator
        )
        new_extra = SwitchExtra(extra.count + 1, inner_state.extra, weight)
        return EStepState(inner_state.position, inner_state.step_size, new_extra), result

    def describe(self) -> str:
        return (
            f"{self.inner.describe()}; chains re-started per frame at the audio or visual "
            f"encoder's mean by its posterior responsibility at E-step {self.at}"
        )
