"""Sampler steps per E-step: random-walk MH runs 20 of which 10 burn-in by default, the other
samplers the papers' 40 of which 30; given numbers apply to every scheme (docs/enhancement.md,
"Speed of the default")."""

from __future__ import annotations

import pytest

from avgen.errors import ConfigError
from avgen.pipelines.vae_nmf import EMSchedule
from avgen.pipelines.vae_nmf.schemes import PAPERS_STEPS, make_e_step


def test_mh_runs_half_the_papers_steps_and_keeps_their_ten_samples():
    schedule = EMSchedule()
    assert schedule.steps_for("mcem-mh") == (20, 10)
    assert schedule.steps_for("mh", final=True) == (20, 10)
    for scheme in ("mcem-mala", "langevin", "vem"):
        assert schedule.steps_for(scheme) == PAPERS_STEPS == (40, 30)
    assert schedule.steps_for(None) == PAPERS_STEPS  # a user's kernel
    assert {schedule.samples_for(s) for s in ("mcem-mh", "mcem-mala", "vem")} == {10}
    e_step = make_e_step("mcem-mh", schedule)
    assert (e_step.n_steps, e_step.burn_in) == (20, 10)
    assert "20 steps per E-step of which 10 burn-in" in schedule.describe("mcem-mh")
    assert "40 steps per E-step of which 30 burn-in" in schedule.describe("mcem-mala")


def test_given_numbers_apply_to_every_scheme_and_the_final_run_follows_them():
    papers = EMSchedule(n_steps=40, burn_in=30)
    assert papers.steps_for("mcem-mh") == papers.steps_for("mcem-mala") == (40, 30)
    one = EMSchedule(burn_in=5)
    assert one.steps_for("mcem-mh") == (20, 5) and one.steps_for("mcem-mala") == (40, 5)
    final = EMSchedule(final_steps=60, final_burn_in=20)
    assert final.steps_for("mcem-mh") == (20, 10)
    assert final.steps_for("mcem-mh", final=True) == (60, 20)
    resolved = EMSchedule().resolved("mcem-mh")
    assert (resolved["n_steps"], resolved["burn_in"], resolved["final_steps"]) == (20, 10, 20)


def test_variational_updates_default_per_guide_and_reports_hold_the_number_that_ran():
    """30 Adam steps per E-step for a per-frame encoder, one for a temporal prior's sequential
    guide (VEM_UPDATES); a given number is used for both."""
    schedule = EMSchedule()
    assert schedule.vem_updates is None
    assert schedule.vem_updates_for(False) == 30 and schedule.vem_updates_for(True) == 1
    assert schedule.resolved("vem")["vem_updates"] == 30
    assert schedule.resolved(None, structured=True)["vem_updates"] == 1
    assert EMSchedule(vem_updates=5).vem_updates_for(True) == 5
    assert "30 Adam update(s)" in schedule.describe("vem")
    assert "1 Adam update(s)" in schedule.describe("vem", markov=True)


def test_numbers_that_leave_no_sample_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="burn_in < n_steps"):
        EMSchedule(n_steps=10, burn_in=10)
    # valid for MH's default burn-in (10), not for MALA's (30)
    short = EMSchedule(n_steps=15)
    assert short.steps_for("mcem-mh") == (15, 10)
    with pytest.raises(ConfigError, match="mcem-mala would run 15 steps with 30 burn-in"):
        short.steps_for("mcem-mala")
    with pytest.raises(ConfigError, match="final_steps"):
        EMSchedule(final_steps=5).steps_for("mcem-mh", final=True)


def test_a_markov_prior_keeps_the_papers_steps_unless_given():
    text = EMSchedule().describe("mcem-mh", markov=True)
    assert "checkerboard" in text and "40 steps per E-step of which 30 burn-in" in text
    given = EMSchedule(n_steps=12, burn_in=2).describe("mcem-mh", markov=True)
    assert "12 steps per E-step of which 2 burn-in" in given


# ----------------------------------------------------------------------------------------------
# What runs and what is reported
# ----------------------------------------------------------------------------------------------


def _noisy(seconds: float = 0.5):
    import torch

    return 0.1 * torch.randn(int(16_000 * seconds), generator=torch.Generator().manual_seed(0))


def test_a_run_reports_the_steps_its_scheme_ran():
    from avgen.pipelines.vae_nmf import enhance
    from tests.enhance.helpers import tiny_model

    model = tiny_model("a-vae")
    one = EMSchedule(n_iter=1)
    mh = enhance(_noisy(), model, schedule=one, seed=0).info
    assert (mh["schedule"]["n_steps"], mh["schedule"]["burn_in"]) == (20, 10)
    assert mh["schedule"]["final_steps"] == 20 and "of which 10 burn-in" in mh["e_step"]
    mala = enhance(_noisy(), model, scheme="mcem-mala", schedule=one, seed=0).info
    assert (mala["schedule"]["n_steps"], mala["schedule"]["burn_in"]) == (40, 30)


def test_a_users_e_step_is_reported_with_its_own_numbers_not_the_schedules():
    from avgen.pipelines.vae_nmf import enhance
    from inference.chain import RWM
    from inference.esteps import MHEStep
    from tests.enhance.helpers import tiny_model

    mine = MHEStep(RWM, n_steps=4, burn_in=2)
    # n_steps=4 with the papers' 30 burn-in would leave no sample: it must not matter here
    info = enhance(
        _noisy(), tiny_model("a-vae"), scheme=mine, schedule=EMSchedule(n_iter=1, n_steps=4)
    ).info
    assert "4 steps of which 2 burn-in" in info["e_step"]
    assert info["schedule"]["burn_in"] is None  # not a number that ran


def test_the_markov_priors_checkerboard_mh_runs_the_papers_steps():
    from avgen.pipelines.vae_nmf.schemes import resolve_scheme

    choice = resolve_scheme("mcem-mh", EMSchedule(), markov=True)
    assert (choice.e_step.n_steps, choice.e_step.burn_in) == (40, 30)
    assert (choice.final.n_steps, choice.final.burn_in) == (40, 30)


def test_steps_that_leave_no_sample_stop_the_cli_before_any_output(tmp_path, capsys):
    import soundfile as sf

    from avgen.cli import main

    wav = tmp_path / "in.wav"
    sf.write(wav, _noisy(1.0).numpy(), 16_000)
    out = tmp_path / "out.wav"
    code = main(["enhance", str(wav), "-o", str(out), "--scheme", "mcem-mala", "--steps", "8",
                 "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "mcem-mala would run 8 steps with 30 burn-in" in err[0]
    assert not out.exists()
    folder = tmp_path / "batch"
    folder.mkdir()
    sf.write(folder / "a.wav", _noisy(1.0).numpy(), 16_000)
    code = main(["enhance", str(folder), "-o", str(tmp_path / "outs"), "--steps", "8",
                 "--burn-in", "8", "--no-progress"])  # fmt: skip
    assert code == 2 and not (tmp_path / "outs").exists()
    assert "burn_in < n_steps" in capsys.readouterr().err


def test_a_temporal_prior_refuses_a_kernel_of_the_users_before_any_work():
    from avgen.models.dvae import DeepKalmanFilter
    from avgen.pipelines.vae_nmf import enhance
    from inference.chain import RWM

    with pytest.raises(ConfigError, match="runs its named schemes only"):
        enhance(_noisy(), DeepKalmanFilter(), scheme=RWM)
    with pytest.raises(ConfigError, match="checkerboard mcem-mh .*40/30 unless given"):
        enhance(_noisy(), DeepKalmanFilter(), schedule=EMSchedule(n_steps=25))
