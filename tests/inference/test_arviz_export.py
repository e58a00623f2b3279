"""ArviZ round trips: run_chain results, PerFrameKernel runs under Pyro, enhancement samples."""

from __future__ import annotations

import pytest
import torch
from pyro.infer import MCMC

from inference.chain import RWM, run_chain
from inference.convergence import ess_bulk, rank_normalized_split_rhat
from inference.errors import InferenceError
from inference.pyro_kernel import PerFrameKernel

az = pytest.importorskip("arviz")

from inference.arviz_export import draws_from_inference_data, to_inference_data  # noqa: E402

T, D = 5, 2


def standard_normal(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * z.square().sum(-1)


def test_enhancement_samples_round_trip_with_named_dimensions():
    draws = torch.randn(3, 40, T, D, generator=torch.Generator().manual_seed(0))
    data = to_inference_data(draws, layout="chain draw frame dim")
    assert data.posterior["z"].dims == ("chain", "draw", "frame", "dim")
    torch.testing.assert_close(draws_from_inference_data(data), draws)


def test_a_run_chain_result_round_trips_and_arviz_diagnoses_it_as_we_do():
    result = run_chain(
        RWM,
        torch.zeros(4, T, D, dtype=torch.float64),
        standard_normal,
        n_steps=300,
        burn_in=100,
        step_size=1.0,
        generator=torch.Generator().manual_seed(1),
    )
    layout = "draw chain frame dim"
    data = to_inference_data(result, layout=layout)
    assert data.posterior["z"].shape == (4, 200, T, D)
    torch.testing.assert_close(draws_from_inference_data(data), result.samples.transpose(0, 1))
    assert 0 < data.posterior.attrs["acceptance_rate_mean"] < 1
    ours = rank_normalized_split_rhat(result.samples, layout=layout)
    torch.testing.assert_close(torch.from_numpy(az.rhat(data)["z"].values), ours)
    torch.testing.assert_close(
        torch.from_numpy(az.ess(data)["z"].values), ess_bulk(result.samples, layout=layout)
    )


def test_one_chain_gets_a_chain_dimension_of_one_and_a_layout_is_required():
    draws = torch.randn(50, T, D)
    assert to_inference_data(draws, layout="draw frame dim").posterior["z"].shape == (1, 50, T, D)
    with pytest.raises(InferenceError, match="name the dimensions"):
        to_inference_data(draws)


def _per_frame_mcmc(initial: torch.Tensor) -> MCMC:
    kernel = PerFrameKernel(
        log_density_fn=standard_normal,
        initial_position=initial,
        generator=torch.Generator().manual_seed(2),
    )
    mcmc = MCMC(kernel, num_samples=60, warmup_steps=40, disable_progbar=True)
    mcmc.run()
    return mcmc


def test_az_from_pyro_reads_a_per_frame_kernel_run():
    mcmc = _per_frame_mcmc(torch.zeros(T, D))
    assert mcmc.diagnostics()["divergences"] == {"chain 0": []}
    data = az.from_pyro(mcmc)
    assert data.posterior["z"].shape == (1, 60, T, D)
    assert not data.sample_stats["diverging"].values.any()
    ours = to_inference_data(mcmc)
    assert ours.posterior["z"].dims == ("chain", "draw", "frame", "dim")
    torch.testing.assert_close(
        draws_from_inference_data(ours), torch.from_numpy(data.posterior["z"].values)
    )


def test_chains_inside_one_pyro_chain_become_arviz_chains():
    mcmc = _per_frame_mcmc(torch.zeros(3, T, D))
    data = to_inference_data(mcmc)
    assert data.posterior["z"].shape == (3, 60, T, D)
    samples = mcmc.get_samples()["z"]  # (60, 3, T, D)
    torch.testing.assert_close(draws_from_inference_data(data), samples.transpose(0, 1))
    assert data.sample_stats["diverging"].shape == (3, 60)
