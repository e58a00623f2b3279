"""The five bundled VAE priors: listed with cards, small, loadable in one line, and the
MIN-VAE's visual branch takes over as the audio is corrupted (on the bundled sample clips:
real speech of speakers no model heard in training)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import torch

import avgen.models
from avgen.audio import VAE_STFT, load_audio, power_spectrogram
from avgen.cli import main
from avgen.data.lips.files import load_lips
from avgen.data.lips.frames import lips_at_stft_rate
from avgen.models.vae.min_vae import visual_weight_by_snr
from avgen.models.vae.registry import list_bundled

SAMPLES = Path(str(resources.files("avgen").joinpath("assets/samples")))
NAMES = ("a-vae", "v-vae", "av-vae", "av-cvae", "min-vae")


def sample_frames(lip_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Clean power ``(T, 513)`` and lips ``(T, lip_size**2)`` of every bundled sample clip."""
    powers, lips = [], []
    for clip in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        wav = load_audio(clip / "clean.wav")
        power = power_spectrogram(wav, VAE_STFT).T.contiguous()
        powers.append(power)
        lips.append(
            lips_at_stft_rate(load_lips(clip / "lips.npy"), 25.0, power.shape[0], lip_size=lip_size)
        )
    return torch.cat(powers), torch.cat(lips)


def test_five_models_are_bundled_with_cards_under_5_mb():
    bundled = {m.name: m for m in list_bundled()}
    assert tuple(bundled) == NAMES
    for m in bundled.values():
        assert m.size_bytes < 5e6, m.name
        assert m.card is not None
        for key in ("data", "data_licence", "epochs", "val_elbo_per_frame", "training_time"):
            assert m.fields.get(key), (m.name, key)


def test_avgen_models_lists_them(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert name in out


def test_held_out_elbos_rank_as_the_paper_says():
    """On the val split (speakers unseen in training): MIN-VAE within a few percent (6 %) of
    the A-VAE, V-VAE below both (lips say less than audio). The MIN-VAE pays for a visual
    branch that matters: trained so that its ELBO came within 2.3 %, its visual weight stayed
    at 0.07 at every SNR (docs/models-vae.md)."""
    elbo = {m.name: float(m.fields["val_elbo_per_frame"]) for m in list_bundled()}
    assert elbo["min-vae"] >= elbo["a-vae"] - 0.06 * abs(elbo["a-vae"])
    assert elbo["v-vae"] < min(elbo["a-vae"], elbo["min-vae"])


@pytest.fixture(scope="module")
def min_vae():
    return avgen.models.load_model("min-vae")


def test_one_line_loads_a_model_in_eval_mode(min_vae):
    assert min_vae.name == "min-vae" and not min_vae.training


def test_visual_weight_rises_monotonically_as_the_audio_input_is_corrupted(min_vae):
    power, lips = sample_frames(int(min_vae.config.lip_dim**0.5))
    snrs = [None, 20.0, 10.0, 0.0, -10.0]
    with torch.no_grad():
        curve = visual_weight_by_snr(min_vae, power, lips, snrs, seed=0)
    mean, se = curve[:, 0], curve[:, 1]
    steps = mean[1:] - mean[:-1]
    # each step up, allowing for 3 Monte-Carlo standard errors of the two points
    assert bool((steps > -3 * (se[1:] ** 2 + se[:-1] ** 2).sqrt()).all()), curve
    assert float(mean[-1] - mean[0]) > 0.2, curve


def test_avgen_models_lists_the_other_bundled_networks_with_their_cards(capsys):
    from avgen.cli.models import OTHER_WEIGHTS

    assert main(["models"]) == 0
    out = capsys.readouterr().out.split("other bundled networks:")[1]
    for rel, _, _ in OTHER_WEIGHTS:
        assert rel in out, rel
    assert "(no card)" not in out


@pytest.mark.xfail(
    strict=True,
    reason="known defect: the bundled V-VAE's and MIN-VAE's visual encoders saturated in "
    "training (every tanh unit at |h| > 0.999) and output one constant for any lips; "
    "retraining with standardised lips did not give a better model (docs/models-vae.md)",
)
@pytest.mark.parametrize("name", ["v-vae", "min-vae"])
def test_the_bundled_visual_encoders_read_the_lips(name):
    model = avgen.models.load_model(name)
    _, lips = sample_frames(int(model.config.lip_dim**0.5))
    noise = torch.rand(lips.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        mean = model.visual_encoder(lips)[0]
        moved = float((model.visual_encoder(noise)[0] - mean).abs().max())
    assert moved > 1e-3 and float(mean.std(0).mean()) > 1e-3
