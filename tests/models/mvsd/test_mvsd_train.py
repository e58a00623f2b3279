"""Mutual learning: the loss falls, unpaired reverberant items never bring a clean reference,
the warm-up and the ablation switches, non-finite losses, resuming, and the AV U-Net baseline."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from avgen.errors import DataError, TrainingError
from avgen.models.mvsd import train as mvsd_train
from avgen.models.mvsd.checkpoints import load_mvsd
from avgen.models.mvsd.config import MVSDTrainConfig, mvsd_config
from avgen.models.mvsd.regression import fit_av_unet
from avgen.models.mvsd.train import fit_mvsd

from .conftest import TAIL_SECONDS

torch.set_num_threads(1)

CONFIG = mvsd_config("tiny", tail_seconds=TAIL_SECONDS)
FAST = MVSDTrainConfig(steps=3, batch_size=1, crop_seconds=0.25, warmup_steps=1, lr=3e-3)


def test_the_training_loss_falls(mvsd_data):
    """The validation denoising losses (fixed crops, levels and noise) fall below those of the
    zero network, where an untrained model starts (its output layer is zero-initialised)."""
    cfg = dataclasses.replace(
        FAST, steps=12, batch_size=2, lambda_cycle=0.0, lr=5e-3, ema_decay=0.5
    )
    fit = fit_mvsd(mvsd_data["paired"], None, None, mvsd_data["val"], CONFIG, cfg, progress=False)
    (val,) = fit.validation
    assert val["val_denoise_f"] < val["val_denoise_f_baseline"]
    assert val["val_denoise_g"] < val["val_denoise_g_baseline"]
    total = val["val_denoise_f"] + val["val_denoise_g"]
    assert total < 0.95 * (val["val_denoise_f_baseline"] + val["val_denoise_g_baseline"])
    assert len(fit.history) == 12 and fit.steps_per_second > 0
    assert not fit.model.training


def test_unpaired_items_need_no_clean_reference_and_enter_after_the_warm_up(mvsd_data, monkeypatch):
    seen: list[set[str]] = []
    original = mvsd_train.single_crop

    def spy(item, key, length, generator):
        seen.append(set(item))
        return original(item, key, length, generator)

    monkeypatch.setattr(mvsd_train, "single_crop", spy)
    unpaired_r = mvsd_data["unpaired_reverberant"]
    assert all("clean" not in it for it in unpaired_r)
    fit = fit_mvsd(
        mvsd_data["paired"],
        unpaired_r,
        mvsd_data["unpaired_clean"],
        None,
        CONFIG,
        FAST,
        progress=False,
    )
    first, *later = fit.history
    assert first["unpaired"] == 0.0 and "cycle_unpaired_reverberant" not in first
    assert all(e["unpaired"] == 1.0 for e in later)
    assert all("cycle_unpaired_reverberant" in e and "cycle_unpaired_clean" in e for e in later)
    assert {"reverberant", "picture"} in seen and {"clean"} in seen
    # the unpaired reverberant loss has no clean argument at all
    import inspect

    params = inspect.signature(mvsd_train.unpaired_reverberant_cycle).parameters
    assert "clean" not in params


def test_an_unpaired_reverberant_item_with_a_clean_key_is_refused(mvsd_data):
    leaky = [dict(mvsd_data["unpaired_reverberant"][0], clean=torch.zeros(100))]
    with pytest.raises(DataError, match="no dry reference"):
        fit_mvsd(mvsd_data["paired"], leaky, None, None, CONFIG, FAST, progress=False)


def test_a_leaking_item_beyond_the_upfront_check_is_refused_when_drawn(mvsd_data):
    clean_items = [dict(it) for it in mvsd_data["unpaired_reverberant"]] * 10
    clean_items[-1] = dict(clean_items[-1], clean=torch.zeros(100))  # item 19, not pre-checked
    cfg = dataclasses.replace(FAST, steps=40, warmup_steps=0, lambda_cycle=1e-9)
    with pytest.raises(DataError, match=r"unpaired_reverberant\[19\]"):
        fit_mvsd(mvsd_data["paired"], clean_items, None, None, CONFIG, cfg, progress=False)


def test_the_ablation_without_unpaired_data_never_reads_them(mvsd_data):
    cfg = dataclasses.replace(FAST, use_unpaired=False, steps=2)
    leaky = [dict(mvsd_data["unpaired_reverberant"][0], clean=torch.zeros(100))]
    fit = fit_mvsd(
        mvsd_data["paired"], leaky, [{"clean": "junk"}], None, CONFIG, cfg, progress=False
    )
    assert all(e["unpaired"] == 0.0 for e in fit.history)


def test_a_non_finite_loss_names_the_step(mvsd_data):
    bad = [dict(mvsd_data["paired"][0], picture=torch.full((3, 128, 128), float("nan")))]
    with pytest.raises(TrainingError, match="at step 0"):
        fit_mvsd(bad, None, None, None, CONFIG, FAST, progress=False)


def test_checkpoint_and_resume_continue_the_run(mvsd_data, tmp_path):
    cfg = dataclasses.replace(FAST, steps=2, lambda_cycle=0.0)
    path = tmp_path / "mvsd.pt"
    fit_mvsd(mvsd_data["paired"], None, None, None, CONFIG, cfg, progress=False, checkpoint=path)
    assert load_mvsd(path).config == CONFIG
    longer = dataclasses.replace(cfg, steps=3)
    resumed = fit_mvsd(
        mvsd_data["paired"], None, None, None, CONFIG, longer, progress=False, resume=path
    )
    whole = fit_mvsd(mvsd_data["paired"], None, None, None, CONFIG, longer, progress=False)
    assert len(resumed.history) == 3
    assert resumed.history[-1]["total"] == pytest.approx(whole.history[-1]["total"], rel=1e-4)


def test_av_unet_regression_learns(mvsd_data):
    cfg = dataclasses.replace(FAST, steps=12, batch_size=2, lr=5e-3)
    fit = fit_av_unet(mvsd_data["paired"], mvsd_data["val"], CONFIG, cfg, progress=False)
    losses = [e["loss"] for e in fit.history]
    assert sum(losses[-3:]) < sum(losses[:3])
    assert fit.val_loss is not None and fit.val_loss > 0
