"""Example 02 (VAE priors) runs end to end in its fast setting on the tiny kit."""

from __future__ import annotations

import json


def test_example_02_trains_three_priors_and_writes_its_figures(tiny_kit, run_example):
    folder = run_example("02_vae_priors", kit=tiny_kit)
    for name in ("training.png", "reconstructions.png", "traversals.png", "visual_weight.png"):
        assert (folder / name).stat().st_size > 1000, name
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["val_elbo"]) == {"a-vae", "v-vae", "min-vae"}
    # lips say less than audio, even after a few epochs
    assert summary["val_elbo"]["v-vae"] < summary["val_elbo"]["a-vae"]
    weights = summary["visual_weight"]
    assert weights["-10"] > weights["clean"]
