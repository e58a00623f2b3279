"""Example 09 runs end to end in its fast setting with the bundled stylizer and writes its
figures, its stylized sentences and its summary."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
@pytest.mark.system
def test_example_09_runs_fast_and_writes_its_outputs(run_example):
    folder = run_example("09_soundscape_stylization")
    for name in ("scenes.png", "stylized.png", "guidance.png", "modalities.png"):
        assert (folder / name).stat().st_size > 1000, name
    summary = json.loads((folder / "summary.json").read_text())
    assert len(summary["scenes"]) == 4
    assert all(s["rt60_output_s"] > 0 for s in summary["scenes"].values())
    assert [c["guidance"] for c in summary["guidance"]["curve"]] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert set(summary["modalities"]) == {"audio + picture", "audio only", "picture only"}
    assert len(list(folder.glob("stylized-*.wav"))) == 4
