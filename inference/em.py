"""One (Monte-Carlo / variational) EM driver with pluggable E- and M-steps.

EM for a latent-variable model ``p(x, z; theta)`` alternates

    E-step: represent p(z | x; theta_k)   (samples, or a variational q)
    M-step: theta_{k+1} = argmax_theta Q_k(theta),
            Q_k(theta) = E_{p(z|x;theta_k)}[log p(x, z; theta)]

In Monte-Carlo EM (Wei & Tanner, 1990) the expectation is replaced by an average over ``R``
posterior samples ``z^(r)`` (from MCMC: :class:`~inference.esteps.MHEStep`,
:class:`~inference.esteps.LangevinEStep`); in variational EM by an expectation under ``q``
(:class:`~inference.vem.VariationalEStep`). :func:`run_em` does not care which: it calls
``e_step(state, generator)`` and ``m_step(state)`` alternately and records what they report.

**Objective.** ``m_step`` returns a scalar "objective" of the new parameters, the quantity whose
relative change stops the iterations and whose trace the user plots. For Monte-Carlo EM the
natural choice is ``-Q_k(theta_{k+1}) / n`` estimated with the current samples, i.e. a
negative Monte-Carlo expected complete-data log-likelihood per observation; for the
Gaussian-scale + NMF model (:mod:`inference.nmf_em`) it is the sample-averaged Itakura-Saito
divergence per time-frequency bin, which equals that quantity up to constants that depend on the
data only. Because the samples change at every iteration, the Monte-Carlo objective is noisy
and need not decrease monotonically; the ``tol`` test therefore compares successive values
with relative change ``|o_k - o_{k-1}| / max(|o_{k-1}|, tiny)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar

import torch

from inference.errors import InferenceError, NumericalError
from inference.history import History

S = TypeVar("S")

EStepFn = Callable[[S, "torch.Generator | None"], "tuple[S, float | None]"]
"""``e_step(state, generator) -> (state, acceptance_rate or None)``."""

MStepFn = Callable[[S], "tuple[S, float]"]
"""``m_step(state) -> (state, objective)``."""


class IterationRecord(NamedTuple):
    """One EM iteration: objective after the M-step, E-step acceptance, wall-clock seconds."""

    iteration: int
    objective: float
    acceptance_rate: float | None
    e_step_seconds: float
    m_step_seconds: float

    @property
    def seconds(self) -> float:
        return self.e_step_seconds + self.m_step_seconds


EMCallback = Callable[[IterationRecord, S], "bool | None"]

StateCheck = Callable[[S], "str | None"]
"""``check(state)``: the name of a quantity of ``state`` that is not finite, or ``None``."""
"""``callback(record, state)`` after every iteration; returning ``True`` stops the run."""


def relative_change(new: float, old: float) -> float:
    """``|new - old| / max(|old|, 1e-300)``."""
    return abs(new - old) / max(abs(old), 1e-300)


def run_em(
    e_step: EStepFn,
    m_step: MStepFn,
    state: S,
    *,
    n_iter: int,
    tol: float | None = None,
    generator: torch.Generator | None = None,
    callbacks: Sequence[EMCallback] = (),
    check: StateCheck | None = None,
) -> tuple[S, History]:
    """Alternate ``e_step`` and ``m_step`` for at most ``n_iter`` iterations.

    Stops early when the relative change of the objective falls below ``tol`` (if given) or a
    callback returns ``True`` (``stop_reason`` says which). Returns the final state and the
    :class:`History`.

    Raises:
        NumericalError: the objective, or a quantity ``check`` names after the E-step or the
            M-step, is not finite; the message names the iteration and the quantity (a failure
            of the scheme, never of the data).
    """
    if n_iter < 1:
        raise InferenceError(f"n_iter must be >= 1; got {n_iter}")
    if tol is not None and tol < 0:
        raise InferenceError(f"tol must be >= 0; got {tol}")
    history: History = History()
    history.stop_reason = "n_iter"
    for iteration in range(n_iter):
        started = time.perf_counter()
        state, acceptance = e_step(state, generator)
        e_seconds = time.perf_counter() - started
        _check(check, state, iteration, "E-step")
        started = time.perf_counter()
        state, objective = m_step(state)
        m_seconds = time.perf_counter() - started
        _check(check, state, iteration, "M-step")
        if not math.isfinite(float(objective)):
            raise NumericalError(f"EM iteration {iteration}: the objective is {float(objective)}")
        record = IterationRecord(
            iteration,
            float(objective),
            None if acceptance is None else float(acceptance),
            e_seconds,
            m_seconds,
        )
        history.records.append(record)
        stop = False
        for callback in callbacks:
            stop = bool(callback(record, state)) or stop
        if stop:
            history.stop_reason = "callback"
            break
        if (
            tol is not None
            and iteration > 0
            and relative_change(record.objective, history.records[-2].objective) < tol
        ):
            history.converged = True
            history.stop_reason = "tol"
            break
    return state, history


def _check(check: StateCheck | None, state: S, iteration: int, phase: str) -> None:
    name = None if check is None else check(state)
    if name is not None:
        raise NumericalError(f"EM iteration {iteration}, after the {phase}: {name} is not finite")
