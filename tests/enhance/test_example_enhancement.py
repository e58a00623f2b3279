"""Example 04 runs end to end in its fast setting and writes its figures, audio and summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_example_04_runs_fast_and_writes_its_outputs(tmp_path):
    env = dict(
        os.environ,
        AVGEN_EXAMPLE_FAST="1",
        AVGEN_EXAMPLE_OUTPUT=str(tmp_path),
        PYTHONPATH=str(ROOT),
        MPLBACKEND="Agg",
        OMP_NUM_THREADS="1",
    )
    script = ROOT / "examples" / "04_unsupervised_enhancement.py"
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    folder = tmp_path / "04_unsupervised_enhancement"
    for name in ("min-vae.png", "a-vae.png", "enhanced_min-vae.wav", "enhanced_a-vae.wav"):
        assert (folder / name).stat().st_size > 1000, name
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["metrics"]) == {"noisy", "a-vae (no lips)", "min-vae (lips)"}
    for record in summary["uncertainty"].values():
        assert -1 <= record["spearman_variance_error"] <= 1
    assert len(summary["objective"]["min-vae"]) == 3
