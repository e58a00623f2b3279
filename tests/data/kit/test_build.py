"""``avgen data build``: a complete, licensed, resumable and deterministic data kit."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from avgen.audio import load_audio
from avgen.cli import main
from avgen.data.datasets import FrameDataset
from avgen.data.kit.build import BuildOptions, build_kit, normalize_level
from avgen.data.kit.mixing import active_speech_level
from avgen.data.kit.records import (
    KitInfo,
    MixtureRecord,
    NoiseRecord,
    UtteranceRecord,
    read_jsonl,
    read_kit_info,
)
from avgen.data.lips.files import load_lips
from avgen.data.speech.phones import load_phones
from avgen.errors import ConfigError, DataError


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_kit_lists_every_file_it_holds(tiny_kit):
    utts = read_jsonl(tiny_kit / "utterances.jsonl", UtteranceRecord)
    assert len(utts) == 12
    assert {u.split for u in utts} == {"train", "val", "test"}
    info = read_kit_info(tiny_kit)
    assert isinstance(info, KitInfo) and info.size == "tiny"
    for u in utts:
        wav = load_audio(tiny_kit / u.wav)
        assert abs(wav.numel() / 16_000 - u.duration) < 1e-3
        assert load_phones(tiny_kit / u.phones)[-1].end == pytest.approx(u.duration, abs=0.02)
        lips = load_lips(tiny_kit / u.lips)
        assert lips.dtype == np.uint8 and lips.shape[1:] == (64, 64)
        assert abs(lips.shape[0] - u.duration * info.video_fps) <= 1


def test_speakers_of_the_splits_are_disjoint(tiny_kit):
    utts = read_jsonl(tiny_kit / "utterances.jsonl", UtteranceRecord)
    by_split = {s: {u.speaker for u in utts if u.split == s} for s in ("train", "val", "test")}
    assert not by_split["train"] & by_split["val"]
    assert not by_split["train"] & by_split["test"]
    assert not by_split["val"] & by_split["test"]


def test_speech_is_brought_to_one_active_level(tiny_kit):
    utts = read_jsonl(tiny_kit / "utterances.jsonl", UtteranceRecord)
    levels = [active_speech_level(load_audio(tiny_kit / u.wav).numpy()).level_db for u in utts]
    assert max(levels) <= -26.0 + 0.5
    assert np.median(levels) == pytest.approx(-26.0, abs=0.5)


def test_normalize_level_never_clips():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(16_000) * 0.001).astype(np.float32)
    x[100] = 0.5  # one spike: reaching -26 dB would push it over full scale
    y, gain = normalize_level(x, -10.0)
    assert np.max(np.abs(y)) <= 0.99 + 1e-6 and gain > 0


def test_noise_bank_and_mixtures_cover_seen_and_unseen_types(tiny_kit):
    noises = read_jsonl(tiny_kit / "noise" / "noises.jsonl", NoiseRecord)
    assert {n.split for n in noises} == {"seen", "unseen"}
    assert "babble" in {n.type for n in noises if n.split == "unseen"}
    test = read_jsonl(tiny_kit / "mixtures" / "test.jsonl", MixtureRecord)
    assert {m.snr_db for m in test} <= {-5.0, 0.0, 5.0}
    for m in test:
        noisy = load_audio(tiny_kit / m.wav)
        clean = load_audio(tiny_kit / m.clean)
        assert noisy.shape == clean.shape
        assert m.utterance_id in m.id and m.split == "test"


def test_licences_of_every_source_are_copied(tiny_kit):
    names = {p.name for p in (tiny_kit / "LICENSES").iterdir()}
    assert {
        "asterisk-core-sounds.txt",
        "flite.txt",
        "noise-sources.md",
        "ufoai-sound-copyright.txt",
    } <= names


def test_the_frame_loader_reads_the_kit(tiny_kit):
    power, lips = FrameDataset(tiny_kit, "train", lip_size=32).as_tensors()
    assert power.shape[1] == 513 and lips.shape == (power.shape[0], 32 * 32)
    assert power.shape[0] > 100 and bool((power >= 0).all())


def test_an_interrupted_build_resumes_to_identical_files(tiny_kit, tmp_path):
    copy = tmp_path / "kit"
    shutil.copytree(tiny_kit, copy)
    utts = read_jsonl(copy / "utterances.jsonl", UtteranceRecord)
    victim = utts[4]
    before = {p: _digest(copy / p) for p in (victim.wav, victim.lips, victim.phones)}
    # an interruption: the last utterance's record and files, the mixtures and kit.json gone
    for p in (victim.wav, victim.lips, f"records/{victim.id}.json", "kit.json"):
        (copy / p).unlink()
    shutil.rmtree(copy / "mixtures")
    build_kit(copy, BuildOptions(size="tiny", seed=0))
    assert {p: _digest(copy / p) for p in before} == before
    for name in ("val.jsonl", "test.jsonl"):
        assert _digest(copy / "mixtures" / name) == _digest(tiny_kit / "mixtures" / name)
    assert (copy / "kit.json").exists()


def test_a_complete_kit_of_other_options_is_never_overwritten(tiny_kit, tmp_path):
    copy = tmp_path / "kit"
    shutil.copytree(tiny_kit, copy)
    with pytest.raises(DataError, match="seed 0"):
        build_kit(copy, BuildOptions(size="tiny", seed=1))
    assert _digest(copy / "kit.json") == _digest(tiny_kit / "kit.json")


def test_bad_options_are_refused():
    with pytest.raises(ConfigError, match="size"):
        build_kit("/nonexistent/kit", BuildOptions(size="huge"))
    with pytest.raises(ConfigError, match="workers"):
        build_kit("/nonexistent/kit", BuildOptions(size="tiny"), workers=0)


def test_cli_reports_bad_snr_in_one_line(tmp_path, capsys):
    assert (
        main(["data", "build", "--out", str(tmp_path / "k"), "--size", "tiny", "--snr", "zero"])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--snr" in err
    assert not (tmp_path / "k").exists()
