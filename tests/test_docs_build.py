"""The documentation site builds in strict mode (any warning fails): every page in the nav,
every cross-reference, the API reference generated from the docstrings, and the executed
notebooks of docs/notebooks/ rendered with their figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e .[docs])")
pytest.importorskip("mkdocstrings", reason="the docs extra is not installed")
pytest.importorskip("mkdocs_jupyter", reason="the docs extra is not installed")


def test_the_site_builds_strictly_with_an_api_page(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    api = (site / "api" / "index.html").read_text()
    assert "PipelineResult" in api and "ChainEStep" in api
    notebooks = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))
    assert notebooks, "no executed notebooks under docs/notebooks/ (make notebooks)"
    for notebook in notebooks:
        page = (site / "notebooks" / notebook.stem / "index.html").read_text()
        assert "data:image/png" in page or "plt" not in notebook.read_text(), notebook.name
