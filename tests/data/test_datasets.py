"""Specification of the kit datasets and of mixture planning/rendering, on a tiny kit."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from avgen.audio import VAE_STFT, load_audio, save_audio
from avgen.data.datasets import (
    FrameDataset,
    NoiseCorruption,
    UtteranceDataset,
    plan_mixtures,
    render_mixtures,
)
from avgen.data.kit.mixing import active_speech_level
from avgen.data.kit.records import (
    KitInfo,
    MixtureRecord,
    NoiseRecord,
    UtteranceRecord,
    read_jsonl,
    write_jsonl,
    write_kit_info,
)
from avgen.data.noise.bank import procedural_clip, write_noise_bank
from avgen.data.speech.phones import PhoneSegment, save_phones
from avgen.errors import ConfigError, DataError

FS, FPS = 16_000, 25.0

# (id, speaker, split, seconds)
UTTERANCES = [
    ("a1", "alice", "train", 1.2),
    ("a2", "alice", "train", 1.0),
    ("b1", "bob", "train", 1.5),
    ("c1", "carol", "val", 1.1),
    ("d1", "dan", "test", 1.3),
    ("d2", "dan", "test", 1.0),
    ("e1", "eve", "test", 1.6),
]


def speechlike(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * FS)) / FS
    phase = 2 * np.pi * np.cumsum(110 + 30 * rng.random() + 15 * np.sin(2 * np.pi * t)) / FS
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    return (0.1 * voice * np.clip(np.sin(2 * np.pi * 3.5 * t + rng.uniform(0, 6)), 0, None)).astype(
        np.float32
    )


def lip_video(n_frames: int) -> np.ndarray:
    """Frame k, pixel (i, j) = 3k + j // 16: time and space both recoverable after resizing."""
    k = np.arange(n_frames).reshape(-1, 1, 1)
    j = np.arange(64).reshape(1, 1, -1)
    return np.broadcast_to(3 * k + j // 16, (n_frames, 64, 64)).astype(np.uint8)


def write_kit(root: Path) -> Path:
    write_kit_info(root, KitInfo(size="tiny", seed=0, avgen_version="test", video_fps=FPS))
    records = []
    (root / "lips").mkdir(parents=True, exist_ok=True)
    for i, (uid, spk, split, secs) in enumerate(UTTERANCES):
        save_audio(root / "speech" / f"{uid}.wav", speechlike(secs, seed=i))
        np.save(root / "lips" / f"{uid}.npy", lip_video(round(secs * FPS)))
        save_phones(
            root / "phones" / f"{uid}.json",
            [PhoneSegment("pau", 0.0, 0.2), PhoneSegment("ah", 0.2, secs)],
        )
        records.append(
            UtteranceRecord(
                id=uid,
                speaker=spk,
                text="ah",
                language="en",
                source="test",
                licence="MIT",
                duration=secs,
                split=split,
                real=False,
                timing="synthesizer",
                wav=f"speech/{uid}.wav",
                phones=f"phones/{uid}.json",
                lips=f"lips/{uid}.npy",
            )
        )
    write_jsonl(root / "utterances.jsonl", records)
    clips = [
        procedural_clip("white", 0, seconds=2.0, seed=0),
        procedural_clip("pink", 0, seconds=0.5, seed=0),  # shorter than speech
        procedural_clip("traffic", 0, seconds=3.0, seed=0),
        procedural_clip("traffic", 1, seconds=2.0, seed=0),
    ]
    write_noise_bank(root, clips)
    return root


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    return write_kit(tmp_path_factory.mktemp("kit"))


@pytest.fixture
def kit_copy(kit, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(kit, tmp_path / "kit"))


def sine_stft_power(x: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """|STFT|^2 (T, F) by hand: zero-padded centre frames, sine window, real FFT."""
    padded = np.pad(x.astype(np.float64), n_fft // 2)
    n_frames = 1 + x.size // hop
    window = np.sin(np.pi * (np.arange(n_fft) + 0.5) / n_fft)
    frames = np.stack([padded[t * hop : t * hop + n_fft] for t in range(n_frames)])
    return np.abs(np.fft.rfft(frames * window, axis=1)) ** 2


# ---------------------------------------------------------------------------------------------
# FrameDataset
# ---------------------------------------------------------------------------------------------


def test_frame_dataset_holds_every_stft_frame_of_the_split(kit):
    ds = FrameDataset(kit, "train")
    train = [u for u in UTTERANCES if u[2] == "train"]
    assert [u.id for u in ds.utterances] == [u[0] for u in train]
    assert len(ds) == sum(1 + round(s * FS) // 256 for *_, s in train)
    power, lips = ds.as_tensors()
    assert power.shape == (len(ds), 513) and power.dtype == torch.float32
    assert lips.shape == (len(ds), 32 * 32) and lips.dtype == torch.float32
    for i, rec in enumerate(ds.utterances):
        wav = load_audio(kit / rec.wav).numpy()
        rows = ds.frames_of(i)
        np.testing.assert_allclose(
            power[rows].numpy(), sine_stft_power(wav), rtol=1e-3, atol=1e-6 * float(power.max())
        )
    assert ds.speakers == ["alice", "bob"]
    frames = {uid: 1 + round(s * FS) // 256 for uid, _, _, s in train}
    assert Counter(ds.speaker_index.tolist()) == {0: frames["a1"] + frames["a2"], 1: frames["b1"]}
    item = ds[5]
    assert set(item) == {"power", "lips", "speaker", "utterance"}
    assert item["power"].shape == (513,) and item["utterance"] == 0 and item["speaker"] == 0


def test_lips_are_interpolated_at_stft_frame_centres_and_downsampled(kit):
    ds = FrameDataset(kit, "val", lip_size=32)
    n_video = round(1.1 * FPS)
    lips = ds.lips.reshape(-1, 32, 32).numpy()
    assert lips.min() >= 0.0 and lips.max() <= 1.0
    t = np.arange(len(ds))
    u = np.clip(t * 256 * FPS / FS, 0, n_video - 1)  # video frame position
    col = np.arange(32) // 8  # j // 16 after 2x2 averaging
    expected = (3 * u[:, None] + col[None, :]) / 255.0
    np.testing.assert_allclose(lips[:, 0, :], expected, atol=1e-5)
    np.testing.assert_allclose(lips[:, 17, :], expected, atol=1e-5)
    odd = FrameDataset(kit, "val", lip_size=24)  # non-integer factor: bilinear
    assert odd.lips.shape == (len(ds), 24 * 24)
    np.testing.assert_allclose(
        odd.lips.reshape(-1, 24, 24)[:, :, 0].numpy(),
        np.repeat((3 * u / 255.0)[:, None], 24, axis=1),
        atol=0.02,
    )


def test_max_utterances_keeps_the_first_ones(kit):
    ds = FrameDataset(kit, "test", max_utterances=1)
    assert [u.id for u in ds.utterances] == ["d1"] and len(ds) == 1 + round(1.3 * FS) // 256


def test_corrupted_audio_gives_a_second_deterministic_power(kit):
    corrupt = NoiseCorruption(kit, noise_split="seen", snrs=(0.0,), seed=3)
    a = FrameDataset(kit, "train", corrupt_audio=corrupt)
    b = FrameDataset(kit, "train", corrupt_audio=NoiseCorruption(kit, snrs=(0.0,), seed=3))
    assert torch.equal(a.power_corrupt, b.power_corrupt)
    noisy, lips = a.corrupted_tensors()
    assert noisy.shape == a.power.shape and torch.equal(lips, a.lips)
    assert not torch.allclose(noisy, a.power)
    # at 0 dB the added noise has about the speech's power, more in the quiet frames
    assert noisy.sum() > 1.5 * a.power.sum()
    assert "power_corrupt" in a[0]
    with pytest.raises(ConfigError):
        FrameDataset(kit, "train").corrupted_tensors()


def test_dataset_errors_say_what_is_wrong(kit_copy, tmp_path):
    with pytest.raises(DataError, match="no such data kit"):
        FrameDataset(tmp_path / "nowhere", "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="kit.json"):
        FrameDataset(tmp_path / "empty", "train")
    with pytest.raises(ConfigError, match="unknown split"):
        FrameDataset(kit_copy, "dev")
    # an empty split
    recs = read_jsonl(kit_copy / "utterances.jsonl", UtteranceRecord)
    write_jsonl(kit_copy / "utterances.jsonl", [r for r in recs if r.split != "val"])
    with pytest.raises(DataError, match="'val' split has no utterances"):
        FrameDataset(kit_copy, "val")
    # a missing file
    (kit_copy / "speech" / "b1.wav").unlink()
    with pytest.raises(DataError, match="missing"):
        FrameDataset(kit_copy, "train")
    # lips much shorter than the audio
    np.save(kit_copy / "lips" / "d1.npy", lip_video(10))
    with pytest.raises(DataError, match="lip frames"):
        FrameDataset(kit_copy, "test")
    np.save(kit_copy / "lips" / "d1.npy", lip_video(round(1.3 * FPS)).astype(np.float32))
    with pytest.raises(DataError, match="uint8"):
        FrameDataset(kit_copy, "test")


# ---------------------------------------------------------------------------------------------
# Planning mixtures
# ---------------------------------------------------------------------------------------------


def kit_records(kit: Path) -> tuple[list[UtteranceRecord], list[NoiseRecord]]:
    return (
        read_jsonl(kit / "utterances.jsonl", UtteranceRecord),
        read_jsonl(kit / "noise" / "noises.jsonl", NoiseRecord),
    )


def test_plan_pairs_every_utterance_with_every_type_and_snr(kit):
    utts, noises = kit_records(kit)
    plan = plan_mixtures(utts, noises, "test", snrs=(-5, 0, 5), seed=1)
    assert len(plan) == 3 * 3 * 3  # utterances x types x SNRs
    assert len({m.id for m in plan}) == len(plan)
    assert Counter(m.noise_type for m in plan) == {"white": 9, "pink": 9, "traffic": 9}
    assert {m.noise_split for m in plan if m.noise_type == "traffic"} == {"unseen"}
    by_id = {n.id: n for n in noises}
    dur = {u.id: u.duration for u in utts}
    for m in plan:
        n_noise, n_speech = round(by_id[m.noise_id].duration * FS), round(dur[m.utterance_id] * FS)
        limit = n_noise - n_speech if n_noise >= n_speech else n_noise
        assert 0 <= m.noise_offset <= limit
        assert m.wav == f"mixtures/test/{m.id}.wav" and m.gain == 1.0
    only_unseen = plan_mixtures(utts, noises, "test", (0,), noise_splits=("unseen",))
    assert {m.noise_type for m in only_unseen} == {"traffic"}


def test_plan_is_deterministic_and_stable_under_other_utterances(kit):
    utts, noises = kit_records(kit)
    full = plan_mixtures(utts, noises, "test", (0, 5), seed=4)
    assert full == plan_mixtures(list(reversed(utts)), noises, "test", (0, 5), seed=4)
    fewer = plan_mixtures([u for u in utts if u.id != "d2"], noises, "test", (0, 5), seed=4)
    assert fewer == [m for m in full if m.utterance_id != "d2"]
    other = plan_mixtures(utts, noises, "test", (0, 5), seed=5)
    assert [m.noise_offset for m in other] != [m.noise_offset for m in full]


def test_a_subset_per_utterance_is_balanced_over_types_and_snrs(kit):
    utts, noises = kit_records(kit)
    many = [dataclasses.replace(utts[4], id=f"t{i:02d}") for i in range(12)]
    plan = plan_mixtures(many, noises, "test", (-5, 0, 5, 10), per_utterance=2, seed=0)
    assert len(plan) == 24
    assert all(c == 2 for c in Counter(m.utterance_id for m in plan).values())
    combos = Counter((m.noise_type, m.snr_db) for m in plan)  # 12 combos, 24 mixtures
    assert len(combos) == 12 and set(combos.values()) == {2}
    with pytest.raises(ConfigError):
        plan_mixtures(many, noises, "test", (0, 0.0))
    with pytest.raises(DataError):
        plan_mixtures(many, noises, "val", (0,))


# ---------------------------------------------------------------------------------------------
# Rendering and UtteranceDataset
# ---------------------------------------------------------------------------------------------


def test_rendered_mixtures_have_the_planned_snr_and_load_as_a_dataset(kit_copy):
    utts, noises = kit_records(kit_copy)
    plan = plan_mixtures(utts, noises, "test", (-5, 5), seed=2)
    done = render_mixtures(kit_copy, plan, progress_enabled=False)
    assert read_jsonl(kit_copy / "mixtures" / "test.jsonl", MixtureRecord) == done
    unseen = UtteranceDataset(kit_copy, "test", noise="unseen")
    assert len(unseen) == 3 * 2 and {it["mixture"].noise_type for it in unseen} == {"traffic"}
    seen5 = UtteranceDataset(kit_copy, "test", noise="seen", snrs=(5,))
    assert len(seen5) == 3 * 2
    for ds in (unseen, seen5):
        for item in ds:
            mix = item["mixture"]
            clean, noisy = item["clean"].numpy(), item["noisy"].numpy()
            noise = noisy.astype(np.float64) - clean
            snr = active_speech_level(clean).level_db - 10 * math.log10(np.mean(noise**2))
            assert snr == pytest.approx(mix.snr_db, abs=0.05)
            assert item["lips"].dtype == torch.uint8 and item["lips"].shape[1:] == (64, 64)
            assert item["lips_stft"].shape == (VAE_STFT.n_frames(clean.size), 32 * 32)
            assert item["phones"][1].phone == "ah" and item["id"] == mix.id
    # rendering again gives the same files
    first = load_audio(kit_copy / done[0].wav)
    render_mixtures(kit_copy, plan, progress_enabled=False)
    assert torch.equal(first, load_audio(kit_copy / done[0].wav))


def test_clean_utterance_dataset(kit):
    ds = UtteranceDataset(kit, "test", noise=None)
    assert len(ds) == 3
    item = ds[0]
    assert item["noisy"] is None and item["mixture"] is None
    assert item["utterance"].id == item["id"] == "d1"
    assert item["clean"].shape == (round(1.3 * FS),) and item["fps"] == FPS


def test_utterance_dataset_errors(kit_copy):
    with pytest.raises(DataError, match="missing"):
        UtteranceDataset(kit_copy, "test", noise="unseen")  # no mixtures built yet
    with pytest.raises(ConfigError):
        UtteranceDataset(kit_copy, "test", noise="loud")
    utts, noises = kit_records(kit_copy)
    render_mixtures(
        kit_copy, plan_mixtures(utts, noises, "test", (0,), per_utterance=1), progress_enabled=False
    )
    with pytest.raises(DataError, match="no 'test' mixtures"):
        UtteranceDataset(kit_copy, "test", noise="unseen", snrs=(15,))
