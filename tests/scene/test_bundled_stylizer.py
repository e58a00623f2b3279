"""The stylizer weights and example scenes shipped in the package: present, small, documented,
and enough for ``avgen stylize`` on a fresh install (no --example, no --image)."""

from __future__ import annotations

import json
from importlib.resources import files as package_files

from avgen.audio import SAMPLE_RATE, load_audio
from avgen.cli import main
from avgen.images import load_picture
from avgen.pipelines.scene.stylize import (
    BUNDLED_EXAMPLE,
    BUNDLED_STYLIZER,
    bundled_example,
    bundled_scenes,
    load_stylizer_model,
    stylize_assets,
)


def test_the_bundled_weights_are_small_and_come_with_a_model_card():
    path = stylize_assets() / BUNDLED_STYLIZER
    assert path.stat().st_size < 20e6
    card = path.with_suffix(".md").read_text()
    for needed in ("parameters", "training", "data", "round trip", "Measured"):
        assert needed in card, needed
    assert load_stylizer_model() is not None


def test_the_bundled_scenes_have_sound_picture_and_provenance():
    names = bundled_scenes()
    assert BUNDLED_EXAMPLE in names and len(names) == 4
    info = {
        s["name"]: s
        for s in json.loads((stylize_assets() / "scenes" / "scenes.json").read_text())["scenes"]
    }
    for name in names:
        audio, picture = bundled_example(name)
        assert load_audio(audio).numel() >= SAMPLE_RATE
        assert load_picture(picture).pixels.shape == (128, 128, 3)
        assert {"kit_video", "ambience_type", "noise_id", "split"} <= set(info[name])


def test_avgen_stylize_runs_with_the_bundled_weights_and_scene(tmp_path, capsys):
    speech = package_files("avgen") / "assets" / "samples" / "tv-5" / "clean.wav"
    out = tmp_path / "out.wav"
    assert main(["stylize", str(speech), "-o", str(out), "--steps", "2"]) == 0
    assert load_audio(out).numel() == load_audio(speech).numel()
    assert "the bundled example scene (street.wav)" in capsys.readouterr().out
