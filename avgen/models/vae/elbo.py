"""The ELBO of a VAE prior on held-out frames (nats per frame), and the baseline it must beat."""

from __future__ import annotations

import pyro
import torch

from avgen.errors import DataError
from avgen.models.vae.frames import FrameTensors, check_frames
from avgen.models.vae.models import SpeechVAE


def elbo_sum(
    model: SpeechVAE,
    data: FrameTensors,
    seed: int,
    num_particles: int,
    batch_size: int,
    encoder_power: torch.Tensor | None = None,
) -> float:
    """Sum over frames of the ELBO estimate (call inside a param-store scope)."""
    elbo = model.make_elbo(num_particles=num_particles, vectorize_particles=num_particles > 1)
    guide = model.training_guide()
    was_training = model.training
    model.eval()
    devices = [model.device] if model.device.type == "cuda" else []
    total = 0.0
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(seed)
            for start in range(0, data.n_frames, batch_size):
                rows = slice(start, start + batch_size)
                chunk = data.take(rows)
                encoder_chunk = None if encoder_power is None else encoder_power[rows]
                total -= elbo.loss(
                    model.model, guide, chunk.power, chunk.lips, encoder_power=encoder_chunk
                )
    finally:
        model.train(was_training)
    return total


def evaluate_elbo(
    model: SpeechVAE,
    data: FrameTensors,
    *,
    seed: int = 0,
    num_particles: int = 1,
    batch_size: int = 8192,
    encoder_power: torch.Tensor | None = None,
) -> float:
    """The model's ELBO on ``data`` in nats per frame (Exponential-on-power convention; add
    ``-F log(pi)`` for the complex Gaussian's), from ``num_particles`` Monte-Carlo draws per
    frame with a fixed ``seed``. ``encoder_power`` (N, F), if given, is what the audio encoder
    reads instead of ``data.power`` (e.g. noisy frames), the likelihood still scoring
    ``data.power``. Leaves the global random state and Pyro's param store as they were."""
    check_frames(model, data, "data")
    data = data.to(model.device)
    if encoder_power is not None:
        if encoder_power.shape != data.power.shape:
            raise DataError(
                f"encoder_power must be {tuple(data.power.shape)}, got {tuple(encoder_power.shape)}"
            )
        encoder_power = encoder_power.to(model.device, torch.float32)
    with pyro.get_param_store().scope():
        return elbo_sum(model, data, seed, num_particles, batch_size, encoder_power) / data.n_frames


def fixed_variance_log_likelihood(train_power: torch.Tensor, eval_power: torch.Tensor) -> float:
    """Baseline: log-likelihood per frame of ``eval_power`` under ``p_ft ~ Exp(1 / v_f)`` with
    ``v_f`` the mean training power per bin (its maximum-likelihood estimate). A speech prior
    worth its name beats it."""
    v = train_power.mean(0)
    return float(-(torch.log(v) + eval_power / v).sum(-1).mean())
