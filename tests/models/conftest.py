"""Synthetic frames and small trained models shared by the VAE tests (trained once per run)."""

from __future__ import annotations

import pytest

from avgen.models.vae import TrainConfig, build_model, fit
from avgen.models.vae.synthetic import synthetic_frames

N_FREQ, LIP_DIM = 32, 36
SMALL = {
    "n_freq": N_FREQ,
    "lip_dim": LIP_DIM,
    "latent_dim": 4,
    "hidden_dim": 32,
    "visual_hidden_dim": 32,
}


@pytest.fixture(scope="session")
def frames():
    """(train, val): 1500 + 500 frames of 4-factor power spectra; the lips know 2 factors."""
    kwargs = {"n_freq": N_FREQ, "lip_dim": LIP_DIM, "factors": 4, "visual_factors": 2}
    return synthetic_frames(1500, seed=1, **kwargs), synthetic_frames(500, seed=2, **kwargs)


@pytest.fixture(scope="session")
def trained_a_vae(frames):
    train, val = frames
    model = build_model("a-vae", **SMALL)
    return fit(
        model, train, val, TrainConfig(epochs=12, batch_size=100, lr=1e-2), seed=0, progress=False
    )


@pytest.fixture(scope="session")
def trained_v_vae(frames):
    train, val = frames
    model = build_model("v-vae", **SMALL)
    return fit(
        model, train, val, TrainConfig(epochs=12, batch_size=100, lr=3e-3), seed=0, progress=False
    )
