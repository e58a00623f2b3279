"""The RVAE speech prior: its Pyro trace is the model written down, its decoder is causal, it
trains (ELBO up), saves and loads.

The oracle of the log joint is written from the densities' formulas,

    log N(z; 0, I)   = -1/2 sum_l [log(2 pi) + z_l^2]
    log Exp(p; 1/v)  = -sum_f [log v_f + p_f / v_f],

with ``v_t = exp(W_o h_t + b_o)`` and ``h_t`` the decoder GRU's state after ``z_0..z_t``, run
here one frame at a time from the GRU's own weights (a ``GRUCell`` loop), not through the code
under test.
"""

from __future__ import annotations

import math

import pytest
import torch
from pyro import poutine

from avgen.errors import ConfigError
from avgen.models.dvae import (
    DKFTrainConfig,
    RecurrentVAE,
    RVAEConfig,
    dkf_elbo_per_frame,
    fit_dkf,
    load_rvae,
    save_dkf,
    segment_sequences,
)

TINY = RVAEConfig(
    n_freq=8, latent_dim=3, decoder_rnn_dim=5, encoder_rnn_dim=4, latent_rnn_dim=3,
    encoder_hidden_dim=6,
)  # fmt: skip
TRAINABLE = RVAEConfig(
    n_freq=32, latent_dim=2, decoder_rnn_dim=16, encoder_rnn_dim=8, latent_rnn_dim=4,
    encoder_hidden_dim=8,
)  # fmt: skip


def tiny_model(seed: int = 0) -> RecurrentVAE:
    torch.manual_seed(seed)
    return RecurrentVAE(TINY)


def hand_log_joint(model: RecurrentVAE, power: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    rnn = model.decoder_rnn
    cell = torch.nn.GRUCell(rnn.input_size, rnn.hidden_size)
    cell.weight_ih.data.copy_(rnn.weight_ih_l0)
    cell.weight_hh.data.copy_(rnn.weight_hh_l0)
    cell.bias_ih.data.copy_(rnn.bias_ih_l0)
    cell.bias_hh.data.copy_(rnn.bias_hh_l0)
    total = torch.zeros((), dtype=torch.float64)
    h = torch.zeros(1, rnn.hidden_size)
    for t in range(z.shape[0]):
        total += -0.5 * (math.log(2 * math.pi) + z[t] ** 2).sum()
        h = cell(z[t].unsqueeze(0), h)
        v = torch.exp(model.decoder_output(h[0]))
        total += -(torch.log(v) + power[t] / v).sum()
    return total


def test_log_joint_of_the_pyro_trace_equals_the_hand_written_sum():
    model = tiny_model()
    gen = torch.Generator().manual_seed(1)
    n_frames = 6
    power = torch.rand(n_frames, TINY.n_freq, generator=gen) + 0.1
    z = torch.randn(n_frames, TINY.latent_dim, generator=gen)
    data = {f"z_{t}": z[t].unsqueeze(0) for t in range(n_frames)}
    with torch.no_grad():
        trace = poutine.trace(poutine.condition(model.model, data=data)).get_trace(power)
        expected = hand_log_joint(model, power, z)
        from_trace = trace.log_prob_sum()
        plain = model.log_joint(power, z)
    assert [n for n in trace.nodes if n.startswith("z_")] == [f"z_{t}" for t in range(n_frames)]
    torch.testing.assert_close(from_trace.double(), expected, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(plain.double(), expected, rtol=1e-5, atol=1e-4)


def test_the_guide_samples_the_model_sites_and_its_log_density_is_the_chain_of_gaussians():
    model = tiny_model(2)
    power = torch.rand(2, 5, TINY.n_freq, generator=torch.Generator().manual_seed(3)) + 0.1
    with torch.no_grad():
        guide = poutine.trace(model.guide).get_trace(power)
        z = torch.stack([guide.nodes[f"z_{t}"]["value"] for t in range(5)], 1)
        # the same density from the networks, frame by frame
        g = model.encoder_features(power)
        memory = torch.zeros(2, TINY.latent_rnn_dim)
        expected = torch.zeros(2)
        for t in range(5):
            loc, scale = model._posterior_step(g[:, t], memory)
            expected += torch.distributions.Normal(loc, scale).log_prob(z[:, t]).sum(-1)
            memory = model.latent_rnn(z[:, t], memory)
    guide.compute_log_prob()
    got = sum(guide.nodes[f"z_{t}"]["log_prob"] for t in range(5))
    torch.testing.assert_close(got, expected)


def test_the_decoder_is_causal_and_reaches_every_later_frame():
    model = tiny_model(4)
    z = torch.randn(2, 7, TINY.latent_dim, generator=torch.Generator().manual_seed(5))
    moved = z.clone()
    moved[:, 3] += 1.0
    with torch.no_grad():
        a, b = model.decode_log_variance(z), model.decode_log_variance(moved)
    assert torch.equal(a[:, :3], b[:, :3])  # the past does not see the future
    assert bool(((a[:, 3:] - b[:, 3:]).abs().amax(-1) > 1e-6).all())  # z_3 reaches t >= 3
    # any leading dimensions (samples, chains) are batch dimensions
    stacked = model.decode_log_variance(torch.stack([z, moved]))
    torch.testing.assert_close(stacked, torch.stack([a, b]))


def sequences(n: int, n_frames: int, seed: int, n_freq: int = 32) -> torch.Tensor:
    """Power of an AR(1) log-spectrum: frames correlated in time, as speech frames are."""
    gen = torch.Generator().manual_seed(seed)
    basis = torch.randn(2, n_freq, generator=gen)
    a = torch.zeros(n, n_frames, 2)
    for t in range(1, n_frames):
        a[:, t] = 0.9 * a[:, t - 1] + 0.45 * torch.randn(n, 2, generator=gen)
    variance = torch.exp(a @ basis)
    return variance * torch.empty(n, n_frames, n_freq).exponential_(generator=gen)


def test_training_raises_the_validation_elbo_and_the_checkpoint_round_trips(tmp_path):
    train, val = sequences(48, 20, seed=0), sequences(16, 20, seed=1)
    torch.manual_seed(0)
    model = RecurrentVAE(TRAINABLE)
    model.initialize_from_data(train)
    val_seg = segment_sequences(val, 10)
    before = dkf_elbo_per_frame(model, val_seg, seed=0)
    config = DKFTrainConfig(epochs=8, batch_size=16, segment_frames=10, lr=5e-3, patience=None)
    result = fit_dkf(train, config, val=val, model=model, seed=0)
    assert result.best_val_elbo > before + 1.0
    path = save_dkf(tmp_path / "rvae.pt", result, config=config, seed=0)
    loaded = load_rvae(path)
    torch.testing.assert_close(
        dkf_elbo_per_frame(loaded, val_seg, seed=0),
        dkf_elbo_per_frame(result.model, val_seg, seed=0),
    )


def test_a_bad_config_is_a_config_error():
    with pytest.raises(ConfigError, match="latent_dim"):
        RVAEConfig(latent_dim=0)
    with pytest.raises(ConfigError, match="RVAEConfig: unknown field"):
        RVAEConfig.from_dict({"hidden": 3})
