"""The room operator: the T60 of the RIR it makes, gradients, and parameter recovery."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from avgen.audio import DIFFUSION_STFT, compress, stft
from avgen.errors import ConfigError
from avgen.metrics import rt60_schroeder
from avgen.models.diffusion.spectra import spec_to_tensor
from avgen.models.reverb import (
    RoomOperator,
    band_masks,
    compress_smooth,
    fft_convolve,
    fit_room_operator,
    octave_band_edges,
)

FS = 16_000


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread (2 shared cores: spinning threads slow small FFTs down)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def schroeder_t60(h: np.ndarray, fs: int = FS, decay_db: float = 20.0) -> float:
    """T20 by Schroeder backward integration, from the metrics module."""
    return rt60_schroeder(h, fs, decay_db=decay_db)


def band_filter(h: np.ndarray, lo: float, hi: float, fs: int = FS) -> np.ndarray:
    """Zero-phase band filter with a Hann-shaped gain over log-frequency between ``lo`` and
    ``hi`` (zero outside), on a 4x zero-padded FFT so that nothing wraps around. Its smooth gain
    keeps the filtered direct path short (a brick-wall band would ring for the whole decay)."""
    n = len(h)
    m = 4 * n
    f = np.fft.rfftfreq(m, 1.0 / fs)
    gain = np.zeros_like(f)
    inside = (f > lo) & (f < hi)
    u = np.log(f[inside] / lo) / np.log(hi / lo)
    gain[inside] = np.sin(np.pi * u) ** 2
    return np.fft.irfft(np.fft.rfft(h, m) * gain, m)[:n]


def band_t60(op: RoomOperator, h: np.ndarray, band: int) -> float:
    """Schroeder T20 of band ``band`` of ``h``, analysed inside the band's edges."""
    lo, hi = op.band_edges[band], op.band_edges[band + 1]
    return schroeder_t60(band_filter(h, max(lo * 1.05, 30.0), hi / 1.05))


@pytest.mark.parametrize("t60", [0.3, 0.6, 0.9])
def test_broadband_t60_of_the_rir_matches_the_parameter(t60):
    # Over 12 noise seeds x 3 T60s the measured/target ratio had mean 1.002 and sd 0.010;
    # 5% is five standard deviations.
    op = RoomOperator(t60, gain=0.1, length=1.2, seed=7)
    h = op.rir().detach().numpy()
    assert schroeder_t60(h) == pytest.approx(t60, rel=0.05)


def test_per_band_t60s_of_the_rir_match_their_parameters():
    t60s = np.array([0.3, 0.5, 0.8, 0.6, 0.4, 0.25])
    ratios = []
    for seed in range(12):
        op = RoomOperator(t60s.tolist(), gain=0.1, seed=seed)
        h = op.rir().detach().numpy()
        ratios.append([band_t60(op, h, b) / t60s[b] for b in range(op.n_bands)])
    ratios = np.array(ratios)
    mean = ratios.mean(axis=0)
    se = ratios.std(axis=0, ddof=1) / math.sqrt(len(ratios))
    # The decay of narrow-band noise fluctuates (few degrees of freedom in the low bands:
    # per-RIR sd 17% at 125 Hz, 4% at 4 kHz), so the tolerance is the Monte-Carlo error of
    # the mean over seeds (4 standard errors) plus 3% for the method's own bias.
    assert np.all(np.abs(mean - 1.0) < 4.0 * se + 0.03), (mean, se)
    # the bands are told apart: the longest and shortest decays are ordered as set
    per_band = mean * t60s
    assert np.argmax(per_band) == 2 and np.argmin(per_band) == 5


def test_rir_structure_direct_path_predelay_and_white_tail_with_equal_gains():
    op = RoomOperator(0.4, gain=0.05, predelay=0.004, seed=1)
    h = op.rir().detach()
    assert h.shape == (op.n_samples,)
    assert h[0] == pytest.approx(1.0)
    assert torch.all(h[1 : op.predelay_samples] == 0)
    # The bands partition the spectrum: with equal gains, the tail is one white noise times
    # one envelope, so the band noises sum to the white noise.
    masks = band_masks(op.band_edges, op.n_samples)
    assert torch.equal(masks.sum(0), torch.ones(masks.shape[1]))
    white = op.band_noise.sum(0)
    spectrum = torch.fft.rfft(white).abs().square()
    low, high = spectrum[10:2000].mean(), spectrum[-2000:].mean()
    assert float(low / high) == pytest.approx(1.0, rel=0.15)


def test_two_operators_with_one_seed_share_their_noise():
    assert torch.equal(RoomOperator(seed=3).band_noise, RoomOperator(0.9, 0.2, seed=3).band_noise)
    assert not torch.equal(RoomOperator(seed=3).band_noise, RoomOperator(seed=4).band_noise)


def test_batched_parameters_give_one_rir_per_item():
    op = RoomOperator(0.5, seed=0)
    lt = torch.log(torch.tensor([[0.3] * 6, [0.7] * 6]))
    lg = op.log_gain.detach().expand(2, -1)
    h = op.rir(lt, lg)
    assert h.shape == (2, op.n_samples)
    assert torch.allclose(h[1], RoomOperator(0.7, seed=0).rir().detach(), atol=1e-6)


def test_fft_convolution_equals_direct_convolution():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 300, generator=gen, dtype=torch.float64)
    h = torch.randn(50, generator=gen, dtype=torch.float64)
    direct = torch.stack([torch.from_numpy(np.convolve(xi.numpy(), h.numpy())[:300]) for xi in x])
    assert torch.allclose(fft_convolve(x, h), direct, atol=1e-10)
    assert fft_convolve(x, h, length=349).shape == (2, 349)


def test_smooth_compression_equals_the_library_compression_and_has_finite_gradients():
    spec = torch.randn(4, 256, 5, dtype=torch.complex64)
    spec[0, 0, 0] = 0
    assert torch.allclose(compress_smooth(spec), compress(spec), atol=1e-5)
    z = spec.clone().requires_grad_(True)
    compress_smooth(z).abs().sum().backward()
    assert torch.isfinite(torch.view_as_real(z.grad)).all()


def test_gradients_reach_every_parameter_from_the_stft_domain():
    op = RoomOperator([0.3, 0.4, 0.5, 0.5, 0.4, 0.3], gain=0.05, length=0.5, seed=0)
    wav = 0.1 * torch.randn(8000, generator=torch.Generator().manual_seed(0))
    x = compress(stft(wav, DIFFUSION_STFT)).requires_grad_(True)
    y = op.forward_stft(x)
    assert y.shape == x.shape
    (y.real.square() + y.imag.square()).sum().backward()
    for p in (op.log_t60, op.log_gain, x):
        assert (
            p.grad is not None
            and torch.isfinite(torch.view_as_real(p.grad) if p.is_complex() else p.grad).all()
        )
    assert (op.log_t60.grad != 0).all() and (op.log_gain.grad != 0).all()


def test_forward_tensor_takes_parameters_from_a_mapping():
    op = RoomOperator(0.3, seed=0, length=0.5)
    wav = 0.1 * torch.randn(4000, generator=torch.Generator().manual_seed(1))
    spec = compress(stft(wav, DIFFUSION_STFT))
    x = spec_to_tensor(spec)[None]
    other = RoomOperator(0.6, seed=0, length=0.5)
    y = op.forward_tensor(x, other.params())
    assert torch.allclose(y[0], spec_to_tensor(other.forward_stft(spec)), atol=1e-6)
    assert torch.allclose(op.forward_tensor(x)[0], spec_to_tensor(op.forward_stft(spec)), atol=1e-6)
    # gradients reach parameters passed in the mapping (how a posterior sampler estimates them)
    leaves = {k: v.requires_grad_(True) for k, v in other.params().items()}
    op.forward_tensor(x, leaves).square().sum().backward()
    assert all(v.grad is not None and v.grad.abs().sum() > 0 for v in leaves.values())


def test_fitting_recovers_the_t60s_and_gains_of_a_known_room():
    t60s = torch.tensor([0.2, 0.35, 0.5, 0.4, 0.3, 0.15])
    gains = torch.tensor([0.08, 0.1, 0.06, 0.05, 0.04, 0.03])
    target = RoomOperator(t60s.tolist(), gains.tolist(), length=0.6, seed=3)
    gen = torch.Generator().manual_seed(0)
    n = 8_000
    clean = torch.randn(n, generator=gen) * torch.sin(torch.arange(n) / FS * 2 * math.pi * 3).abs()
    x = compress(stft(clean, DIFFUSION_STFT))
    y = target.forward_stft(x).detach()
    estimate = RoomOperator(0.3, 0.05, length=0.6, seed=3)  # same noise, other parameters
    losses = fit_room_operator(estimate, x, y, steps=80, lr=0.06)
    assert losses[-1] < 1e-3 * losses[0]
    assert torch.allclose(estimate.t60, t60s, rtol=0.05)
    assert torch.allclose(estimate.gain, gains, rtol=0.05)


def test_clamp_projects_into_the_allowed_ranges():
    op = RoomOperator(0.5, seed=0, length=1.0, t60_range=(0.1, 0.9))
    with torch.no_grad():
        op.log_t60.fill_(math.log(5.0))
        op.log_gain.fill_(math.log(1e-9))
    op.clamp_()
    assert torch.allclose(op.t60, torch.full((6,), 0.9))
    assert torch.allclose(op.gain, torch.full((6,), 1e-4))


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError):
        RoomOperator([0.3, 0.4])  # 2 values for 6 bands
    with pytest.raises(ConfigError):
        RoomOperator(-0.3)
    with pytest.raises(ConfigError):
        RoomOperator(length=0.001, predelay=0.01)
    with pytest.raises(ConfigError):
        octave_band_edges([100.0, 9000.0])
    with pytest.raises(ConfigError):
        fit_room_operator(
            RoomOperator(),
            torch.zeros(256, 4, dtype=torch.complex64),
            torch.zeros(256, 5, dtype=torch.complex64),
        )
