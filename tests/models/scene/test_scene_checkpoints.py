"""Checkpoints of the scene acoustics head and the RT60 estimator: they round-trip, and a
foreign, corrupt or other model's file is a CheckpointError."""

from __future__ import annotations

import pytest
import torch

from avgen.checkpoint import save_checkpoint
from avgen.errors import CheckpointError
from avgen.models.scene.acoustic_head import (
    SceneAcoustics,
    SceneAcousticsConfig,
    load_scene_acoustics,
    save_scene_acoustics,
)
from avgen.models.scene.encoder import SceneEncoderConfig
from avgen.models.scene.rt60_estimator import (
    Rt60Estimator,
    Rt60EstimatorConfig,
    load_rt60_estimator,
    save_rt60_estimator,
)


def _head() -> SceneAcoustics:
    model = SceneAcoustics(SceneAcousticsConfig(SceneEncoderConfig(width=4), hidden=8))
    with torch.no_grad():
        model.target_mean.copy_(torch.linspace(-1.0, 1.0, 7))
        model.target_std.fill_(0.3)
        model.label_mean.fill_(0.6)
    return model.eval()


def _estimator() -> Rt60Estimator:
    config = Rt60EstimatorConfig(width=4, frames=32, bands=(500.0, 1000.0), standardise=True)
    model = Rt60Estimator(config)
    with torch.no_grad():
        model.target_mean.fill_(-0.5)
        model.target_std.fill_(0.4)
        model.feature_mean.uniform_(0.0, 1.0)
        model.feature_std.fill_(0.7)
    return model.eval()


def test_the_scene_acoustics_head_round_trips(tmp_path):
    model = _head()
    path = save_scene_acoustics(tmp_path / "head.pt", model, extra={"history": [1.0, 0.5]})
    loaded = load_scene_acoustics(path)
    assert loaded.config == model.config
    pictures = torch.rand(2, 3, 128, 128)
    assert torch.equal(loaded.predict(pictures), model.predict(pictures))


def test_the_rt60_estimator_round_trips(tmp_path):
    model = _estimator()
    loaded = load_rt60_estimator(save_rt60_estimator(tmp_path / "rt60.pt", model))
    assert loaded.config == model.config and loaded.config.bands == (500.0, 1000.0)
    wave = torch.randn(12000)
    assert torch.equal(loaded.estimate_all(wave), model.estimate_all(wave))


def test_foreign_corrupt_and_other_models_files_are_checkpoint_errors(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    head = save_scene_acoustics(tmp_path / "head.pt", _head())
    estimator = save_rt60_estimator(tmp_path / "rt60.pt", _estimator())
    for path in (foreign, corrupt, estimator, tmp_path / "missing.pt"):
        with pytest.raises(CheckpointError):
            load_scene_acoustics(path)
    for path in (foreign, corrupt, head):
        with pytest.raises(CheckpointError):
            load_rt60_estimator(path)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(head.read_bytes()[:200])
    with pytest.raises(CheckpointError):
        load_scene_acoustics(truncated)


def test_weights_that_do_not_fit_the_stored_configuration_are_checkpoint_errors(tmp_path):
    config = SceneAcousticsConfig(SceneEncoderConfig(width=8), hidden=8).to_dict()
    path = save_checkpoint(
        tmp_path / "mismatch.pt",
        model="scene-acoustics",
        config=config,
        state_dict=_head().state_dict(),
    )
    with pytest.raises(CheckpointError, match="do not fit"):
        load_scene_acoustics(path)
    bad = save_checkpoint(
        tmp_path / "noconfig.pt", model="rt60-estimator", config={}, state_dict={}
    )
    with pytest.raises(CheckpointError, match="weights do not fit|configuration"):
        load_rt60_estimator(bad)
