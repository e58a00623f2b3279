"""Mixtures of real held-out speech with real ambience and with the unusual noises.

Shared by ``realspeech_quality.py`` and ``unusual_diagnosis.py``. The speech: the French,
Italian and Russian Asterisk prompts that no kit plans (:func:`avgen.data.kit.heldout.
unused_prompts`), at most ``max_seconds`` long, languages in turn. The *same* ``n`` utterances
are mixed with every noise type at every SNR, so that differences between noise types are not
differences between sentences. Noises: the unseen real ambience recordings of the noise bank
(``city``, ``night``, ``tv``: a random offset into the type's concatenated recordings) and the
procedural noises of :mod:`avgen.data.noise.unusual` (generated at the utterance's length).
Everything is drawn from ``keyed_rng(seed, ...)``: same seed, same mixtures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avgen.data.kit.heldout import HELDOUT_LANGUAGES, unused_prompts
from avgen.data.kit.mixing import mix_at_snr
from avgen.data.noise.catalogue import noise_type
from avgen.data.noise.real import read_ufoai
from avgen.data.noise.unusual import UNUSUAL_NOISES, unusual_noise
from avgen.data.speech import recordings
from avgen.data.speech.plan import keyed_rng
from avgen.errors import ConfigError, DataError

REAL_AMBIENCE = ("city", "night", "tv")
"""The noise bank's unseen real types (recordings of ``ufoai-sound``)."""

ALL_NOISES = (*REAL_AMBIENCE, *UNUSUAL_NOISES)


def noise_group(name: str) -> str:
    """``"real ambience"`` or ``"unusual"``."""
    return "real ambience" if name in REAL_AMBIENCE else "unusual"


@dataclass(frozen=True)
class Utterance:
    id: str
    language: str
    clean: np.ndarray  # float32, 16 kHz


@dataclass(frozen=True)
class RealMixture:
    """``noisy = clean + noise`` (float32, 16 kHz) at ``snr_db``."""

    id: str
    utterance: str
    language: str
    noise_name: str
    snr_db: float
    clean: np.ndarray
    noise: np.ndarray
    noisy: np.ndarray


def utterances(n: int, *, seed: int = 0, max_seconds: float = 4.5) -> list[Utterance]:
    """``n`` unused prompts, languages in turn, each at most ``max_seconds`` long."""
    pools = {language: unused_prompts(language) for language in HELDOUT_LANGUAGES}
    out = []
    for i in range(n):
        language = HELDOUT_LANGUAGES[i % len(HELDOUT_LANGUAGES)]
        pool = pools[language]
        rng = keyed_rng(seed, "realspeech", str(i))
        for index in rng.permutation(len(pool)):
            candidate = recordings.load_prompt(pool[int(index)])
            if candidate.size <= max_seconds * 16_000:
                prompt = pool.pop(int(index))
                out.append(Utterance(f"{language}-{prompt.name}", language, candidate))
                break
        else:
            raise DataError(f"no unused {language} prompt of at most {max_seconds} s is left")
    return out


def mixtures(
    speech: list[Utterance], noises: tuple[str, ...], snrs: tuple[float, ...], *, seed: int = 0
) -> list[RealMixture]:
    """Every utterance with every noise at every SNR."""
    unknown = [n for n in noises if n not in ALL_NOISES]
    if unknown:
        raise ConfigError(f"unknown noise {unknown[0]!r}; known: {', '.join(ALL_NOISES)}")
    beds = {
        name: np.concatenate([c.waveform for c in read_ufoai(noise_type(name).recordings)])
        for name in noises
        if name in REAL_AMBIENCE
    }
    out = []
    for name in noises:
        for snr in snrs:
            for u in speech:
                rng = keyed_rng(seed, "realspeech-mix", name, f"{snr:g}", u.id)
                if name in beds:
                    mixed = mix_at_snr(u.clean, beds[name], snr, rng=rng)
                else:
                    bed = unusual_noise(name, u.clean.size, rng)
                    mixed = mix_at_snr(u.clean, bed, snr, offset=0)
                out.append(
                    RealMixture(
                        id=f"{u.id}_{name}_{snr:+g}dB",
                        utterance=u.id,
                        language=u.language,
                        noise_name=name,
                        snr_db=snr,
                        clean=mixed.clean.astype(np.float32),
                        noise=mixed.noise.astype(np.float32),
                        noisy=mixed.noisy.astype(np.float32),
                    )
                )
    return out
