"""Training the stylizer: the diffusion loss falls and beats the zero network, a non-finite
loss stops with the step number, bad items are refused; and (slow) a tiny stylizer trained on
two synthetic rooms moves its output's reverberation towards the example's room."""

from __future__ import annotations

import pytest
import torch

from avgen.errors import CheckpointError, ConfigError, DataError, TrainingError
from avgen.models.stylizer.autoencoder import SpectralVAE
from avgen.models.stylizer.config import StylizerTrainConfig, stylizer_config
from avgen.models.stylizer.train import fit_stylizer

from .conftest import Item, gap_energy_db

FAST = dict(ae_steps=20, ae_batch_size=4, steps=60, batch_size=4, crop_seconds=0.5, lr=2e-3)


def test_short_fit_lowers_the_loss_and_beats_the_zero_network(stylizer_items, tmp_path):
    train, val = stylizer_items
    fit = fit_stylizer(
        train,
        val,
        stylizer_config("tiny"),
        StylizerTrainConfig(**FAST),
        progress=False,
        checkpoint=tmp_path / "s.pt",
    )
    losses = [h["loss"] for h in fit.history]
    assert len(losses) == 60 and fit.steps_per_second > 0
    assert sum(losses[-15:]) / 15 < 0.9 * sum(losses[:15]) / 15
    assert fit.validation["val_loss"] < fit.validation["val_loss_baseline"]
    assert set(fit.round_trip) == {"si_sdr", "log_mel"}
    assert (tmp_path / "s.pt").is_file()
    # the autoencoder was frozen during stage 2
    assert all(torch.equal(a, b) for a, b in zip(
        fit.raw.autoencoder.state_dict().values(),
        fit.autoencoder.model.state_dict().values(),
    ))  # fmt: skip


def test_same_seed_same_training(stylizer_items):
    train, _ = stylizer_items
    cfg = StylizerTrainConfig(**{**FAST, "steps": 3, "ae_steps": 2})
    a = fit_stylizer(train, None, stylizer_config("tiny"), cfg, progress=False)
    b = fit_stylizer(train, None, stylizer_config("tiny"), cfg, progress=False)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]


def test_a_non_finite_loss_stops_training_with_its_step(stylizer_items):
    train, _ = stylizer_items
    bad = Item(
        content=train[0].content,
        target=torch.full_like(train[0].target, float("nan")),
        example=train[0].example,
        picture=train[0].picture,
        room=0,
    )
    cfg = StylizerTrainConfig(**{**FAST, "steps": 5, "cache_latents": False})
    with pytest.raises(TrainingError, match="at step 0"):
        fit_stylizer(
            [bad], None, stylizer_config("tiny"), cfg,
            autoencoder=SpectralVAE(stylizer_config("tiny").autoencoder), progress=False,
        )  # fmt: skip


def test_bad_items_and_settings_are_refused(stylizer_items):
    train, _ = stylizer_items
    cfg = StylizerTrainConfig(**FAST)
    with pytest.raises(DataError, match="no training items"):
        fit_stylizer([], None, stylizer_config("tiny"), cfg)
    with pytest.raises(DataError, match="picture"):
        fit_stylizer(
            [{"content": torch.zeros(9), "target": torch.zeros(9), "example": torch.zeros(9)}],
            None,
            stylizer_config("tiny"),
            cfg,
        )
    with pytest.raises(ConfigError, match="CUDA"):
        fit_stylizer(train, None, stylizer_config("tiny"), StylizerTrainConfig(amp="bf16"))
    with pytest.raises(ConfigError, match="p_drop_audio"):
        StylizerTrainConfig(p_drop_audio=1.5)


@pytest.mark.slow
def test_a_tiny_trained_stylizer_moves_the_decay_towards_the_examples_room(stylizer_items):
    """About 40 s: 150 autoencoder steps and 200 diffusion steps on 0.5-s crops."""
    train, val = stylizer_items
    cfg = StylizerTrainConfig(
        ae_steps=150, ae_batch_size=4, ae_lr=5e-3, steps=200, batch_size=8,
        crop_seconds=0.5, example_seconds=1.0, lr=2e-3,
    )  # fmt: skip
    model = fit_stylizer(train, val, stylizer_config("tiny"), cfg, progress=False).model
    speech = val[0]  # its content is dry speech (+ a little noise)
    dry = speech.content
    by_room = {it.room: it for it in reversed(val)}  # val[0] (room 0), val[1] (room 1)
    target_proxy = {k: gap_energy_db(it.target, it.content) for k, it in by_room.items()}
    assert target_proxy[1] > target_proxy[0] + 15  # the rooms differ clearly
    out = {
        k: gap_energy_db(model.stylize(dry, it.example, it.picture, guidance=1.0, steps=8), dry)
        for k, it in by_room.items()
    }
    input_proxy = gap_energy_db(dry, dry)
    # the long room's example makes the pauses fill with reverberation, the short room's does not
    assert out[1] > out[0] + 10, out
    for k in (0, 1):
        assert abs(out[k] - target_proxy[k]) < abs(input_proxy - target_proxy[k]), (k, out)


def test_a_resumed_run_continues_exactly_as_the_uninterrupted_one(stylizer_items, tmp_path):
    train, _ = stylizer_items
    config = stylizer_config("tiny")
    short = {**FAST, "ae_steps": 2, "checkpoint_every": 2}
    whole = fit_stylizer(
        train, None, config, StylizerTrainConfig(**{**short, "steps": 4}), progress=False
    )
    fit_stylizer(
        train, None, config, StylizerTrainConfig(**{**short, "steps": 2}), progress=False,
        checkpoint=tmp_path / "run.pt",
    )  # fmt: skip
    resumed = fit_stylizer(
        train, None, config, StylizerTrainConfig(**{**short, "steps": 4}), progress=False,
        checkpoint=tmp_path / "run.pt", resume=tmp_path / "run.pt",
    )  # fmt: skip
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in whole.history]
    for name, value in whole.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value), name
    for name, value in whole.raw.state_dict().items():
        assert torch.equal(resumed.raw.state_dict()[name], value), name


def test_resuming_with_other_settings_or_another_network_is_refused(stylizer_items, tmp_path):
    train, _ = stylizer_items
    cfg = StylizerTrainConfig(**{**FAST, "ae_steps": 2, "steps": 2})
    fit_stylizer(
        train, None, stylizer_config("tiny"), cfg, progress=False, checkpoint=tmp_path / "r.pt"
    )
    with pytest.raises(ConfigError, match="lr"):
        fit_stylizer(
            train, None, stylizer_config("tiny"),
            StylizerTrainConfig(**{**FAST, "ae_steps": 2, "steps": 4, "lr": 1e-4}),
            progress=False, resume=tmp_path / "r.pt",
        )  # fmt: skip
    with pytest.raises(CheckpointError, match="cannot resume"):
        fit_stylizer(
            train, None, stylizer_config("small"), cfg, progress=False, resume=tmp_path / "r.pt"
        )
    with pytest.raises(ConfigError, match="past steps"):
        fit_stylizer(
            train, None, stylizer_config("tiny"),
            StylizerTrainConfig(**{**FAST, "ae_steps": 2, "steps": 1}),
            progress=False, resume=tmp_path / "r.pt",
        )  # fmt: skip
