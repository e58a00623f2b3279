"""Training the diffusion prior: the loss falls and beats the zero network, EMA, checkpoints,
exact resumption, determinism, the data-kit entry point, data-parallel training, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import soundfile as sf
import torch

from avgen.checkpoint import load_checkpoint, save_checkpoint
from avgen.data.kit.records import UtteranceRecord, manifest_hash, write_jsonl
from avgen.errors import AudioError, CheckpointError, ConfigError
from avgen.models.diffusion import (
    MODEL_NAME,
    DiffusionTrainConfig,
    export_prior,
    fit_diffusion_prior,
    load_diffusion_prior,
    measure_sigma_data,
    train_from_kit,
)

REPO = Path(__file__).resolve().parents[3]


def _config(**overrides) -> DiffusionTrainConfig:
    base = dict(
        steps=60,
        batch_size=8,
        segment_frames=32,
        lr=2e-3,
        warmup_steps=10,
        ema_decay=0.95,
        val_every=20,
        val_segments=8,
        log_every=10,
    )
    return DiffusionTrainConfig.for_size("tiny", **{**base, **overrides})


@pytest.fixture(scope="module")
def trained(speech_set, tmp_path_factory):
    train, val = speech_set
    path = tmp_path_factory.mktemp("prior") / "tiny.pt"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fit = fit_diffusion_prior(
            train, val, _config(), seed=0, checkpoint=path, data_manifest_hash="abc"
        )
    finally:
        torch.set_num_threads(threads)
    return fit, path


def test_training_loss_falls(trained):
    fit, _ = trained
    losses = [h["loss"] for h in fit.history]
    assert len(losses) == 6
    # EDM's weighting makes the untrained (zero) network's loss about 1 at every noise level.
    assert losses[0] > 0.85
    assert sum(losses[-2:]) / 2 < 0.85 * sum(losses[:2]) / 2


def test_trained_denoiser_beats_the_zero_network_on_held_out_speech(trained):
    fit, _ = trained
    val = fit.validation
    assert [v["step"] for v in val] == [20, 40, 60]
    # fixed validation noise: these numbers are deterministic, not Monte-Carlo
    assert val[-1]["val_loss"] < val[0]["val_loss"]
    assert val[-1]["val_loss"] < 0.8 * val[-1]["val_baseline"]


def test_ema_weights_differ_from_the_raw_weights(trained):
    fit, _ = trained
    raw = fit.net.state_dict()
    ema = fit.denoiser.net.state_dict()
    assert raw.keys() == ema.keys()
    assert any(not torch.equal(raw[k], ema[k]) for k in raw if raw[k].is_floating_point())
    assert not any(p.requires_grad for p in fit.denoiser.parameters())


def test_sigma_data_is_measured_on_the_training_speech(trained, speech_set):
    fit, _ = trained
    assert fit.sigma_data == pytest.approx(measure_sigma_data(speech_set[0]))


def test_checkpoint_holds_the_ema_denoiser_and_loads_back(trained):
    fit, path = trained
    ckpt = load_checkpoint(path, expected_model=MODEL_NAME)
    assert ckpt.config["size"] == "tiny"
    assert ckpt.config["sigma_data"] == fit.sigma_data
    assert ckpt.data_manifest_hash == "abc"
    assert ckpt.extra["step"] == 60
    loaded = load_diffusion_prior(path)
    x = torch.randn(2, 2, 256, 32)
    sigma = torch.tensor([0.05, 0.5])
    with torch.no_grad():
        assert torch.allclose(loaded(x, sigma), fit.denoiser(x, sigma), atol=1e-6)


def test_exported_prior_is_smaller_and_cannot_be_resumed(trained, tmp_path):
    _, path = trained
    small = export_prior(path, tmp_path / "export.pt")
    assert small.stat().st_size < 0.6 * path.stat().st_size
    assert load_diffusion_prior(small).sigma_data == load_diffusion_prior(path).sigma_data
    with pytest.raises(CheckpointError, match="no training state"):
        fit_diffusion_prior([torch.randn(8000)], None, _config(steps=61), seed=0, resume=small)


def _short(**kw) -> DiffusionTrainConfig:
    return _config(val_every=0, log_every=1, **kw)


def test_same_seed_same_weights_other_seed_other_weights(speech_set):
    train, _ = speech_set
    a = fit_diffusion_prior(train, None, _short(steps=3), seed=5, progress=False)
    b = fit_diffusion_prior(train, None, _short(steps=3), seed=5)
    c = fit_diffusion_prior(train, None, _short(steps=3), seed=6)
    for k, v in a.net.state_dict().items():
        assert torch.equal(v, b.net.state_dict()[k]), k
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert any(not torch.equal(v, c.net.state_dict()[k]) for k, v in a.net.state_dict().items())


def test_training_leaves_the_global_random_state_alone(speech_set):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fit_diffusion_prior(speech_set[0], None, _short(steps=1), seed=0)
    assert torch.equal(torch.rand(3), expected)


def test_resumed_run_continues_exactly_as_an_uninterrupted_one(speech_set, tmp_path):
    train, _ = speech_set
    straight = fit_diffusion_prior(train, None, _short(steps=6), seed=2)
    first = tmp_path / "half.pt"
    fit_diffusion_prior(train, None, _short(steps=3), seed=2, checkpoint=first)
    resumed = fit_diffusion_prior(train, None, _short(steps=6), seed=2, resume=first)
    for k, v in straight.net.state_dict().items():
        assert torch.allclose(v, resumed.net.state_dict()[k], atol=1e-7), k
    for k, v in straight.denoiser.state_dict().items():
        assert torch.allclose(v, resumed.denoiser.state_dict()[k], atol=1e-7), k
    assert [h["loss"] for h in resumed.history] == pytest.approx(
        [h["loss"] for h in straight.history], rel=1e-6
    )


def test_resuming_with_another_size_or_model_is_a_checkpoint_error(trained, tmp_path):
    _, path = trained
    with pytest.raises(CheckpointError, match="network configuration"):
        fit_diffusion_prior(
            [torch.randn(8000)],
            None,
            _config(steps=61, unet={"channels": (8, 16, 32)}),
            seed=0,
            resume=path,
        )
    other = save_checkpoint(tmp_path / "vae.pt", model="a-vae", config={}, state_dict={})
    with pytest.raises(CheckpointError, match="a-vae"):
        load_diffusion_prior(other)


def test_bad_configurations_and_audio_are_clear_errors():
    with pytest.raises(ConfigError, match="CUDA"):
        fit_diffusion_prior([torch.randn(8000)], None, _config(amp="bf16"), seed=0)
    with pytest.raises(ConfigError, match="multiple"):
        _config(segment_frames=30)
    with pytest.raises(ConfigError, match="size"):
        DiffusionTrainConfig.for_size("medium")
    with pytest.raises(ConfigError, match="amp"):
        _config(amp="fp8")
    with pytest.raises(AudioError, match="silent"):
        fit_diffusion_prior([torch.zeros(8000)], None, _config(), seed=0)
    with pytest.raises(AudioError, match="NaN"):
        fit_diffusion_prior([torch.full((8000,), float("nan"))], None, _config(), seed=0)


def _write_kit(root: Path, speech_set) -> None:
    train, val = speech_set
    records = []
    for split, waves in (("train", train[:3]), ("val", val[:1])):
        for i, w in enumerate(waves):
            uid = f"{split}{i}"
            (root / "speech").mkdir(parents=True, exist_ok=True)
            sf.write(root / "speech" / f"{uid}.wav", w.numpy(), 16000, subtype="FLOAT")
            records.append(
                UtteranceRecord(
                    id=uid,
                    speaker=f"s{i}",
                    text="",
                    language="en",
                    source="test",
                    licence="CC0",
                    duration=len(w) / 16000,
                    split=split,
                    real=False,
                    timing="synthesizer",
                    wav=f"speech/{uid}.wav",
                    phones="",
                    lips="",
                )
            )
    write_jsonl(root / "utterances.jsonl", records)


def test_train_from_kit_writes_a_checkpoint_and_a_model_card(speech_set, tmp_path):
    _write_kit(tmp_path / "kit", speech_set)
    out = tmp_path / "out" / "prior.pt"
    fit = train_from_kit(
        tmp_path / "kit", "tiny", out, seed=0, steps=2, segment_frames=32, val_segments=2
    )
    ckpt = load_checkpoint(out, expected_model=MODEL_NAME)
    assert ckpt.data_manifest_hash == manifest_hash(tmp_path / "kit")
    assert fit.validation and fit.config.steps == 2
    card = out.with_suffix(".md").read_text()
    assert "85,810" in card and "3 training utterances" in card and "CC0" in card


@pytest.mark.slow
def test_data_parallel_training_over_two_cpu_processes_keeps_replicas_identical(tmp_path):
    """``torchrun`` with 2 processes on the CPU (gloo): each rank trains on its own shard, the
    gradients are averaged, so the replicas stay equal; rank 0 alone writes the checkpoint."""
    script = tmp_path / "ddp_train.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, sys, torch
        sys.path.insert(0, {str(REPO)!r})
        from avgen.models.diffusion import DiffusionTrainConfig, fit_diffusion_prior
        torch.set_num_threads(1)
        gen = torch.Generator().manual_seed(0)
        waves = [0.1 * torch.randn(12000, generator=gen) for _ in range(8)]
        cfg = DiffusionTrainConfig.for_size("tiny", steps=3, batch_size=2, segment_frames=32,
                                            val_every=0, log_every=1)
        out = {str(tmp_path)!r}
        fit = fit_diffusion_prior(waves, waves[:1], cfg, seed=0,
                                  checkpoint=os.path.join(out, "ddp.pt"))
        rank = os.environ["RANK"]
        torch.save({{"state": fit.net.state_dict(), "loss": fit.history[0]["loss"]}},
                   os.path.join(out, f"rank{{rank}}.pt"))
    """)
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(script),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for k, v in r0["state"].items():
        assert torch.equal(v, r1["state"][k]), k
    assert r0["loss"] != r1["loss"]  # different shards, different noise
    ckpt = load_checkpoint(tmp_path / "ddp.pt", expected_model=MODEL_NAME)
    assert ckpt.extra["step"] == 3


def test_a_non_finite_loss_stops_training_with_its_step_and_keeps_the_last_checkpoint(
    speech_set, tmp_path, monkeypatch
):
    import avgen.models.diffusion.train as train_module
    from avgen.errors import TrainingError

    real_loss = train_module.edm_loss
    calls = {"n": 0}

    def failing_loss(*args, **kwargs):
        calls["n"] += 1
        loss = real_loss(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 6 else loss  # step 5 (0-based)

    monkeypatch.setattr(train_module, "edm_loss", failing_loss)
    train, val = speech_set
    path = tmp_path / "prior.pt"
    config = _config(steps=8, checkpoint_every=4, val_every=0, log_every=4)
    with pytest.raises(TrainingError, match="at step 5"):
        fit_diffusion_prior(train, val, config, seed=0, checkpoint=path)
    ckpt = load_checkpoint(path)  # written after step 4, untouched by the failure
    assert all(
        bool(torch.isfinite(v).all()) for v in ckpt.state_dict.values() if v.is_floating_point()
    )
