"""The Image2Reverb-like baseline: the synthetic RIR has the RT60s and DRR asked for, and the
matched speech is the input plus a tail of ``tail_seconds``."""

from __future__ import annotations

import math

import pytest
import torch

from avgen.errors import AudioError, ConfigError
from avgen.metrics import OCTAVE_BANDS, direct_to_reverberant_ratio, rt60_bands, rt60_schroeder
from avgen.models.scene.acoustic_head import SceneAcoustics, SceneAcousticsConfig
from avgen.models.scene.encoder import SceneEncoderConfig
from avgen.models.scene.image2reverb import Image2Reverb, synthesize_rir


@pytest.mark.parametrize(("t60", "drr"), [(0.3, 6.0), (0.7, 0.0), (1.6, -9.0)])
def test_the_rir_has_the_rt60_and_drr_asked_for(t60, drr):
    h = synthesize_rir([t60] * 6, drr, band_centres=OCTAVE_BANDS, tail_seconds=1.5, seed=3)
    assert h.shape == (24001,) and h[0] == 1.0
    assert rt60_schroeder(h.numpy(), 16000) == pytest.approx(t60, rel=0.08)
    assert direct_to_reverberant_ratio(h.numpy(), 16000, direct_index=0) == pytest.approx(
        drr, abs=0.01
    )


def _model() -> SceneAcoustics:
    model = SceneAcoustics(SceneAcousticsConfig(SceneEncoderConfig(width=4), hidden=8))
    with torch.no_grad():  # an untrained head around a room of 0.3..0.8 s and -2 dB DRR
        model.target_mean.copy_(
            torch.tensor([math.log(t) for t in (0.8, 0.7, 0.6, 0.5, 0.4, 0.3)] + [-2.0])
        )
        model.target_std.fill_(0.05)
    return model.eval()


def test_matched_speech_is_longer_by_the_tail_finite_and_follows_the_predicted_rt60():
    i2r = Image2Reverb(_model(), tail_seconds=1.0)
    picture = torch.rand(3, 128, 128)
    clean = torch.randn(8000) * 0.1
    out = i2r.match(clean, picture, seed=1)
    assert out.shape == (8000 + 16000,) and i2r.tail_samples == 16000
    assert bool(torch.isfinite(out).all())
    predicted, drr = i2r.acoustics(picture)
    rir = i2r.rir(picture, seed=1).numpy()
    assert direct_to_reverberant_ratio(rir, 16000, direct_index=0) == pytest.approx(drr, abs=0.01)
    measured = rt60_bands(rir, 16000)
    for band, t60 in zip(OCTAVE_BANDS, predicted.tolist()):
        assert measured[band] == pytest.approx(t60, rel=0.2), band
    # the direct path passes the input through unchanged at the start
    assert torch.allclose(out[:40], clean[:40], atol=1e-5)


def test_same_seed_same_output_another_seed_another_tail():
    i2r = Image2Reverb(_model(), tail_seconds=0.5)
    picture, clean = torch.rand(3, 128, 128), torch.randn(4000)
    a, b, c = (i2r.match(clean, picture, seed=s) for s in (0, 0, 1))
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_bad_input_is_refused():
    i2r = Image2Reverb(_model(), tail_seconds=0.5)
    with pytest.raises(AudioError):
        i2r.match(torch.randn(2, 100), torch.rand(3, 128, 128))
    with pytest.raises(ConfigError, match="one RT60 per band"):
        synthesize_rir([0.5, 0.5], 0.0, band_centres=OCTAVE_BANDS)
    with pytest.raises(ConfigError, match="positive"):
        synthesize_rir([0.5] * 5 + [0.0], 0.0, band_centres=OCTAVE_BANDS)
