"""Long recordings (avgen.pipelines.long): below the threshold the pipelines are themselves (the
same numbers); a ~40 s signal enhanced in segments is as good as enhanced whole and its joins do
not click; the lips of a visual prior follow the segments."""

from __future__ import annotations

import torch

from avgen.metrics import si_sdr
from avgen.pipelines.long import SegmentPlan, enhance_long, video_alignment
from avgen.pipelines.vae_nmf import EMSchedule, enhance

from .helpers import coloured_noise, lip_video, mix, speech_from_prior, tiny_model

TINY = EMSchedule(rank=2, n_iter=2, n_steps=4, burn_in=2)


def test_short_inputs_give_exactly_the_pipelines_numbers():
    model = tiny_model("a-vae")
    speech = speech_from_prior(model, 120)
    noisy = mix(speech, coloured_noise(speech.numel()), 0.0)
    a = enhance_long(noisy, model, schedule=TINY, seed=4)
    b = enhance(noisy, model, schedule=TINY, seed=4)
    assert torch.equal(a.estimate, b.estimate) and torch.equal(a.uncertainty, b.uncertainty)
    assert a.info.keys() == b.info.keys()


def test_forty_seconds_in_segments_match_the_whole_run_and_do_not_click():
    """The same schedule whole and in two 21 s segments (2 s cross-fade): SI-SDR within 1 dB
    (measured with seeds 0, 1, 2 and 20 s segments: 7.00 / 7.18 / 7.29 dB whole, 7.04 / 7.15 /
    7.02 dB segmented), and no sample step in the cross-fade beyond 1.5 times the largest the
    whole run's estimate has there (no click)."""
    model = tiny_model("a-vae")
    speech = speech_from_prior(model, 2500)  # 40 s
    noisy = mix(speech, coloured_noise(speech.numel()), 0.0)
    schedule = EMSchedule(rank=4, n_iter=10, n_steps=20, burn_in=10)
    plan = SegmentPlan(segment_s=21.0, overlap_s=2.0, threshold_s=0.0)
    whole = enhance(noisy, model, schedule=schedule, seed=0)
    pieces = enhance_long(noisy, model, schedule=schedule, seed=0, plan=plan)
    clean = speech.numpy()
    assert (
        float(si_sdr(clean, pieces.estimate.numpy()))
        > float(si_sdr(clean, whole.estimate.numpy())) - 1.0
    )
    segments = pieces.info["segmentation"]["segments"]
    assert len(segments) == 2
    joins = slice(int(segments[1]["start_s"] * 16_000), int(segments[0]["stop_s"] * 16_000))
    own = whole.estimate.diff().abs()[joins].max()
    assert pieces.estimate.diff().abs()[joins].max() <= 1.5 * own
    assert pieces.spectrum.shape == whole.spectrum.shape
    assert pieces.info["n_frames"] == whole.info["n_frames"]
    assert len(pieces.history) == sum(s["iterations"] for s in segments)


def test_the_lips_follow_the_segments():
    model = tiny_model("min-vae")
    speech = speech_from_prior(model, 400)  # 6.4 s
    noisy = mix(speech, coloured_noise(speech.numel()), 5.0)
    video = lip_video(noisy.numel())
    plan = SegmentPlan(segment_s=2.5, overlap_s=0.4, threshold_s=0.0)
    out = enhance_long(noisy, model, lips=video, schedule=TINY, seed=1, plan=plan)
    assert out.info["segmentation"]["n_segments"] >= 3
    assert out.extras["visual_weight"].shape == (out.spectrum.shape[-1],)
    assert torch.isfinite(out.estimate).all() and out.estimate.shape == noisy.shape


def test_segment_starts_fall_on_video_frames_when_they_can():
    assert video_alignment(256, 25.0) == 1280  # 80 ms: 5 hops, 2 video frames
    assert video_alignment(256, 30.0) == 6400
    assert video_alignment(256, 29.97) == 256  # no short common period: nearest frame
