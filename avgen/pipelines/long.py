r"""The three pipelines on recordings of any length: :func:`enhance_long` (VAE prior + NMF),
:func:`enhance_diffusion_long` (diffusion prior + NMF) and :func:`dereverberate_long`
(diffusion prior + room), each :mod:`avgen.pipelines.segments` around the pipeline itself.

Up to :attr:`SegmentPlan.threshold_s` seconds they *are* the pipeline (same call, same seed,
same numbers). Beyond, each segment is a run of its own:

* **the noise model is fitted per segment.** The NMF ``W H`` (and the gains ``g``) are
  re-estimated from each segment alone, from a random start seeded per segment. Noise in a long
  recording changes (a meeting's ventilation, traffic, a TV in the next room), a rank-10 NMF on
  a 30 s segment has ~1,900 frames to fit ~5,000 + 10 T parameters, and independent segments
  keep a bad fit from propagating, keep the run restartable at any segment, and make the
  result independent of the order of work. ``benchmarks/nmf_across_segments.py`` compares it
  with ``W`` carried from segment to segment and with one NMF over the whole file on 2 minutes
  of kit clips (``docs/enhancement.md``): within 0.03 dB SI-SDR of each other; carrying ``W``
  gained 0.014 ESTOI.
* **the lips** of the audio-visual priors are checked against the whole recording by the
  alignment policy (:func:`avgen.video_align.check_alignment`) before any work, then each
  segment reads the video frames of its own time span; segment starts are multiples of the
  STFT hop and of the video frame period (when it is a simple fraction of a second), so the
  segment's frames are exactly the whole file's.
* **the diffusion pipelines** bring each segment to the prior's operating level on its own
  (``-26 dBFS``) and scale its estimate back, so the waveform is at the input's level; the
  per-bin maps, which live at the prior's level, are rescaled to the whole file's level
  (``|c|^alpha`` scales as ``g^alpha``) before they are stitched.
* **the room** of :func:`dereverberate_long` is estimated per segment (a speaker who moves
  changes it); ``extras["t60_per_band"]`` is the per-band median over the segments, ``rir``
  and ``info["t60_broadband"]`` those of the segment whose broadband T60 is the median.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from avgen.audio import DIFFUSION_STFT, SAMPLE_RATE, VAE_STFT
from avgen.errors import VideoError
from avgen.pipelines.common import mono_input, resolve_device
from avgen.pipelines.result import PipelineResult
from avgen.pipelines.segments import Segment, SegmentPlan, run_segmented

__all__ = [
    "DEREVERB_PLAN",
    "DIFFUSION_PLAN",
    "SegmentPlan",
    "dereverberate_long",
    "enhance_diffusion_long",
    "enhance_long",
]

DIFFUSION_PLAN = SegmentPlan(segment_s=20.0, overlap_s=2.0, threshold_s=24.0)
"""The segments of :func:`enhance_diffusion_long`: the U-Net's activations cost more per second
than the VAE pipeline's arrays (measured: 770 MB peak for 10 s whole, one process, imports
included), so shorter segments keep the same bound."""

DEREVERB_PLAN = SegmentPlan(segment_s=6.0, overlap_s=1.0, threshold_s=8.0)
"""The segments of :func:`dereverberate_long`: DPS back-propagates through the U-Net at every
step (measured: 1.5 GB peak for 10 s whole), so its segments are the shortest."""

#: the longest alignment of segment starts to the video frame period before falling back to
#: the nearest video frame (an offset of at most half a frame)
MAX_VIDEO_ALIGN_S = 4.0


def video_alignment(hop: int, fps: float) -> int:
    """The least multiple of ``hop`` samples that is also a whole number of video frames at
    ``fps`` (``fps`` taken as a fraction with denominator <= 1001), or ``hop`` when that is
    longer than :data:`MAX_VIDEO_ALIGN_S`."""
    ratio = Fraction(fps).limit_denominator(1001) / SAMPLE_RATE  # video frames per sample
    period = ratio.denominator // math.gcd(ratio.numerator, ratio.denominator)
    align = math.lcm(hop, period)
    return align if align <= MAX_VIDEO_ALIGN_S * SAMPLE_RATE else hop


def segment_video(video: np.ndarray, fps: float, start: int, stop: int) -> np.ndarray:
    """The frames of ``video`` over samples ``[start, stop)``: from the frame at ``start``
    (nearest), as many as the segment lasts; past the video's end its last frame repeats (the
    alignment policy's padding of a video that ends early)."""
    first = round(start / SAMPLE_RATE * fps)
    count = max(1, round((stop - start) / SAMPLE_RATE * fps))
    index = np.minimum(np.arange(first, first + count), len(video) - 1)
    return video[index]


def enhance_long(
    noisy: torch.Tensor | np.ndarray,
    model: Any,
    *,
    lips: np.ndarray | None = None,
    fps: float = 25.0,
    scheme: str | None = None,
    init: str | None = None,
    schedule: Any = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool | None = False,
    plan: SegmentPlan | None = None,
    start_from: np.ndarray | None = None,
) -> PipelineResult:
    """:func:`avgen.pipelines.vae_nmf.enhance` on an input of any length (module docstring);
    the arguments are its own (``start_from`` cut like the input), ``plan`` the segmentation
    (default :class:`SegmentPlan`)."""
    from avgen.pipelines.vae_nmf import enhance
    from avgen.pipelines.vae_nmf.schemes import EMSchedule, canonical_scheme
    from avgen.video_align import check_alignment

    plan = plan or SegmentPlan()
    schedule = schedule or EMSchedule()
    wave = mono_input(noisy, name="noisy", min_samples=VAE_STFT.n_fft)
    scheme = canonical_scheme(scheme or getattr(model, "schemes", ("mcem-mh",))[0])
    segmented = plan.is_segmented(wave.numel())
    video = lips if model.uses_lips else None
    align = VAE_STFT.hop_length
    if segmented and model.uses_lips:
        if video is None:
            raise VideoError(
                f"{model.name} is an audio-visual prior and needs the speaker's lips: "
                "pass --video LIPS.npy|.mp4 (or use --model a-vae)"
            )
        check_alignment(len(video), fps, wave.numel())
        align = video_alignment(VAE_STFT.hop_length, fps)

    def process(segment: Segment) -> PipelineResult:
        if not segmented:
            return enhance(
                noisy, model, lips=lips, fps=fps, scheme=scheme, init=init,
                schedule=schedule, seed=seed, device=device, progress=progress,
                start_from=start_from,
            )  # fmt: skip
        fraction = 1.0 / (schedule.n_iter + 1)
        return enhance(
            segment.wave,
            model,
            # an audio-only prior gets the video as given, to ignore it and say so in ``info``
            lips=lips if video is None else segment_video(video, fps, segment.start, segment.stop),
            fps=fps,
            scheme=scheme,
            init=init,
            schedule=schedule,
            seed=segment.seed,
            device=device,
            progress=False,
            callbacks=[lambda _record, _state: segment.advance(fraction)],
            start_from=None if start_from is None else start_from[segment.start : segment.stop],
        )

    return run_segmented(
        wave, process, seed=seed, plan=plan, hop=VAE_STFT.hop_length, align=align,
        progress=progress, desc=f"enhance ({model.name}, {scheme})",
    )  # fmt: skip


def _at_file_level(result: PipelineResult, file_gain: float) -> PipelineResult:
    """A diffusion segment's maps rescaled from its own level to the whole file's."""
    ratio = file_gain / float(result.info["input_gain"])
    amplitude = ratio**DIFFUSION_STFT.compression_exponent
    scaled = {
        "spectrum": result.spectrum,
        "uncertainty": result.uncertainty,
        "observation_power": result.observation_power,
    }
    factors = {"spectrum": amplitude, "uncertainty": amplitude**2}
    factors["observation_power"] = amplitude**2
    changes = {k: None if v is None else v * factors[k] for k, v in scaled.items()}
    return dataclasses.replace(result, **changes, info={**result.info, "input_gain": file_gain})


def _diffusion_long(
    function: Any,
    wave_in: torch.Tensor | np.ndarray,
    name: str,
    desc: str,
    *,
    seed: int,
    progress: bool | None,
    plan: SegmentPlan,
    options: dict[str, Any],
) -> PipelineResult:
    from avgen.pipelines.diffusion.common import PRIOR_LEVEL_DB, level_gain, resolve_prior

    wave = mono_input(wave_in, name=name, min_samples=DIFFUSION_STFT.n_fft)
    if not plan.is_segmented(wave.numel()):
        return function(wave_in, seed=seed, progress=progress, **options)
    options = dict(options)
    options["prior"] = resolve_prior(
        options.get("prior"), resolve_device(options.get("device", "cpu"))
    )
    file_gain = level_gain(wave, options.get("level_db", PRIOR_LEVEL_DB))

    def process(segment: Segment) -> PipelineResult:
        result = function(segment.wave, seed=segment.seed, progress=False, **options)
        return _at_file_level(result, file_gain)

    hop = DIFFUSION_STFT.hop_length
    return run_segmented(wave, process, seed=seed, plan=plan, hop=hop, progress=progress, desc=desc)


def enhance_diffusion_long(
    noisy: torch.Tensor | np.ndarray,
    *,
    seed: int = 0,
    progress: bool | None = None,
    plan: SegmentPlan | None = None,
    **options: Any,
) -> PipelineResult:
    """:func:`avgen.pipelines.diffusion.enhance_diffusion` on an input of any length; the
    ``options`` are its own (module docstring); ``plan`` default :data:`DIFFUSION_PLAN`."""
    from avgen.pipelines.diffusion import enhance_diffusion

    return _diffusion_long(
        enhance_diffusion, noisy, "noisy", "enhance (diffusion prior)",
        seed=seed, progress=progress, plan=plan or DIFFUSION_PLAN, options=options,
    )  # fmt: skip


def dereverberate_long(
    reverberant: torch.Tensor | np.ndarray,
    *,
    seed: int = 0,
    progress: bool | None = None,
    plan: SegmentPlan | None = None,
    **options: Any,
) -> PipelineResult:
    """:func:`avgen.pipelines.diffusion.dereverberate` on an input of any length; the
    ``options`` are its own; ``plan`` default :data:`DEREVERB_PLAN`. Segmented, the room is
    estimated per segment and summarised as the module docstring says (every segment's ``rir``
    and ``t60_per_band`` are in ``extras["segments"]``)."""
    from avgen.pipelines.diffusion import dereverberate

    result = _diffusion_long(
        dereverberate, reverberant, "reverberant", "dereverb",
        seed=seed, progress=progress, plan=plan or DEREVERB_PLAN, options=options,
    )  # fmt: skip
    if "segmentation" not in result.info:
        return result
    from avgen.pipelines.diffusion import broadband_t60

    rooms = [s for s in result.extras["segments"] if "rir" in s]
    broadband = [broadband_t60(r["rir"]) for r in rooms]
    finite = [(t, i) for i, t in enumerate(broadband) if math.isfinite(t)]
    chosen = sorted(finite)[len(finite) // 2][1] if finite else 0
    bands = rooms[0]["t60_per_band"].keys()
    t60 = {b: statistics.median(r["t60_per_band"][b] for r in rooms) for b in bands}
    info = {**result.info, "t60_broadband": broadband[chosen], "room": "estimated per segment"}
    extras = {**result.extras, "rir": rooms[chosen]["rir"], "t60_per_band": t60}
    return dataclasses.replace(result, info=info, extras=extras)
