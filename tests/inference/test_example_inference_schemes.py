"""Example 03 runs end to end in its fast setting and writes its figure and summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_example_03_runs_fast_and_writes_its_outputs(tmp_path):
    env = dict(
        os.environ,
        AVGEN_EXAMPLE_FAST="1",
        AVGEN_EXAMPLE_OUTPUT=str(tmp_path),
        PYTHONPATH=str(ROOT),
        MPLBACKEND="Agg",
        OMP_NUM_THREADS="1",
    )
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "03_inference_schemes.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    folder = tmp_path / "03_inference_schemes"
    assert (folder / "convergence.png").stat().st_size > 1000
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary) == {"MH", "MALA", "Langevin", "VEM"}
    for name, record in summary.items():
        assert record["objective"][-1] < record["objective"][0], name
    assert 0.1 < summary["MH"]["acceptance"][-1] < 0.6
    assert summary["MH"]["ess_per_frame"] > 1
