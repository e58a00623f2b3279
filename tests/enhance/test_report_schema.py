"""The --report JSON has exactly the fields docs/enhancement.md documents, no more, no fewer."""

from __future__ import annotations

import json
import re
from pathlib import Path

from avgen.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "avgen" / "assets" / "samples" / "demo" / "noisy.wav"


def _documented() -> set[str]:
    text = (ROOT / "docs" / "enhancement.md").read_text()
    table = text.split("## The `--report` JSON, field by field")[1].split("\n## ")[0]
    names: set[str] = set()
    for row in table.splitlines():
        if row.startswith("| `"):
            first = row.split("|")[1]
            names.update(re.findall(r"`([a-z_]+)`", first))
    return names


def test_the_report_has_the_documented_fields(tmp_path, capsys):
    report = tmp_path / "run.json"
    code = main(
        [
            "enhance",
            str(DEMO),
            "--model",
            "a-vae",
            "-o",
            str(tmp_path / "out.wav"),
            "--report",
            str(report),
            "--em-iters",
            "2",
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    fields = set(json.loads(report.read_text()))
    documented = _documented() - {"segmentation"}  # long inputs only
    assert fields == documented, (fields - documented, documented - fields)
