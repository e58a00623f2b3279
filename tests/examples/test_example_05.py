"""Example 05 runs end to end in its fast setting and writes its figures and summary."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
@pytest.mark.system
def test_example_05_runs_fast_and_writes_its_outputs(run_example):
    folder = run_example("05_diffusion_priors")
    for name in ("toy_samplers.png", "speech_samples.png", "dereverb_rir.png"):
        assert (folder / name).stat().st_size > 1000, name
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["toy"]) == {"euler", "heun", "pc", "ddim", "dpmpp_2m"}
    assert all(v["mean_err"] < 0.1 for v in summary["toy"].values())
    assert summary["dereverb"]["est_t60"] > 0
    assert len(summary["dereverb"]["est_t60_bands"]) == 6
