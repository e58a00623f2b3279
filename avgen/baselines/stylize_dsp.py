r"""A signal-processing baseline of soundscape stylization: the example's blind acoustics as a
synthetic RIR, plus the example's own ambience re-looped under the speech.

Issue 14 (Li et al., "Self-Supervised Audio-Visual Soundscape Stylization", ECCV 2024) asks
the learned stylizer to beat what signal processing does with the same audio example. Given
dry speech :math:`s` and an example clip :math:`e` recorded in the target scene:

1. **Reverberation.** The broadband RT60 of :math:`e` from the shared blind estimator (AViTAR's
   ResNet-18 on :math:`\log(1 + |\mathrm{STFT}|)`, bundled beside MVSD,
   :mod:`avgen.models.scene.rt60_estimator`), applied to the example **after Wiener
   enhancement** (:func:`avgen.baselines.wiener.wiener_enhance`; ``denoise=False`` skips it):
   the estimator was trained on noise-free reverberant speech and reads ambience as
   reverberation. Measured on flite speech through synthetic RIRs of T60 0.3 / 0.8 / 1.5 s plus
   pink noise at 15 dB SNR, it gave 1.35 / 1.31 / 1.24 s on the noisy clips (0.45 / 0.64 / 0.87 s
   without noise) and 0.43 / 0.48 / 0.53 s after Wiener enhancement: biased low, but in the
   right order. The RT60 is used for every octave band (the bundled estimator
   predicts no bands; an estimator trained with octave ``bands`` supplies its own), clamped to
   ``[0.1, 3]`` s. A blind DRR estimate from one reverberant clip is unreliable, so the DRR is a
   **fixed prior given the RT60**, the least-squares line fitted on the room kit's sampler
   (144 viewpoints of ``plan_rooms(RoomKitOptions(rooms=48, viewpoints_per_room=3, seed=0))``
   simulated with pyroomacoustics 0.10.1, DRR measured as
   :func:`avgen.metrics.direct_to_reverberant_ratio`):

   .. math:: \widehat{\mathrm{DRR}} = -9.60 - 3.45 \ln \hat T_{60} \ \text{dB}

   (residual standard deviation 3.7 dB against 4.0 dB around the median -8.1 dB; diffuse-field
   theory also predicts a DRR falling with :math:`\ln T_{60}` at a fixed distance and volume).
   Then :func:`avgen.models.scene.image2reverb.synthesize_rir` (Polack's statistical RIR: unit
   direct path + exponentially decaying band noise, 1.5 s tail) and :math:`y = s * h`, cropped to
   the input's length (the output lines up with the input, sample for sample).
2. **Ambience.** The speech-free frames of :math:`e`: 20 ms frames every 10 ms
   (:func:`avgen.data.speech.vad.frame_energy_db`) whose energy is at most ``margin_db`` (3 dB)
   above the 20th percentile of the clip's frame energies, kept in runs of at least 50 ms.
   The runs are joined, then looped from a seeded offset to the speech's length, every joint an
   equal-power crossfade (:math:`\sin`/:math:`\cos` ramps, 20 ms inside the bed, 50 ms at each
   loop). Its level: with :math:`P_a` the mean power of the speech-free frames and
   :math:`P_s = \max(P_\text{rest} - P_a, 10^{-3} P_a)` the speech power of the other frames,
   the example's ambience-to-speech ratio :math:`r = P_a / P_s` is applied to the output: the
   bed is scaled so that its power is :math:`r` times the power of :math:`y` over :math:`y`'s
   active frames (:func:`avgen.data.speech.vad.energy_vad`).
3. Output: :math:`y + b`, float32, the input's length.

An example shorter than ``MIN_EXAMPLE_SECONDS`` (1 s), silent, or with less than 0.25 s of
speech-free runs is an :class:`~avgen.errors.AudioError` (one clear line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from avgen.audio import SAMPLE_RATE, check_waveform
from avgen.data.speech.vad import energy_vad, frame_energy_db
from avgen.errors import AudioError
from avgen.metrics import OCTAVE_BANDS
from avgen.models.scene.image2reverb import convolve_tail, synthesize_rir
from avgen.seeding import derive_seed, numpy_generator

MIN_EXAMPLE_SECONDS = 1.0
"""Shortest example clip accepted."""

MIN_AMBIENCE_SECONDS = 0.25
"""Least speech-free audio (in runs of ``MIN_RUN_SECONDS``) an example must hold."""

MIN_RUN_SECONDS = 0.05
"""Shortest run of speech-free frames kept for the ambience bed."""

DRR_PRIOR = (-9.60, -3.45)
"""``(a, b)`` of the DRR prior ``a + b ln T60`` (dB; module docstring)."""

RT60_RANGE = (0.1, 3.0)
"""The blind RT60 is clamped to this range (seconds)."""

HOP_S = 0.01
"""Frame hop of the speech-free frame detector (seconds)."""


@dataclass(frozen=True)
class ExampleAcoustics:
    """What the baseline reads off an example: band RT60s (s), DRR (dB), the ambience bed
    (float32 numpy, joined speech-free runs) and the ambience-to-speech power ratio."""

    rt60_bands: tuple[float, ...]
    drr_db: float
    ambience: np.ndarray
    ambience_to_speech: float


def _wave(x: Any, name: str, min_samples: int) -> torch.Tensor:
    t = x.detach() if torch.is_tensor(x) else torch.as_tensor(np.asarray(x))
    if t.ndim == 2 and 1 in t.shape:
        t = t.reshape(-1)
    check_waveform(t, name=name, min_samples=min_samples)
    return t.to("cpu", torch.float32)


def _crossfade_join(parts: list[np.ndarray], fade: int) -> np.ndarray:
    """Concatenate ``parts``, each joint an equal-power crossfade of up to ``fade`` samples."""
    out = parts[0].astype(np.float64)
    for p in parts[1:]:
        f = min(fade, out.size // 2, p.size // 2)
        if f < 2:
            out = np.concatenate([out, p])
            continue
        ramp = np.sin(0.5 * np.pi * (np.arange(f) + 0.5) / f)
        mixed = out[-f:] * ramp[::-1] + p[:f] * ramp
        out = np.concatenate([out[:-f], mixed, p[f:]])
    return out


def speech_free_runs(
    example: np.ndarray, *, quantile: float = 0.2, margin_db: float = 3.0
) -> list[tuple[int, int]]:
    """Sample ranges ``[(a, b), ...]`` of the example's speech-free runs (module docstring)."""
    energy = frame_energy_db(example, SAMPLE_RATE, hop_s=HOP_S)
    quiet = energy <= np.quantile(energy, quantile) + margin_db
    hop = round(HOP_S * SAMPLE_RATE)
    min_frames = round(MIN_RUN_SECONDS / HOP_S)
    runs, start = [], None
    for i, q in enumerate([*quiet.tolist(), False]):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if i - start >= min_frames:
                a = max(0, start * hop - hop // 2)
                b = min(example.size, i * hop - hop // 2)
                if b > a:
                    runs.append((a, b))
            start = None
    return runs


def example_acoustics(
    example: Any, estimator: Any | None = None, *, denoise: bool = True
) -> ExampleAcoustics:
    """Blind band RT60s, prior DRR, ambience bed and level of an example clip (16 kHz mono);
    ``denoise``: estimate the RT60 on the Wiener-enhanced example (module docstring)."""
    x = _wave(example, "example", round(MIN_EXAMPLE_SECONDS * SAMPLE_RATE))
    if estimator is None:
        from avgen.pipelines.scene.mvsd import bundled_rt60_estimator

        estimator = bundled_rt60_estimator()
    if denoise:
        from avgen.baselines.wiener import wiener_enhance

        est = estimator.estimate_all(wiener_enhance(x))
    else:
        est = estimator.estimate_all(x)
    bands = tuple(getattr(estimator.config, "bands", ()))
    lo, hi = RT60_RANGE
    broadband = min(max(float(est[0]), lo), hi)
    if bands == tuple(OCTAVE_BANDS):
        t60 = tuple(min(max(float(v), lo), hi) for v in est[1:])
    else:
        t60 = (broadband,) * len(OCTAVE_BANDS)
    drr = DRR_PRIOR[0] + DRR_PRIOR[1] * math.log(broadband)

    ex = x.double().numpy()
    runs = speech_free_runs(ex)
    total = sum(b - a for a, b in runs)
    if total < MIN_AMBIENCE_SECONDS * SAMPLE_RATE:
        raise AudioError(
            f"example: only {total / SAMPLE_RATE:.2f} s of speech-free audio; the ambience "
            f"needs {MIN_AMBIENCE_SECONDS} s (give a longer example with pauses)"
        )
    parts = [ex[a:b] for a, b in runs]
    bed = _crossfade_join(parts, round(0.02 * SAMPLE_RATE))
    mask = np.zeros(ex.size, dtype=bool)
    for a, b in runs:
        mask[a:b] = True
    p_amb = float(np.mean(ex[mask] ** 2))
    p_rest = float(np.mean(ex[~mask] ** 2)) if (~mask).any() else p_amb
    p_speech = max(p_rest - p_amb, 1e-3 * p_amb)
    return ExampleAcoustics(t60, drr, bed.astype(np.float32), p_amb / p_speech)


def loop_to_length(bed: np.ndarray, n: int, *, seed: int = 0, fade_s: float = 0.05) -> np.ndarray:
    """``bed`` looped from a seeded offset to ``n`` samples, equal-power crossfades at joints."""
    rng = numpy_generator(derive_seed(seed, "stylize-dsp", "loop"))
    start = int(rng.integers(0, bed.size))
    fade = round(fade_s * SAMPLE_RATE)
    parts, have = [bed[start:]], bed.size - start
    while have < n + fade:
        parts.append(bed)
        have += bed.size - min(fade, bed.size // 2)
    return _crossfade_join(parts, fade)[:n]


def dsp_stylize(
    speech: Any,
    example: Any,
    *,
    seed: int = 0,
    estimator: Any | None = None,
    denoise: bool = True,
) -> torch.Tensor:
    """Dry speech ``(N,)`` -> the speech in the example's scene, ``(N,)`` float32 (module
    docstring). ``estimator``: the blind RT60 estimator (default: the bundled one);
    ``denoise``: Wiener-enhance the example before estimating its RT60. Same inputs and seed,
    same samples."""
    s = _wave(speech, "speech", 512)
    acoustics = example_acoustics(example, estimator, denoise=denoise)
    rir = synthesize_rir(
        acoustics.rt60_bands,
        acoustics.drr_db,
        band_centres=OCTAVE_BANDS,
        seed=derive_seed(seed, "stylize-dsp", "rir"),
    )
    wet = convolve_tail(s, rir)[: s.numel()]
    wet_np = wet.double().numpy()
    active = energy_vad(wet_np, SAMPLE_RATE, hop_s=HOP_S)
    hop = round(HOP_S * SAMPLE_RATE)
    frames = np.repeat(active, hop)[: wet_np.size]
    frames = np.pad(frames, (0, wet_np.size - frames.size), constant_values=False)
    p_wet = float(np.mean(wet_np[frames] ** 2)) if frames.any() else float(np.mean(wet_np**2))
    bed = loop_to_length(acoustics.ambience.astype(np.float64), s.numel(), seed=seed)
    p_bed = float(np.mean(bed**2))
    gain = math.sqrt(acoustics.ambience_to_speech * p_wet / p_bed) if p_bed > 0 else 0.0
    out = wet + torch.from_numpy(gain * bed).to(torch.float32)
    if not bool(torch.isfinite(out).all()):
        raise AudioError("the DSP stylization produced non-finite samples")
    return out
