"""Energy voice-activity detection at the aligners' frame rate (10 ms).

:func:`energy_vad` marks the frames whose energy is close enough to the loudest one; it trims
silence around real prompts (:func:`avgen.data.speech.recordings.trim_silence`), pins the speech
extents for DTW alignment (:mod:`avgen.data.speech.dtw`) and checks alignments against the
audio (:func:`speech_mask` gives the same per-frame view of a phone sequence).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from avgen.audio import SAMPLE_RATE
from avgen.data.speech.phones import SILENCE, PhoneSegment

FRAME_RATE = 100
"""Frames per second of the voice-activity detector and of both aligners (10 ms)."""


def frame_energy_db(
    waveform: np.ndarray, sample_rate: int = SAMPLE_RATE, frame_s: float = 0.02, hop_s: float = 0.01
) -> np.ndarray:
    """Energy in dB (re full scale) of frames of ``frame_s`` every ``hop_s`` seconds; frame
    ``i`` is centred at ``i * hop_s``."""
    x = np.asarray(waveform, dtype=np.float64)
    win, hop = round(frame_s * sample_rate), round(hop_s * sample_rate)
    n = 1 + len(x) // hop
    padded = np.pad(x, (win // 2, win))
    idx = np.arange(n)[:, None] * hop + np.arange(win)[None, :]
    power = np.mean(padded[idx] ** 2, axis=1)
    return 10.0 * np.log10(power + 1e-12)


def energy_vad(
    waveform: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    *,
    threshold_db: float = -35.0,
    floor_db: float = -60.0,
    min_pause_s: float = 0.15,
    hop_s: float = 0.01,
) -> np.ndarray:
    """Speech activity per 10 ms frame: energy above ``threshold_db`` relative to the loudest
    frame (and above ``floor_db`` absolute), with pauses shorter than ``min_pause_s`` filled
    (stop closures and short gaps belong to the speech around them)."""
    energy = frame_energy_db(waveform, sample_rate, hop_s=hop_s)
    active = (energy > energy.max() + threshold_db) & (energy > floor_db)
    gap = round(min_pause_s / hop_s)
    idx = np.flatnonzero(active)
    for a, b in itertools.pairwise(idx):
        if 1 < b - a <= gap:
            active[a:b] = True
    return active


def speech_mask(
    phones: Sequence[PhoneSegment], n_frames: int, hop_s: float = 1.0 / FRAME_RATE
) -> np.ndarray:
    """Per frame (centred at ``i * hop_s``): is a non-silence phone sounding?"""
    mask = np.zeros(n_frames, dtype=bool)
    for seg in phones:
        if seg.phone != SILENCE:
            a = max(0, int(np.ceil(seg.start / hop_s)))
            b = min(n_frames, int(np.ceil(seg.end / hop_s)))
            mask[a:b] = True
    return mask
