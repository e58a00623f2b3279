r"""Long recordings in bounded memory: overlapping segments, one pipeline run each, an
overlap-add cross-fade.

Every pipeline's memory grows linearly with the number of STFT frames ``T`` (the VAE-NMF
E-step keeps ``R x T x F`` sample variances, the diffusion U-Net's activations are ``T`` wide),
so a recording of any length is cut into segments of at most ``segment_s`` seconds that overlap
by ``overlap_s``; each is processed alone (the same pipeline, the same settings, a seed
``derive_seed(seed, "segment", i)``) and the estimates are joined. Peak memory is then that of
one segment plus the input and the output waveforms (4 bytes a sample each).

**The join.** Over an overlap of ``L`` samples the two estimates of the same speech are
cross-faded with the raised-cosine pair

.. math::
    w_{\text{out}}(n) = \cos^2\!\Big(\frac{\pi}{2}\frac{n + 1/2}{L}\Big),\qquad
    w_{\text{in}}(n) = \sin^2\!\Big(\frac{\pi}{2}\frac{n + 1/2}{L}\Big),\qquad
    w_{\text{out}} + w_{\text{in}} = 1 .

The weights sum to one (not their squares, as for *uncorrelated* signals): both segments
estimate the *same* signal, so an amplitude-complementary fade keeps its level exactly, and an
estimate that agrees on both sides is reproduced to the sample (a test checks the identity).
The fade is smooth (zero slope at both ends), so a small disagreement between the two
estimates turns into a slow blend over ``L`` samples, never a step: no click.

**Alignment.** Segment starts are multiples of ``align`` samples (the STFT hop, or a multiple of
it and of the video frame period): segment ``k``'s frame ``i`` is then the whole file's frame
``start_k / hop + i``, so per-frame outputs can be stitched without interpolation. The last
segments are all about as long (the fewest that fit, the file shared evenly among them), so
there is never a tiny last segment; at most two segments overlap at any sample.

**Per-frame and per-bin outputs.** Per-frame maps (the spectrum, the uncertainty, the observed
power, per-frame extras such as ``frame_acceptance``) are stitched at the middle of each overlap
(frames from each segment's own middle, away from its edges). The per-bin maps cost 16 bytes a
bin (about 0.5 MB per second of audio in either STFT), so they are kept only up to
``max_map_s`` seconds of input; beyond, ``spectrum``, ``uncertainty`` and
``observation_power`` are ``None`` (the waveform estimate, the history and ``info`` are always
kept). The NMF noise model is fitted per segment (``docs/enhancement.md`` gives the reasons and
the measurement), so the result's ``noise`` is ``None``; each segment's summary is in
``info["segmentation"]["segments"]``.

Below ``threshold_s`` seconds the pipeline runs once on the whole input with the run's own seed
and progress bar: the same numbers as calling it directly.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from avgen.audio import SAMPLE_RATE
from avgen.errors import AudioError, ConfigError
from avgen.pipelines.result import PipelineResult
from avgen.progress import progress_bar
from avgen.seeding import derive_seed
from inference.history import History

MAP_BYTES_PER_BIN = 16
"""complex64 spectrum + float32 uncertainty + float32 observed power."""


@dataclass(frozen=True)
class SegmentPlan:
    """How a long input is cut (seconds).

    Attributes:
        segment_s: the longest segment.
        overlap_s: the overlap of neighbouring segments (the cross-fade's length).
        threshold_s: inputs up to this long run whole, as without segmentation.
        max_map_s: per-bin maps are kept for inputs up to this long.
    """

    segment_s: float = 30.0
    overlap_s: float = 2.0
    threshold_s: float = 60.0
    max_map_s: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.overlap_s <= self.segment_s / 4:
            raise ConfigError(
                f"segments: need 0 < overlap ({self.overlap_s} s) <= a quarter of a segment "
                f"({self.segment_s} s)"
            )
        if self.threshold_s < 0 or self.max_map_s < 0:
            raise ConfigError("segments: threshold_s and max_map_s must be >= 0")

    def is_segmented(self, n_samples: int) -> bool:
        return n_samples > self.threshold_s * SAMPLE_RATE

    def keeps_maps(self, n_samples: int) -> bool:
        return not self.is_segmented(n_samples) or n_samples <= self.max_map_s * SAMPLE_RATE


class Segment(NamedTuple):
    """One piece to process: ``wave[start:stop]``, its ``seed``, whether its pipeline draws
    its own progress bar, and ``advance(fraction)`` to move the whole file's bar by that
    fraction of the segment (a no-op when the input runs whole)."""

    index: int
    start: int
    stop: int
    seed: int
    wave: torch.Tensor
    progress: bool | None
    advance: Callable[[float], None]


def plan_bounds(n_samples: int, plan: SegmentPlan, align: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``[0, n_samples)`` with the fewest segments of at most
    ``segment_s`` (plus less than ``align``), all about as long, neighbours overlapping by
    ``overlap_s`` (rounded up to ``align``), starts multiples of ``align``, and at most two
    segments over any sample.

    With ``m = ceil((n - o) / (L - o))`` segments the common length is ``L' = (n + (m - 1) o) / m
    <= L`` and the starts are ``k (L' - o)``, rounded down to ``align``."""
    length = int(plan.segment_s * SAMPLE_RATE)
    overlap = math.ceil(plan.overlap_s * SAMPLE_RATE / align) * align
    if n_samples <= length:
        return [(0, n_samples)]
    count = math.ceil((n_samples - overlap) / (length - overlap))
    spacing = (n_samples - overlap) / count
    starts = [int(k * spacing) // align * align for k in range(count)]
    bounds = [(a, b + overlap) for a, b in itertools.pairwise(starts)] + [(starts[-1], n_samples)]
    for k in range(len(bounds) - 1):
        ok = bounds[k + 1][0] > bounds[k][0] and (
            k + 2 >= len(bounds) or bounds[k + 2][0] >= bounds[k][1]
        )
        if not ok:
            raise ConfigError(
                f"segments: an overlap of {plan.overlap_s} s is too long for segments of "
                f"{plan.segment_s} s aligned to {align} samples"
            )
    return bounds


def crossfade(length: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``w_in`` of the module docstring, ``(length,)``; ``w_out = 1 - w_in``."""
    n = torch.arange(length, dtype=torch.float64)
    return torch.sin(0.5 * math.pi * (n + 0.5) / length).square().to(dtype)


def _stitch_frames(
    pieces: list[tuple[int, int, torch.Tensor]], cuts: list[int], total: int
) -> torch.Tensor:
    """Per-frame tensors (last axis frames) of the segments, segment ``k`` (starting at frame
    ``first_k``) supplying the whole file's frames ``[cuts[k], cuts[k + 1])``."""
    sample = pieces[0][2]
    out = torch.zeros((*sample.shape[:-1], total), dtype=sample.dtype)
    for k, first, piece in pieces:
        lo, hi = cuts[k], min(cuts[k + 1], total, first + piece.shape[-1])
        out[..., lo:hi] = piece[..., lo - first : hi - first]
    return out


def run_segmented(
    wave: torch.Tensor,
    process: Callable[[Segment], PipelineResult],
    *,
    seed: int,
    plan: SegmentPlan,
    hop: int,
    align: int | None = None,
    progress: bool | None = None,
    desc: str = "segments",
) -> PipelineResult:
    """``process`` over the segments of ``wave`` ``(n,)``, joined (module docstring).

    ``process(segment)`` runs the pipeline on ``segment.wave`` with ``segment.seed`` and
    returns its :class:`PipelineResult`. ``hop`` is the pipeline's STFT hop (per-frame outputs),
    ``align`` the multiple of segment starts (default ``hop``; a multiple of ``hop``). A segment
    of digital silence is not processed: its estimate is zeros.

    The result: ``estimate`` the cross-faded join; ``history`` the segments' records one after
    the other (``stop_reason`` ``"segments"``); ``info`` the first segment's, with the whole
    file's ``n_samples``, ``duration_s``, ``seconds``, ``real_time_factor`` and ``seed``, the
    duration-weighted mean of every other float that differs between segments, and
    ``segmentation`` (the plan and one summary per segment); ``extras`` per-frame tensors
    stitched, anything else per segment in ``extras["segments"]``.
    """
    n = wave.numel()
    if not plan.is_segmented(n):
        whole = Segment(0, 0, n, seed, wave, progress, lambda _f: None)
        return process(whole)
    align = align or hop
    if align % hop:
        raise ConfigError(f"segments: the alignment {align} must be a multiple of the hop {hop}")
    bounds = plan_bounds(n, plan, align)
    keep_maps = plan.keeps_maps(n)
    estimate = torch.zeros(n, dtype=torch.float32)
    records: list[Any] = []
    summaries: list[dict[str, Any]] = []
    infos: list[tuple[int, dict[str, Any]]] = []
    maps: dict[str, list[tuple[int, int, torch.Tensor]]] = {}
    other_extras: list[dict[str, Any]] = []
    cuts = [0] + [
        ((a_stop + b_start) // 2) // hop for (_, a_stop), (b_start, _) in itertools.pairwise(bounds)
    ]
    total_s = sum(b - a for a, b in bounds) / SAMPLE_RATE
    bar = progress_bar(round(total_s * 1000), desc, progress, unit="ms")
    started = time.perf_counter()
    try:
        for k, (start, stop) in enumerate(bounds):
            seg_ms = (stop - start) / SAMPLE_RATE * 1000
            moved = [0.0]

            def advance(fraction: float, seg_ms: float = seg_ms, moved: list = moved) -> None:
                step = min(fraction * seg_ms, seg_ms - moved[0])
                moved[0] += step
                bar.update(round(step))

            piece = wave[start:stop]
            seg_seed = derive_seed(seed, "segment", k)
            summary: dict[str, Any] = {"start_s": start / SAMPLE_RATE, "stop_s": stop / SAMPLE_RATE}
            summary["seed"] = seg_seed
            if not torch.any(piece):
                summary.update(silent=True, iterations=0)
                summaries.append(summary)
                advance(1.0)
                continue
            result = process(Segment(k, start, stop, seg_seed, piece, False, advance))
            advance(1.0)
            seg_estimate = result.estimate.reshape(-1)[: stop - start].to(torch.float32)
            weights = torch.ones(stop - start)
            if k > 0:
                lead = bounds[k - 1][1] - start
                weights[:lead] = crossfade(lead)
            if k + 1 < len(bounds):
                tail = stop - bounds[k + 1][0]
                weights[-tail:] = 1.0 - crossfade(tail)
            estimate[start:stop] += weights * seg_estimate
            records.extend(result.history.records)
            summary.update(
                iterations=result.history.n_iter,
                stop_reason=result.history.stop_reason,
                final_objective=_last_objective(result.history),
                seconds=result.info.get("seconds"),
            )
            summaries.append(summary)
            infos.append((stop - start, result.info))
            _collect_maps(result, start // hop, keep_maps, maps, other_extras, k)
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    if not infos:
        raise AudioError("the whole input is digital silence: nothing to process")
    # frames = n // hop + a constant of the STFT, read off a processed segment
    k, _, piece = maps["_frames"][0]
    total_frames = n // hop + piece.shape[-1] - (bounds[k][1] - bounds[k][0]) // hop
    cuts.append(total_frames)
    joined = {name: _stitch_frames(pieces, cuts, total_frames) for name, pieces in maps.items()}
    history: History[Any] = History(records=records, stop_reason="segments")
    info = _merge_info(infos, n=n, seed=seed, seconds=seconds)
    if "n_frames" in info:
        info["n_frames"] = total_frames
    info["segmentation"] = {
        "segment_s": plan.segment_s,
        "overlap_s": plan.overlap_s,
        "threshold_s": plan.threshold_s,
        "max_map_s": plan.max_map_s,
        "crossfade": "raised cosine, amplitude-complementary (w_in + w_out = 1)",
        "maps_kept": keep_maps,
        "n_segments": len(bounds),
        "segments": summaries,
    }
    extras = {k: v for k, v in joined.items() if k not in _MAP_NAMES and not k.startswith("_")}
    extras["segments"] = other_extras
    return PipelineResult(
        estimate=estimate,
        spectrum=joined.get("spectrum"),
        uncertainty=joined.get("uncertainty"),
        history=history,
        info=info,
        observation_power=joined.get("observation_power"),
        noise=None,
        extras=extras,
    )


_MAP_NAMES = ("spectrum", "uncertainty", "observation_power")
_OWN_INFO = ("n_samples", "duration_s", "seconds", "real_time_factor", "seed", "n_frames")


def _collect_maps(
    result: PipelineResult,
    first: int,
    keep_maps: bool,
    maps: dict[str, list[tuple[int, int, torch.Tensor]]],
    other_extras: list[dict[str, Any]],
    index: int,
) -> None:
    """Sort a segment's outputs into per-frame pieces (stitched later) and the rest. The
    segment's frame count is that of its spectrum, else of its first per-frame extra."""
    frames = None if result.spectrum is None else result.spectrum.shape[-1]
    named = {"spectrum": result.spectrum, "uncertainty": result.uncertainty}
    named["observation_power"] = result.observation_power
    rest: dict[str, Any] = {}
    per_frame: dict[str, torch.Tensor] = {}
    for name, value in {**named, **dict(result.extras)}.items():
        if isinstance(value, torch.Tensor) and value.ndim >= 1 and value.shape[-1] == frames:
            per_frame[name] = value
        elif name not in _MAP_NAMES:
            rest[name] = value
    # the frame count is known only through the spectrum; a frames tensor of the maps is kept
    # even when the maps are not, so that the stitching knows the file's length in frames
    marker = torch.zeros(frames if frames is not None else 0)
    per_frame.setdefault("_frames", marker)
    for name, value in per_frame.items():
        if name in _MAP_NAMES and not keep_maps:
            continue
        maps.setdefault(name, []).append((index, first, value.detach().cpu()))
    other_extras.append({"index": index, **rest})


def _last_objective(history: History[Any]) -> float | None:
    return float(history.objective[-1]) if history.n_iter else None


def _merge_info(
    infos: list[tuple[int, dict[str, Any]]], *, n: int, seed: int, seconds: float
) -> dict[str, Any]:
    """The first segment's ``info`` with the whole run's own fields, and duration-weighted
    means of the floats that differ between segments (e.g. ``final_objective``)."""
    base = dict(infos[0][1])
    total = sum(length for length, _ in infos)
    for key in list(base):
        values = [info.get(key) for _, info in infos]
        if key in _OWN_INFO or not all(_is_float(v) for v in values):
            continue
        if len(set(values)) > 1:
            base[key] = sum(length * v for (length, _), v in zip(infos, values)) / total
    duration = n / SAMPLE_RATE
    base.update(
        n_samples=n,
        duration_s=duration,
        seconds=seconds,
        real_time_factor=seconds / duration,
        seed=seed,
    )
    return base


def _is_float(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value)
