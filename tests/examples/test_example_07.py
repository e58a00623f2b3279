"""Example 07 (NUTS, MALA and RWM on a MIN-VAE enhancement posterior) runs in its fast setting."""

from __future__ import annotations

import json


def test_example_07_compares_samplers_on_the_same_frames(run_example):
    folder = run_example("07_samplers_on_the_enhancement_posterior")
    assert (folder / "ess_per_second.png").stat().st_size > 1000
    summary = json.loads((folder / "summary.json").read_text())
    assert len(summary) == 4 and any(name.startswith("NUTS") for name in summary)
    for name, row in summary.items():
        assert row["seconds"] > 0 and row["median_bulk_ess"] > 0, name
        assert row["max_rhat"] >= 1.0, name
