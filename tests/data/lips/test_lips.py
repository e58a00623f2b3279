"""Specification of the rendered lips: visemes, coarticulated tracks, frames, files, command.

The information the lips carry about the speech is tested in ``test_lips_information.py``.
"""

from __future__ import annotations

import math
import shutil
import sys
import types

import numpy as np
import pytest
import torch

from avgen.data.lips import files as lips_files
from avgen.data.lips.degrade import LipDegradations, degrade_lips
from avgen.data.lips.files import load_lips, save_lips
from avgen.data.lips.frames import lips_to_stft_frames, n_video_frames, stft_frame_video_positions
from avgen.data.lips.shape import articulator_tracks
from avgen.data.lips.style import speaker_style
from avgen.data.lips.video import render_lip_video, render_lips
from avgen.data.lips.visemes import (
    ARTICULATORS,
    DIPHTHONG_GLIDES,
    PHONE_TO_VISEME,
    VISEME_NAMES,
    VISEMES,
    viseme_of,
)
from avgen.data.speech.phones import PHONE_SET, PhoneSegment, save_phones
from avgen.errors import ConfigError, MissingToolError, VideoError

JAW, WIDTH, PROTRUSION = (ARTICULATORS.index(a) for a in ("jaw", "width", "protrusion"))


def _seq(*pairs: tuple[str, float]) -> list[PhoneSegment]:
    """Phone segments from (phone, duration) pairs, back to back from t = 0."""
    out, t = [], 0.0
    for phone, d in pairs:
        out.append(PhoneSegment(phone, t, t + d))
        t += d
    return out


MAMA = _seq(("pau", 0.3), ("m", 0.2), ("aa", 0.4), ("m", 0.2), ("aa", 0.4), ("pau", 0.3))


# --- visemes -----------------------------------------------------------------------------------


def test_every_canonical_phone_has_one_of_fourteen_visemes():
    assert set(PHONE_TO_VISEME) == PHONE_SET
    assert len(VISEME_NAMES) == 14 and len(set(VISEME_NAMES)) == 14
    assert {viseme_of(p) for p in ("p", "b", "m")} == {"bilabial"}
    assert {viseme_of(p) for p in ("f", "v")} == {"labiodental"}
    assert {viseme_of(p) for p in ("w", "uw", "ow", "oy")} == {"rounded"}
    assert viseme_of("pau") == "silence"
    with pytest.raises(KeyError, match="xx"):
        viseme_of("xx")


def test_viseme_targets_are_articulatory_postures_in_range():
    targets = {v.name: np.array(v.target) for v in VISEMES}
    for t in targets.values():
        assert t.shape == (len(ARTICULATORS),) and np.all((t >= 0) & (t <= 1))
    assert targets["bilabial"][JAW] == 0.0  # lips closed
    assert targets["open"][JAW] > 0.8  # jaw open
    assert targets["rounded"][WIDTH] < 0.2 < 0.8 < targets["spread"][WIDTH]
    assert targets["rounded"][PROTRUSION] > 0.8
    tuck = ARTICULATORS.index("lower_tuck")
    assert targets["labiodental"][tuck] == 1.0 and targets["open"][tuck] == 0.0
    tongue = ARTICULATORS.index("tongue")
    assert targets["dental"][tongue] == max(t[tongue] for t in targets.values())
    assert all(a in VISEME_NAMES and b in VISEME_NAMES for a, b in DIPHTHONG_GLIDES.values())


# --- parameter tracks ----------------------------------------------------------------------------


def test_tracks_reach_targets_close_for_bilabials_and_stay_in_range():
    times = np.arange(0, 1.8, 0.005)
    tr = articulator_tracks(MAMA, times)
    assert tr.shape == (times.size, len(ARTICULATORS))
    assert np.all((tr >= 0) & (tr <= 1))
    jaw = tr[:, JAW]
    at = lambda t: jaw[round(t / 0.005)]  # noqa: E731
    assert at(0.4) < 0.03 and at(1.0) < 0.03  # centres of the /m/s: closed
    assert at(0.7) > 0.9 and at(1.3) > 0.9  # centres of the /aa/s: at target 0.95
    assert np.max(np.abs(np.diff(jaw))) < 0.15  # smooth: no jumps at 200 frames/s


def test_anticipatory_rounding_emerges_from_dominance():
    """The /s/ before /uw/ is rounder (narrower, more protruded) than the /s/ before /iy/."""
    soon = _seq(("pau", 0.3), ("s", 0.12), ("uw", 0.3), ("pau", 0.3))
    seen = _seq(("pau", 0.3), ("s", 0.12), ("iy", 0.3), ("pau", 0.3))
    t_s = np.array([0.36])  # middle of /s/
    round_s = articulator_tracks(soon, t_s)[0]
    spread_s = articulator_tracks(seen, t_s)[0]
    assert round_s[WIDTH] < spread_s[WIDTH] - 0.2
    assert round_s[PROTRUSION] > spread_s[PROTRUSION] + 0.2


def test_diphthong_glides_from_open_to_spread():
    ay = _seq(("pau", 0.3), ("ay", 0.4), ("pau", 0.3))
    tr = articulator_tracks(ay, np.array([0.38, 0.65]))
    assert tr[0, JAW] > tr[1, JAW] + 0.2 and tr[1, WIDTH] > tr[0, WIDTH]


# --- frames ------------------------------------------------------------------------------------


def test_frame_count_rule_is_round_half_up():
    assert n_video_frames(1.0, 25) == 25
    assert n_video_frames(1.02, 25) == 26  # 25.5 -> 26 (half up, not to even)
    assert n_video_frames(1.0199, 25) == 25
    assert n_video_frames(0.001, 25) == 1  # never empty
    assert n_video_frames(2.0, 29.97) == 60
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(VideoError, match="duration"):
            n_video_frames(bad)
    with pytest.raises(ConfigError, match="fps"):
        n_video_frames(1.0, 0.0)


def test_render_shape_dtype_and_frame_count():
    frames = render_lips(MAMA, 1.8)
    assert frames.dtype == np.uint8 and frames.shape == (45, 64, 64)
    small = render_lips(MAMA, 1.8, size=32, fps=30.0)
    assert small.shape == (54, 32, 32)
    assert frames.std() > 10  # an image, not a flat field


def test_same_seed_same_frames_other_seed_other_motion():
    a = render_lips(MAMA, 1.8, speaker="ann", seed=3)
    b = render_lips(MAMA, 1.8, speaker="ann", seed=3)
    c = render_lips(MAMA, 1.8, speaker="ann", seed=4)
    np.testing.assert_array_equal(a, b)
    assert np.mean(np.abs(a.astype(int) - c)) > 1.0
    # without motion and lighting changes, the seed has nothing left to change
    still = [render_lips(MAMA, 1.8, speaker="ann", seed=s, motion=0, lighting=0) for s in (1, 2)]
    np.testing.assert_array_equal(*still)
    other = render_lips(MAMA, 1.8, speaker="bob", seed=1, motion=0, lighting=0)
    assert np.mean(np.abs(still[0].astype(int) - other)) > 3.0


def test_speaker_style_depends_on_the_id_only():
    import dataclasses

    a, again, b = speaker_style("ann"), speaker_style("ann"), speaker_style("bob")
    for f in dataclasses.fields(a):
        np.testing.assert_array_equal(getattr(a, f.name), getattr(again, f.name))
    assert a.mouth_width != b.mouth_width and a.skin_tone != b.skin_tone


def _dark_pixels(frame: np.ndarray) -> int:
    """Pixels in the central region much darker than the frame's median (the mouth cavity)."""
    centre = frame[16:48, 8:56].astype(float)
    return int(np.sum(centre < 0.2 * np.median(frame)))


def test_mouth_is_closed_for_bilabials_and_open_for_aa():
    video = render_lip_video(MAMA, 1.8, speaker="ann", motion=0, lighting=0)
    frame_at = lambda t: round(t * 25)  # noqa: E731
    closed = [frame_at(0.4), frame_at(1.0)]  # /m/ centres
    open_ = [frame_at(0.7), frame_at(1.3)]  # /aa/ centres
    assert all(video.cavity_area[i] < 2.0 for i in closed)
    assert all(video.cavity_area[i] > 150.0 for i in open_)
    assert all(_dark_pixels(video.frames[i]) < 5 for i in closed)
    assert all(_dark_pixels(video.frames[i]) > 80 for i in open_)
    assert [VISEME_NAMES[video.visemes[i]] for i in closed + open_] == [
        "bilabial",
        "bilabial",
        "open",
        "open",
    ]


def test_rendering_is_device_agnostic_on_cpu():
    a = render_lips(MAMA, 1.8, device="cpu")
    b = render_lips(MAMA, 1.8, device=torch.device("cpu"))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "phones, duration, error, match",
    [
        ([PhoneSegment("xx", 0.0, 0.2)], 1.0, VideoError, "unknown phone"),
        ([PhoneSegment("aa", 0.3, 0.2)], 1.0, VideoError, "not after"),
        ([PhoneSegment("aa", 0.0, 0.5), PhoneSegment("m", 0.4, 0.6)], 1.0, VideoError, "overlap"),
        ([PhoneSegment("aa", 0.0, 3.0)], 1.0, VideoError, "belong to this audio"),
        (MAMA, 0.0, VideoError, "duration"),
    ],
)
def test_bad_phones_or_duration_raise_video_errors(phones, duration, error, match):
    with pytest.raises(error, match=match):
        render_lips(phones, duration)


def test_bad_size_is_a_config_error():
    with pytest.raises(ConfigError, match="size"):
        render_lips(MAMA, 1.8, size=4)


def test_empty_phones_render_a_resting_mouth():
    frames = render_lip_video([], 0.4, motion=0, lighting=0)
    assert frames.frames.shape == (10, 64, 64) and np.all(frames.cavity_area < 2.0)


# --- STFT frames -------------------------------------------------------------------------------


def test_stft_positions_follow_the_centred_stft():
    q = stft_frame_video_positions(5, fps=25.0, hop_length=256, sample_rate=16000)
    np.testing.assert_allclose(q, np.arange(5) * 256 / 16000 * 25)


def test_lips_to_stft_frames_interpolates_linearly_and_holds_the_end():
    n_video = 10
    ramp = np.repeat(np.arange(n_video, dtype=np.uint8)[:, None, None] * 20, 8, 1)
    ramp = np.repeat(ramp, 8, 2)  # frame n is 20 n everywhere
    n_stft = 1 + int(n_video / 25 * 16000) // 256  # frames of the centred STFT
    out = lips_to_stft_frames(ramp, 25.0, n_stft)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    assert out.shape == (n_stft, 8, 8)
    q = np.minimum(np.arange(n_stft) * 256 / 16000 * 25, n_video - 1)
    np.testing.assert_allclose(out[:, 3, 4], 20 * q / 255, atol=1e-6)
    assert out.max() <= 1.0


def test_lips_to_stft_frames_downsamples_and_keeps_tensors_on_their_device():
    frames = render_lips(MAMA, 1.8)
    t = lips_to_stft_frames(torch.from_numpy(frames), 25.0, 100, size=32)
    assert isinstance(t, torch.Tensor) and t.shape == (100, 32, 32)
    n = lips_to_stft_frames(frames, 25.0, 100, size=32)
    np.testing.assert_allclose(t.numpy(), n, atol=1e-6)
    # area downsampling keeps the mean brightness
    assert abs(float(n.mean()) - float(lips_to_stft_frames(frames, 25.0, 100).mean())) < 1e-3


def test_lips_to_stft_frames_rejects_bad_input():
    with pytest.raises(VideoError, match="frames, height, width"):
        lips_to_stft_frames(np.zeros((64, 64), np.uint8), 25.0, 10)
    with pytest.raises(ConfigError):
        lips_to_stft_frames(np.zeros((3, 8, 8), np.uint8), 25.0, 0)


# --- degradations ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean_video() -> np.ndarray:
    return render_lips(MAMA, 1.8, speaker="ann", seed=0)


def test_degradations_are_seeded_and_change_the_frames(clean_video):
    deg = LipDegradations.preset("moderate")
    a, mask_a = degrade_lips(clean_video, deg, seed=1)
    b, mask_b = degrade_lips(clean_video, deg, seed=1)
    c, _ = degrade_lips(clean_video, deg, seed=2)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(mask_a, mask_b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.uint8 and a.shape == clean_video.shape


def test_dropped_frames_are_zeroed_or_repeated_and_masked(clean_video):
    zero, mask = degrade_lips(clean_video, LipDegradations(drop_rate=0.3, drop_mode="zero"), 5)
    assert 0 < mask.sum() < mask.size
    assert np.all(zero[mask] == 0) and np.array_equal(zero[~mask], clean_video[~mask])
    rep, mask = degrade_lips(clean_video, LipDegradations(drop_rate=0.3), 5)
    for i in np.flatnonzero(mask):
        expected = rep[i - 1] if i > 0 else np.zeros_like(rep[0])
        np.testing.assert_array_equal(rep[i], expected)


def test_blur_and_low_resolution_remove_fine_detail(clean_video):
    def detail(x: np.ndarray) -> float:
        return float(np.abs(np.diff(x.astype(float), axis=-1)).mean())

    blurred, _ = degrade_lips(clean_video, LipDegradations(blur_sigma=1.5))
    lowres, _ = degrade_lips(clean_video, LipDegradations(low_res=16))
    assert detail(blurred) < 0.7 * detail(clean_video)
    assert detail(lowres) < 0.7 * detail(clean_video)
    # brightness is kept
    assert abs(blurred.mean() - clean_video.mean()) < 2.0


def test_occlusion_covers_one_contiguous_span(clean_video):
    occ, _ = degrade_lips(clean_video, LipDegradations(occlusion=0.4), seed=3)
    changed = np.flatnonzero(np.abs(occ.astype(int) - clean_video).max(axis=(1, 2)) > 2)
    assert changed.size > 0 and changed.size <= round(0.4 * len(clean_video))
    assert np.all(np.diff(changed) == 1)


def test_sensor_noise_has_the_asked_standard_deviation(clean_video):
    noisy, _ = degrade_lips(clean_video, LipDegradations(noise_std=5.0), seed=0)
    diff = noisy.astype(float) - clean_video
    inner = (clean_video > 20) & (clean_video < 235)  # away from clipping
    assert abs(diff[inner].std() - 5.0) < 0.3


def test_bad_degradation_options_are_config_errors():
    with pytest.raises(ConfigError):
        LipDegradations(drop_rate=1.5)
    with pytest.raises(ConfigError):
        LipDegradations(drop_mode="skip")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown degradation level"):
        LipDegradations.preset("awful")
    with pytest.raises(VideoError):
        degrade_lips(np.zeros((2, 8, 8), np.float32), LipDegradations(noise_std=1.0))


def test_render_with_degradations_reports_dropped_frames():
    video = render_lip_video(MAMA, 1.8, degradations=LipDegradations(drop_rate=0.5), seed=2)
    assert video.dropped.shape == (45,) and 0 < video.dropped.sum() < 45


# --- files -------------------------------------------------------------------------------------


def test_npy_round_trip_is_exact_and_atomic(tmp_path, clean_video):
    path = tmp_path / "sub" / "lips.npy"
    save_lips(path, clean_video)
    np.testing.assert_array_equal(load_lips(path), clean_video)
    assert sorted(p.name for p in path.parent.iterdir()) == ["lips.npy"]
    small = load_lips(path, size=32)
    assert small.shape == (len(clean_video), 32, 32) and small.dtype == np.uint8


def test_saving_bad_arrays_raises_and_leaves_nothing(tmp_path):
    with pytest.raises(VideoError, match="uint8"):
        save_lips(tmp_path / "a.npy", np.zeros((3, 8, 8), np.float32))
    with pytest.raises(VideoError, match="frames, height, width"):
        save_lips(tmp_path / "a.npy", np.zeros((8, 8), np.uint8))
    with pytest.raises(VideoError, match="extension"):
        save_lips(tmp_path / "a.png", np.zeros((3, 8, 8), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_loading_corrupt_or_wrong_files_raises_video_errors(tmp_path):
    with pytest.raises(VideoError, match="no such file"):
        load_lips(tmp_path / "missing.npy")
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not an array")
    with pytest.raises(VideoError, match="not a readable"):
        load_lips(bad)
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((4, 8), np.uint8))
    with pytest.raises(VideoError, match="frames, height, width"):
        load_lips(wrong)
    floats = tmp_path / "floats.npy"
    np.save(floats, np.zeros((4, 8, 8), np.float64))
    with pytest.raises(VideoError, match="uint8"):
        load_lips(floats)


needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


@needs_ffmpeg
def test_mp4_round_trip_through_ffmpeg(tmp_path, clean_video):
    path = tmp_path / "lips.mp4"
    save_lips(path, clean_video, fps=25.0)
    back = load_lips(path)
    assert back.shape == clean_video.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - clean_video).mean() < 3.0  # lossy but close
    resized = load_lips(path, size=32, fps=12.5)
    assert resized.shape == (n_video_frames(len(clean_video) / 25.0, 12.5), 32, 32)


@needs_ffmpeg
def test_corrupt_video_is_a_video_error(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with pytest.raises(VideoError, match="broken.mp4"):
        load_lips(path)


def test_missing_ffmpeg_is_a_missing_tool_error(tmp_path, monkeypatch):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"whatever")
    monkeypatch.setattr(lips_files.shutil, "which", lambda name: None)
    with pytest.raises(MissingToolError, match="apt-get install ffmpeg"):
        load_lips(path)
    with pytest.raises(MissingToolError):
        save_lips(tmp_path / "out.mp4", np.zeros((2, 8, 8), np.uint8))


# --- command line ------------------------------------------------------------------------------


@pytest.fixture()
def recording(tmp_path):
    """A speech-like 1.8 s recording and its phone timing file."""
    from avgen.audio import save_audio

    t = np.arange(int(1.8 * 16000)) / 16000
    wav = (0.2 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    save_audio(tmp_path / "x.wav", wav)
    save_phones(tmp_path / "x.json", MAMA)
    return tmp_path


def test_cli_renders_from_a_phone_file_with_a_preview(recording, capsys):
    from avgen.cli import main

    out, preview = recording / "lips.npy", recording / "sheet.png"
    rc = main(
        [
            "data",
            "lips",
            "--wav",
            str(recording / "x.wav"),
            "--phones",
            str(recording / "x.json"),
            "--out",
            str(out),
            "--speaker",
            "ann",
            "--preview",
            str(preview),
            "--seed",
            "3",
        ]
    )
    assert rc == 0
    frames = load_lips(out)
    assert frames.shape == (45, 64, 64)
    np.testing.assert_array_equal(frames, render_lips(MAMA, 1.8, speaker="ann", seed=3))
    assert preview.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "45 frames" in capsys.readouterr().out


def test_cli_aligns_the_transcript_lazily(recording, monkeypatch):
    """``--text`` goes through avgen.data.speech.align.align_transcript (replaced here by a
    fake)."""
    from avgen.cli import main

    calls = []

    def fake_align(waveform, text, language="en", sample_rate=16000):
        calls.append((tuple(waveform.shape), text, language, sample_rate))
        return MAMA

    fake = types.ModuleType("avgen.data.speech.align")
    fake.align_transcript = fake_align  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "avgen.data.speech.align", fake)
    out = recording / "lips.npy"
    rc = main(
        [
            "data",
            "lips",
            "--wav",
            str(recording / "x.wav"),
            "--text",
            "ma ma",
            "--out",
            str(out),
            "--size",
            "32",
            "--fps",
            "30",
            "--save-phones",
            str(recording / "p.json"),
        ]
    )
    assert rc == 0
    assert calls == [((28800,), "ma ma", "en", 16000)]
    assert load_lips(out).shape == (54, 32, 32)
    assert (recording / "p.json").exists()


def _align_available() -> bool:
    try:
        import avgen.data.speech.align  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


@pytest.mark.skipif(
    not _align_available(),
    reason="avgen.data.speech.align (forced alignment) is on another branch; this "
    "test runs once it is merged",
)
def test_cli_with_the_real_aligner_on_flite_speech(tmp_path):
    from avgen.audio import save_audio
    from avgen.cli import main
    from avgen.data.speech.tts import synthesize_flite

    syn = synthesize_flite("Bob put the map by the window.", "slt")
    save_audio(tmp_path / "x.wav", syn.waveform)
    rc = main(
        [
            "data",
            "lips",
            "--wav",
            str(tmp_path / "x.wav"),
            "--text",
            "Bob put the map by the window.",
            "--out",
            str(tmp_path / "l.npy"),
        ]
    )
    assert rc == 0
    assert load_lips(tmp_path / "l.npy").shape[0] == n_video_frames(len(syn.waveform) / 16000, 25.0)


def test_cli_errors_are_one_line_and_exit_2(recording, capsys, monkeypatch):
    from avgen.cli import main

    wav, phones = str(recording / "x.wav"), str(recording / "x.json")
    out = str(recording / "lips.npy")
    cases = [
        ["--wav", str(recording / "missing.wav"), "--phones", phones, "--out", out],
        ["--wav", wav, "--phones", str(recording / "missing.json"), "--out", out],
        ["--wav", wav, "--phones", wav, "--out", out],
        ["--wav", wav, "--phones", phones, "--out", out, "--fps", "-1"],
        ["--wav", wav, "--phones", phones, "--out", str(recording / "lips.txt")],
        ["--wav", wav, "--text", "  ", "--out", out],
    ]
    for args in cases:
        assert main(["data", "lips", *args]) == 2, args
        err = capsys.readouterr().err.strip()
        assert err.startswith("avgen: error:") and "\n" not in err, err
    assert not (recording / "lips.npy").exists()
    # no aligner installed: the message says what to do instead
    monkeypatch.setitem(sys.modules, "avgen.data.speech.align", None)
    assert main(["data", "lips", "--wav", wav, "--text", "ma ma", "--out", out]) == 2
    assert "--phones" in capsys.readouterr().err


def test_cli_aligns_in_the_language_given_and_names_a_sound_its_table_lacks(
    recording, monkeypatch, capsys
):
    """``--language it`` reaches the aligner; a phoneme the language's table lacks (an Italian
    transcript aligned as English) is one readable line and exit 2, not a KeyError traceback."""
    from avgen.cli import main

    calls = []

    def align_transcript(waveform, text, language="en", sample_rate=16000):
        calls.append(language)
        if language == "en":
            raise KeyError("espeak-ng phoneme 'o:' (en) has no ARPAbet mapping")
        return MAMA

    fake = types.ModuleType("avgen.data.speech.align")
    fake.align_transcript = align_transcript  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "avgen.data.speech.align", fake)
    argv = ["data", "lips", "--wav", str(recording / "x.wav"), "--text", "ciao"]
    assert main([*argv, "--out", str(recording / "a.npy"), "--language", "it"]) == 0
    assert main([*argv, "--out", str(recording / "b.npy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'o:'" in err[0] and "--language en" in err[0]
    assert calls == ["it", "en"]
    assert not (recording / "b.npy").exists()
