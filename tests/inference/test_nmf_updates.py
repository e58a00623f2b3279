"""Multiplicative IS-NMF updates with a fixed variance part: the MM updates never increase the
sample-averaged IS divergence, normalisation changes nothing, and shapes are checked."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from inference.errors import InferenceError
from inference.nmf import (
    NMFParams,
    expected_is_divergence,
    init_nmf,
    nmf_step,
    nmf_variance,
    normalize_columns,
    update_gain,
    update_H,
    update_W,
)

UPDATES = {"H": update_H, "W": update_W, "gain": update_gain}


def random_problem(
    seed: int, n_frames: int, n_bins: int, rank: int, n_samples: int, log_spread: float
):
    """Positive data over several orders of magnitude (float64: the property is about the
    algorithm, not about float32 rounding)."""
    gen = torch.Generator().manual_seed(seed)

    def positive(*shape):
        return torch.exp(log_spread * torch.randn(*shape, generator=gen, dtype=torch.float64))

    power = positive(n_frames, n_bins) * torch.rand(
        n_frames, n_bins, generator=gen, dtype=torch.float64
    ).clamp_min(1e-3)
    source = positive(n_samples, n_frames, n_bins)
    params = NMFParams(positive(n_bins, rank), positive(rank, n_frames), positive(n_frames))
    return power, source, params


problems = st.builds(
    random_problem,
    seed=st.integers(0, 2**31 - 1),
    n_frames=st.integers(1, 12),
    n_bins=st.integers(1, 10),
    rank=st.integers(1, 4),
    n_samples=st.integers(1, 5),
    log_spread=st.floats(0.0, 3.0),
)


@settings(max_examples=60, deadline=None)
@given(problem=problems, block=st.sampled_from(["H", "W", "gain"]))
def test_each_mm_block_update_never_increases_the_expected_is_divergence(problem, block):
    power, source, params = problem
    before = expected_is_divergence(power, source, params)
    after = expected_is_divergence(power, source, UPDATES[block](power, source, params, 0.5))
    assert after <= before + 1e-12 * abs(before)


@settings(max_examples=30, deadline=None)
@given(problem=problems)
def test_a_sequence_of_full_mm_sweeps_is_monotone(problem):
    power, source, params = problem
    values = [expected_is_divergence(power, source, params)]
    for _ in range(5):
        params = nmf_step(power, source, params, exponent=0.5)
        values.append(expected_is_divergence(power, source, params))
    for before, after in itertools.pairwise(values):
        assert after <= before + 1e-12 * abs(before)


@settings(max_examples=30, deadline=None)
@given(problem=problems)
def test_plain_is_nmf_without_a_fixed_part_is_monotone_too(problem):
    power, _, params = problem
    before = expected_is_divergence(power, None, params)
    after = expected_is_divergence(power, None, nmf_step(power, None, params))
    assert after <= before + 1e-12 * abs(before)


def test_column_normalisation_keeps_wh_and_gives_unit_column_sums():
    power, source, params = random_problem(0, 9, 7, 3, 2, 1.0)
    normalized = normalize_columns(params)
    torch.testing.assert_close(
        nmf_variance(normalized.W, normalized.H), nmf_variance(params.W, params.H)
    )
    torch.testing.assert_close(normalized.W.sum(0), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(
        expected_is_divergence(power, source, normalized),
        expected_is_divergence(power, source, params),
    )


def test_the_heuristic_exponent_one_converges_faster_here():
    power, source, params = random_problem(1, 40, 30, 3, 4, 1.0)
    mm, heuristic = params, params
    for _ in range(20):
        mm = nmf_step(power, source, mm, exponent=0.5)
        heuristic = nmf_step(power, source, heuristic, exponent=1.0)
    assert expected_is_divergence(power, source, heuristic) < expected_is_divergence(
        power, source, mm
    )


def test_updates_are_vectorised_over_samples():
    """Averaging over R samples equals the objective with R stacked copies of one sample x R."""
    power, source, params = random_problem(2, 6, 5, 2, 1, 1.0)
    one = update_H(power, source, params)
    many = update_H(power, source.expand(4, -1, -1), params)
    torch.testing.assert_close(one.H, many.H)


def test_init_matches_the_mean_power_and_is_strictly_positive():
    power = torch.rand(20, 10, dtype=torch.float64) * 5
    params = init_nmf(power, 4, torch.Generator().manual_seed(0))
    assert params.W.shape == (10, 4) and params.H.shape == (4, 20) and params.gain.shape == (20,)
    assert torch.all(params.W > 0) and torch.all(params.H > 0)
    torch.testing.assert_close(nmf_variance(params.W, params.H).mean(), power.mean())


def test_mismatched_shapes_raise_a_clear_error():
    power, source, params = random_problem(0, 9, 7, 3, 2, 1.0)
    with pytest.raises(InferenceError, match="NMF shapes"):
        nmf_step(power.mT.contiguous(), None, params)
    with pytest.raises(InferenceError, match="exponent"):
        nmf_step(power, source, params, exponent=0.0)
