"""Noise schedules: descending, with the stated endpoints, and the time <-> sigma maps invert."""

from __future__ import annotations

import math

import pytest
import torch

from inference.diffusion import (
    OUVE,
    check_sigmas,
    karras_sigmas,
    ouve_sigmas,
    ve_sigma,
    ve_sigmas,
    ve_time,
    vp_scale,
    vp_sigma,
    vp_sigmas,
    vp_time,
)
from inference.errors import InferenceError

SCHEDULES = {
    "karras": lambda n: karras_sigmas(n, 0.002, 80.0),
    "ve": lambda n: ve_sigmas(n, 0.01, 50.0),
    "vp": lambda n: vp_sigmas(n),
    "ouve": lambda n: ouve_sigmas(n),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("n", [1, 2, 7, 50])
def test_schedules_descend_strictly_and_end_at_zero(name, n):
    sigmas = SCHEDULES[name](n)
    assert sigmas.shape == (n + 1,)
    assert sigmas[-1] == 0
    assert (sigmas[1:] < sigmas[:-1]).all()
    assert check_sigmas(sigmas) == sigmas.tolist()


def test_karras_endpoints_and_rho_spacing():
    sigmas = karras_sigmas(10, 0.002, 80.0, rho=7.0)
    assert sigmas[0].item() == pytest.approx(80.0)
    assert sigmas[-2].item() == pytest.approx(0.002)
    roots = sigmas[:-1] ** (1 / 7)
    torch.testing.assert_close(roots.diff(), roots.diff()[:1].expand(9))
    # rho = 1 is linear spacing
    torch.testing.assert_close(
        karras_sigmas(4, 1.0, 4.0, rho=1.0),
        torch.tensor([4.0, 3.0, 2.0, 1.0, 0.0], dtype=torch.float64),
    )


def test_ve_schedule_is_geometric_between_its_endpoints():
    sigmas = ve_sigmas(6, 0.01, 50.0)[:-1]
    assert sigmas[0].item() == pytest.approx(50.0)
    assert sigmas[-1].item() == pytest.approx(0.01)
    ratios = sigmas[1:] / sigmas[:-1]
    torch.testing.assert_close(ratios, ratios[:1].expand(5))
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    torch.testing.assert_close(ve_time(ve_sigma(t)), t)


def test_vp_sigma_matches_alpha_bar_and_inverts():
    t = torch.linspace(1e-3, 1, 50, dtype=torch.float64)
    alpha_bar = torch.exp(-(0.1 * t + 0.5 * (20.0 - 0.1) * t**2))
    torch.testing.assert_close(vp_sigma(t), ((1 - alpha_bar) / alpha_bar).sqrt())
    torch.testing.assert_close(vp_time(vp_sigma(t)), t)
    torch.testing.assert_close(vp_scale(vp_sigma(t)), alpha_bar.sqrt())
    s = vp_sigmas(5, t_min=1e-3)
    assert s[0].item() == pytest.approx(vp_sigma(1.0).item())
    assert s[-2].item() == pytest.approx(vp_sigma(1e-3).item())


def test_ouve_maps_invert():
    proc = OUVE(gamma=1.5, sigma_min=0.05, sigma_max=0.5)
    t = torch.linspace(0.03, 1, 40, dtype=torch.float64)
    torch.testing.assert_close(proc.time(proc.sigma(t)), t)
    torch.testing.assert_close(proc.sigma(t), proc.std(t) / proc.mean_scale(t))
    x = torch.randn(3, 8, dtype=torch.float64)
    y = torch.randn(8, dtype=torch.float64)
    torch.testing.assert_close(proc.from_edm(proc.to_edm(x, 0.4, y), 0.4, y), x)
    assert ouve_sigmas(10)[0].item() == pytest.approx(proc.sigma(1.0).item())


def test_ouve_marginal_matches_a_simulation_of_its_sde():
    """Euler-Maruyama on dx = gamma (y - x) dt + g(t) dw from a fixed x0 reproduces the stated
    mean s(t) x0 + (1 - s(t)) y and standard deviation std(t) (tolerance: 5 standard errors
    plus the O(dt) bias of 1000 steps)."""
    proc = OUVE()
    n_paths, n_steps = 20_000, 1000
    g = torch.Generator().manual_seed(0)
    x0, y = 0.7, -0.4
    x = torch.full((n_paths,), x0, dtype=torch.float64)
    dt = 1.0 / n_steps
    for k in range(n_steps):
        t = k * dt
        noise = torch.randn(n_paths, generator=g, dtype=torch.float64)
        x = x + proc.drift(x, y, t) * dt + proc.diffusion(t) * math.sqrt(dt) * noise
    mean = proc.mean_scale(1.0) * x0 + (1 - proc.mean_scale(1.0)) * y
    std = proc.std(1.0)
    assert abs(x.mean().item() - mean.item()) < 5 * std.item() / math.sqrt(n_paths) + 2e-3
    assert abs(x.std().item() / std.item() - 1) < 5 * math.sqrt(0.5 / n_paths) + 5e-3


@pytest.mark.parametrize(
    "bad",
    [
        [1.0],
        [[2.0, 1.0]],
        [1.0, 2.0, 0.0],
        [2.0, 2.0, 0.0],
        [2.0, -1.0],
        [2.0, float("nan")],
        [2.0, 0.0, 0.0],
    ],
)
def test_invalid_schedules_are_rejected_with_a_clear_message(bad):
    with pytest.raises(InferenceError, match="sigmas"):
        check_sigmas(bad)


@pytest.mark.parametrize(
    "call",
    [
        lambda: karras_sigmas(0),
        lambda: karras_sigmas(5, 1.0, 0.5),
        lambda: ve_sigmas(3, -1.0),
        lambda: vp_sigmas(3, t_min=0.0),
        lambda: OUVE(sigma_min=0.5, sigma_max=0.1),
    ],
)
def test_invalid_schedule_parameters_raise(call):
    with pytest.raises(InferenceError):
        call()
