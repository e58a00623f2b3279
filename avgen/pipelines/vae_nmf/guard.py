"""A guard every scheme shares: does the speech estimate survive the EM iterations?

Measured on real speech the kit never used (``avgen.data.kit.heldout``, city ambience at 0 dB),
variational EM could take ESTOI from 0.50 to 0.02 while its own objective -- and the EM's IS
divergence -- kept improving: the encoder's ``q`` fell back to the prior, the NMF noise model
(rank 10 can fit speech too) absorbed the speech, the gains shrank, and a likelihood blind to
the latents kept ``q`` at the prior. No objective of the model flags it; the share of the input
that the speech estimate keeps (:func:`inference.nmf_em.speech_share`) does: it fell from 0.85
after the first iteration to 0.00.

:class:`SpeechShareGuard` records that share after every EM iteration. The run is *collapsed*
when the share falls below ``ratio`` (a quarter) times its value after the first iteration;
the result says so (``info["speech_share"]``) and, where ``stop`` is set (variational EM by
default), EM stops there and the estimate is taken from the last state before the collapse.

It also records the EM objective (the sample-averaged IS divergence per bin after each M-step,
lower is better) for every scheme: :meth:`SpeechShareGuard.objective_report` says whether the
run ended with an objective *worse* than after its first iteration (``info["objective_check"]``),
which a healthy EM run never does and ``avgen enhance``'s report warns about.
"""

from __future__ import annotations

from typing import Any

import torch

from inference.em import IterationRecord
from inference.nmf_em import NMFEMState, speech_share

#: collapsed when the share falls below this fraction of its value after the first iteration
#: (healthy MH, MALA and Langevin runs on the held-out city and TV mixtures ended between 0.33
#: and 0.89 of it; collapsing VEM runs fell to 0.00)
COLLAPSE_RATIO = 0.25


class SpeechShareGuard:
    """An EM callback: the speech share per iteration, the last state before a collapse, and
    (with ``stop``) a request to stop at the collapse."""

    def __init__(self, power: torch.Tensor, *, stop: bool, ratio: float = COLLAPSE_RATIO) -> None:
        self.power = power
        self.stop = stop
        self.ratio = ratio
        self.shares: list[float] = []
        self.objectives: list[float] = []
        self.last_good: NMFEMState | None = None
        self.last_good_objective: float | None = None
        self.collapsed_at: int | None = None

    def __call__(self, record: IterationRecord, state: Any) -> bool:
        self.objectives.append(float(record.objective))
        share = speech_share(self.power, state)
        self.shares.append(share)
        if self.collapsed_at is None and share < self.ratio * self.shares[0]:
            self.collapsed_at = record.iteration
        if self.collapsed_at is None:
            self.last_good = state
            self.last_good_objective = self.objectives[-1]
        return self.stop and self.collapsed_at is not None

    def report(self, final_share: float) -> dict[str, Any]:
        """``info["speech_share"]``: after the first iteration, at the end, per iteration, and
        whether (and when) the run collapsed."""
        return {
            "first": self.shares[0] if self.shares else None,
            "final": final_share,
            "per_iteration": self.shares,
            "collapsed_at": self.collapsed_at,
            "stopped": self.stop and self.collapsed_at is not None,
        }

    def objective_report(self, final_objective: float) -> dict[str, Any]:
        """``info["objective_check"]``: the IS divergence per bin after the first iteration and
        at the end (that of the state the estimate comes from), and ``worse``: whether the end
        is worse (higher) than the start."""
        first = self.objectives[0] if self.objectives else None
        worse = first is not None and final_objective > first
        return {"first": first, "final": final_objective, "worse": bool(worse)}
