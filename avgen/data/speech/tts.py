"""Text-to-speech with phone timing from the synthesizer itself.

Each engine returns a :class:`Synthesis`: the waveform (mono float32 at 16 kHz) and its phone
segments in the canonical set of :mod:`avgen.data.speech.phones`. The timing comes from the engine
(no alignment needed), so the rendered lips are exact for synthetic speech:

* **flite** (voices kal16, awb, rms, slt): ``flite -psdur`` prints ``phone:end_time`` pairs.
  The diphone voice kal16 cuts its final pause short (the last end time lies up to 0.1 s past
  the audio); every phone before it is on time (checked against forced alignment), so the
  final pause is clipped, never the times rescaled.
* **festival** (cmu_us_slt_arctic_hts at 32 kHz, kal_diphone, ked_diphone): a Scheme script
  run by ``festival --batch`` synthesises, saves the wave and ``(utt.save.segs utt ...)``,
  whose lines are ``end_time 100 phone``.
* **espeak-ng** (any voice and variant, languages en/es/fr/it/ru): libespeak-ng's phoneme
  events with sample positions (:mod:`avgen.data.speech.espeak`, one fresh process per utterance
  for determinism), mapped to ARPAbet.

Speaking rate and pitch can be varied where the engine allows (``rate`` > 1 speaks faster,
``pitch`` multiplies the mean F0): flite kal16/awb/slt (rate, pitch), flite rms (rate),
festival diphones (rate, pitch), festival slt HTS (rate), espeak-ng (rate, pitch).
A missing engine raises :class:`~avgen.errors.MissingToolError`.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from avgen.audio import SAMPLE_RATE, resample
from avgen.data.speech.phones import SILENCE, PhoneSegment, fit_to_duration, segments_from_endtimes
from avgen.errors import AvgenError, ConfigError
from avgen.system import require_tool

logger = logging.getLogger("avgen")

FLITE_VOICES: tuple[str, ...] = ("kal16", "awb", "rms", "slt")
FESTIVAL_VOICES: tuple[str, ...] = ("cmu_us_slt_arctic_hts", "kal_diphone", "ked_diphone")

# Mean F0 (Hz) flite's voices aim at by default (``int_f0_target_mean``), measured with pyin;
# rms ignores the parameter, so its pitch cannot be changed.
_FLITE_F0_MEAN: dict[str, float] = {"kal16": 90.0, "awb": 130.0, "slt": 168.0}
# festival's diphone voices set ``int_lr_params`` target_f0_mean 105 Hz.
_FESTIVAL_DIPHONE_F0_MEAN = 105.0
_ENGINE_TIMEOUT_S = 120


@dataclass(frozen=True)
class Synthesis:
    """Synthesized speech (mono float32, 16 kHz) with its phone timing."""

    waveform: np.ndarray
    phones: list[PhoneSegment]
    sample_rate: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        """Length of the waveform in seconds."""
        return len(self.waveform) / self.sample_rate


def _check_text(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise AvgenError("nothing to say: the text is empty")
    return text


def _check_variation(rate: float, pitch: float) -> None:
    if not 0.5 <= rate <= 2.0:
        raise ConfigError(f"speaking rate {rate} is out of range; use 0.5 to 2.0 (1 = normal)")
    if not 0.5 <= pitch <= 2.0:
        raise ConfigError(f"pitch factor {pitch} is out of range; use 0.5 to 2.0 (1 = normal)")


def _to_16k(wav: np.ndarray, sr: int) -> np.ndarray:
    if sr != SAMPLE_RATE:
        import torch

        wav = resample(
            torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32)), sr, SAMPLE_RATE
        ).numpy()
    return np.asarray(wav, dtype=np.float32)


# ----------------------------------------------------------------------------------------------
# flite
# ----------------------------------------------------------------------------------------------


def synthesize_flite(
    text: str, voice: str = "slt", *, rate: float = 1.0, pitch: float = 1.0
) -> Synthesis:
    """Speak ``text`` with flite; timing from ``flite -psdur`` (``phone:end_time`` pairs).

    Args:
        text: what to say (flite normalises numbers and punctuation itself).
        voice: one of :data:`FLITE_VOICES`.
        rate: speaking-rate factor (``duration_stretch = 1 / rate``).
        pitch: factor on the voice's mean F0 (not for rms).
    """
    require_tool("flite")
    text = _check_text(text)
    if voice not in FLITE_VOICES:
        raise ConfigError(f"unknown flite voice {voice!r}; choose from {', '.join(FLITE_VOICES)}")
    _check_variation(rate, pitch)
    args = ["flite", "-voice", voice, "-psdur"]
    if rate != 1.0:
        args += ["--setf", f"duration_stretch={1.0 / rate:.4f}"]
    if pitch != 1.0:
        if voice not in _FLITE_F0_MEAN:
            raise ConfigError(f"flite voice {voice} cannot change its pitch; use pitch=1")
        args += ["--setf", f"int_f0_target_mean={_FLITE_F0_MEAN[voice] * pitch:.1f}"]
    with tempfile.TemporaryDirectory(prefix="avgen-flite-") as tmp:
        wav_path = Path(tmp) / "x.wav"
        proc = subprocess.run(
            [*args, "-t", text, "-o", str(wav_path)],
            capture_output=True,
            text=True,
            timeout=_ENGINE_TIMEOUT_S,
        )
        if proc.returncode != 0 or not wav_path.exists():
            raise AvgenError(f"flite failed on {text[:40]!r}: {proc.stderr.strip()[:200]}")
        wav, sr = sf.read(str(wav_path), dtype="float32")
    pairs = []
    for token in proc.stdout.split():
        phone, _, end = token.rpartition(":")
        if phone:
            pairs.append((phone, float(end)))
    wav = _to_16k(wav, sr)
    segments = fit_to_duration(segments_from_endtimes(pairs), len(wav) / SAMPLE_RATE)
    return Synthesis(wav, segments)


# ----------------------------------------------------------------------------------------------
# festival
# ----------------------------------------------------------------------------------------------


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def festival_script(
    text: str, voice: str, wav_path: str, lab_path: str, *, rate: float = 1.0, pitch: float = 1.0
) -> str:
    """The Scheme program that ``festival --batch`` runs to speak ``text`` with timing."""
    lines = [f"(voice_{voice})"]
    if voice.endswith("_hts"):
        if pitch != 1.0:
            raise ConfigError(f"festival voice {voice} cannot change its pitch; use pitch=1")
        if rate != 1.0:  # hts_engine's speech speed option
            lines.append(
                f'(set! hts_engine_params (append hts_engine_params (list (list "-r" {rate:.4f}))))'
            )
    else:
        if rate != 1.0:
            lines.append(
                f"(Parameter.set 'Duration_Stretch "
                f"(/ (Parameter.get 'Duration_Stretch) {rate:.4f}))"
            )
        if pitch != 1.0:
            lines.append(
                f"(set! int_lr_params (cons (list 'target_f0_mean "
                f"{_FESTIVAL_DIPHONE_F0_MEAN * pitch:.1f}) (cdr int_lr_params)))"
            )
    lines += [
        f"(set! avgen_utt (Utterance Text {_scheme_string(text)}))",
        "(utt.synth avgen_utt)",
        f"(utt.save.wave avgen_utt {_scheme_string(wav_path)} 'riff)",
        f"(utt.save.segs avgen_utt {_scheme_string(lab_path)})",
    ]
    return "\n".join(lines) + "\n"


def parse_festival_segs(content: str) -> list[tuple[str, float]]:
    """``(phone, end_time)`` pairs from a festival segment file (``end 100 phone`` lines
    after a ``#`` header line)."""
    pairs = []
    body = content.split("#", 1)[1] if "#" in content else content
    for line in body.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            pairs.append((fields[2], float(fields[0])))
    return pairs


def synthesize_festival(
    text: str, voice: str = "cmu_us_slt_arctic_hts", *, rate: float = 1.0, pitch: float = 1.0
) -> Synthesis:
    """Speak ``text`` with festival; timing from its segment relation.

    Args:
        voice: one of :data:`FESTIVAL_VOICES` (the HTS voice speaks at 32 kHz and is
            resampled to 16 kHz).
        rate: speaking-rate factor (diphones: ``Duration_Stretch``; HTS: ``-r``).
        pitch: factor on the mean F0 (diphone voices only).
    """
    require_tool("festival")
    text = _check_text(text)
    if voice not in FESTIVAL_VOICES:
        raise ConfigError(
            f"unknown festival voice {voice!r}; choose from {', '.join(FESTIVAL_VOICES)}"
        )
    _check_variation(rate, pitch)
    with tempfile.TemporaryDirectory(prefix="avgen-festival-") as tmp:
        wav_path, lab_path = Path(tmp) / "x.wav", Path(tmp) / "x.lab"
        script = Path(tmp) / "say.scm"
        script.write_text(
            festival_script(text, voice, str(wav_path), str(lab_path), rate=rate, pitch=pitch),
            encoding="utf-8",
        )
        proc = subprocess.run(
            ["festival", "--batch", str(script)],
            capture_output=True,
            text=True,
            timeout=_ENGINE_TIMEOUT_S,
        )
        if proc.returncode != 0 or not wav_path.exists() or not lab_path.exists():
            detail = (proc.stderr or proc.stdout).strip()[:200]
            if "voice_" in detail and "unbound" in detail:
                raise AvgenError(
                    f"festival voice {voice} is not installed; see scripts/system_deps.sh"
                )
            raise AvgenError(f"festival failed on {text[:40]!r}: {detail}")
        wav, sr = sf.read(str(wav_path), dtype="float32")
        pairs = parse_festival_segs(lab_path.read_text(encoding="utf-8"))
    wav = _to_16k(wav, sr)
    segments = fit_to_duration(segments_from_endtimes(pairs), len(wav) / SAMPLE_RATE)
    return Synthesis(wav, segments)


# ----------------------------------------------------------------------------------------------
# espeak-ng
# ----------------------------------------------------------------------------------------------

ESPEAK_DEFAULT_VOICES: dict[str, str] = {
    "en": "en-us",
    "es": "es",
    "fr": "fr",
    "it": "it",
    "ru": "ru",
}


def espeak_voice_name(voice: str | None, variant: str | None, language: str) -> str:
    """``"en-us+f3"``-style name libespeak-ng selects voices by."""
    from avgen.data.speech.espeak import ESPEAK_LANGUAGES

    if language not in ESPEAK_LANGUAGES:
        raise ConfigError(
            f"espeak synthesis supports languages {', '.join(ESPEAK_LANGUAGES)}, not {language!r}"
        )
    name = voice or ESPEAK_DEFAULT_VOICES[language]
    return f"{name}+{variant}" if variant else name


def phones_from_espeak_events(
    events, sample_rate: int, n_samples: int, language: str
) -> list[PhoneSegment]:
    """Phone segments from espeak phoneme events (each lasts until the next one).

    Silence before the first event becomes ``pau``; a marker (``None`` in the mapping) gives
    its time to the phone after it.
    """
    from avgen.data.speech.espeak import espeak_to_arpabet

    pairs: list[tuple[str, float]] = []
    starts = [e.sample for e in events]
    if starts and starts[0] > 0:
        pairs.append((SILENCE, starts[0] / sample_rate))
    for i, ev in enumerate(events):
        phone = espeak_to_arpabet(ev.mnemonic, language)
        end = starts[i + 1] if i + 1 < len(events) else n_samples
        if phone is not None:
            pairs.append((phone, min(end, n_samples) / sample_rate))
    segments = segments_from_endtimes(pairs)
    return fit_to_duration(segments, n_samples / sample_rate)


def synthesize_espeak(
    text: str,
    voice: str | None = None,
    variant: str | None = None,
    language: str = "en",
    *,
    rate: float = 1.0,
    pitch: float = 1.0,
) -> Synthesis:
    """Speak ``text`` with libespeak-ng; timing from its phoneme events.

    Args:
        voice: espeak-ng voice (``"en-us"``, ``"en-gb-scotland"``, ``"fr"``...); default: the
            language's voice in :data:`ESPEAK_DEFAULT_VOICES`.
        variant: voice variant (``"f3"``, ``"m2"``, ``"Annie"``... see
            ``espeak-ng --voices=variant``).
        language: language of ``text``, selects the phoneme mapping (en, es, fr, it, ru).
        rate: factor on the default 175 words per minute.
        pitch: factor on the default pitch 50 (of 0-100).
    """
    require_tool("espeak-ng")
    from avgen.data.speech.espeak import DEFAULT_PITCH, DEFAULT_RATE, synthesize_raw

    text = _check_text(text)
    _check_variation(rate, pitch)
    name = espeak_voice_name(voice, variant, language)
    out = synthesize_raw(
        text, name, rate=round(DEFAULT_RATE * rate), pitch=min(100, round(DEFAULT_PITCH * pitch))
    )
    if out.waveform.size == 0:
        raise AvgenError(f"espeak-ng produced no audio for {text[:40]!r}")
    segments = phones_from_espeak_events(out.events, out.sample_rate, out.waveform.size, language)
    return Synthesis(_to_16k(out.waveform, out.sample_rate), segments)
