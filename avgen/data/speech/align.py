"""Forced alignment of real speech to its transcript: phone segments for the lips.

Two aligners, one result type (canonical ARPAbet :class:`~avgen.data.speech.phones.PhoneSegment`\\ s
covering the whole waveform):

* **pocketsphinx** (English, :mod:`avgen.data.speech.sphinx`): the transcript as the only
  allowed word sequence, phone timing at 10 ms frames; the transcript is normalised first
  (:mod:`avgen.data.speech.text`: numbers to words, ``#`` -> "pound"...);
* **TTS + DTW** (any language, and English fallback; :mod:`avgen.data.speech.dtw`): the text is
  synthesised with timing and the synthetic phone boundaries are carried over to the recording
  by dynamic time warping of log mel spectra.

:func:`align_transcript` picks the aligner by language and falls back from pocketsphinx to DTW;
the energy voice-activity detector (:mod:`avgen.data.speech.vad`) rejects silent audio first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from avgen.audio import SAMPLE_RATE
from avgen.data.speech.dtw import default_reference, dtw_align
from avgen.data.speech.phones import PhoneSegment
from avgen.data.speech.sphinx import pocketsphinx_align
from avgen.data.speech.text import normalize_english
from avgen.data.speech.vad import energy_vad
from avgen.errors import DataError

logger = logging.getLogger("avgen")

AlignMethod = Literal["auto", "pocketsphinx", "dtw"]


@dataclass(frozen=True)
class AlignmentResult:
    """Phones of an aligned utterance and the method that produced them
    (``"forced-alignment"`` for pocketsphinx, ``"dtw"`` for TTS + DTW)."""

    phones: list[PhoneSegment]
    method: str


def _check_audio(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """``waveform`` as float32 mono at 16 kHz; :class:`DataError` if it is empty, holds
    NaN or infinite samples, or is silent."""
    x = np.asarray(waveform, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise DataError(f"cannot align: expected non-empty mono audio, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise DataError("cannot align: the audio holds NaN or infinite samples")
    if sample_rate != SAMPLE_RATE:
        import torch

        from avgen.audio import resample

        x = resample(torch.from_numpy(x), sample_rate, SAMPLE_RATE).numpy()
    if np.max(np.abs(x)) < 1e-4 or not energy_vad(x).any():
        raise DataError("cannot align: the audio is silent")
    return x


def align(
    waveform: np.ndarray,
    text: str,
    language: str = "en",
    sample_rate: int = SAMPLE_RATE,
    *,
    method: AlignMethod = "auto",
    reference: Callable[[str], object] | None = None,
) -> AlignmentResult:
    """Align ``text`` to ``waveform``; see :func:`align_transcript`. Also says which method
    gave the timing."""
    x = _check_audio(waveform, sample_rate)
    if not re.search(r"\w", re.sub(r"\[[^\]]*\]|\([^)]*\)|<[^>]*>", " ", text)):
        raise DataError("cannot align: the transcript is empty")
    if method not in ("auto", "pocketsphinx", "dtw"):
        raise DataError(f"unknown alignment method {method!r}; use auto, pocketsphinx or dtw")
    if method == "pocketsphinx" and language != "en":
        raise DataError(
            f"pocketsphinx aligns English only; use method='dtw' for language {language!r}"
        )
    if language == "en" and method in ("auto", "pocketsphinx"):
        try:
            words = normalize_english(text)
            if not words:
                raise DataError("cannot align: the transcript is empty")
            return AlignmentResult(pocketsphinx_align(x, words), "forced-alignment")
        except DataError as exc:
            if method == "pocketsphinx" or "empty" in str(exc):
                raise
            logger.info("pocketsphinx failed (%s); aligning by TTS + DTW", exc)
    synth = (reference or default_reference(language))(text)
    return AlignmentResult(dtw_align(x, synth.waveform, synth.phones), "dtw")


def align_transcript(
    waveform: np.ndarray,
    text: str,
    language: str = "en",
    sample_rate: int = SAMPLE_RATE,
    *,
    method: AlignMethod = "auto",
    reference: Callable[[str], object] | None = None,
) -> list[PhoneSegment]:
    """Phone segments of ``text`` spoken in ``waveform``, covering the whole waveform.

    Args:
        waveform: mono float audio (resampled to 16 kHz if ``sample_rate`` differs).
        text: the transcript (numbers and symbols are fine).
        language: ``"en"`` uses pocketsphinx, falling back to TTS + DTW if it fails; other
            languages (es, fr, it, ru) use TTS + DTW with espeak-ng.
        method: force ``"pocketsphinx"`` or ``"dtw"``.
        reference: for DTW, a function ``text -> Synthesis`` (default: flite slt for English,
            espeak-ng for other languages).

    Raises:
        DataError: empty transcript, silent audio, or (with ``method="pocketsphinx"``) no
            alignment found.
    """
    return align(waveform, text, language, sample_rate, method=method, reference=reference).phones
