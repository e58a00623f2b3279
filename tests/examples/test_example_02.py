"""Example 02 (VAE priors) runs end to end in its fast setting on the tiny kit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_example_02_trains_three_priors_and_writes_its_figures(tiny_kit, tmp_path):
    env = dict(os.environ, AVGEN_EXAMPLE_FAST="1", AVGEN_EXAMPLE_OUTPUT=str(tmp_path),
               AVGEN_KIT=str(tiny_kit), PYTHONPATH=str(ROOT), MPLBACKEND="Agg",
               OMP_NUM_THREADS="1", AVGEN_PROGRESS="0")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "02_vae_priors.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    folder = tmp_path / "02_vae_priors"
    for name in ("training.png", "reconstructions.png", "traversals.png", "visual_weight.png"):
        assert (folder / name).stat().st_size > 1000, name
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["val_elbo"]) == {"a-vae", "v-vae", "min-vae"}
    # lips say less than audio, even after a few epochs
    assert summary["val_elbo"]["v-vae"] < summary["val_elbo"]["a-vae"]
    weights = summary["visual_weight"]
    assert weights["-10"] > weights["clean"]
