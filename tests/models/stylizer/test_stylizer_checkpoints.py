"""Stylizer checkpoints: a round trip gives the same model; corrupt, foreign, other-model and
mismatched files are CheckpointErrors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from avgen.checkpoint import save_checkpoint
from avgen.errors import CheckpointError
from avgen.models.stylizer.checkpoints import load_stylizer, save_stylizer
from avgen.models.stylizer.config import stylizer_config
from avgen.models.stylizer.model import Stylizer

from .test_stylizer_model import randomised


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(3)
    m = randomised(Stylizer(stylizer_config("tiny")), seed=3)
    m.latent_scale.fill_(0.37)
    return m


def test_round_trip_gives_the_same_model(model, tmp_path):
    path = save_stylizer(model, tmp_path / "s.pt", {"data": "synthetic"})
    loaded = load_stylizer(path)
    assert loaded.config == model.config
    assert loaded.card == {"data": "synthetic"}
    assert float(loaded.latent_scale) == pytest.approx(0.37)
    speech, example = 0.1 * torch.randn(6000), 0.1 * torch.randn(9000)
    picture = torch.rand(3, 128, 128)
    a = model.stylize(speech, example, picture, steps=2, seed=1)
    b = loaded.stylize(speech, example, picture, steps=2, seed=1)
    assert torch.equal(a, b)


def test_missing_corrupt_and_foreign_files_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such"):
        load_stylizer(tmp_path / "missing.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError):
        load_stylizer(tmp_path / "garbage.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="foreign"):
        load_stylizer(tmp_path / "foreign.pt")


def test_truncated_file_is_a_checkpoint_error(model, tmp_path):
    path = save_stylizer(model, tmp_path / "s.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_stylizer(path)


def test_another_models_checkpoint_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", model="mvsd", config={}, state_dict={})
    with pytest.raises(CheckpointError, match="mvsd"):
        load_stylizer(path)
    path = save_checkpoint(
        tmp_path / "f.pt", model="stylizer", config={"format": "x"}, state_dict={}
    )
    with pytest.raises(CheckpointError, match="format"):
        load_stylizer(path)


def test_weights_that_do_not_fit_the_configuration_are_refused(model, tmp_path):
    path = save_stylizer(model, tmp_path / "s.pt")
    other = Stylizer(
        dataclasses.replace(model.config, min_example_seconds=1.0)
    )  # same shapes: loads
    assert other is not None
    ckpt = torch.load(path, weights_only=True)
    ckpt["state_dict"].pop("latent_scale")
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_stylizer(path)
