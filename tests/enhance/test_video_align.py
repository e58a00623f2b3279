"""The lips/audio alignment policy: tolerance max(2 frames, 4 %), pad or crop, error beyond."""

from __future__ import annotations

import numpy as np
import pytest

from avgen.audio import SAMPLE_RATE, VAE_STFT
from avgen.errors import ConfigError, VideoError
from avgen.video_align import alignment_tolerance, check_alignment, lips_for_audio, read_video

from .helpers import lip_video

N_SAMPLES = 3 * SAMPLE_RATE  # 3 s: tolerance max(0.08, 0.12) = 0.12 s


def test_tolerance_is_two_frames_or_four_percent_whichever_is_larger():
    assert alignment_tolerance(1.0, 25.0) == pytest.approx(0.08)
    assert alignment_tolerance(10.0, 25.0) == pytest.approx(0.4)


def test_a_video_within_the_tolerance_is_accepted_both_ways():
    assert check_alignment(78, 25.0, N_SAMPLES) == pytest.approx(78 / 25 - 3)  # +0.12 s
    assert check_alignment(72, 25.0, N_SAMPLES) == pytest.approx(72 / 25 - 3)  # -0.12 s


@pytest.mark.parametrize("n_frames, word", [(79, "longer"), (71, "shorter")])
def test_beyond_the_tolerance_the_error_states_both_durations(n_frames, word):
    with pytest.raises(VideoError) as err:
        check_alignment(n_frames, 25.0, N_SAMPLES, name="lips.npy")
    text = str(err.value)
    assert f"{n_frames / 25:.3f} s" in text and "3.000 s" in text and word in text


def test_a_short_video_is_padded_with_its_last_frame():
    video = lip_video(N_SAMPLES, seconds_off=-0.1)  # 72 frames
    lips = lips_for_audio(video, 25.0, N_SAMPLES, lip_size=16)
    n_frames = VAE_STFT.n_frames(N_SAMPLES)
    assert lips.shape == (n_frames, 256)
    last = video[-1].astype(np.float32).ravel() / 255
    times = np.arange(n_frames) * VAE_STFT.hop_length / SAMPLE_RATE
    beyond = times >= (video.shape[0] - 1) / 25.0
    assert beyond.sum() > 5
    np.testing.assert_allclose(lips[beyond].numpy(), np.tile(last, (beyond.sum(), 1)), atol=1e-6)


def test_a_long_video_is_cropped_its_extra_frames_are_never_read():
    exact = lip_video(N_SAMPLES, seed=3)
    longer = np.concatenate([exact, 255 - exact[-2:]])  # 2 frames more
    a = lips_for_audio(exact, 25.0, N_SAMPLES, lip_size=16)
    b = lips_for_audio(longer, 25.0, N_SAMPLES, lip_size=16)
    # the last STFT frames interpolate towards frame n (held in `exact`, real in `longer`)
    times = np.arange(a.shape[0]) * VAE_STFT.hop_length / SAMPLE_RATE
    inside = times <= (exact.shape[0] - 1) / 25.0
    np.testing.assert_allclose(a[inside].numpy(), b[inside].numpy(), atol=1e-6)


def test_read_video_checks_its_input(tmp_path):
    with pytest.raises(VideoError, match="no such file"):
        read_video(tmp_path / "missing.npy")
    np.save(tmp_path / "float.npy", np.zeros((5, 8, 8), np.float32))
    with pytest.raises(VideoError, match="uint8"):
        read_video(tmp_path / "float.npy")
    (tmp_path / "lips.txt").write_text("x")
    with pytest.raises(VideoError, match="unsupported"):
        read_video(tmp_path / "lips.txt")
    np.save(tmp_path / "ok.npy", np.zeros((5, 8, 8), np.uint8))
    frames, fps = read_video(tmp_path / "ok.npy")
    assert frames.shape == (5, 8, 8) and fps == 25.0
    assert read_video(tmp_path / "ok.npy", 30.0)[1] == 30.0
    with pytest.raises(ConfigError):
        check_alignment(5, 0.0, N_SAMPLES)


def test_mp4_input_carries_its_own_frame_rate(tmp_path):
    import shutil

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    from avgen.data.lips.files import save_lips

    video = lip_video(N_SAMPLES)
    save_lips(tmp_path / "lips.mp4", video, fps=25.0)
    frames, fps = read_video(tmp_path / "lips.mp4")
    assert fps == pytest.approx(25.0) and frames.shape == video.shape
    with pytest.raises(ConfigError, match="25 fps"):
        read_video(tmp_path / "lips.mp4", 30.0)
