"""Example 01 (data kit and metrics) runs end to end on the tiny kit and writes its outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_example_01_runs_and_writes_figures_and_scores(tiny_kit, tmp_path):
    env = dict(os.environ, AVGEN_EXAMPLE_FAST="1", AVGEN_EXAMPLE_OUTPUT=str(tmp_path),
               AVGEN_KIT=str(tiny_kit), PYTHONPATH=str(ROOT), MPLBACKEND="Agg",
               OMP_NUM_THREADS="1", AVGEN_PROGRESS="0")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "01_data_and_metrics.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    folder = tmp_path / "01_data_and_metrics"
    for name in ("utterance.png", "room.png"):
        assert (folder / name).stat().st_size > 1000
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["scores"]) == {"noisy", "wiener", "reverberant"}
    assert summary["scores"]["reverberant"]["si_sdr"] < 20
    assert 0.1 < summary["rt60"] < 3.0
