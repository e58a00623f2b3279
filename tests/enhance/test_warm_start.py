"""A warm start (``start_from``, ``avgen enhance --init-from``): the chains start at the encoder
on a speech estimate and the NMF on its residual; the model and EM are unchanged, the result is
reported as warm-started, and a good estimate gives a better start than the cold one."""

from __future__ import annotations

import json

import pytest
import torch

from avgen.audio import load_audio
from avgen.baselines.references import available_references
from avgen.cli import main
from avgen.errors import ConfigError
from avgen.metrics import si_sdr
from avgen.models import load_model
from avgen.pipelines.vae_nmf import EMSchedule, enhance
from avgen.samples import bundled_clip_dir

SHORT = EMSchedule(n_iter=10)


@pytest.fixture(scope="module")
def clip():
    folder = bundled_clip_dir("city-0")
    return load_audio(folder / "noisy.wav"), load_audio(folder / "clean.wav"), folder


def test_the_clean_speech_as_warm_start_beats_the_cold_start(clip):
    noisy, clean, _ = clip
    model = load_model("a-vae")
    cold = enhance(noisy, model, seed=0, schedule=SHORT)
    warm = enhance(noisy, model, seed=0, schedule=SHORT, start_from=clean, init="audio")
    again = enhance(noisy, model, seed=0, schedule=SHORT, start_from=clean, init="audio")
    assert torch.equal(warm.estimate, again.estimate)
    assert warm.info["start_from"] == "given" and cold.info["start_from"] is None
    assert float(si_sdr(clean, warm.estimate)) > float(si_sdr(clean, cold.estimate)) + 3.0


def test_an_estimate_of_another_length_is_refused(clip):
    noisy, clean, _ = clip
    with pytest.raises(ConfigError, match="same recording"):
        enhance(noisy, load_model("a-vae"), schedule=SHORT, start_from=clean[:-10])


def test_the_diffusion_prior_refuses_a_warm_start(clip, tmp_path, capsys):
    _, _, folder = clip
    argv = ["enhance", str(folder / "noisy.wav"), "-o", str(tmp_path / "o.wav")]
    assert main([*argv, "--model", "diffusion-prior", "--init-from", "spectral-gating"]) == 2
    assert "--init-from" in capsys.readouterr().err
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.skipif(
    "spectral-gating" not in available_references(), reason="noisereduce (avgen[references])"
)
def test_the_command_line_says_and_reports_the_warm_start(clip, tmp_path, capsys):
    _, _, folder = clip
    out, report = tmp_path / "o.wav", tmp_path / "r.json"
    argv = ["enhance", str(folder / "noisy.wav"), "-o", str(out), "--report", str(report)]
    assert main([*argv, "--init-from", "spectral-gating", "--em-iters", "3"]) == 0
    assert "not an unsupervised one" in capsys.readouterr().out
    assert json.loads(report.read_text())["init_from"] == "spectral-gating"
    assert out.exists()
