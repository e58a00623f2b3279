"""Overlapping segments (avgen.pipelines.segments): the plan covers the input, the cross-fade
reproduces an estimate that agrees on both sides to the sample, per-frame maps are stitched to
the whole file's frames, and below the threshold the pipeline runs exactly once as itself."""

from __future__ import annotations

import itertools

import pytest
import torch

from avgen.audio import VAE_STFT, stft
from avgen.errors import ConfigError
from avgen.pipelines.result import PipelineResult
from avgen.pipelines.segments import SegmentPlan, crossfade, plan_bounds, run_segmented
from avgen.seeding import derive_seed
from inference.em import IterationRecord
from inference.history import History

SR = 16_000
PLAN = SegmentPlan(segment_s=1.0, overlap_s=0.25, threshold_s=0.0, max_map_s=60.0)


def _wave(seconds: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(int(seconds * SR), generator=g)


def _identity(segment) -> PipelineResult:
    """The 'pipeline' that returns its input: its STFT as spectrum, one record."""
    spec = stft(segment.wave, VAE_STFT)
    record = IterationRecord(segment.index, float(segment.index), None, 0.0, 0.0)
    history = History(records=[record], stop_reason="n_iter")
    info = {"seed": segment.seed, "seconds": 0.0, "score": float(segment.index)}
    return PipelineResult(segment.wave.clone(), spec, spec.abs().square(), history, info)


@pytest.mark.parametrize("n", [int(1.2 * SR), 3 * SR + 17, int(4.1 * SR), int(7.3 * SR)])
def test_the_plan_covers_the_input_with_aligned_overlapping_segments(n):
    bounds = plan_bounds(n, PLAN, 256)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    for (a0, a1), (b0, _) in itertools.pairwise(bounds):
        assert b0 % 256 == 0 and a1 - b0 >= 0.25 * SR and b0 > a0
    assert all(0.5 * SR <= b - a <= SR + 256 for a, b in bounds)  # none tiny, none too long
    assert all(c[0] >= a[1] for a, c in zip(bounds, bounds[2:], strict=False))  # two at most


def test_the_crossfade_is_amplitude_complementary_and_smooth():
    w = crossfade(4000, torch.float64)
    assert torch.allclose(w + w.flip(0), torch.ones(4000, dtype=torch.float64))
    assert w[0] < 1e-5 and w[-1] > 1 - 1e-5 and (w.diff() > 0).all()


def test_an_estimate_that_agrees_across_the_joins_is_reproduced_to_the_sample():
    wave = _wave(4.1)
    out = run_segmented(wave, _identity, seed=3, plan=PLAN, hop=256, progress=False)
    assert (out.estimate - wave).abs().max() < 1e-6
    whole = stft(wave, VAE_STFT)
    assert out.spectrum.shape == whole.shape
    assert torch.allclose(out.spectrum, whole, atol=1e-4)  # frames from the segments' middles
    seg = out.info["segmentation"]
    assert seg["n_segments"] == len(out.history) == len(plan_bounds(wave.numel(), PLAN, 256))
    assert [s["seed"] for s in seg["segments"]] == [
        derive_seed(3, "segment", k) for k in range(seg["n_segments"])
    ]
    assert out.info["seed"] == 3 and out.info["n_samples"] == wave.numel()
    assert out.history.stop_reason == "segments"
    assert 0 < out.info["score"] < seg["n_segments"] - 1  # a duration-weighted mean


def test_below_the_threshold_the_pipeline_runs_once_as_itself():
    wave = _wave(2.0)
    calls = []

    def process(segment):
        calls.append(segment)
        return _identity(segment)

    plan = SegmentPlan(segment_s=1.0, overlap_s=0.25, threshold_s=2.0)
    out = run_segmented(wave, process, seed=5, plan=plan, hop=256, progress=True)
    assert len(calls) == 1 and calls[0].seed == 5 and calls[0].progress is True
    assert calls[0].wave is wave and "segmentation" not in out.info


def test_silent_segments_are_not_processed_and_maps_are_dropped_beyond_the_limit():
    wave = _wave(4.0)
    wave[SR : int(2.6 * SR)] = 0.0
    seen = []

    def process(segment):
        seen.append(segment.index)
        return _identity(segment)

    plan = SegmentPlan(segment_s=1.0, overlap_s=0.25, threshold_s=0.0, max_map_s=1.0)
    out = run_segmented(wave, process, seed=0, plan=plan, hop=256, progress=False)
    silent = [s for s in out.info["segmentation"]["segments"] if s.get("silent")]
    assert silent and len(seen) + len(silent) == out.info["segmentation"]["n_segments"]
    assert out.spectrum is None and out.uncertainty is None and out.noise is None
    assert (out.estimate - wave).abs().max() < 1e-6


def test_bad_plans_are_refused():
    with pytest.raises(ConfigError):
        SegmentPlan(segment_s=1.0, overlap_s=0.3)
    with pytest.raises(ConfigError):
        run_segmented(_wave(3.0), _identity, seed=0, plan=PLAN, hop=256, align=300)
