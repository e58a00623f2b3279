"""The structured variational E-step (a sequential guide over a latent trajectory, for the
dynamical VAEs) fine-tunes the guide only, and on a linear-Gaussian state-space model, whose
posterior is itself a Gauss-Markov chain that the guide can represent, it finds the exact
posterior (the smoother's means and variances)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from inference.errors import InferenceError
from inference.markov_mh import MarkovTerms
from inference.vem import StructuredVariationalEStep

T, RHO, Q, R = 8, 0.8, 0.5, 0.4  # z_t = RHO z_{t-1} + N(0, Q), y_t = z_t + N(0, R)


class LinearGuide(nn.Module):
    """``q(z_t | z_{t-1}) = N(a_t z_{t-1} + b_t, s_t^2)``: free ``a, b, log s`` per frame."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.zeros(T, dtype=torch.float64))
        self.b = nn.Parameter(torch.zeros(T, dtype=torch.float64))
        self.log_s = nn.Parameter(torch.zeros(T, dtype=torch.float64))
        self.unused = nn.Parameter(torch.zeros(3, dtype=torch.float64))

    def forward(self, y, eps):
        z_prev = eps.new_zeros(eps.shape[0])
        zs, log_q = [], []
        for t in range(T):
            loc, scale = self.a[t] * z_prev + self.b[t], self.log_s[t].exp()
            z_t = loc + scale * eps[:, t, 0]
            log_q.append(torch.distributions.Normal(loc, scale).log_prob(z_t))
            zs.append(z_t)
            z_prev = z_t
        return torch.stack(zs, 1).unsqueeze(-1), torch.stack(log_q, 1)


def exact_posterior(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Means and marginal variances of ``p(z | y)`` from the joint precision (tridiagonal)."""
    precision = torch.zeros(T, T, dtype=torch.float64)
    for t in range(T):
        precision[t, t] += 1 / Q + 1 / R
        if t + 1 < T:
            precision[t, t] += RHO**2 / Q
            precision[t, t + 1] -= RHO / Q
            precision[t + 1, t] -= RHO / Q
    covariance = torch.linalg.inv(precision)
    return covariance @ (y / R), covariance.diagonal()


def test_on_a_gauss_markov_model_the_structured_step_finds_the_exact_posterior():
    y = torch.randn(T, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 1.5

    def log_joint(z):  # the per-frame terms as a Markov prior's E-step receives them
        x = z[..., 0]
        prev = torch.nn.functional.pad(x[..., :-1], (1, 0))
        emission = -0.5 * (y - x).square() / R
        return MarkovTerms(emission, -0.5 * (x - RHO * prev).square() / Q)

    guide = LinearGuide()
    start = torch.zeros(T, 1, dtype=torch.float64)
    options = {"n_samples": 5, "n_elbo_samples": 32}
    gen = torch.Generator().manual_seed(1)
    fast = StructuredVariationalEStep(guide, y, n_updates=1500, lr=0.03, **options)
    state, _ = fast.step(fast.init(start), log_joint, gen)
    slow = StructuredVariationalEStep(guide, y, n_updates=1500, lr=3e-4, **options)
    state, result = slow.step(state, log_joint, gen)
    # the guide's moments by the linear recursions (mean path = the posterior mean)
    w = state.extra.weights
    assert set(w) == {"a", "b", "log_s"}  # the weight the output ignores is not fine-tuned
    mean, var = [], []
    m = v = torch.tensor(0.0, dtype=torch.float64)
    for t in range(T):
        m, v = w["a"][t] * m + w["b"][t], w["a"][t] ** 2 * v + (2 * w["log_s"][t]).exp()
        mean.append(m)
        var.append(v)
    exact_mean, exact_var = exact_posterior(y)
    torch.testing.assert_close(torch.stack(mean), exact_mean, atol=0.04, rtol=0)
    torch.testing.assert_close(torch.stack(var), exact_var, atol=0.03, rtol=0)
    torch.testing.assert_close(result.position[:, 0], torch.stack(mean))
    assert result.samples.shape == (5, T, 1) and result.acceptance_rate is None
    # the guide module itself never changed
    assert torch.equal(guide.a, torch.zeros(T, dtype=torch.float64))


def test_the_elbo_rises_and_the_position_is_the_guides_mean_path():
    y = torch.linspace(-2, 2, T, dtype=torch.float64)

    def log_joint(z):
        return -0.5 * (y - z[..., 0]).square() / R - 0.5 * z[..., 0].square()

    guide = LinearGuide()
    e_step = StructuredVariationalEStep(guide, y, n_updates=40, lr=0.05, n_elbo_samples=64)
    gen = torch.Generator().manual_seed(2)
    state = e_step.init(torch.zeros(T, 1, dtype=torch.float64))
    before = float(e_step.elbo(state, log_joint, gen).sum())
    state, result = e_step.step(state, log_joint, gen)
    after = float(e_step.elbo(state, log_joint, gen).sum())
    assert after > before + 5.0
    mean_path, _ = e_step.run_guide(state, torch.zeros(1, T, 1, dtype=torch.float64))
    torch.testing.assert_close(result.position, mean_path[0])


def test_the_trajectory_shape_is_required():
    with pytest.raises(InferenceError, match="trajectory"):
        StructuredVariationalEStep(LinearGuide(), torch.zeros(T)).init()
