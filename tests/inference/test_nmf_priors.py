"""Priors on the NMF: every MM update never increases its MAP objective, weight 0 gives the plain
updates, ARD prunes the components a low-rank signal does not need, and the smooth prior
makes the activations smoother."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from inference.errors import InferenceError
from inference.nmf import (
    NMFParams,
    init_nmf,
    nmf_step,
    nmf_variance,
    relative_floors,
    update_H,
    update_W,
)
from inference.nmf_priors import ARDPrior, SmoothPrior, map_objective


def random_problem(seed: int, n_frames: int, n_bins: int, rank: int, n_samples: int, spread):
    """Positive float64 data over several orders of magnitude, with a fixed variance part."""
    gen = torch.Generator().manual_seed(seed)

    def positive(*shape):
        return torch.exp(spread * torch.randn(*shape, generator=gen, dtype=torch.float64))

    power = positive(n_frames, n_bins)
    source = positive(n_samples, n_frames, n_bins)
    params = NMFParams(positive(n_bins, rank), positive(rank, n_frames), positive(n_frames))
    return power, source, params


problems = st.builds(
    random_problem,
    seed=st.integers(0, 2**31 - 1),
    n_frames=st.integers(1, 12),
    n_bins=st.integers(1, 10),
    rank=st.integers(1, 6),
    n_samples=st.integers(1, 4),
    spread=st.floats(0.0, 2.5),
)
priors = st.one_of(
    st.builds(ARDPrior, penalty=st.sampled_from(["l1", "l2"]), shape=st.floats(2.5, 20.0)),
    st.builds(ARDPrior, penalty=st.just("l1"), scale=st.floats(1e-3, 1e3), weight=st.floats(0, 5)),
    st.builds(
        SmoothPrior,
        shape=st.floats(0.1, 200.0),
        weight=st.floats(0.0, 5.0),
        log_domain=st.booleans(),
    ),
)


def _assert_not_increasing(values: list[torch.Tensor]) -> None:
    for before, after in itertools.pairwise(values):
        assert after <= before + 1e-10 * abs(before), (before, after)


@settings(max_examples=80, deadline=None)
@given(problem=problems, prior=priors, block=st.sampled_from(["H", "W"]))
def test_each_prior_block_update_never_increases_the_map_objective(problem, prior, block):
    power, source, params = problem
    update = prior.update_H if block == "H" else prior.update_W
    values = [map_objective(power, source, params, prior)]
    values.append(map_objective(power, source, update(power, source, params), prior))
    _assert_not_increasing(values)


@settings(max_examples=40, deadline=None)
@given(problem=problems, prior=priors, with_source=st.booleans())
def test_full_map_sweeps_with_rescaling_are_monotone(problem, prior, with_source):
    power, source, params = problem
    source = source if with_source else None
    values = [map_objective(power, source, params, prior)]
    for _ in range(8):
        params = nmf_step(power, source, params, prior=prior)
        values.append(map_objective(power, source, params, prior))
    _assert_not_increasing(values)


def test_ard_rescaling_keeps_wh_and_lowers_the_penalty():
    power, _, params = random_problem(3, 9, 7, 4, 1, 1.5)
    for penalty in ("l1", "l2"):
        prior = ARDPrior(penalty=penalty)
        balanced = prior.rescale(params)
        torch.testing.assert_close(
            nmf_variance(balanced.W, balanced.H), nmf_variance(params.W, params.H)
        )
        assert prior.penalty_value(power, balanced) < prior.penalty_value(power, params)


@pytest.mark.parametrize("log_domain", [False, True])
def test_smooth_prior_objective_is_invariant_to_the_column_scale(log_domain):
    power, _, params = random_problem(4, 9, 7, 3, 1, 1.0)
    prior = SmoothPrior(shape=10.0, log_domain=log_domain)
    s = torch.tensor([0.1, 3.0, 40.0], dtype=torch.float64)
    rescaled = NMFParams(params.W / s, params.H * s.unsqueeze(-1), params.gain)
    torch.testing.assert_close(
        map_objective(power, None, rescaled, prior), map_objective(power, None, params, prior)
    )


def test_the_log_domain_chain_does_not_pull_the_activations_down():
    """In ``h`` the chain's density grows as a row shrinks; in ``log h`` it does not, and the
    W update is then the plain one."""
    power, source, params = random_problem(7, 9, 7, 3, 2, 1.0)
    shrunk = NMFParams(params.W, params.H * 1e-3, params.gain)
    in_h, in_log = SmoothPrior(shape=10.0), SmoothPrior(shape=10.0, log_domain=True)
    assert in_h.penalty_value(power, shrunk) < in_h.penalty_value(power, params) - 10
    torch.testing.assert_close(
        in_log.penalty_value(power, shrunk), in_log.penalty_value(power, params)
    )
    torch.testing.assert_close(
        in_log.update_W(power, source, params).W, update_W(power, source, params).W
    )


@pytest.mark.parametrize(
    "prior",
    [
        ARDPrior(weight=0.0),
        ARDPrior(penalty="l2", weight=0.0),
        SmoothPrior(weight=0.0),
        SmoothPrior(weight=0.0, log_domain=True),
    ],
)
def test_weight_zero_reproduces_the_plain_updates(prior):
    power, source, params = random_problem(5, 11, 8, 3, 2, 1.0)
    plain_H, prior_H = update_H(power, source, params), prior.update_H(power, source, params)
    plain_W, prior_W = update_W(power, source, params), prior.update_W(power, source, params)
    if isinstance(prior, ARDPrior) and prior.penalty == "l2":
        # l2's MM update is a cube root: at weight 0 the plain update with exponent 1/3
        plain_H = update_H(power, source, params, exponent=1 / 3)
        plain_W = update_W(power, source, params, exponent=1 / 3)
    torch.testing.assert_close(prior_H.H, plain_H.H, rtol=1e-12, atol=0)
    torch.testing.assert_close(prior_W.W, plain_W.W, rtol=1e-12, atol=0)


def test_ard_prunes_the_components_a_rank_two_signal_does_not_need():
    gen = torch.Generator().manual_seed(0)
    W_true = torch.rand(40, 2, generator=gen, dtype=torch.float64) + 0.1
    H_true = torch.rand(2, 120, generator=gen, dtype=torch.float64) + 0.1
    # the IS-NMF observation model: P = (W H) * Exp(1) (complex Gaussian power)
    noise = torch.empty(120, 40, dtype=torch.float64).exponential_(generator=gen)
    power = nmf_variance(W_true, H_true) * noise
    params = init_nmf(power, 12, gen)
    floor = relative_floors(power, 12)
    ard, plain = ARDPrior(), params
    for _ in range(400):
        params = nmf_step(power, None, params, prior=ard, floor=floor)
        plain = nmf_step(power, None, plain, floor=floor)
    assert ard.active(params) == 2
    assert ard.active(plain) > 2


def test_the_smooth_prior_smooths_the_activations():
    gen = torch.Generator().manual_seed(1)
    W_true = torch.rand(30, 1, generator=gen, dtype=torch.float64) + 0.1
    H_true = torch.ones(1, 200, dtype=torch.float64)
    noise = torch.empty(200, 30, dtype=torch.float64).exponential_(generator=gen)
    power = nmf_variance(W_true, H_true) * noise
    start = init_nmf(power, 1, gen)
    smooth, plain = start, start
    for _ in range(100):
        smooth = nmf_step(power, None, smooth, prior=SmoothPrior(shape=50.0))
        plain = nmf_step(power, None, plain)

    def roughness(h):
        return float(h.log().diff().abs().mean())

    assert roughness(smooth.H) < 0.5 * roughness(plain.H)


def test_bad_prior_settings_raise_clear_errors():
    with pytest.raises(InferenceError, match="l1"):
        ARDPrior(penalty="l0")
    with pytest.raises(InferenceError, match="shape"):
        ARDPrior(shape=1.5)
    with pytest.raises(InferenceError, match="alpha"):
        SmoothPrior(shape=0.0)


@pytest.mark.parametrize(
    "prior",
    [
        ARDPrior(),
        ARDPrior(penalty="l2"),
        SmoothPrior(shape=5.0, weight=0.2),
        SmoothPrior(shape=5.0, weight=0.2, log_domain=True),
    ],
)
def test_the_updates_converge_to_a_stationary_point_of_the_map_objective(prior):
    """Monotone is not enough (a wrong prior term can still descend): at the updates' fixed
    point the KKT conditions of the MAP objective hold, ``W * dJ/dW = 0`` and ``H * dJ/dH = 0``."""
    power, source, params = random_problem(6, 8, 20, 2, 2, 0.7)
    for _ in range(3000):
        params = nmf_step(power, source, params, prior=prior, update=("H", "W"))
    W = params.W.clone().requires_grad_(True)
    H = params.H.clone().requires_grad_(True)
    objective = map_objective(power, source, NMFParams(W, H, params.gain), prior) * power.numel()
    grad_W, grad_H = torch.autograd.grad(objective, (W, H))
    W, H = W.detach(), H.detach()
    assert float((W * grad_W).abs().max()) < 1e-6
    assert float((H * grad_H).abs().max()) < 1e-6
