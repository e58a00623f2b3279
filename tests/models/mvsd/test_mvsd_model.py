"""MVSD's configuration, the places the picture enters, lengths, and checkpoints."""

from __future__ import annotations

import pytest
import torch

from avgen.errors import CheckpointError, ConfigError
from avgen.models.diffusion.layers import CrossAttention
from avgen.models.diffusion.unet import count_parameters
from avgen.models.mvsd.checkpoints import load_mvsd, save_mvsd
from avgen.models.mvsd.config import MVSDConfig, MVSDTrainConfig, mvsd_config
from avgen.models.mvsd.model import MVSD
from avgen.models.mvsd.regression import AVUNet

torch.set_num_threads(1)


def tiny(**kw) -> MVSD:
    torch.manual_seed(0)
    return MVSD(mvsd_config("tiny", tail_seconds=0.25, **kw)).eval()


def test_config_round_trip_and_sizes():
    for size in ("tiny", "small"):
        cfg = mvsd_config(size)
        assert MVSDConfig.from_dict(cfg.to_dict()) == cfg
        assert cfg.unet.cond_channels == 2 and cfg.unet.cond_embedding_dim == 256
        assert cfg.unet.context_dim == 256 and cfg.unet.cross_attention_levels == (2,)
    assert MVSDConfig.for_size("small", use_picture=False) == mvsd_config("small").without_picture()
    assert MVSDTrainConfig.from_dict(MVSDTrainConfig().to_dict()) == MVSDTrainConfig()
    with pytest.raises(ConfigError):
        MVSDConfig.from_dict({"nonsense": 1})
    with pytest.raises(ConfigError):
        mvsd_config("huge")
    counts = {}
    for size in ("tiny", "small"):
        with torch.device("meta"):
            model = MVSD(mvsd_config(size))
        counts[size] = (
            count_parameters(model),
            count_parameters(model.reverberator),
            count_parameters(model.scene_encoder),
        )
    assert counts["tiny"] == (310_504, 122_370, 65_764)
    assert counts["small"] == (4_645_188, 1_936_474, 772_240)
    assert counts["small"][0] * 4 < 20e6  # float32 bytes, scene encoder included


def test_cross_attention_sits_in_the_third_encoder_and_first_decoder_stage():
    unet = tiny().reverberator.denoiser.net

    def has_cross(stage) -> bool:
        return any(isinstance(m, CrossAttention) for m in stage.cross_attention)

    assert [has_cross(s) for s in unet.encoder] == [False, False, True]
    assert [has_cross(s) for s in unet.decoder] == [True, False, False]


@pytest.mark.parametrize("n", [4001, 5120])
def test_lengths_of_match_and_dereverberate(n):
    model = tiny()
    picture = torch.rand(3, 128, 128)
    dry = 0.1 * torch.randn(n)
    gen = torch.Generator().manual_seed(0)
    out = model.match(dry, picture, steps=2, generator=gen)
    assert out.shape == (n + model.config.tail_samples,) and torch.isfinite(out).all()
    batch = model.match(torch.stack([dry, dry]), picture, steps=1, generator=gen)
    assert batch.shape == (2, n + model.config.tail_samples)
    back = model.dereverberate(0.1 * torch.randn(n + 7), picture[None], steps=2, generator=gen)
    assert back.shape == (n + 7,)


def test_the_ablation_without_the_picture():
    model = tiny(use_picture=False)
    assert model.scene_encoder is None
    assert model.reverberator.unet_config.cond_embedding_dim == 0
    assert not any(isinstance(m, CrossAttention) for m in model.modules())
    assert model.match(torch.randn(3000) * 0.1, None, steps=1).shape == (3000 + 4000,)
    with pytest.raises(ConfigError):
        model.match(torch.randn(3000), torch.rand(3, 128, 128), steps=1)
    with pytest.raises(ConfigError):
        tiny().match(torch.randn(3000), None, steps=1)


def test_av_unet_lengths():
    torch.manual_seed(0)
    model = AVUNet(mvsd_config("tiny", tail_seconds=0.25)).eval()
    out = model.match(0.1 * torch.randn(3333), torch.rand(3, 128, 128))
    assert out.shape == (3333 + 4000,)


def test_checkpoint_round_trip_and_bad_files(tmp_path):
    model = tiny()
    path = save_mvsd(model, tmp_path / "m.pt", {"data": "synthetic"})
    loaded = load_mvsd(path)
    assert loaded.card == {"data": "synthetic"}
    assert loaded.config == model.config
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_mvsd(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError):
        load_mvsd(tmp_path / "missing.pt")
    torch.save({"hello": 1}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError):
        load_mvsd(tmp_path / "foreign.pt")
    # weights that do not fit the stored configuration
    from avgen.checkpoint import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(path)
    ckpt.config["model"]["tail_seconds"] = 0.5
    ckpt.config["model"]["unet"]["channels"] = [12, 16, 24]
    save_checkpoint(
        tmp_path / "bad.pt", model="mvsd", config=ckpt.config, state_dict=ckpt.state_dict
    )
    with pytest.raises(CheckpointError):
        load_mvsd(tmp_path / "bad.pt")
