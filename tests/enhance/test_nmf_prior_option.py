"""The NMF prior as an option of the enhancement schedule and of ``avgen enhance``: the default
is unchanged, ``ard`` starts from a generous rank and reports what it kept, ``smooth`` runs."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from avgen.cli.enhance import add_schedule_arguments, schedule_from_args
from avgen.errors import ConfigError
from avgen.pipelines.vae_nmf.pipeline import EMSchedule, enhance
from avgen.pipelines.vae_nmf.report import describe_result
from avgen.pipelines.vae_nmf.schemes import ARD_START_RANK, make_nmf_prior
from inference.nmf_priors import ARDPrior, SmoothPrior

from .helpers import coloured_noise, mix, speech_from_prior, tiny_model

SHORT = EMSchedule(n_iter=3, n_steps=6, burn_in=3)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_schedule_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_default_schedule_has_no_nmf_prior_and_rank_four():
    schedule = schedule_from_args(_args())
    assert schedule.nmf_prior == "none" and schedule.rank == 4
    assert make_nmf_prior(schedule) is None


def test_ard_starts_from_a_generous_rank_unless_one_is_given():
    assert schedule_from_args(_args("--nmf-prior", "ard")).rank == ARD_START_RANK
    assert schedule_from_args(_args("--nmf-prior", "ard", "--rank", "8")).rank == 8
    assert isinstance(make_nmf_prior(EMSchedule(nmf_prior="ard")), ARDPrior)
    smooth = make_nmf_prior(EMSchedule(nmf_prior="smooth", nmf_prior_shape=20.0))
    assert isinstance(smooth, SmoothPrior) and smooth.shape == 20.0 and smooth.log_domain
    assert not make_nmf_prior(EMSchedule(nmf_prior="smooth-h")).log_domain


def test_bad_nmf_prior_settings_are_refused():
    with pytest.raises(ConfigError, match="nmf_prior"):
        EMSchedule(nmf_prior="lasso")
    with pytest.raises(ConfigError, match="nmf_prior_shape"):
        EMSchedule(nmf_prior="ard", nmf_prior_shape=1.5)


@pytest.mark.parametrize("prior", ["ard", "smooth"])
def test_enhancement_runs_with_each_prior_and_says_so(prior):
    model = tiny_model("a-vae")
    speech = speech_from_prior(model, 40, seed=0)
    noisy = mix(speech, coloured_noise(speech.numel(), seed=1), 0.0)
    rank = 8 if prior == "ard" else 4
    schedule = SHORT.replace(nmf_prior=prior, rank=rank)
    result = enhance(noisy, model, schedule=schedule, seed=0)
    plain = enhance(noisy, model, schedule=SHORT.replace(rank=rank), seed=0)
    assert torch.isfinite(result.estimate).all() and all(np.isfinite(result.history.objective))
    assert not torch.equal(result.estimate, plain.estimate)
    text = describe_result(result)
    assert f"MAP objective ({prior} NMF prior)" in text
    active = result.info["nmf_active_components"]
    if prior == "ard":
        assert 1 <= active <= rank and f"ARD kept {active} of the {rank}" in text
    else:
        assert active is None
