"""The blind RT60 estimator (AViTAR's RTE): it trains, generalises to held-out rooms, takes
clips of any length and gain, and defines the RT60 error between two waveforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avgen.errors import AudioError, ConfigError
from avgen.models.scene.regression import RegressionTrainConfig
from avgen.models.scene.rt60_estimator import (
    Rt60Estimator,
    Rt60EstimatorConfig,
    evaluate_rt60_estimator,
    fit_rt60_estimator,
    log_spectrogram,
    reverberation_time_error,
)

N_TRAIN = 36


@pytest.fixture(scope="module")
def estimator_fit(scene_rooms):
    return fit_rt60_estimator(
        scene_rooms["waves"][:N_TRAIN],
        scene_rooms["rt60"][:N_TRAIN],
        Rt60EstimatorConfig(width=4, frames=100),
        train=RegressionTrainConfig(steps=150, batch_size=8, lr=1e-3, log_every=10),
        seed=0,
    )


def test_the_training_loss_falls(estimator_fit):
    losses = [h["loss"] for h in estimator_fit.history]
    assert losses[-1] < 0.6 * min(losses[:3])


def test_it_beats_the_mean_predictor_on_held_out_rooms(estimator_fit, scene_rooms):
    report = evaluate_rt60_estimator(
        estimator_fit.model, scene_rooms["waves"][N_TRAIN:], scene_rooms["rt60"][N_TRAIN:]
    )
    assert report["n"] == 48 - N_TRAIN
    assert report["mae"] < 0.8 * report["mae_mean_predictor"]
    assert report["mae"] < 0.8 * report["mae_log_mean_predictor"]


def test_any_length_and_any_gain_is_accepted(estimator_fit, scene_rooms):
    model = estimator_fit.model
    wave = scene_rooms["waves"][0]
    full = model.estimate(wave)
    assert 0.05 < full < 10.0
    assert model.estimate(3.0 * wave) == pytest.approx(full, rel=1e-4)
    short = model.estimate(wave[:4000])  # 0.25 s: padded to `frames`
    long = model.estimate(torch.cat([wave, wave]))
    assert np.isfinite(short) and np.isfinite(long)
    assert model.estimate(wave.numpy()) == pytest.approx(full, rel=1e-6)


def test_rt60_error_is_the_absolute_difference_of_the_estimates(estimator_fit, scene_rooms):
    model = estimator_fit.model
    a, b = scene_rooms["waves"][0], scene_rooms["waves"][5]
    assert reverberation_time_error(a, a, model) == 0.0
    assert reverberation_time_error(a, b, model) == pytest.approx(
        abs(model.estimate(a) - model.estimate(b))
    )
    assert reverberation_time_error(a, b, model) == pytest.approx(
        reverberation_time_error(b, a, model)
    )


def test_the_input_is_log1p_of_the_avitar_stft():
    spec = log_spectrogram(torch.randn(16000))
    assert spec.shape == (257, 101) and bool((spec >= 0).all())


def test_bad_input_is_refused():
    model = Rt60Estimator(Rt60EstimatorConfig(width=4, frames=16))
    with pytest.raises(AudioError, match="silent"):
        model.estimate(torch.zeros(8000))
    with pytest.raises(AudioError, match="NaN"):
        model.estimate(torch.full((8000,), float("nan")))
    with pytest.raises(AudioError, match="mono"):
        model.estimate(torch.randn(2, 8000))
    with pytest.raises(ConfigError, match="rt60s"):
        fit_rt60_estimator([torch.randn(8000)] * 3, [0.5, 0.6], Rt60EstimatorConfig(width=4))
