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

When and from where: ``l_t`` means something only once the noise model is fitted, and a noise
model fitted around one family of chains favours that family (chains from the audio encoder,
which reads the noisy power, explain part of the noise as speech, and ``W H`` fitted to their
residual then scores them best). So both families run side by side until the switch: ``2C``
chains, ``C`` started at ``c^a`` and ``C`` at ``c^v``, their samples pooled by the M-step, so that
``W H`` is fitted to neither alone; at E-step ``at`` the candidates of chain pair ``c`` are where
the two families' chains ``c`` and ``C + c`` *are* (``c^a``/``c^v`` moved by ``at`` E-steps of
MH), ``rho_{ct}`` is computed from them at that iteration's parameters, and ``C`` chains continue
from the chosen ones. ``at = 0`` compares the encoders' means themselves under the random
initial NMF. :class:`SwitchingStartEStep` wraps any chain E-step (its state's ``extra`` carries
the iteration count and the responsibilities); the final run of the estimate switches too if EM
stopped before ``at``. Cost: the first ``at`` E-steps run twice the chains.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from avgen.errors import ConfigError
from inference.esteps import EStep, EStepResult, EStepState
from inference.mh import LogDensityFn


def _check_candidates(candidates: torch.Tensor) -> None:
    if candidates.ndim < 3 or candidates.shape[0] != 2:
        raise ConfigError(f"candidates must be (2, [C,] T, L); got {tuple(candidates.shape)}")


def audio_responsibility(log_joint: LogDensityFn, candidates: torch.Tensor) -> torch.Tensor:
    """``rho_t = sigmoid(l_t(c^a) - l_t(c^v))``, ``([C,] T)``.

    Args:
        log_joint: ``z (..., T, L) -> log p(x_t, z_t; theta)`` ``(..., T)``.
        candidates: ``(2, [C,] T, L)``: ``[0]`` the audio candidates, ``[1]`` the visual ones.
    """
    _check_candidates(candidates)
    with torch.no_grad():
        scores = log_joint(candidates)
        return torch.sigmoid(scores[0] - scores[1])


def switch_start(
    candidates: torch.Tensor,
    audio_weight: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``([C,] T, L)``: at chain ``c`` and frame ``t``, ``candidates[0, c, t]`` (audio) when
    ``u_ct < audio_weight[c, t]``, ``candidates[1, c, t]`` (visual) otherwise, ``u ~ U[0, 1)``
    from ``generator`` (one draw per chain and frame, always, so the stream does not depend on
    the weights). ``audio_weight`` ``([C,] T)`` or anything that broadcasts to it."""
    _check_candidates(candidates)
    shape = candidates.shape[1:-1]
    try:
        weight = audio_weight.to(candidates.dtype).expand(shape)
    except RuntimeError:
        raise ConfigError(
            f"audio_weight {tuple(audio_weight.shape)} does not fit candidates "
            f"{tuple(candidates.shape)}"
        ) from None
    u = torch.rand(shape, generator=generator, device=candidates.device, dtype=candidates.dtype)
    return torch.where((u < weight).unsqueeze(-1), candidates[0], candidates[1])


def paired_start(candidates: torch.Tensor, n_chains: int) -> torch.Tensor:
    """``(2C, T, L)``: ``C`` chains at ``candidates[0]`` (audio) then ``C`` at
    ``candidates[1]`` (visual), the start of :class:`SwitchingStartEStep`'s two families."""
    _check_candidates(candidates)
    pair = candidates.unsqueeze(1).expand(2, n_chains, *candidates.shape[1:])
    return pair.reshape(2 * n_chains, *candidates.shape[1:])


class SwitchExtra(NamedTuple):
    """What :class:`SwitchingStartEStep` carries in ``EStepState.extra``."""

    count: int  # E-steps run so far
    inner: Any  # the wrapped E-step's own extra
    audio_weight: torch.Tensor | None  # rho_ct once the switch happened, (C, T)


class SwitchingStartEStep:
    """``inner`` on ``2C`` chains (the audio family, then the visual one: :func:`paired_start`)
    until its ``at``-th call (or the first call after it, if EM stopped early), then on ``C``:
    chain ``c`` continues, frame by frame, from family audio's chain ``c`` or family visual's
    by :func:`switch_start` with the responsibilities of :func:`audio_responsibility` at that
    call's ``log_density_fn`` (the current noise model)."""

    def __init__(self, inner: EStep, at: int) -> None:
        if at < 0:
            raise ConfigError(f"the switch iteration must be >= 0; got {at}")
        self.inner, self.at = inner, at
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
            if position.shape[0] % 2:
                raise ConfigError(
                    f"the switching start needs an even number of chains (two families); "
                    f"got {position.shape[0]}"
                )
            families = position.reshape(2, position.shape[0] // 2, *position.shape[1:])
            weight = audio_responsibility(log_density_fn, families)
            position = switch_start(families, weight, generator)
        inner_state, result = self.inner.step(
            EStepState(position, state.step_size, extra.inner), log_density_fn, generator
        )
        new_extra = SwitchExtra(extra.count + 1, inner_state.extra, weight)
        return EStepState(inner_state.position, inner_state.step_size, new_extra), result

    def describe(self) -> str:
        return (
            f"{self.inner.describe()}; two families of chains (from the audio and the visual "
            f"encoder) until E-step {self.at}, then per frame the one chosen by its posterior "
            "responsibility"
        )
