"""Example 05 runs end to end in its fast setting and writes its figures and summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.system
def test_example_05_runs_fast_and_writes_its_outputs(tmp_path):
    env = dict(os.environ, AVGEN_EXAMPLE_FAST="1", AVGEN_EXAMPLE_OUTPUT=str(tmp_path),
               PYTHONPATH=str(ROOT), MPLBACKEND="Agg", OMP_NUM_THREADS="1", AVGEN_PROGRESS="0")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "05_diffusion_priors.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    folder = tmp_path / "05_diffusion_priors"
    for name in ("toy_samplers.png", "speech_samples.png", "dereverb_rir.png"):
        assert (folder / name).stat().st_size > 1000, name
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["toy"]) == {"euler", "heun", "pc", "ddim", "dpmpp_2m"}
    assert all(v["mean_err"] < 0.1 for v in summary["toy"].values())
    assert summary["dereverb"]["est_t60"] > 0
    assert len(summary["dereverb"]["est_t60_bands"]) == 6
