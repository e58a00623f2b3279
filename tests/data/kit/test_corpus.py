"""Specification of the real-corpus importer, on a small synthetic corpus in tmp_path."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avgen.audio import load_audio
from avgen.data.datasets import FrameDataset
from avgen.data.kit.corpus import (
    assign_splits,
    import_corpus,
    read_mp4_frames,
    scan_corpus,
)
from avgen.data.kit.records import UtteranceRecord, read_jsonl, read_kit_info
from avgen.data.speech.phones import PhoneSegment, load_phones
from avgen.errors import DataError, MissingToolError, VideoError

SPEAKERS = ("s1", "s2", "s3", "s4", "s5")
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg missing")


def write_utterance(
    folder: Path,
    name: str,
    seconds: float,
    *,
    sr: int = 22_050,
    frames: str = "gray",
    fps: float = 25.0,
    text: str | None = None,
    seed: int = 0,
) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n = round(seconds * sr)
    t = np.arange(n) / sr
    voice = 0.2 * np.sin(2 * np.pi * 150 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    stereo = np.stack([voice, voice + 0.01 * rng.standard_normal(n)], axis=1)
    sf.write(folder / f"{name}.wav", stereo.astype(np.float32), sr)
    n_frames = round(seconds * fps)
    ramp = np.linspace(0.0, 1.0, n_frames).reshape(-1, 1, 1)
    if frames == "gray":  # float frames in [0, 1], 48 x 40
        video = np.broadcast_to(ramp, (n_frames, 48, 40)).copy()
    else:  # uint8 RGB frames, 96 x 96
        video = np.broadcast_to(
            (ramp * 200).astype(np.uint8)[..., None], (n_frames, 96, 96, 3)
        ).copy()
    np.save(folder / f"{name}.npy", video)
    if text is not None:
        (folder / f"{name}.txt").write_text(text + "\n")


@pytest.fixture
def corpus(tmp_path) -> Path:
    root = tmp_path / "corpus"
    for i, spk in enumerate(SPEAKERS):
        for j in range(2):
            write_utterance(
                root / spk,
                f"u{j}",
                0.8 + 0.1 * j,
                seed=10 * i + j,
                frames="gray" if i % 2 else "rgb",
                text="bin blue at f two now" if j == 0 else None,
            )
    (root / "LICENSE.txt").write_text("research use only\n")
    return root


def test_import_writes_a_kit_that_the_datasets_read(corpus, tmp_path):
    kit = tmp_path / "kit"
    records = import_corpus(corpus, kit, seed=0, licence="research use only")
    info = read_kit_info(kit)
    assert info.size == "corpus" and info.video_fps == 25.0 and info.lip_size == 64
    assert read_jsonl(kit / "utterances.jsonl", UtteranceRecord) == records
    assert len(records) == 10 and {r.id for r in records} == {
        f"{s}_u{j}" for s in SPEAKERS for j in range(2)
    }
    for rec in records:
        wav = load_audio(kit / rec.wav)  # 16 kHz mono, checked
        assert wav.numel() / 16_000 == pytest.approx(rec.duration, abs=1e-4)
        lips = np.load(kit / rec.lips)
        assert lips.dtype == np.uint8 and lips.shape == (round(rec.duration * 25), 64, 64)
        assert lips[0].mean() < 5 and lips[-1].mean() > 150  # the ramp survived
        assert rec.real and rec.timing == "none" and load_phones(kit / rec.phones) == []
        assert rec.licence == "research use only" and rec.source == "corpus:corpus"
    assert records[0].text == "bin blue at f two now"
    assert (kit / "LICENSES" / "corpus-corpus-LICENSE.txt").exists()
    # speaker-disjoint splits, all three present
    speakers = {s: {r.speaker for r in records if r.split == s} for s in ("train", "val", "test")}
    assert all(speakers.values())
    assert not (
        speakers["train"] & speakers["val"]
        or speakers["train"] & speakers["test"]
        or speakers["val"] & speakers["test"]
    )
    ds = FrameDataset(kit, "train")
    assert len(ds) > 0 and ds.lips.shape[1] == 32 * 32


def test_splits_are_deterministic_and_can_be_given(corpus):
    items = scan_corpus(corpus)
    assert assign_splits(items, seed=3) == assign_splits(items, seed=3)
    by_utt = assign_splits(items, split_by_speaker=False, seed=3)
    assert set(by_utt.values()) == {"train", "val", "test"}
    given = {s: ("test" if s == "s1" else "train") for s in SPEAKERS}
    fixed = assign_splits(items, splits=given)
    assert {i for i, s in fixed.items() if s == "test"} == {"s1_u0", "s1_u1"}


def test_an_aligner_provides_phones_for_transcribed_utterances(corpus, tmp_path):
    def aligner(wave: np.ndarray, text: str) -> list[PhoneSegment]:
        assert wave.dtype == np.float32 and text.startswith("bin")
        return [PhoneSegment("b", 0.0, 0.1), PhoneSegment("ih", 0.1, 0.3)]

    records = import_corpus(corpus, tmp_path / "kit", aligner=aligner)
    aligned = [r for r in records if r.timing == "forced-alignment"]
    assert {r.id for r in aligned} == {f"{s}_u0" for s in SPEAKERS}
    assert load_phones(tmp_path / "kit" / aligned[0].phones)[1].phone == "ih"


def write_mp4(path: Path, frames: np.ndarray, fps: int) -> None:
    h, w = frames.shape[1:]
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-s",
            f"{w}x{h}",
            "-r",
            str(fps),
            "-i",
            "-",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-crf",
            "0",
            str(path),
        ],
        input=frames.tobytes(),
        check=True,
    )


@needs_ffmpeg
def test_mp4_lips_are_decoded_and_resampled_to_the_kit_rate(tmp_path):
    root = tmp_path / "corpus"
    for i, spk in enumerate(("a", "b", "c")):
        write_utterance(root / spk, "x", 1.0, seed=i)
        (root / spk / "x.npy").unlink()
        ramp = np.linspace(20, 220, 30).astype(np.uint8).reshape(-1, 1, 1)
        write_mp4(root / spk / "x.mp4", np.broadcast_to(ramp, (30, 32, 32)).copy(), fps=30)
    frames, fps = read_mp4_frames(root / "a" / "x.mp4")
    assert fps == 30.0 and frames.shape == (30, 32, 32)
    assert abs(int(frames[0].mean()) - 20) <= 3 and abs(int(frames[-1].mean()) - 220) <= 3
    records = import_corpus(root, tmp_path / "kit", video_fps=25.0)
    lips = np.load(tmp_path / "kit" / records[0].lips)
    assert lips.shape == (25, 64, 64)
    # kit frame k sits at k/25 s = source frame 1.2 k: the ramp value there
    expected = 20 + (220 - 20) * np.minimum(1.2 * np.arange(25), 29) / 29
    np.testing.assert_allclose(lips.mean(axis=(1, 2)), expected, atol=4)


def test_missing_ffmpeg_is_a_missing_tool(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(MissingToolError, match="ffmpeg"):
        read_mp4_frames(tmp_path / "x.mp4")


def test_corpus_errors_are_clear(corpus, tmp_path):
    with pytest.raises(DataError, match="no such corpus"):
        import_corpus(tmp_path / "nowhere", tmp_path / "kit")
    two = tmp_path / "two"
    for spk in ("a", "b"):
        write_utterance(two / spk, "x", 0.5)
    with pytest.raises(DataError, match="at least 3 speakers"):
        import_corpus(two, tmp_path / "kit2")
    (corpus / "s1" / "u0.npy").unlink()
    with pytest.raises(DataError, match="no mouth frames"):
        scan_corpus(corpus)
    write_utterance(corpus / "s1", "u0", 0.8, fps=5.0)  # 4 frames read at 25 fps
    with pytest.raises(DataError, match="video lasts"):
        import_corpus(corpus, tmp_path / "kit3")
    np.save(corpus / "s1" / "u0.npy", np.zeros((20, 4), np.uint8))
    with pytest.raises(VideoError, match="mouth frames"):
        import_corpus(corpus, tmp_path / "kit4")
    write_utterance(corpus / "s1", "u0", 0.8)
    import_corpus(corpus, tmp_path / "kit5")
    with pytest.raises(DataError, match="already holds a data kit"):
        import_corpus(corpus, tmp_path / "kit5")
    import_corpus(corpus, tmp_path / "kit5", overwrite=True)
