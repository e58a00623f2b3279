"""`avgen enhance --model dkf`: the temporal prior through the VAE-NMF pipeline (checkerboard MH
on the latent trajectory), its reproducibility, and the schemes it refuses."""

from __future__ import annotations

import json
from importlib.resources import files as package_files

import pytest
import torch

from avgen.audio import load_audio
from avgen.cli import main
from avgen.errors import ConfigError
from avgen.models.dvae import DeepKalmanFilter, DKFConfig, save_dkf
from avgen.pipelines.vae_nmf import EMSchedule, enhance
from avgen.pipelines.vae_nmf.schemes import resolve_scheme
from inference.markov_mh import CHECKERBOARD_RWM

CLIP = package_files("avgen") / "assets" / "samples" / "city-0"
SHORT = ["--em-iters", "3", "--steps", "6", "--burn-in", "3", "--no-progress"]
TINY = DKFConfig(latent_dim=3, hidden_dim=8, transition_dim=6, rnn_dim=5)


def _run(out, *extra):
    return main(["enhance", str(CLIP / "noisy.wav"), "-o", str(out), *SHORT, *extra])


def test_the_bundled_dkf_enhances_a_bundled_clip_with_checkerboard_mh(tmp_path, capsys):
    out, report = tmp_path / "dkf.wav", tmp_path / "r.json"
    assert _run(out, "--model", "dkf", "--report", str(report)) == 0
    printed = capsys.readouterr().out
    assert "with the dkf speech prior" in printed and "checkerboard" in printed
    noisy, enhanced = load_audio(CLIP / "noisy.wav"), load_audio(out)
    assert enhanced.shape == noisy.shape
    assert bool(torch.isfinite(enhanced).all())
    # a Wiener estimate keeps part of the input's energy, neither nothing nor more than all
    assert 0 < float(enhanced.square().sum()) < float(noisy.square().sum())
    info = json.loads(report.read_text())
    assert info["model"] == "dkf" and info["e_step"].startswith("checkerboard-rwm")
    assert 0 < info["final_acceptance"] <= 1
    assert info["uncertainty"]["mean_posterior_variance"] > 0


def test_same_seed_same_output_another_seed_another(tmp_path):
    paths = [tmp_path / f"{name}.wav" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (3, 3, 4)):
        assert _run(path, "--model", "dkf", "--seed", str(seed)) == 0
    a, b, c = (load_audio(p) for p in paths)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("scheme", ["mcem-mala", "langevin"])
def test_a_scheme_that_cannot_sample_a_markov_prior_is_one_line(tmp_path, capsys, scheme):
    out = tmp_path / "o.wav"
    assert _run(out, "--model", "dkf", "--scheme", scheme) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("avgen: error:")
    assert f"--scheme {scheme}" in err and "mcem-mh" in err
    assert not out.exists()


def test_variational_em_fine_tunes_the_dkfs_guide_over_the_whole_trajectory(tmp_path, capsys):
    out, report = tmp_path / "vem.wav", tmp_path / "r.json"
    assert _run(out, "--model", "dkf", "--scheme", "vem", "--report", str(report)) == 0
    assert "VEM (the guide over the whole trajectory): 1 Adam update(s)" in capsys.readouterr().out
    info = json.loads(report.read_text())
    assert info["e_step"].startswith("variational (structured guide")
    assert info["schedule"]["vem_updates"] == 1
    enhanced, noisy = load_audio(out), load_audio(CLIP / "noisy.wav")
    assert bool(torch.isfinite(enhanced).all())
    assert 0 < float(enhanced.square().sum()) < float(noisy.square().sum())
    # its guide is all it can fine-tune: the prior's mean path is not a guide
    assert _run(tmp_path / "p.wav", "--model", "dkf", "--scheme", "vem", "--init", "prior") == 2
    assert "use --init audio" in capsys.readouterr().err
    # nor chains: it draws from q
    assert _run(tmp_path / "c.wav", "--model", "dkf", "--scheme", "vem", "--chains", "2") == 2
    assert "runs no chains" in capsys.readouterr().err
    assert not (tmp_path / "c.wav").exists()


def test_a_start_the_dkf_has_not_is_refused(tmp_path, capsys):
    assert _run(tmp_path / "o.wav", "--model", "dkf", "--init", "visual") == 2
    assert "cannot start its chains from 'visual'" in capsys.readouterr().err


def test_library_call_by_name_and_by_checkpoint_path(tmp_path):
    torch.manual_seed(0)
    model = DeepKalmanFilter(TINY).eval()
    path = save_dkf(tmp_path / "tiny-dkf.pt", model)
    noisy = load_audio(CLIP / "noisy.wav")[:16000]
    schedule = EMSchedule(n_iter=2, n_steps=4, burn_in=2)
    from_path = enhance(noisy, str(path), schedule=schedule, seed=1)
    from_model = enhance(noisy, model, schedule=schedule, seed=1, init="prior")
    assert from_path.info["model"] == "dkf" and from_model.info["init"] == "prior"
    assert from_path.estimate.shape == noisy.shape
    assert bool(torch.isfinite(from_model.estimate).all())
    # the per-frame acceptance of the final run is reported frame by frame
    assert from_path.extras["frame_acceptance"].shape == (from_path.info["n_frames"],)


def test_mcem_mh_resolves_to_the_checkerboard_kernel_only_for_a_markov_prior():
    schedule = EMSchedule(proposal_variance=0.04)
    markov = resolve_scheme("mcem-mh", schedule, markov=True)
    plain = resolve_scheme("mcem-mh", schedule)
    assert markov.e_step.kernel is CHECKERBOARD_RWM and markov.final.kernel is CHECKERBOARD_RWM
    assert markov.e_step.step_size == pytest.approx(0.2)
    assert plain.e_step.kernel is not CHECKERBOARD_RWM
    with pytest.raises(ConfigError, match="Markov prior"):
        resolve_scheme("mala", schedule, markov=True)


def test_a_temporal_prior_without_bundled_weights_says_how_to_train_one():
    from avgen.errors import CheckpointError
    from avgen.models import load_model

    with pytest.raises(CheckpointError, match="scripts/train_dkf.py --model rvae"):
        load_model("rvae")
    assert type(load_model("dkf")) is DeepKalmanFilter
