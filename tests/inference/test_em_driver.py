"""The EM driver, and Monte-Carlo EM recovering an NMF variance from data simulated by the model."""

from __future__ import annotations

import pytest
import torch

from inference.adaptation import DualAveraging
from inference.chain import MALA
from inference.em import History, run_em
from inference.errors import InferenceError
from inference.esteps import LangevinEStep, MHEStep
from inference.nmf import NMFParams, init_nmf, nmf_step, nmf_variance
from inference.nmf_em import (
    GaussianScaleNMF,
    posterior_mean_source,
    posterior_source_moments,
    wiener_gains,
)
from tests.inference.inference_models import complex_normal, make_decoder

# ---------------------------------------------------------------------------------------------
# The driver on a deterministic toy problem: EM for the mean of N(mu, 1) with known variance
# written as "E-step: nothing; M-step: halve the distance to 3" converges geometrically.


def halving_steps():
    def e_step(state, generator):
        return state, 0.5

    def m_step(state):
        new = 3.0 + 0.5 * (state - 3.0)
        return new, abs(new - 3.0) + 1.0

    return e_step, m_step


def test_run_em_stops_on_relative_change_and_records_every_iteration():
    e_step, m_step = halving_steps()
    state, history = run_em(e_step, m_step, 11.0, n_iter=100, tol=1e-3)
    assert isinstance(history, History)
    assert history.converged and history.stop_reason == "tol"
    objective = history.objective
    assert objective == sorted(objective, reverse=True)
    assert abs(objective[-1] - objective[-2]) / objective[-2] < 1e-3
    assert abs(objective[-2] - objective[-3]) / objective[-3] >= 1e-3
    assert history.column("acceptance_rate") == [0.5] * history.n_iter
    assert all(s >= 0 for s in history.column("seconds"))
    assert set(history.as_dict()) == {
        "iteration",
        "objective",
        "acceptance_rate",
        "e_step_seconds",
        "m_step_seconds",
    }
    assert abs(state - 3.0) < 0.01


def test_run_em_stops_after_n_iter_without_tol_and_when_a_callback_says_so():
    e_step, m_step = halving_steps()
    _, history = run_em(e_step, m_step, 11.0, n_iter=4)
    assert history.n_iter == 4 and not history.converged and history.stop_reason == "n_iter"
    seen = []

    def stop_at_two(record, state):
        seen.append((record.iteration, state))
        return record.iteration == 2

    _, history = run_em(e_step, m_step, 11.0, n_iter=50, callbacks=[stop_at_two])
    assert history.n_iter == 3 and history.stop_reason == "callback"
    assert [i for i, _ in seen] == [0, 1, 2]


def test_run_em_rejects_bad_settings():
    e_step, m_step = halving_steps()
    with pytest.raises(InferenceError, match="n_iter"):
        run_em(e_step, m_step, 0.0, n_iter=0)
    with pytest.raises(InferenceError, match="tol"):
        run_em(e_step, m_step, 0.0, n_iter=3, tol=-1.0)


# ---------------------------------------------------------------------------------------------
# MCEM on data simulated from the Gaussian-scale + NMF model.

T, F, D, K = 200, 64, 4, 2


def simulated_observation(seed: int = 0):
    """x = s + b at about 1 dB SNR: random decoder, random rank-2 noise, gains 1."""
    gen = torch.Generator().manual_seed(seed)
    decoder = make_decoder(D, F, hidden=32, seed=seed, scale=2.0, shift=-2.5)
    W = torch.rand(F, K, generator=gen).square() + 0.05
    H = 2.0 * torch.rand(K, T, generator=gen) + 0.1
    noise_variance = nmf_variance(W, H)
    z = torch.randn(T, D, generator=gen)
    source = complex_normal(decoder(z).exp(), gen)
    x = source + complex_normal(noise_variance, gen)
    return decoder, x, source, z, noise_variance


def log_error(estimate: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean absolute log-ratio over time-frequency bins (0.1 ~ 10 % typical error)."""
    return float((estimate / truth).log().abs().mean())


def test_mcem_recovers_the_noise_variance_nearly_as_well_as_an_oracle():
    """Tolerance: the MCEM estimate of W H must be within 30 % of the error of the *oracle* fit
    (IS-NMF with the true source variance v(z_true) as the fixed part: the statistical floor for
    these data) and below 0.6 times the error of plain IS-NMF of |x|^2, which ignores the source.
    (Across data seeds 0-3, MCEM/oracle was 0.95-1.05 and MCEM/plain 0.42-0.52 at 30 iterations.)
    """
    decoder, x, _, z_true, noise_variance = simulated_observation()
    power = x.abs().square()
    start = init_nmf(power, K, torch.Generator().manual_seed(1))
    oracle, plain = start, start
    for _ in range(300):
        oracle = nmf_step(power, decoder(z_true).exp().unsqueeze(0), oracle, update=("H", "W"))
        plain = nmf_step(power, None, plain)
    oracle_error = log_error(nmf_variance(oracle.W, oracle.H), noise_variance)
    plain_error = log_error(nmf_variance(plain.W, plain.H), noise_variance)

    problem = GaussianScaleNMF(power, decoder, MHEStep(adapt=DualAveraging(0.3)))
    state = problem.init_state(K, torch.zeros(1, T, D), params=start)
    state, history = problem.run(state, n_iter=30, generator=torch.Generator().manual_seed(2))
    error = log_error(nmf_variance(state.params.W, state.params.H), noise_variance)

    assert error < 1.3 * oracle_error, (error, oracle_error)
    assert error < 0.6 * plain_error, (error, plain_error)
    assert history.objective[-1] < history.objective[0]
    assert 0.15 < history.column("acceptance_rate")[-1] < 0.5


def test_mcem_with_mala_and_langevin_e_steps_decreases_the_objective():
    decoder, x, _, _, _ = simulated_observation(3)
    power = x.abs().square()
    start = init_nmf(power, K, torch.Generator().manual_seed(1))
    for e_step in (
        MHEStep(MALA, step_size=0.3, n_steps=10, burn_in=5),
        LangevinEStep(step_size=0.1, n_steps=10, burn_in=5),
    ):
        problem = GaussianScaleNMF(power, decoder, e_step)
        state = problem.init_state(K, torch.zeros(2, T, D), params=start)
        state, history = problem.run(state, n_iter=15, generator=torch.Generator().manual_seed(0))
        assert history.objective[-1] < 0.9 * history.objective[0]
        assert state.source_variance.shape == (5 * 2, T, F)
        assert state.position.shape == (2, T, D)


def test_wiener_estimate_is_the_sample_mean_of_conditional_means():
    gen = torch.Generator().manual_seed(0)
    source_variance = torch.rand(3, 4, 5, generator=gen, dtype=torch.float64) + 0.1
    noise = torch.rand(4, 5, generator=gen, dtype=torch.float64) + 0.1
    gain = torch.rand(4, generator=gen, dtype=torch.float64) + 0.5
    x = complex_normal(torch.ones(4, 5, dtype=torch.float64), gen)
    mean, variance = posterior_source_moments(x, source_variance, gain, noise)
    g = gain.unsqueeze(-1)
    per_sample = g.sqrt() * source_variance / (g * source_variance + noise) * x
    torch.testing.assert_close(mean, per_sample.mean(0))
    conditional = source_variance * noise / (g * source_variance + noise)
    expected_var = conditional.mean(0) + per_sample.abs().square().mean(0) - mean.abs().square()
    torch.testing.assert_close(variance, expected_var)
    torch.testing.assert_close(
        wiener_gains(source_variance, gain, noise),
        g * source_variance / (g * source_variance + noise),
    )


def test_posterior_mean_improves_on_the_noisy_observation():
    decoder, x, source, _, _ = simulated_observation()
    power = x.abs().square()
    problem = GaussianScaleNMF(power, decoder, MHEStep())
    state = problem.init_state(K, torch.zeros(T, D), generator=torch.Generator().manual_seed(0))
    state, _ = problem.run(state, n_iter=15, generator=torch.Generator().manual_seed(1))
    estimate = posterior_mean_source(x, state)
    assert (estimate - source).abs().square().mean() < 0.6 * (x - source).abs().square().mean()


def test_posterior_mean_needs_an_e_step_first():
    decoder, x, _, _, _ = simulated_observation()
    problem = GaussianScaleNMF(x.abs().square(), decoder, MHEStep())
    state = problem.init_state(K, torch.zeros(T, D), generator=torch.Generator().manual_seed(0))
    with pytest.raises(InferenceError, match="E-step"):
        posterior_mean_source(x, state)
    assert isinstance(state.params, NMFParams)
