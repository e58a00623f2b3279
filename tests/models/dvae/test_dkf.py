"""The DKF speech prior: its Pyro trace is the model written down, it trains, saves and loads.

The oracle of the log joint is written from the densities' formulas,

    log N(z; mu, sigma^2) = -1/2 sum_l [log(2 pi sigma_l^2) + (z_l - mu_l)^2 / sigma_l^2]
    log Exp(p; 1/v)       = -sum_f [log v_f + p_f / v_f],

with ``(mu, sigma)`` the transition network at ``z_{t-1}`` (``z_{-1} = 0``) and ``v`` the decoder
at ``z_t``; only the networks are shared with the code under test.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from pyro import poutine

from avgen.errors import CheckpointError, ConfigError, TrainingError
from avgen.models.dvae import (
    DeepKalmanFilter,
    DKFConfig,
    DKFTrainConfig,
    fit_dkf,
    load_dkf,
    save_dkf,
    segment_sequences,
)
from avgen.models.vae.registry import read_model_card
from inference.markov_mh import joint_log_density

TINY = DKFConfig(n_freq=8, latent_dim=3, hidden_dim=8, transition_dim=6, rnn_dim=5)
#: small enough to train in seconds, large enough (32 bins) for the latent to pay its KL
TRAINABLE = DKFConfig(n_freq=32, latent_dim=2, hidden_dim=16, transition_dim=8, rnn_dim=16)


def tiny_model(seed: int = 0) -> DeepKalmanFilter:
    torch.manual_seed(seed)
    return DeepKalmanFilter(TINY)


def hand_log_joint(model: DeepKalmanFilter, power: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``sum_t log p(z_t | z_{t-1}) + log p(p_t | z_t)`` for one sequence, loop by loop."""
    total = torch.zeros((), dtype=torch.float64)
    z_prev = torch.zeros(z.shape[-1])
    for t in range(z.shape[0]):
        mu, sigma = model.transition(z_prev)
        total += -0.5 * (torch.log(2 * math.pi * sigma**2) + (z[t] - mu) ** 2 / sigma**2).sum()
        v = torch.exp(model.decoder(z[t]))
        total += -(torch.log(v) + power[t] / v).sum()
        z_prev = z[t]
    return total


def sequences(n: int, n_frames: int, seed: int, n_freq: int = 8) -> torch.Tensor:
    """Power of an AR(1) log-spectrum: frames correlated in time, as speech frames are."""
    gen = torch.Generator().manual_seed(seed)
    basis = torch.randn(2, n_freq, generator=gen)
    a = torch.zeros(n, n_frames, 2)
    for t in range(1, n_frames):
        a[:, t] = 0.9 * a[:, t - 1] + 0.45 * torch.randn(n, 2, generator=gen)
    variance = torch.exp(a @ basis)
    return variance * torch.empty(n, n_frames, n_freq).exponential_(generator=gen)


def test_log_joint_of_the_pyro_trace_equals_the_hand_written_sum():
    model = tiny_model()
    gen = torch.Generator().manual_seed(1)
    n_frames = 5
    power = torch.rand(n_frames, TINY.n_freq, generator=gen) + 0.1
    z = torch.randn(n_frames, TINY.latent_dim, generator=gen)
    data = {f"z_{t}": z[t].unsqueeze(0) for t in range(n_frames)}
    with torch.no_grad():
        trace = poutine.trace(poutine.condition(model.model, data=data)).get_trace(power)
        expected = hand_log_joint(model, power, z)
        from_trace = trace.log_prob_sum()
        from_terms = joint_log_density(model.markov_terms(power, z))
    assert [n for n in trace.nodes if n.startswith("z_")] == [f"z_{t}" for t in range(n_frames)]
    torch.testing.assert_close(from_trace.double(), expected, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(from_terms.double(), expected, rtol=1e-5, atol=1e-4)


def test_the_trace_changes_when_one_latent_moves():
    """The oracle comparison is not vacuous: each z_t enters the joint (its emission and the
    transitions into and out of it)."""
    model = tiny_model()
    gen = torch.Generator().manual_seed(2)
    power = torch.rand(4, TINY.n_freq, generator=gen) + 0.1
    z = torch.randn(4, TINY.latent_dim, generator=gen)
    moved = z.clone()
    moved[2] += 0.5
    with torch.no_grad():
        before, after = hand_log_joint(model, power, z), hand_log_joint(model, power, moved)
        terms_before, terms_after = model.markov_terms(power, z), model.markov_terms(power, moved)
    assert abs(float(after - before)) > 1e-3
    changed = (terms_after.transition - terms_before.transition).abs() > 0
    assert changed.tolist() == [False, False, True, True]


def test_batched_trace_sums_the_sequences():
    model = tiny_model()
    power = sequences(3, 6, seed=3)
    gen = torch.Generator().manual_seed(3)
    z = torch.randn(3, 6, TINY.latent_dim, generator=gen)
    data = {f"z_{t}": z[:, t] for t in range(6)}
    with torch.no_grad():
        trace = poutine.trace(poutine.condition(model.model, data=data)).get_trace(power)
        expected = sum(hand_log_joint(model, power[i], z[i]) for i in range(3))
    torch.testing.assert_close(trace.log_prob_sum().double(), expected, rtol=1e-5, atol=1e-3)


def test_guide_and_model_share_the_latent_sites():
    model = tiny_model()
    power = sequences(2, 4, seed=4)
    guide = poutine.trace(model.guide).get_trace(power)
    replayed = poutine.trace(poutine.replay(model.model, trace=guide)).get_trace(power)
    latents = [
        n
        for n, s in guide.nodes.items()
        if s["type"] == "sample" and not s["is_observed"] and n != "sequences"
    ]
    assert latents == [f"z_{t}" for t in range(4)]
    for name in latents:
        assert torch.equal(replayed.nodes[name]["value"], guide.nodes[name]["value"])


@pytest.fixture(scope="module")
def trained():
    train = sequences(48, 40, seed=5, n_freq=32)
    val = sequences(12, 40, seed=6, n_freq=32)
    config = DKFTrainConfig(
        epochs=5, batch_size=8, segment_frames=20, lr=5e-3, kl_warmup_epochs=0, patience=None
    )
    return fit_dkf(train, config, val=val, model_config=TRAINABLE, seed=0, progress=False), config


def test_training_raises_the_validation_elbo(trained):
    result, _ = trained
    first, best = result.history[0].val_elbo, result.best_val_elbo
    assert best > first + 10.0, [r.val_elbo for r in result.history]
    assert result.n_train_segments == 48 * 2


def test_same_seed_same_weights():
    config = DKFTrainConfig(epochs=1, batch_size=8, segment_frames=10)
    data = sequences(8, 20, seed=7)
    a = fit_dkf(data, config, model_config=TINY, seed=3, progress=False).model
    b = fit_dkf(data, config, model_config=TINY, seed=3, progress=False).model
    c = fit_dkf(data, config, model_config=TINY, seed=4, progress=False).model
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.decoder.output.weight, c.decoder.output.weight)


def test_a_non_finite_loss_stops_training():
    data = sequences(4, 10, seed=8)
    data[1, 3, 2] = float("inf")
    config = DKFTrainConfig(epochs=1, batch_size=8, segment_frames=10)
    with pytest.raises(TrainingError, match="loss became"):
        fit_dkf(data, config, model_config=TINY, seed=0, progress=False)


def test_save_and_load_give_the_same_log_joint(trained, tmp_path: Path):
    result, config = trained
    path = save_dkf(tmp_path / "dkf.pt", result, config=config, seed=0, data="synthetic")
    loaded = load_dkf(path)
    power = sequences(1, 7, seed=9, n_freq=32)[0]
    z = torch.randn(7, TRAINABLE.latent_dim, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        a = joint_log_density(result.model.markov_terms(power, z))
        b = joint_log_density(loaded.markov_terms(power, z))
    assert torch.equal(a, b)


def test_loading_another_models_checkpoint_is_a_clear_error():
    from avgen.models.vae.registry import bundled_dir

    with pytest.raises(CheckpointError, match="dkf"):
        load_dkf(bundled_dir() / "a-vae.pt")


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(ConfigError, match="frames-major"):
        tiny_model().model(torch.rand(4, 5))
    with pytest.raises(ConfigError, match="latent_dim"):
        DKFConfig(latent_dim=0)
    assert segment_sequences([torch.rand(25, 3), torch.rand(9, 3)], 10).shape == (2, 10, 3)


def test_the_bundled_dkf_loads_with_its_card():
    from avgen.models.dvae.train import bundled_dkf_path

    path = bundled_dkf_path()
    model = load_dkf("dkf")
    assert path.stat().st_size < 5e6
    card = read_model_card(path.with_suffix(".md"))
    for key in ("data", "data_licence", "epochs", "val_elbo_per_frame", "training_time"):
        assert card.get(key), key
    assert model.config.n_freq == 513
    # a prior draw decodes to finite, positive variances
    z = model.sample_prior(20, torch.Generator().manual_seed(0))
    assert bool(torch.isfinite(model.decode(z)).all()) and bool((model.decode(z) > 0).all())
