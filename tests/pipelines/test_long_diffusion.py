"""The diffusion pipelines on long inputs (avgen.pipelines.long): segments joined into a result
of the whole run's form, maps at the whole file's level, the room summarised."""

from __future__ import annotations

import numpy as np
import pytest

from avgen.pipelines.long import SegmentPlan, dereverberate_long, enhance_diffusion_long


@pytest.mark.parametrize("function", [enhance_diffusion_long, dereverberate_long])
def test_the_diffusion_pipelines_join_segments(function, tiny_prior, speechlike):
    wave = speechlike.repeat(4)  # 2.4 s
    plan = SegmentPlan(segment_s=1.0, overlap_s=0.2, threshold_s=0.0)
    options = {"prior": tiny_prior, "steps": 2, "progress": False}
    if function is dereverberate_long:
        options["rir_seconds"] = 0.8
    out = function(wave, seed=0, plan=plan, **options)
    whole = function(wave, seed=0, **options)
    assert out.estimate.shape == wave.shape and np.isfinite(out.estimate.numpy()).all()
    assert out.spectrum.shape == whole.spectrum.shape
    assert out.info["input_gain"] == pytest.approx(whole.info["input_gain"])
    if function is dereverberate_long:
        assert out.extras["rir"].shape == whole.extras["rir"].shape
        assert out.extras["t60_per_band"].keys() == whole.extras["t60_per_band"].keys()


def test_dereverb_runs_a_batch_and_reports_the_bad_file(tmp_path, speechlike, capsys):
    import soundfile as sf

    from avgen.cli import main

    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a.wav", "b.wav"):
        sf.write(inputs / name, speechlike.numpy(), 16_000)
    (inputs / "broken.wav").write_bytes(b"RIFF not really a wav")
    out = tmp_path / "out"
    code = main(["dereverb", str(inputs), "-o", str(out), "--steps", "2", "--no-progress"])
    table = capsys.readouterr().out
    assert code == 1 and "2 done" in table and "broken.wav" in table and "1 failed" in table
    assert sorted(p.name for p in out.iterdir()) == ["a.wav", "b.wav"]
