"""The signal-processing stylization baseline: output length and finiteness, determinism, its
reverberation following the example's (Schroeder on its RIR, the blind estimator on its
output), its ambience level following the example's, and clear errors on bad examples."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avgen.baselines.stylize_dsp import dsp_stylize, example_acoustics, loop_to_length
from avgen.errors import AudioError
from avgen.metrics import OCTAVE_BANDS, rt60_schroeder
from avgen.models.scene.image2reverb import convolve_tail, synthesize_rir

SR = 16_000


@pytest.fixture(scope="module")
def estimator():
    from avgen.pipelines.scene.mvsd import bundled_rt60_estimator

    return bundled_rt60_estimator()


@pytest.fixture(scope="module")
def voices():
    from avgen.data.speech.tts import synthesize_flite

    dry_in = synthesize_flite("The harbour lights were dim when the ferry arrived.", "awb")
    dry_ex = synthesize_flite("Please put the blue folder on the second shelf. Thank you.", "slt")
    return torch.from_numpy(dry_in.waveform), torch.from_numpy(dry_ex.waveform)


def _example(dry: torch.Tensor, t60: float, snr_db: float, seed: int = 0) -> torch.Tensor:
    """Dry speech through a synthetic RIR of ``t60`` plus pink noise at ``snr_db``."""
    from avgen.data.noise.procedural import pink_noise

    rir = synthesize_rir([t60] * 6, -8.0, band_centres=OCTAVE_BANDS, seed=seed + 1)
    wet = convolve_tail(dry, rir)[: dry.numel()]
    noise = torch.from_numpy(pink_noise(wet.numel(), np.random.default_rng(seed))).float()
    noise *= (wet.square().mean() / noise.square().mean() / 10 ** (snr_db / 10)).sqrt()
    return wet + noise


def test_output_has_the_input_length_is_finite_and_seeded(voices, estimator):
    dry_in, dry_ex = voices
    example = _example(dry_ex, 0.8, 15.0)
    out = dsp_stylize(dry_in, example, seed=3, estimator=estimator)
    assert out.shape == dry_in.shape and out.dtype == torch.float32
    assert bool(torch.isfinite(out).all())
    assert torch.equal(out, dsp_stylize(dry_in, example, seed=3, estimator=estimator))
    assert not torch.equal(out, dsp_stylize(dry_in, example, seed=4, estimator=estimator))


def test_reverberation_moves_towards_the_examples(voices, estimator):
    dry_in, dry_ex = voices
    short = example_acoustics(_example(dry_ex, 0.3, 30.0), estimator)
    long = example_acoustics(_example(dry_ex, 1.5, 30.0), estimator)
    assert long.rt60_bands[0] > short.rt60_bands[0] + 0.1
    assert long.drr_db < short.drr_db  # the prior: more reverberation, less direct sound
    # Schroeder on an impulse through the synthetic RIR gives back the RT60 it was built from
    rir = synthesize_rir(long.rt60_bands, long.drr_db, band_centres=OCTAVE_BANDS)
    assert rt60_schroeder(rir.numpy(), SR) == pytest.approx(long.rt60_bands[0], rel=0.2)
    # the blind estimate of the output lies nearer the example's than the dry input's does
    example = _example(dry_ex, 1.5, 30.0)
    out = dsp_stylize(dry_in, example, estimator=estimator)
    target = estimator.estimate(example)
    assert abs(estimator.estimate(out) - target) < abs(estimator.estimate(dry_in) - target)


def test_ambience_level_follows_the_examples(voices, estimator):
    _, dry_ex = voices
    loud = example_acoustics(_example(dry_ex, 0.3, 5.0), estimator)
    quiet = example_acoustics(_example(dry_ex, 0.3, 25.0), estimator)
    gap_db = 10 * np.log10(loud.ambience_to_speech / quiet.ambience_to_speech)
    assert 12.0 < gap_db < 28.0  # 20 dB apart in truth
    assert loud.ambience.size >= 0.25 * SR


def test_looping_keeps_the_level_and_reaches_any_length():
    bed = np.random.default_rng(0).standard_normal(SR // 2)
    out = loop_to_length(bed, 5 * SR, seed=1)
    assert out.shape == (5 * SR,)
    assert np.mean(out**2) == pytest.approx(1.0, rel=0.1)  # equal-power crossfades


def test_bad_examples_raise_one_clear_error(voices, estimator):
    dry_in, dry_ex = voices
    with pytest.raises(AudioError, match="shorter than one STFT frame|samples"):
        dsp_stylize(dry_in, dry_ex[: SR // 2], estimator=estimator)
    with pytest.raises(AudioError, match="silent"):
        dsp_stylize(dry_in, torch.zeros(2 * SR), estimator=estimator)
    with pytest.raises(AudioError, match="NaN"):
        dsp_stylize(dry_in, torch.full((2 * SR,), float("nan")), estimator=estimator)
    with pytest.raises(AudioError, match="mono"):
        dsp_stylize(dry_in, torch.ones(2, 2 * SR), estimator=estimator)
    with pytest.raises(AudioError, match="silent"):
        dsp_stylize(torch.zeros(SR), _example(dry_ex, 0.5, 20.0), estimator=estimator)
