"""Training is real: the ELBO rises far above its start and beats a fixed-variance model;
checkpoints hold what they should; resume continues exactly; bad input is refused."""

from __future__ import annotations

import pytest
import torch

from avgen.checkpoint import load_checkpoint
from avgen.errors import CheckpointError, ConfigError, DataError
from avgen.models.vae import FrameTensors, TrainConfig, build_model, evaluate_elbo, fit
from avgen.models.vae import train as train_module
from avgen.models.vae.elbo import fixed_variance_log_likelihood
from avgen.models.vae.registry import load_model, slim_checkpoint
from avgen.models.vae.synthetic import synthetic_frames
from avgen.seeding import derive_seed

from .conftest import SMALL

TINY = {"n_freq": 16, "lip_dim": 16, "latent_dim": 2, "hidden_dim": 8, "visual_hidden_dim": 8}


def _tiny_frames(n: int, seed: int) -> FrameTensors:
    return synthetic_frames(n, n_freq=16, lip_dim=16, factors=2, seed=seed)


def test_a_vae_training_raises_the_validation_elbo_far_above_start_and_baseline(
    frames, trained_a_vae
):
    train, val = frames
    start = build_model("a-vae", **SMALL)  # the same initial weights as the trained one
    start.initialize_from_data(train.power)
    initial = evaluate_elbo(start, val)
    baseline = fixed_variance_log_likelihood(train.power, val.power)
    result = trained_a_vae
    # (exact values for F = 32: baseline about -139, trained about -16 nats per frame)
    assert result.best_val_elbo > initial + 80
    assert result.best_val_elbo > baseline + 80
    assert result.history[-1].val_elbo > result.history[0].val_elbo + 60
    assert len(result.history) == 12 and not result.model.training
    assert result.best_val_elbo == max(r.val_elbo for r in result.history)
    # the returned model holds the best weights
    assert evaluate_elbo(result.model, val, seed=derive_seed(0, "vae-val")) == pytest.approx(
        result.best_val_elbo, rel=1e-6
    )


def test_every_model_trains_above_the_fixed_variance_baseline():
    train, val = _tiny_frames(600, 1), _tiny_frames(200, 2)
    baseline = fixed_variance_log_likelihood(train.power, val.power)
    for name in ("v-vae", "av-vae", "av-cvae", "min-vae"):
        result = fit(
            build_model(name, **{**TINY, "hidden_dim": 16, "visual_hidden_dim": 16}),
            train,
            val,
            TrainConfig(epochs=6, batch_size=100, lr=3e-2),
            seed=0,
            progress=False,
        )
        assert result.best_val_elbo > result.history[0].val_elbo - 1e-6, name
        assert result.best_val_elbo > baseline + 5, (name, result.best_val_elbo, baseline)


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    train, val = _tiny_frames(400, 1), _tiny_frames(100, 2)
    config = TrainConfig(epochs=4, batch_size=100, lr=1e-2, patience=None, kl_warmup_epochs=3)
    straight = fit(build_model("min-vae", **TINY), train, val, config, seed=7, progress=False)

    ckpt = tmp_path / "half.pt"
    first = fit(
        build_model("min-vae", **TINY),
        train,
        val,
        TrainConfig(**{**config.to_dict(), "epochs": 2}),
        seed=7,
        checkpoint=ckpt,
        progress=False,
    )
    assert first.epochs_done == 2
    resumed = fit(
        build_model("min-vae", **TINY), train, val, config, seed=7, resume=ckpt, progress=False
    )
    assert [r.val_elbo for r in resumed.history] == [r.val_elbo for r in straight.history]
    for (name, a), b in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().values()
    ):
        assert torch.equal(a, b), name
    # and the seed matters (the check above is not vacuous)
    other = fit(build_model("min-vae", **TINY), train, val, config, seed=8, progress=False)
    assert other.history[-1].val_elbo != straight.history[-1].val_elbo


def test_kl_warmup_rises_linearly_to_one():
    train, val = _tiny_frames(400, 1), _tiny_frames(100, 2)
    result = fit(
        build_model("a-vae", **TINY),
        train,
        val,
        TrainConfig(epochs=3, batch_size=100, kl_warmup_epochs=2),
        progress=False,
    )
    assert [r.kl_weight for r in result.history] == [0.5, 1.0, 1.0]


def test_early_stopping_restores_the_best_weights(monkeypatch):
    train, val = _tiny_frames(300, 1), _tiny_frames(100, 2)
    scores = iter([-10.0, -9.0, -9.5, -9.2, -9.8, -8.0])  # per frame, epoch by epoch
    monkeypatch.setattr(
        train_module, "elbo_sum", lambda model, data, *args, **kwargs: next(scores) * data.n_frames
    )
    snapshots = {}
    model = build_model("a-vae", **TINY)
    result = fit(
        model,
        train,
        val,
        TrainConfig(epochs=6, batch_size=100, patience=3),
        progress=False,
        on_epoch=lambda r: snapshots.setdefault(
            r.epoch, {k: v.clone() for k, v in model.state_dict().items()}
        ),
    )
    assert result.stopped_early and len(result.history) == 5  # 3 epochs without a gain
    assert result.best_epoch == 1 and result.best_val_elbo == -9.0
    for k, v in result.model.state_dict().items():
        assert torch.equal(v, snapshots[1][k]), k


def test_checkpoint_holds_weights_config_version_and_manifest_and_loads_back(tmp_path):
    train, val = _tiny_frames(300, 1), _tiny_frames(100, 2)
    ckpt = tmp_path / "a.pt"
    result = fit(
        build_model("a-vae", **TINY),
        train,
        val,
        TrainConfig(epochs=2, batch_size=100),
        seed=3,
        checkpoint=ckpt,
        data_manifest_hash="abc123",
        progress=False,
    )
    stored = load_checkpoint(ckpt, expected_model="a-vae")
    assert stored.data_manifest_hash == "abc123"
    assert stored.config == result.model.config.to_dict()
    assert stored.avgen_version
    assert stored.extra["epochs_done"] == 2 and stored.extra["seed"] == 3
    assert len(stored.extra["history"]) == 2 and "optimizer" in stored.extra["resume"]
    loaded = load_model(ckpt)
    assert not loaded.training
    z = torch.randn(5, TINY["latent_dim"])
    torch.testing.assert_close(loaded.decode(z), result.model.decode(z))
    assert not list(tmp_path.glob(".a.pt.*"))  # atomic: no temporary left behind

    with pytest.raises(CheckpointError, match="holds model 'a-vae'"):
        load_model(ckpt, expected="min-vae")
    with pytest.raises(CheckpointError, match="holds model 'a-vae'"):
        fit(build_model("min-vae", **TINY), train, val, resume=ckpt, progress=False)
    with pytest.raises(ConfigError, match="another configuration"):
        fit(
            build_model("a-vae", **{**TINY, "hidden_dim": 9}),
            train,
            val,
            resume=ckpt,
            progress=False,
        )

    slim = slim_checkpoint(ckpt, tmp_path / "slim.pt")
    assert slim.stat().st_size < ckpt.stat().st_size
    torch.testing.assert_close(load_model(slim).decode(z), result.model.decode(z))
    with pytest.raises(CheckpointError, match="no training state"):
        fit(build_model("a-vae", **TINY), train, val, resume=slim, progress=False)

    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(ckpt.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not an avgen checkpoint"):
        load_model(foreign)
    with pytest.raises(CheckpointError, match="neither a model name"):
        load_model(tmp_path / "missing.pt")


def test_bad_training_data_is_refused_with_a_clear_error():
    good = _tiny_frames(100, 1)
    bad_power = good.power.clone()
    bad_power[3, 2] = float("nan")
    with pytest.raises(DataError, match="NaN"):
        fit(build_model("a-vae", **TINY), FrameTensors(bad_power), good, progress=False)
    with pytest.raises(DataError, match="trains on lips"):
        fit(build_model("v-vae", **TINY), FrameTensors(good.power), good, progress=False)
    with pytest.raises(DataError, match=r"power must be \(N >= 1, 16\)"):
        fit(build_model("a-vae", **TINY), FrameTensors(good.power[:, :10]), good, progress=False)
    with pytest.raises(ConfigError, match="batch_size"):
        TrainConfig(batch_size=0)


def test_frozen_decoder_stays_fixed_and_v_vae_takes_the_a_vae_decoder(trained_a_vae, frames):
    train, val = frames
    v_vae = build_model("v-vae", **SMALL)
    v_vae.init_from(trained_a_vae.model)
    before = {k: v.clone() for k, v in v_vae.decoder.state_dict().items()}
    encoder_before = v_vae.visual_encoder.head.loc.weight.clone()
    fit(
        v_vae,
        train.take(slice(0, 300)),
        val,
        TrainConfig(epochs=1, batch_size=100, freeze_decoder=True),
        progress=False,
    )
    for k, v in v_vae.decoder.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not torch.equal(v_vae.visual_encoder.head.loc.weight, encoder_before)
    assert all(p.requires_grad for p in v_vae.parameters())  # unfrozen afterwards
