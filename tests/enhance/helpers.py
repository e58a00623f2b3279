"""Tiny priors and signals for the enhancement tests (no bundled weights needed)."""

from __future__ import annotations

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE, VAE_STFT, istft
from avgen.checkpoint import save_checkpoint
from avgen.models.vae import build_model
from avgen.seeding import torch_generator

#: real STFT size (the pipeline reads audio), tiny networks, 8 x 8 lip images
TINY = {
    "n_freq": VAE_STFT.n_freqs,
    "latent_dim": 4,
    "hidden_dim": 16,
    "lip_dim": 64,
    "visual_hidden_dim": 16,
}
MODEL_NAMES = ("a-vae", "v-vae", "av-vae", "av-cvae", "min-vae")


def tiny_model(name: str, seed: int = 0, structured: bool = True):
    """A randomly initialised prior whose decoder gives frame-dependent, speech-like spectra
    (output weights scaled up, a falling spectral tilt as bias)."""
    model = build_model(name, seed=seed, **TINY)
    if structured:
        with torch.no_grad():
            model.decoder.output.weight.mul_(10.0)
            freq = torch.linspace(0, 1, VAE_STFT.n_freqs)
            model.decoder.output.bias.copy_(-4.0 - 6.0 * freq)
    return model.eval()


def save_tiny(model, path):
    save_checkpoint(
        path, model=model.name, config=model.config.to_dict(), state_dict=model.state_dict()
    )
    return path


def speech_from_prior(model, n_frames: int, seed: int = 0, rho: float = 0.9) -> torch.Tensor:
    """A waveform whose STFT frames are drawn from ``model``'s own generative model
    (z_t ~ N(0, I) marginally, s | z ~ N_c(0, sigma2(z))), so the prior is right by
    construction. ``z`` moves slowly (AR(1), coefficient ``rho``) as speech spectra do, so that
    the overlap of the inverse STFT (75 %) does not blur one frame into the next."""
    g = torch_generator(seed)
    with torch.no_grad():
        innovation = torch.randn(n_frames, model.config.latent_dim, generator=g)
        z = torch.empty_like(innovation)
        z[0] = innovation[0]
        for t in range(1, n_frames):
            z[t] = rho * z[t - 1] + (1 - rho**2) ** 0.5 * innovation[t]
        lips = None
        if model.conditions_on_lips:
            lips = torch.rand(n_frames, model.config.lip_dim, generator=g)
        v = model.decode(z, lips).T  # (F, T)
        re, im = (torch.randn(v.shape, generator=g) for _ in range(2))
        spec = (v / 2).sqrt() * torch.complex(re, im)
    return istft(spec, VAE_STFT, length=(n_frames - 1) * VAE_STFT.hop_length).float()


def coloured_noise(n_samples: int, seed: int = 1) -> torch.Tensor:
    """Stationary low-pass noise (white noise through a one-pole filter)."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    return torch.from_numpy(
        lfilter([1.0], [1.0, -0.9], rng.standard_normal(n_samples)).astype(np.float32)
    )


def mix(speech: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    noise = noise[: speech.numel()]
    scale = (speech.square().mean() / noise.square().mean() / 10 ** (snr_db / 10)).sqrt()
    return speech + scale * noise


def lip_video(
    n_samples: int, fps: float = 25.0, seconds_off: float = 0.0, seed: int = 0
) -> np.ndarray:
    """uint8 (n, 16, 16) frames lasting the audio's duration plus ``seconds_off``."""
    n = max(1, round((n_samples / SAMPLE_RATE + seconds_off) * fps))
    return np.random.default_rng(seed).integers(0, 256, (n, 16, 16), dtype=np.uint8)
