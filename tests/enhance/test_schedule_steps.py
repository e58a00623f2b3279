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
