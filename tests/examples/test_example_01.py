"""Example 01 (data kit and metrics) runs end to end on the tiny kit and writes its outputs."""

from __future__ import annotations

import json


def test_example_01_runs_and_writes_figures_and_scores(tiny_kit, run_example):
    folder = run_example("01_data_and_metrics", kit=tiny_kit)
    for name in ("utterance.png", "room.png"):
        assert (folder / name).stat().st_size > 1000
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["scores"]) == {"noisy", "wiener", "reverberant"}
    assert summary["scores"]["reverberant"]["si_sdr"] < 20
    assert 0.1 < summary["rt60"] < 3.0
