"""Example 08 (teaching MCMC diagnostics on the enhancement posterior) runs in its fast setting."""

from __future__ import annotations

import json


def test_example_08_diagnoses_three_samplers_and_draws_its_figures(run_example):
    folder = run_example("08_mcmc_diagnostics")
    for name in ("traces.png", "step_sizes.png"):
        assert (folder / name).stat().st_size > 1000, name
    summary = json.loads((folder / "summary.json").read_text())
    assert len(summary) == 3
    for name, row in summary.items():
        assert row["rank_rhat_max"] >= 1.0 and row["bulk_ess_median"] > 0, name
        assert 0 <= row["geweke_share_abs_z_above_2"] <= 1, name
        assert 0 < row["acceptance"] < 1, name
