"""The objective check every scheme shares (``info["objective_check"]``) and its warning."""

from __future__ import annotations

import torch

from avgen.pipelines.vae_nmf.guard import SpeechShareGuard
from inference.em import IterationRecord


def test_the_objective_check_says_worse_only_when_the_end_is_above_the_start():
    guard = SpeechShareGuard(torch.ones(3, 4), stop=False)
    guard.objectives = [0.9, 0.7, 0.95]
    assert guard.objective_report(0.95) == {"first": 0.9, "final": 0.95, "worse": True}
    assert guard.objective_report(0.7)["worse"] is False
    assert guard.objective_report(0.9)["worse"] is False


def test_the_guard_records_the_objective_of_every_iteration():
    guard = SpeechShareGuard(torch.ones(2, 3), stop=False)

    class State:  # speech_share reads the parameters and the sample variances
        from inference.nmf import NMFParams

        params = NMFParams(torch.ones(3, 1), torch.ones(1, 2), torch.ones(2))
        source_variance = torch.ones(1, 2, 3)

    for k, value in enumerate([1.5, 1.2], start=1):
        guard(IterationRecord(k, value, None, 0.0, 0.0), State())
    assert guard.objectives == [1.5, 1.2]
    assert guard.objective_report(1.2) == {"first": 1.5, "final": 1.2, "worse": False}
