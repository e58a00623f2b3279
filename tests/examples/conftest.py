"""Running an example script the way a reader would, in its fast setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_example(tmp_path):
    """``run_example("02_vae_priors", kit=...)`` runs ``examples/<name>.py`` with
    ``AVGEN_EXAMPLE_FAST=1`` in a subprocess and returns its output folder."""

    def run(name: str, *, kit: Path | None = None, timeout: int = 300) -> Path:
        env = dict(
            os.environ,
            AVGEN_EXAMPLE_FAST="1",
            AVGEN_EXAMPLE_OUTPUT=str(tmp_path),
            PYTHONPATH=str(ROOT),
            MPLBACKEND="Agg",
            OMP_NUM_THREADS="1",
            AVGEN_PROGRESS="0",
        )
        if kit is not None:
            env["AVGEN_KIT"] = str(kit)
        out = subprocess.run(
            [sys.executable, str(ROOT / "examples" / f"{name}.py")],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        return tmp_path / name

    return run
