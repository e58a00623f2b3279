"""Text-to-speech with phone timing from the synthesizer itself.

Each engine returns ``(waveform at 16 kHz, phone segments)``; the timing comes from the
engine (no alignment needed), which makes the rendered lips exact for synthetic speech.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from avgen.audio import SAMPLE_RATE, resample
from avgen.data.phones import PhoneSegment, segments_from_endtimes
from avgen.errors import AvgenError
from avgen.system import require_tool

FLITE_VOICES: tuple[str, ...] = ("kal16", "awb", "rms", "slt")


@dataclass(frozen=True)
class Synthesis:
    """Synthesized speech (mono float32, 16 kHz) with its phone timing."""

    waveform: np.ndarray
    phones: list[PhoneSegment]
    sample_rate: int = SAMPLE_RATE


def synthesize_flite(text: str, voice: str = "slt") -> Synthesis:
    """Speak ``text`` with flite; timing from ``flite -psdur`` (``phone:end_time`` pairs)."""
    require_tool("flite")
    if voice not in FLITE_VOICES:
        raise AvgenError(f"unknown flite voice {voice!r}; choose from {', '.join(FLITE_VOICES)}")
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = Path(tmp) / "x.wav"
        proc = subprocess.run(["flite", "-voice", voice, "-psdur", "-t", text, "-o",
                               str(wav_path)], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0 or not wav_path.exists():
            raise AvgenError(f"flite failed on {text[:40]!r}: {proc.stderr.strip()[:200]}")
        wav, sr = sf.read(str(wav_path), dtype="float32")
    pairs = []
    for token in proc.stdout.split():
        phone, _, end = token.rpartition(":")
        if phone:
            pairs.append((phone, float(end)))
    if sr != SAMPLE_RATE:
        import torch

        wav = resample(torch.from_numpy(wav), sr, SAMPLE_RATE).numpy()
    return Synthesis(np.asarray(wav, dtype=np.float32), segments_from_endtimes(pairs))
