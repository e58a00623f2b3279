"""The picture -> acoustics head: it trains, it learns the rooms, its labels are checked.

At test size (48 rooms, 120 steps at width 8, no dropout or translation) the head fits its
training rooms well but does not beat the mean predictor on held-out rooms (48 rooms show each
material only a few times; even with 120 training rooms the held-out gain is small, see
``benchmarks/scene_models.py``), so this test compares on the training set: it shows that
the head and its training work, not that it generalises.
"""

from __future__ import annotations

import pytest
import torch

from avgen.errors import ConfigError
from avgen.models.scene.acoustic_head import (
    SceneAcoustics,
    SceneAcousticsConfig,
    acoustic_labels,
    augment_pictures,
    evaluate_scene_acoustics,
    fit_scene_acoustics,
)
from avgen.models.scene.encoder import SceneEncoderConfig
from avgen.models.scene.regression import RegressionTrainConfig


@pytest.fixture(scope="module")
def head_fit(scene_rooms):
    return fit_scene_acoustics(
        scene_rooms["pictures"],
        scene_rooms["labels"],
        SceneAcousticsConfig(SceneEncoderConfig(width=8), hidden=64, dropout=0.0),
        train=RegressionTrainConfig(steps=120, batch_size=16, lr=1e-3, log_every=10),
        seed=0,
        shift=0,
    )


def test_the_training_loss_falls_well_below_the_mean_predictors_level(head_fit):
    losses = [h["loss"] for h in head_fit.history]
    assert losses[0] > 0.7  # standardised targets: 1.0 is the mean predictor
    assert losses[-1] < 0.5 * losses[0]


def test_the_head_beats_the_mean_predictor_on_its_training_rooms(head_fit, scene_rooms):
    report = evaluate_scene_acoustics(
        head_fit.model, scene_rooms["pictures"], scene_rooms["labels"]
    )
    assert report["n"] == 48
    assert report["rt60_mae_all"] < 0.6 * report["rt60_mae_all_mean_predictor"]
    assert report["rt60_mae_all"] < 0.6 * report["rt60_mae_all_log_mean_predictor"]
    assert report["drr_mae"] < 0.8 * report["drr_mae_mean_predictor"]
    assert set(report["rt60_mae"]) == set(head_fit.model.config.bands)


def test_the_scene_embedding_is_the_encoders(head_fit, scene_rooms):
    emb = head_fit.model.embed(scene_rooms["pictures"][:2])
    assert emb.vector.shape == (2, 256) and emb.tokens.shape == (2, 16, 256)


def test_predictions_are_in_seconds_and_decibels(head_fit, scene_rooms):
    pred = head_fit.model.predict(scene_rooms["pictures"][:4])
    assert pred.shape == (4, 7)
    assert bool((pred[:, :-1] > 0.05).all()) and bool((pred[:, :-1] < 10).all())
    assert bool((pred[:, -1].abs() < 30).all())


def test_labels_are_stacked_band_by_band_then_drr_and_checked():
    a = {"rt60_bands": {"125.0": 0.5, "250.0": 0.25}, "drr_db": -3.0}
    assert acoustic_labels([a], bands=(125.0, 250.0)).tolist() == [[0.5, 0.25, -3.0]]
    with pytest.raises(ConfigError, match="band"):
        acoustic_labels([a], bands=(125.0, 500.0))
    config = SceneAcousticsConfig(SceneEncoderConfig(width=4), hidden=8)
    pictures = torch.rand(3, 3, 128, 128)
    with pytest.raises(ConfigError, match=r"\(N, 7\)"):
        fit_scene_acoustics(pictures, torch.ones(3, 6), config)
    bad = torch.ones(3, 7)
    bad[0, 0] = -1.0
    with pytest.raises(ConfigError, match="positive"):
        fit_scene_acoustics(pictures, bad, config)
    assert isinstance(SceneAcoustics(config), torch.nn.Module)


def test_augmentation_keeps_the_shape_and_range_and_is_seeded():
    pictures = torch.rand(4, 3, 128, 128)
    a = augment_pictures(pictures, torch.Generator().manual_seed(1))
    b = augment_pictures(pictures, torch.Generator().manual_seed(1))
    assert a.shape == pictures.shape and torch.equal(a, b)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert not torch.equal(a, pictures)
