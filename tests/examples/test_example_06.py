"""Example 06 runs end to end in its fast setting with the bundled MVSD weights and writes its
figures and summary."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
@pytest.mark.system
def test_example_06_runs_fast_and_writes_its_outputs(run_example):
    folder = run_example("06_visual_acoustic_matching")
    for name in ("rooms.png", "matched_spectrograms.png", "cycle.png"):
        assert (folder / name).stat().st_size > 1000, name
    summary = json.loads((folder / "summary.json").read_text())
    rooms = ("dry-room.png", "medium-room.png", "live-room.png")
    assert all(summary["rt60"][n]["blind_estimate_of_match"] > 0 for n in rooms)
    assert set(summary["cycle"]) == {
        "matched_si_sdr",
        "cycle_si_sdr",
        "matched_estoi",
        "cycle_estoi",
    }
