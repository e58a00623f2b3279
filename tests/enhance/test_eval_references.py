"""Reference enhancers as rows of ``avgen eval``: scored on the same mixtures as the baselines,
declared in the settings, and a missing extra is a one-line note, not a failure."""

from __future__ import annotations

import json

import pytest

from avgen.baselines import references as R
from avgen.cli.eval import select_references
from avgen.errors import ConfigError, MissingToolError
from avgen.evaluation import evaluate_kit

from .test_cli import FAST, _tiny_kit


def test_select_references_reads_all_none_and_lists(monkeypatch):
    assert select_references("none") == ([], [])
    names, notes = select_references("all")
    assert names + [n.split(":")[0] for n in notes] == list(R.REFERENCES)
    with pytest.raises(ConfigError, match="unknown reference"):
        select_references("rnnoise,nope")
    monkeypatch.setattr(R, "is_installed", lambda package: package != "pyrnnoise")
    names, notes = select_references("rnnoise,spectral-gating")
    assert names == ["spectral-gating"]
    assert len(notes) == 1 and notes[0].startswith("rnnoise: skipped") and "\n" not in notes[0]
    assert "avgen[references]" in notes[0]


def test_evaluate_kit_scores_the_references_on_the_same_mixtures(tmp_path):
    available = R.available_references()
    if not available:
        pytest.skip("no reference enhancer installed (pip install 'avgen[references]')")
    kit = _tiny_kit(tmp_path / "kit", None)
    scores, settings = evaluate_kit(kit, {}, snrs=[0.0], references=available)
    assert settings["methods"] == ["noisy", "wiener", *available]
    assert set(settings["references"]) == set(available)
    by_method = {}
    for s in scores:
        by_method.setdefault(s.method, []).append(s.mixture_id)
    assert all(by_method[m] == by_method["noisy"] for m in available)
    assert all(s.si_sdr == s.si_sdr for s in scores)  # finite metrics, no NaN


def test_evaluate_kit_with_a_missing_reference_fails_before_any_work(tmp_path, monkeypatch):
    kit = _tiny_kit(tmp_path / "kit", None)
    monkeypatch.setattr(R, "is_installed", lambda package: False)
    with pytest.raises(MissingToolError, match=r"avgen\[references\]"):
        evaluate_kit(kit, {}, references=["dfn3"])


def test_the_cli_notes_a_missing_reference_in_one_line(tmp_path, monkeypatch, capsys):
    from avgen.cli import main

    from .helpers import save_tiny, tiny_model

    if not R.is_installed("noisereduce"):
        pytest.skip("noisereduce is not installed (pip install 'avgen[references]')")
    kit = _tiny_kit(tmp_path / "kit", None)
    save_tiny(tiny_model("a-vae"), tmp_path / "a.pt")
    monkeypatch.setattr(R, "is_installed", lambda package: package == "noisereduce")
    out = tmp_path / "eval"
    code = main(
        [
            "eval",
            "--data",
            str(kit),
            "--models",
            f"a={tmp_path / 'a.pt'}",
            "--snr",
            "0",
            "--references",
            "all",
            "--out",
            str(out),
            *FAST,
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "| spectral-gating |" in text
    assert "note: rnnoise: skipped" in text and "note: dfn3: skipped" in text
    data = json.loads((out / "eval.json").read_text())
    assert {r["method"] for r in data["rows"]} == {"noisy", "wiener", "spectral-gating", "a"}
    assert len(data["settings"]["references_skipped"]) == 2
