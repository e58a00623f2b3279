"""``avgen train`` and ``avgen models`` on a tiny data kit (the kit's frame loader is faked:
the real one lives in avgen.data.datasets)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import ClassVar

import pytest
import torch

import avgen.data
from avgen.checkpoint import load_checkpoint
from avgen.cli import main
from avgen.data.kit.records import manifest_hash
from avgen.errors import CheckpointError, DataError
from avgen.models.vae import registry
from avgen.models.vae.synthetic import synthetic_frames


class _FakeFrameDataset:
    """Stands in for avgen.data.datasets.FrameDataset: synthetic frames per split."""

    augments: ClassVar[list] = []  # (split, augment) of every dataset built

    def __init__(self, root, split, lip_size=32, corrupt_audio=None, augment=None, **kwargs):
        _FakeFrameDataset.augments.append((split, augment))
        if not (Path(root) / "kit.json").is_file():
            raise DataError(f"{root}: not a data kit (no kit.json)")
        n = 300 if split == "train" else 100
        self._frames = synthetic_frames(
            n, n_freq=513, lip_dim=lip_size * lip_size, seed={"train": 1, "val": 2}[split]
        )
        self._corrupt = corrupt_audio

    def as_tensors(self):
        return self._frames.power, self._frames.lips

    def corrupted_tensors(self):
        return self._frames.power * 3.0 + 1.0, self._frames.lips


@pytest.fixture
def kit(tmp_path, monkeypatch):
    fake = types.ModuleType("avgen.data.datasets")
    fake.FrameDataset = _FakeFrameDataset
    fake.noise_seeds = []
    fake.NoiseCorruption = lambda root, *, seed=0, **kwargs: fake.noise_seeds.append(seed)
    monkeypatch.setitem(sys.modules, "avgen.data.datasets", fake)
    # `from avgen.data import datasets` reads the package attribute once it was imported
    monkeypatch.setattr(avgen.data, "datasets", fake, raising=False)
    root = tmp_path / "kit"
    root.mkdir()
    (root / "kit.json").write_text(json.dumps({"size": "tiny", "seed": 0, "avgen_version": "0"}))
    record = {
        "id": "u1",
        "speaker": "s",
        "text": "t",
        "language": "en",
        "source": "flite",
        "licence": "-",
        "duration": 1.0,
        "split": "train",
        "real": False,
        "timing": "synthesizer",
        "wav": "speech/u1.wav",
        "phones": "phones/u1.json",
        "lips": "lips/u1.npy",
    }
    (root / "utterances.jsonl").write_text(json.dumps(record) + "\n")
    return root


def _train(kit: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "train",
            "--data",
            str(kit),
            "--out",
            str(out),
            "--size",
            "small",
            "--batch-size",
            "128",
            "--no-progress",
            *extra,
        ]
    )


def test_train_writes_a_checkpoint_with_the_kit_manifest_and_prints_a_summary(
    kit, tmp_path, capsys
):
    out = tmp_path / "a.pt"
    assert _train(kit, out, "--model", "a-vae", "--epochs", "2", "--seed", "1") == 0
    text = capsys.readouterr().out
    assert "best val ELBO" in text and "epochs            2" in text
    ckpt = load_checkpoint(out, expected_model="a-vae")
    assert ckpt.data_manifest_hash == manifest_hash(kit)
    assert ckpt.config["latent_dim"] == 16 and ckpt.extra["seed"] == 1
    # resume to 3 epochs
    assert (
        _train(kit, out, "--model", "a-vae", "--epochs", "3", "--seed", "1", "--resume", str(out))
        == 0
    )
    assert load_checkpoint(out).extra["epochs_done"] == 3


def test_augment_perturbs_the_train_split_only_and_is_recorded(kit, tmp_path, monkeypatch):
    monkeypatch.setattr(_FakeFrameDataset, "augments", [])
    out = tmp_path / "a.pt"
    assert (
        _train(kit, out, "--model", "a-vae", "--epochs", "1", "--augment", "2", "--seed", "3") == 0
    )
    augments = dict(_FakeFrameDataset.augments)
    assert augments["train"].copies == 2 and augments["train"].seed == 3
    assert augments["val"] is None
    recorded = load_checkpoint(out).extra["train_config"]["augmentation"]
    assert recorded.startswith("2 perturbed copies") and "VTLP" in recorded
    assert _train(kit, out, "--model", "a-vae", "--epochs", "1") == 0
    assert load_checkpoint(out).extra["train_config"]["augmentation"] is None
    assert _train(kit, out, "--model", "a-vae", "--epochs", "1", "--hidden-dim", "48") == 0
    assert load_checkpoint(out).config["hidden_dim"] == 48  # a larger (here: other) network
    assert _train(kit, out, "--model", "a-vae", "--augment", "-1") == 2
    assert _train(kit, out, "--model", "diffusion-prior", "--augment", "1") == 2


def test_min_vae_from_a_vae_and_v_vae_checkpoints(kit, tmp_path, capsys):
    a, v, m = tmp_path / "a.pt", tmp_path / "v.pt", tmp_path / "m.pt"
    assert _train(kit, a, "--model", "a-vae", "--epochs", "1") == 0
    assert _train(kit, v, "--model", "v-vae", "--epochs", "1", "--init-from-a-vae", str(a)) == 0
    v_ckpt = load_checkpoint(v)
    a_ckpt = load_checkpoint(a)
    for key, value in a_ckpt.state_dict.items():  # the V-VAE kept the A-VAE decoder
        if key.startswith("decoder."):
            assert torch.equal(v_ckpt.state_dict[key], value), key
    assert (
        _train(
            kit,
            m,
            "--model",
            "min-vae",
            "--epochs",
            "1",
            "--init-from-a-vae",
            str(a),
            "--init-from-v-vae",
            str(v),
            "--kit-noise",
            "--seed",
            "5",
        )
        == 0
    )
    assert load_checkpoint(m).model == "min-vae"
    assert sys.modules["avgen.data.datasets"].noise_seeds == [5]  # the kit's noises, seeded
    capsys.readouterr()
    # a checkpoint of the wrong model is a one-line error, exit status 2
    assert _train(kit, m, "--model", "min-vae", "--init-from-a-vae", str(v)) == 2
    assert "holds model 'v-vae'" in capsys.readouterr().err


def test_user_mistakes_exit_2_with_one_line(kit, tmp_path, capsys):
    assert _train(tmp_path / "nowhere", tmp_path / "x.pt", "--model", "a-vae") == 2
    assert "not a data kit" in capsys.readouterr().err
    assert (
        _train(
            kit, tmp_path / "x.pt", "--model", "av-vae", "--init-from-a-vae", str(tmp_path / "a.pt")
        )
        == 2
    )
    assert "apply to min-vae and v-vae" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_models_lists_bundled_weights_with_their_cards(tmp_path, monkeypatch, capsys, kit):
    bundle = tmp_path / "bundle"
    monkeypatch.setattr(registry, "bundled_dir", lambda: bundle)
    assert main(["models"]) == 0
    assert "no VAE weights are bundled" in capsys.readouterr().out
    with pytest.raises(CheckpointError, match="no bundled weights for .a-vae."):
        registry.load_model("a-vae")

    full = tmp_path / "a.pt"
    assert _train(kit, full, "--model", "a-vae", "--epochs", "1") == 0
    registry.slim_checkpoint(full, bundle / "a-vae.pt")
    fields = registry.card_fields_from_checkpoint(bundle / "a-vae.pt")
    fields.update(data="synthetic test kit", data_licence="CC0")
    registry.write_model_card(bundle / "a-vae.md", fields, "# A-VAE\n\nA test card.")
    capsys.readouterr()
    assert main(["models"]) == 0
    table = capsys.readouterr().out
    assert "a-vae" in table and "synthetic test kit" in table and "CC0" in table
    assert registry.read_model_card(bundle / "a-vae.md")["epochs"] == "1"
    model = registry.load_model("a-vae")
    assert model.name == "a-vae" and not model.training
