"""``avgen dereverb``: writes the estimate (and the RIR) atomically, prints the T60 per band,
and on bad input prints one line, exits 2 and writes nothing."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from avgen.cli import main


@pytest.fixture()
def reverberant_wav(tmp_path, speechlike):
    path = tmp_path / "in.wav"
    sf.write(path, speechlike.numpy(), 16_000)
    return path


def test_dereverb_writes_audio_and_rir_and_prints_t60(tmp_path, reverberant_wav, capsys):
    out, rir = tmp_path / "out.wav", tmp_path / "rir.wav"
    code = main(
        [
            "dereverb",
            str(reverberant_wav),
            "-o",
            str(out),
            "--rir-out",
            str(rir),
            "--steps",
            "2",
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "125 Hz" in printed and "4000 Hz" in printed and "broadband" in printed
    wav, sr = sf.read(out)
    assert sr == 16_000 and wav.shape == (int(0.6 * 16_000),) and np.isfinite(wav).all()
    h, _ = sf.read(rir)
    assert h[0] == pytest.approx(1.0, abs=1e-6) and h.size == int(1.5 * 16_000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav", "rir.wav"]


@pytest.mark.parametrize(
    "case",
    ["missing", "stereo", "silent", "bad-extension", "no-folder", "bad-steps", "bad-sampler"],
)
def test_dereverb_bad_input_exits_2_and_writes_nothing(tmp_path, speechlike, capsys, case):
    src = tmp_path / "in.wav"
    out = tmp_path / "out.wav"
    data = speechlike.numpy()
    args = ["--steps", "1", "--no-progress"]
    if case == "stereo":
        data = np.stack([data, data], axis=1)
    if case == "silent":
        data = np.zeros_like(data)
    if case != "missing":
        sf.write(src, data, 16_000)
    if case == "bad-extension":
        out = tmp_path / "out.mp3"
    if case == "no-folder":
        out = tmp_path / "nowhere" / "out.wav"
    if case == "bad-steps":
        args = ["--steps", "0"]
    if case == "bad-sampler":
        args = [*args, "--sampler", "dpm++"]
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(
        ["dereverb", str(src), "-o", str(out), "--rir-out", str(tmp_path / "rir.wav"), *args]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("avgen: error:")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_dereverb_a_bug_during_sampling_keeps_its_traceback(tmp_path, reverberant_wav, monkeypatch):
    """Only user mistakes become one line and exit 2; a bug is raised as itself."""

    def broken(self, x0_hat, params, event):
        raise ValueError("m-step bug")

    monkeypatch.setattr("avgen.pipelines.diffusion.dereverb.ProjectedRoomStep.__call__", broken)
    out = tmp_path / "out.wav"
    with pytest.raises(ValueError, match="m-step bug"):
        main(["dereverb", str(reverberant_wav), "-o", str(out), "--steps", "1", "--no-progress"])
    assert not out.exists()
