"""Enhancement with the DKF prior: the E-step's terms are the noisy model's densities, and the
MCEM run is reproducible and finite."""

from __future__ import annotations

import torch

from avgen.models.dvae import DeepKalmanFilter, DKFConfig
from avgen.models.dvae.enhance import DKFNoisyTerms, enhance_dkf
from inference.nmf import NMFParams

TINY = DKFConfig(n_freq=513, latent_dim=3, hidden_dim=8, transition_dim=6, rnn_dim=5)


def test_noisy_terms_are_the_exponential_density_of_the_mixture_and_the_transition():
    torch.manual_seed(0)
    model = DeepKalmanFilter(TINY).eval()
    gen = torch.Generator().manual_seed(1)
    n_frames, rank = 6, 2
    power = torch.rand(n_frames, 513, generator=gen) + 0.01
    params = NMFParams(
        torch.rand(513, rank, generator=gen) + 0.1,
        torch.rand(rank, n_frames, generator=gen) + 0.1,
        torch.rand(n_frames, generator=gen) + 0.5,
    )
    z = torch.randn(2, n_frames, 3, generator=gen)
    with torch.no_grad():
        terms = DKFNoisyTerms(model, power, params)(z)
        variance = params.gain[:, None] * model.decode(z) + (params.W @ params.H).T
        expected = -(variance.log() + power / variance).sum(-1)
        torch.testing.assert_close(terms.emission, expected, rtol=1e-5, atol=1e-3)
        torch.testing.assert_close(terms.transition, model.transition_log_density(z))


def test_enhance_dkf_is_finite_and_reproducible():
    torch.manual_seed(0)
    model = DeepKalmanFilter(TINY).eval()
    gen = torch.Generator().manual_seed(2)
    noisy = 0.1 * torch.randn(8000, generator=gen)
    a = enhance_dkf(noisy, model, n_iter=3, n_steps=4, burn_in=2, seed=5)
    b = enhance_dkf(noisy, model, n_iter=3, n_steps=4, burn_in=2, seed=5)
    assert a.estimate.shape == noisy.shape
    assert bool(torch.isfinite(a.estimate).all())
    assert torch.equal(a.estimate, b.estimate)
    assert 0 < a.acceptance <= 1
    # the Wiener estimate removes energy, never adds it
    assert float(a.estimate.square().sum()) < float(noisy.square().sum())
