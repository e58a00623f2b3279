"""Specification of speaker-variety perturbation: speed perturbation (Ko et al. 2015) and VTLP
(Jaitly & Hinton 2013), and how a kit's train frames gain perturbed copies."""

from __future__ import annotations

import pytest
import torch

from avgen.audio import VAE_STFT, power_spectrogram
from avgen.data.perturb import (
    VTLP_F_HI,
    Perturbation,
    speed_perturb,
    vtlp_source_freqs,
    vtlp_warp,
)
from avgen.errors import ConfigError

FS = 16_000
BIN_HZ = FS / VAE_STFT.n_fft


def tone(freq: float, seconds: float = 1.0) -> torch.Tensor:
    t = torch.arange(round(seconds * FS), dtype=torch.float64) / FS
    return (0.5 * torch.sin(2 * torch.pi * freq * t)).float()


def peak_hz(power: torch.Tensor) -> float:
    """Peak of the time-averaged power, refined by a parabola through the 3 top bins."""
    p = power.mean(dim=0).double()
    k = int(p.argmax())
    a, b, c = (float(v) for v in torch.log(p[k - 1 : k + 2]))
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * BIN_HZ


def test_speed_factor_one_is_the_identity():
    x = tone(440.0)
    assert torch.equal(speed_perturb(x, 1.0), x)


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturbation_scales_frequency_and_divides_duration(factor):
    x = tone(1000.0)
    y = speed_perturb(x, factor)
    assert abs(y.numel() - x.numel() / factor) <= 1
    before = peak_hz(power_spectrogram(x, VAE_STFT).T)
    after = peak_hz(power_spectrogram(y, VAE_STFT).T)
    assert before == pytest.approx(1000.0, abs=3)
    assert after == pytest.approx(1000.0 * factor, abs=3)  # 900 or 1100 Hz, not 1000


def test_vtlp_alpha_one_is_the_identity():
    power = torch.rand(7, 513)
    assert torch.equal(vtlp_warp(power, 1.0), power)


def formant(centre_hz: float, width_hz: float = 150.0) -> torch.Tensor:
    f = torch.arange(513, dtype=torch.float32) * BIN_HZ
    return torch.exp(-0.5 * ((f - centre_hz) / width_hz) ** 2).expand(4, 513)


@pytest.mark.parametrize("alpha", [0.9, 1.08])
def test_vtlp_moves_a_formant_below_the_boundary_by_alpha(alpha):
    warped = vtlp_warp(formant(1500.0), alpha)
    assert warped.shape == (4, 513)
    assert peak_hz(warped) == pytest.approx(1500.0 * alpha, abs=5)


def test_vtlp_warp_is_continuous_and_keeps_zero_and_nyquist():
    g = torch.linspace(0, FS / 2, 2001, dtype=torch.float64)
    for alpha in (0.9, 1.1):
        f = vtlp_source_freqs(g, alpha)
        assert float(f[0]) == 0.0 and float(f[-1]) == pytest.approx(FS / 2)
        assert bool((f.diff() > 0).all())  # monotone: no folding of the spectrum
        knee = VTLP_F_HI * min(alpha, 1.0)
        assert float(vtlp_source_freqs(torch.tensor([knee], dtype=torch.float64), alpha)[0]) == (
            pytest.approx(knee / alpha)
        )
    # above the boundary the band edge is kept: a peak near Nyquist barely moves
    assert peak_hz(vtlp_warp(formant(7600.0), 1.1)) == pytest.approx(7600.0, abs=100)


def test_draws_are_seeded_and_within_the_ranges():
    def all_draws(p: Perturbation) -> list:
        return [p.draw(i, c) for i in range(20) for c in range(1, p.copies + 1)]

    draws = all_draws(Perturbation(copies=3, seed=4))
    assert draws == all_draws(Perturbation(copies=3, seed=4))
    assert draws != all_draws(Perturbation(copies=3, seed=5))
    assert {d.speed for d in draws} == {0.9, 1.0, 1.1}
    assert all(0.9 <= d.alpha <= 1.1 for d in draws)
    assert len({round(d.alpha, 6) for d in draws}) == len(draws)
    no_vtlp = Perturbation(vtlp_range=(1.0, 1.0))
    assert {no_vtlp.draw(i, 1).alpha for i in range(5)} == {1.0}


def test_bad_perturbations_are_refused():
    with pytest.raises(ConfigError):
        Perturbation(copies=0)
    with pytest.raises(ConfigError):
        Perturbation(speeds=())
    with pytest.raises(ConfigError):
        Perturbation(vtlp_range=(1.1, 0.9))
    with pytest.raises(ConfigError):
        speed_perturb(tone(100.0), 0.0)
    with pytest.raises(ConfigError):
        vtlp_warp(torch.rand(2, 513), -1.0)


# ---------------------------------------------------------------------------------------------
# On a kit's frames
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    from tests.data.test_datasets import write_kit

    return write_kit(tmp_path_factory.mktemp("kit"))


def test_augmented_train_frames_keep_the_originals_and_add_seeded_copies(kit):
    from avgen.data.datasets import FrameDataset

    plain = FrameDataset(kit, "train")
    aug = FrameDataset(kit, "train", augment=Perturbation(copies=2, seed=1))
    again = FrameDataset(kit, "train", augment=Perturbation(copies=2, seed=1))
    assert torch.equal(aug.power, again.power) and torch.equal(aug.lips, again.lips)
    assert torch.equal(aug.power[aug.copy_index == 0], plain.power)
    assert torch.equal(aug.lips[aug.copy_index == 0], plain.lips)
    assert set(aug.copy_index.tolist()) == {0, 1, 2}
    assert aug.lips.shape[0] == aug.power.shape[0] == aug.speaker_index.shape[0]
    for i in range(len(aug.utterances)):
        rows = aug.frames_of(i)
        n_orig = int((aug.copy_index[rows] == 0).sum())
        for c in (1, 2):
            speed = Perturbation(copies=2, seed=1).draw(i, c).speed
            n_copy = int((aug.copy_index[rows] == c).sum())
            assert abs(n_copy - n_orig / speed) <= 2  # a sped-up copy is shorter
    assert not torch.equal(aug.power[aug.copy_index == 1][:10], plain.power[:10])


def test_val_and_test_are_never_augmented(kit):
    from avgen.data.datasets import FrameDataset
    from avgen.models.vae.kit import load_kit_frames

    for split in ("val", "test"):
        with pytest.raises(ConfigError, match="train split only"):
            FrameDataset(kit, split, augment=Perturbation())
        with pytest.raises(ConfigError, match="train split only"):
            load_kit_frames(kit, split, 1024, augment=Perturbation())
    assert torch.equal(load_kit_frames(kit, "val", 1024).power, FrameDataset(kit, "val").power)
