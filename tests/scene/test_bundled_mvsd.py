"""The MVSD weights and RT60 estimator shipped in the package: present, small, documented, and
enough for ``avgen match`` on a fresh install."""

from __future__ import annotations

from importlib.resources import files as package_files
from pathlib import Path

import torch

from avgen.audio import SAMPLE_RATE, load_audio
from avgen.cli import main
from avgen.pipelines.scene.mvsd import bundled_mvsd_path, bundled_rt60_estimator, load_mvsd_model

ROOMS = Path(str(package_files("avgen") / "assets" / "rooms"))


def test_the_bundled_weights_are_small_and_come_with_a_model_card():
    path = bundled_mvsd_path()
    assert path.stat().st_size < 20e6
    card = path.with_suffix(".md").read_text()
    for needed in ("parameters", "training", "data", "STFT distance", "RTE"):
        assert needed in card, needed
    model = load_mvsd_model()
    assert model.config.use_picture


def test_the_bundled_rt60_estimator_hears_a_longer_tail_as_a_longer_rt60():
    estimator = bundled_rt60_estimator()
    gen = torch.Generator().manual_seed(0)
    speech = torch.randn(2 * SAMPLE_RATE, generator=gen) * torch.rand(
        2 * SAMPLE_RATE, generator=gen
    )
    t = torch.arange(SAMPLE_RATE) / SAMPLE_RATE

    def room(rt60: float) -> torch.Tensor:
        h = torch.randn(SAMPLE_RATE, generator=gen) * torch.exp(-6.9 * t / rt60)
        h[0] = 1.0
        return torch.nn.functional.conv1d(
            torch.nn.functional.pad(speech, (SAMPLE_RATE - 1, 0))[None, None], h.flip(0)[None, None]
        )[0, 0]

    assert estimator.estimate(room(1.2)) > estimator.estimate(room(0.2))


def test_avgen_match_runs_with_the_bundled_weights(tmp_path, capsys):
    clean = package_files("avgen") / "assets" / "samples" / "demo" / "clean.wav"
    out = tmp_path / "out.wav"
    code = main(["match", str(clean), "--image", str(ROOMS / "medium-room.png"), "-o", str(out),
                 "--steps", "3", "--no-progress"])  # fmt: skip
    assert code == 0
    assert load_audio(out).numel() == load_audio(clean).numel() + SAMPLE_RATE
